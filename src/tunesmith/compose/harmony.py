"""Choose chords for a melody with a model learned from POP909.

`harmonize()` puts the melody on a beat grid, computes per-beat melody features
(`harmony_features`), runs the emission network (`harmony_model`) and decodes a chord per beat
(`harmony_decode`): the most likely triads under the learned transitions and the learned "stay
or change" head, so the chord rhythm comes from the model, not a fixed one chord per bar,
steered toward a melody fit like a songwriter's rather than the tightest one (the melody's
CTnCTR, `harmony_metrics.ctnctr_counts`); then their colours (sevenths, sixths, inversions,
slash basses), drawn from the model with the seed.
The model lives in `tunesmith/models/harmony.npz` (see `models/MODEL_CARD.md`); it runs with
NumPy only.

Controls:
- `harmony`: "simple" (root-position triads, fewer changes), "rich" (the learned vocabulary:
  sevenths, sus, sixths, inversions and stepwise-bass slash chords) or "jazzy" (sevenths,
  ninths, ii-V and V-I motion);
- `mood`: -1 (darker) .. +1 (brighter): minor- vs major-quality chords and borrowed chords;
- `fixed`: a partial chord sheet; those chords are kept exactly where they are;
- cadences: a tonic first chord (`start_on_tonic`), a final tonic (or, with `open_ending`, a
  dominant that leads on), and half cadences leaned on at each `phrase_bars`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.harmony_decode import (
    DEFAULT_HARMONY,
    HARMONY_STYLES,
    Controls,
    MelodyFit,
    decode,
    tone_table,
)
from tunesmith.compose.harmony_features import BeatGrid, beat_features
from tunesmith.compose.harmony_metrics import ctnctr_counts
from tunesmith.compose.harmony_model import HarmonyModel, load_model
from tunesmith.compose.harmony_vocab import (
    ALL_CLASSES,
    N_CLASSES,
    chord_class,
    class_of,
    frame_tonic,
)
from tunesmith.errors import TunesmithError
from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_HARMONY", "HARMONY_STYLES", "MOODS", "HarmonyError", "check_controls",
           "harmonize", "harmonize_beats", "roman_of"]

MOODS = {"darker": -1.0, "neutral": 0.0, "brighter": 1.0}  # the CLI's names for `mood`

PHRASE_END_BIAS = 0.6  # pull toward the dominant at the end of an inner phrase
CADENCE_DOMINANT_BIAS = 0.5  # lean toward the dominant just before a final tonic
NINTH_SHARE = 0.2  # jazzy: a 7 chord becomes a 9 when its ninth is sung this much of the time


class HarmonyError(TunesmithError):
    """The harmoniser was asked for something it cannot do."""


@dataclass(frozen=True)
class _Frame:
    tonic: int  # the pitch class the model's 0 stands for
    minor: bool

    @property
    def tonic_root(self) -> int:  # the key's tonic in the frame
        return 9 if self.minor else 0

    @property
    def dominant_root(self) -> int:
        return (self.tonic_root + 7) % 12


def check_controls(harmony: str, mood: float) -> None:
    """Refuse an unknown harmony style or a mood outside -1..1."""
    if harmony not in HARMONY_STYLES:
        raise HarmonyError(f"unknown harmony style '{harmony}': use one of {', '.join(HARMONY_STYLES)}")
    if not -1.0 <= mood <= 1.0:
        raise HarmonyError(f"mood must be between -1 (darker) and 1 (brighter), not {mood:g}")


def harmonize_beats(melody: Sequence[Note], grid: BeatGrid, *, key: Key | Sequence[Key],
                    harmony: str = DEFAULT_HARMONY, mood: float = 0.0,
                    allowed: np.ndarray | None = None, bias: np.ndarray | None = None,
                    seed: int = 0, model: HarmonyModel | None = None,
                    candidates_per_beat: int | None = None) -> list[ChordSymbol]:
    """One chord per beat of `grid` (melody in beats from the grid's beat 0). `key` is one key
    or one per beat (a song that modulates). `allowed`/`bias` (beats x vocabulary, in the
    key-relative frame) constrain or favour classes per beat."""
    check_controls(harmony, mood)
    model = model or load_model()
    n = grid.n_beats
    keys = [key] * n if isinstance(key, Key) else list(key)
    if len(keys) != n:
        raise HarmonyError(f"{len(keys)} keys for {n} beats")
    tonic = np.array([frame_tonic(k) for k in keys])
    minor = np.array([k.mode == "minor" for k in keys])
    feats = beat_features(melody, grid, frame_tonic=tonic, minor=minor)
    log_post, change_logit = model.predict(feats)
    fit = MelodyFit(*ctnctr_counts(melody, n, frame_tonic=tonic, tones=tone_table()))
    main_minor = bool(np.mean(minor) > 0.5)
    path = decode(model, log_post, change_logit, Controls(harmony, mood, main_minor),
                  melody_pcs=feats[:, :12], melody_fit=fit, allowed=allowed, bias=bias, seed=seed,
                  candidates_per_beat=candidates_per_beat)
    out = []
    for b, idx in enumerate(path):
        out.append(chord_class(int(idx)).to_symbol(int(tonic[b])))
    if harmony == "jazzy":
        out = _ninths(out, melody)
    return out


def _ninths(chords: list[ChordSymbol], melody: Sequence[Note]) -> list[ChordSymbol]:
    """A root-position dominant seventh whose ninth the melody sings becomes a 9 chord."""
    out = list(chords)
    b = 0
    while b < len(out):
        e = b
        while e + 1 < len(out) and out[e + 1] == out[b]:
            e += 1
        c = out[b]
        if c.quality == "7" and c.bass is None:
            total = ninth = 0.0
            for n in melody:
                ov = min(n.end_beat, e + 1) - max(n.start_beat, b)
                if ov > 0:
                    total += ov
                    ninth += ov * (n.pitch % 12 == (c.root + 2) % 12)
            if total > 0 and ninth / total >= NINTH_SHARE:
                out[b:e + 1] = [ChordSymbol(c.root, "9")] * (e + 1 - b)
        b = e + 1
    return out


def _cadence_masks(frame: _Frame, harmony: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tonic for a first chord, tonic for a final chord, dominant) class masks."""
    t, d = frame.tonic_root, frame.dominant_root
    if frame.minor:
        start = classes_with({t}, {"min", "min7", "min6"} if harmony != "simple" else {"min"})
        final = classes_with({t}, {"min", "min7", "min6"} if harmony == "jazzy" else {"min"})
    else:
        start = classes_with({t}, {"maj", "maj7", "6", "9"} if harmony != "simple" else {"maj"})
        final = classes_with({t}, {"maj", "maj7", "6", "9"} if harmony == "jazzy" else {"maj"})
    dom = classes_with({d}, {"maj", "7", "9", "sus4"})
    return start, final, dom


def harmonize(melody: Sequence[Note], *, key: Key, start_beat: float, n_bars: int,
              beats_per_bar: int = 4, phrase_bars: int = 4, final_cadence: bool = True,
              open_ending: bool = False, start_on_tonic: bool = True, seed: int = 0,
              harmony: str = DEFAULT_HARMONY, mood: float = 0.0,
              fixed: Sequence[Chord] | None = None, model_path: Path | None = None) -> list[Chord]:
    """Chords for `n_bars` bars from `start_beat` (melody in absolute beats). `phrase_bars`
    marks where half cadences are leaned on; `final_cadence` ends on the tonic, or on the
    dominant with `open_ending` (a section that leads into the next). `fixed` chords (absolute
    beats) are kept exactly; the model fills around them, cadences give way to them."""
    check_controls(harmony, mood)
    if n_bars < 1 or beats_per_bar < 1:
        raise HarmonyError("there must be at least one bar to harmonise")
    model = load_model(model_path)
    grid = BeatGrid.regular(n_bars, beats_per_bar)
    n = grid.n_beats
    end_beat = start_beat + n
    local = [Note(nt.start_beat - start_beat, nt.duration_beats, nt.pitch, nt.velocity)
             for nt in melody if nt.end_beat > start_beat and nt.start_beat < end_beat]
    frame = _Frame(frame_tonic(key), key.mode == "minor")
    allowed = np.ones((n, N_CLASSES), dtype=bool)
    bias = np.zeros((n, N_CLASSES))
    start_mask, final_mask, dom_mask = _cadence_masks(frame, harmony)
    if start_on_tonic:
        allowed[0] &= start_mask
    if final_cadence:
        if open_ending:
            allowed[n - 1] &= dom_mask
        else:
            allowed[n - 1] &= final_mask
            if n_bars > 1:  # V before the last bar's tonic
                bias[n - beats_per_bar - 1] += CADENCE_DOMINANT_BIAS * dom_mask
    if phrase_bars > 0:
        for bar in range(phrase_bars - 1, n_bars - 1, phrase_bars):
            bias[(bar + 1) * beats_per_bar - 1] += PHRASE_END_BIAS * dom_mask
    fixed_spans = _apply_fixed(fixed or [], allowed, start_beat=start_beat, n=n, frame=frame)
    chords = harmonize_beats(local, grid, key=key, harmony=harmony, mood=mood, allowed=allowed,
                             bias=bias, seed=seed, model=model)
    return _assemble(chords, start_beat=start_beat, fixed=fixed_spans)


def _apply_fixed(fixed: Sequence[Chord], allowed: np.ndarray, *, start_beat: float, n: int,
                 frame: _Frame) -> list[Chord]:
    """Restrict the beats a fixed chord covers (most of) to that chord; return the fixed chords
    that fall in this passage, clipped to it."""
    kept = []
    for c in sorted(fixed, key=lambda c: c.start_beat):
        a = max(c.start_beat, start_beat)
        b = min(c.end_beat, start_beat + n)
        if b <= a:
            continue
        kept.append(Chord(a, b - a, c.chord))
        cls = class_of(c.chord, frame.tonic).index
        for beat in range(int(np.floor(a - start_beat)), int(np.ceil(b - start_beat))):
            if 0 <= beat < n:
                ov = min(b, start_beat + beat + 1) - max(a, start_beat + beat)
                if ov >= 0.5 - 1e-9:
                    allowed[beat] = False
                    allowed[beat, cls] = True
    for i in range(1, len(kept)):
        if kept[i].start_beat < kept[i - 1].end_beat - 1e-9:
            raise HarmonyError(f"the chord sheet has overlapping chords at beat {kept[i].start_beat:g}")
    return kept


def _assemble(beat_chords: list[ChordSymbol], *, start_beat: float, fixed: list[Chord]) -> list[Chord]:
    """Merge repeated beats into chords, carve out the fixed chords and put them in verbatim."""
    segments: list[Chord] = []
    for b, c in enumerate(beat_chords):
        if segments and segments[-1].chord == c:
            last = segments[-1]
            segments[-1] = Chord(last.start_beat, last.duration_beats + 1, c)
        else:
            segments.append(Chord(start_beat + b, 1.0, c))
    out: list[Chord] = list(fixed)
    for seg in segments:
        pieces = [(seg.start_beat, seg.end_beat)]
        for f in fixed:
            nxt = []
            for a, b in pieces:
                if f.end_beat <= a or f.start_beat >= b:
                    nxt.append((a, b))
                    continue
                if f.start_beat > a:
                    nxt.append((a, f.start_beat))
                if f.end_beat < b:
                    nxt.append((f.end_beat, b))
            pieces = nxt
        out += [Chord(a, b - a, seg.chord) for a, b in pieces if b - a > 1e-6]
    return sorted(out, key=lambda c: c.start_beat)


# Roman numerals for the arranger (styles pick voicings and bass moves by function).
_ROMAN_MAJOR = {0: "I", 2: "ii", 4: "iii", 5: "IV", 7: "V", 9: "vi", 11: "vii°", 10: "bVII",
                8: "bVI", 3: "bIII", 1: "bII", 6: "#iv°"}
_ROMAN_MINOR = {0: "i", 2: "ii°", 3: "bIII", 5: "iv", 7: "v", 8: "bVI", 10: "bVII", 11: "vii°",
                4: "#iii", 9: "#vi", 1: "bII", 6: "#iv°"}


def roman_of(chord: ChordSymbol, key: Key) -> str:
    """Roman numeral of a chord in a key: case from the chord's triad (upper = major), e.g. V,
    ii, bVII, iv; '?' for a root the table does not name."""
    degree = (chord.root - key.tonic) % 12
    table = _ROMAN_MINOR if key.mode == "minor" else _ROMAN_MAJOR
    base = table.get(degree)
    if base is None:
        return "?"
    letters = base.lstrip("b#").rstrip("°")
    prefix = base[: len(base) - len(base.lstrip("b#"))]
    tq = chord.triad_quality
    if tq in ("min", "dim"):
        numeral = letters.lower() + ("°" if tq == "dim" else "")
    else:
        numeral = letters.upper() + ("+" if tq == "aug" else "")
    return prefix + numeral


def classes_with(roots: set[int], qualities: set[str]) -> np.ndarray:
    """Mask over the vocabulary: root-position chords with these roots and qualities."""
    return np.array([c.root in roots and c.quality in qualities and c.bass_interval is None
                     for c in ALL_CLASSES])
