"""Song forms as data (`forms.toml`: pop, AABA, 12-bar blues), fitted to a target length."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tunesmith.errors import TunesmithError
from tunesmith.score import Chord
from tunesmith.theory import ChordSymbol, Key, TheoryError, pitch_class_name

DEFAULT_FORM = "pop"
FORMS_FILE = "forms.toml"
MAX_REPEATS = 12

# Energy of each section kind: drives arrangement density and dynamics.
SECTION_ENERGY = {
    "intro": 0.3, "verse": 0.45, "prechorus": 0.6, "chorus": 0.85, "bridge": 0.55,
    "solo": 0.7, "outro": 0.35,
}
_SHORT_PENALTY = 0.12  # share of the target length a shrunk variant must win by
_LONG_PHRASE_PENALTY = 0.08  # ... and a variant with doubled sections
_REPEAT_PENALTY = 0.06  # ... and each extra verse-chorus repeat, where doubling is possible
_SHORTFALL_WEIGHT = 1.25  # a song shorter than asked misses by more than one as much longer
LONG_PHRASE_BAR_S = 2.0  # bars shorter than this may have 8-bar phrases
_ROMAN = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_ROMAN_RE = re.compile(r"^(b|#)?(VII|VI|V|IV|III|II|I)(.*)$")


class FormError(TunesmithError):
    """An unknown song form or a malformed forms file."""


@dataclass(frozen=True, slots=True)
class FormSection:
    kind: str
    bars: int
    label: str
    energy: float
    chords_of: str = ""  # solos: the part (name) whose harmony they play over
    name: str = ""  # the part's name in the form file


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    kind: str
    bars: int | str
    label: str
    chords: str = ""


@dataclass(frozen=True, slots=True)
class SongForm:
    """One form of `forms.toml`."""

    name: str
    title: str
    parts: dict[str, Part]
    variants: tuple[tuple[str, ...], ...]
    short: frozenset[int]
    repeat: tuple[str, ...]
    repeat_after: int
    repeat_at: int
    chords_major: tuple[str, ...] = ()
    chords_minor: tuple[str, ...] = ()
    long_phrases: bool = False  # with short bars, sections may take twice as many bars

    def progression(self, key: Key, *, beats_per_bar: int) -> list[Chord] | None:
        """The form's fixed chorus harmony in `key` (one chord per bar), or None."""
        romans = self.chords_minor if key.mode == "minor" else self.chords_major
        if not romans:
            return None
        chords: list[Chord] = []
        for bar, roman in enumerate(romans):
            sym = roman_chord(roman, key)
            if chords and chords[-1].chord == sym:
                last = chords[-1]
                chords[-1] = Chord(last.start_beat, last.duration_beats + beats_per_bar, sym)
            else:
                chords.append(Chord(float(bar * beats_per_bar), float(beats_per_bar), sym))
        return chords


def roman_chord(text: str, key: Key) -> ChordSymbol:
    """'IV7' in C -> F7; 'bVI7' -> Ab7; 'IVm7' -> Fm7 (case does not set the quality)."""
    m = _ROMAN_RE.match(text.strip())
    if not m:
        raise FormError(f"cannot read chord '{text}' in the forms file: use e.g. I7, IVm7, bVI7")
    acc, numeral, suffix = m.groups()
    root = (key.tonic + _ROMAN[numeral] + (-1 if acc == "b" else 1 if acc == "#" else 0)) % 12
    try:
        return ChordSymbol.parse(pitch_class_name(root) + suffix)
    except TheoryError as exc:
        raise FormError(f"cannot read chord '{text}' in the forms file: {exc}") from exc


def _read_forms() -> dict[str, Any]:
    ref = resources.files("tunesmith") / "compose" / FORMS_FILE
    try:
        return tomllib.loads(ref.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FormError(f"cannot read the song forms: {exc}") from exc


def form_names() -> list[str]:
    return sorted(_read_forms())


def load_form(name: str) -> SongForm:
    """A form of `forms.toml` by name ('pop', 'aaba', 'blues')."""
    data = _read_forms()
    key = name.strip().lower()
    if key not in data:
        raise FormError(f"unknown song form '{name}'; choose one of: {', '.join(sorted(data))}")
    d = data[key]
    try:
        parts = {p: Part(p, v["kind"], v["bars"], v.get("label", ""), v.get("chords", ""))
                 for p, v in d["parts"].items()}
        variants = tuple(tuple(v["sections"]) for v in d["variants"])
        short = frozenset(i for i, v in enumerate(d["variants"]) if v.get("short", False))
        chords = d.get("chords", {})
        form = SongForm(key, d.get("title", key), parts, variants, short,
                        tuple(d.get("repeat", ())), int(d.get("repeat_after", 0)),
                        int(d.get("repeat_at", -1)), tuple(chords.get("major", ())),
                        tuple(chords.get("minor", ())), bool(d.get("long_phrases", False)))
    except (KeyError, TypeError, ValueError) as exc:
        raise FormError(f"song form '{key}' is malformed: {exc}") from exc
    for seq in (*variants, form.repeat):
        for p in seq:
            if p not in parts:
                raise FormError(f"song form '{key}' uses an undefined part '{p}'")
    for p in parts.values():
        if p.kind not in SECTION_ENERGY:
            raise FormError(f"song form '{key}': unknown section kind '{p.kind}'")
    return form


def _bars(part: Part, *, chorus_bars: int, hook_bars: int, scale: int = 1) -> int:
    if isinstance(part.bars, int):
        return part.bars * scale
    verse = max(chorus_bars, 8)
    sizes = {"chorus": chorus_bars, "verse": verse, "half-verse": max(4, verse // 2),
             "hook": max(4, hook_bars)}
    if part.bars not in sizes:
        raise FormError(f"part '{part.name}' has unknown bars '{part.bars}'")
    return sizes[part.bars] * scale


def _label(form: SongForm, names: list[str], *, chorus_bars: int,
            hook_bars: int, scale: int = 1) -> list[FormSection]:
    stems = [form.parts[n].label or {"prechorus": "Pre-chorus"}.get(
        form.parts[n].kind, form.parts[n].kind.capitalize()) for n in names]
    totals = {s: stems.count(s) for s in stems}
    kind_totals = {k: sum(1 for n in names if form.parts[n].kind == k) for k in SECTION_ENERGY}
    counts: dict[str, int] = {}
    kind_counts: dict[str, int] = {}
    out = []
    for name, stem in zip(names, stems, strict=True):
        part = form.parts[name]
        counts[stem] = counts.get(stem, 0) + 1
        kind_counts[part.kind] = kind_counts.get(part.kind, 0) + 1
        label = f"{stem} {counts[stem]}" if totals[stem] > 1 else stem
        energy = SECTION_ENERGY[part.kind]
        if part.kind == "chorus" and kind_counts["chorus"] == kind_totals["chorus"] \
                and kind_totals["chorus"] > 1:
            energy = 1.0  # the last chorus is the biggest
        if part.kind == "verse" and kind_counts["verse"] > 1:
            energy += 0.05
        out.append(FormSection(part.kind, _bars(part, chorus_bars=chorus_bars, hook_bars=hook_bars,
                                                scale=scale),
                               label, round(min(energy, 1.0), 2), part.chords, name))
    return out


def plan_form(*, chorus_bars: int, seconds_per_bar: float, target_s: float,
              hook_bars: int | None = None, form: str | SongForm = DEFAULT_FORM) -> list[FormSection]:
    """The variant of `form` whose length is closest to `target_s` (full-size sections preferred,
    a little too long rather than too short; long targets repeat the form's `repeat` parts,
    short ones drop sections down to the hum alone). With short bars (fast tempos, 3/4) every
    section of a form with `long_phrases` may also take twice as many bars (phrases of 8 bars
    instead of 4) rather than the song repeating its verse and chorus over and over."""
    song_form = load_form(form) if isinstance(form, str) else form
    hook = hook_bars or chorus_bars
    variants = [(list(v), 0) for v in song_form.variants]  # (parts, extra repeats)
    short = set(song_form.short)
    if song_form.repeat:
        base = variants[song_form.repeat_after][0]
        at = len(base) + song_form.repeat_at if song_form.repeat_at < 0 else song_form.repeat_at
        for extra in range(1, MAX_REPEATS):
            variants.append((base[:at] + list(song_form.repeat) * extra + base[at:], extra))
    scales = (1, 2) if seconds_per_bar < LONG_PHRASE_BAR_S and song_form.long_phrases else (1,)
    candidates = [(names, scale, i in short, extra) for scale in scales
                  for i, (names, extra) in enumerate(variants)]

    def cost(c: tuple[list[str], int, bool, int]) -> tuple[float, int]:
        names, scale, is_short, extra = c
        bars = sum(_bars(song_form.parts[n], chorus_bars=chorus_bars, hook_bars=hook, scale=scale)
                   for n in names)
        excess = bars * seconds_per_bar - target_s
        miss = excess if excess >= 0 else -_SHORTFALL_WEIGHT * excess
        penalty = (_SHORT_PENALTY if is_short else 0.0) + (_LONG_PHRASE_PENALTY if scale > 1 else 0.0)
        if len(scales) > 1:  # when longer phrases are an option, each repeat has a cost
            penalty += _REPEAT_PENALTY * max(0, extra - 1)
        return (miss + penalty * target_s, -len(names))

    names, scale, _, _ = min(candidates, key=cost)
    return _label(song_form, names, chorus_bars=chorus_bars, hook_bars=hook, scale=scale)
