"""A style is data: one TOML file per style in `arrange/styles/`. See docs/styles.md.

This module reads and checks style files; the pattern code that turns a style and a lead sheet
into notes lives in the sibling modules (comping, bass, drums, fourpart, feel).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tunesmith.arrange.instruments import DRUM_KITS, DRUM_NOTES, instrument_range
from tunesmith.errors import StyleError

SECTION_KINDS = ("intro", "verse", "prechorus", "chorus", "bridge", "solo", "outro")
STEPS_PER_BEAT = 4  # rhythm positions in style files are sixteenth-note steps
PATTERNS = {
    "melody": "plays the song's melody",
    "block": "block chords on the rhythm",
    "pad": "sustained chords",
    "arpeggio": "arpeggiated chords",
    "power": "power chords (root, fifth, octave)",
    "strum": "strummed chords, down and up strokes",
    "rootless": "rootless jazz voicings (3-5-7-9 / 7-9-3-5)",
    "shell": "shell voicings (root with third and seventh)",
    "bossa": "bossa nova guitar: thumb on the bass, fingers on the syncopated chord pattern",
    "satb": "four-part harmony, one voice per part, no parallel fifths or octaves",
    "bass": "bass line from rhythm and tone lists",
    "walking": "walking bass: a note per beat, chord tones, approach notes into each chord",
    "drums": "drum grooves per section with fills and crashes",
}
CHORD_PATTERNS = ("block", "pad", "arpeggio", "power", "strum", "rootless", "shell", "bossa")
BASS_TONES = {
    "R": "root", "3": "third", "5": "fifth", "5-": "fifth below", "6": "sixth", "b7": "seventh",
    "8": "octave", "A": "chromatic approach to the next chord", "S": "scale-step approach",
    "D": "dominant (fifth of the next chord) approach",
}
ACCENTS = {"X": 1.22, "x": 1.0, "o": 0.7, "g": 0.45}  # velocity scale per accent letter
DRUM_VELOCITY = {"X": 118, "x": 96, "o": 58, "g": 40}
SATB_VOICES = ("soprano", "alto", "tenor", "bass")


@dataclass(frozen=True, slots=True)
class Hit:
    """One rhythmic hit: start and length in sixteenth steps from the pattern's start (a pattern
    may span several bars), and an accent letter (X accent, x normal, o soft, g ghost)."""

    step: float
    length: float
    accent: str = "x"


Rhythm = tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One instrument of a style."""

    name: str  # track and stem name, e.g. "chords"
    role: str  # melody, chords, keys, guitar, pad, strings, bass, drums, ... (drives mixing)
    program: int
    instrument: str
    pattern: str  # one of PATTERNS
    sections: tuple[str, ...]  # section kinds where it plays
    low: int = 48  # register for voicings / bass line / melody (MIDI)
    high: int = 72
    pan: float = 0.0
    velocity: int = 80
    octave: int = 0  # melody parts: transpose by octaves before fitting the register
    rhythm: dict[str, Rhythm] = field(default_factory=dict)  # section kind or "default"
    arpeggio: tuple[int, ...] = ()  # chord-tone indices for arpeggio patterns
    tones: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bass: kind -> tone per hit
    voice: str = ""  # satb: soprano, alto, tenor or bass
    lead: bool = False  # satb soprano: play the song's melody where it has one
    max_notes: int = 4  # chord voicings: at most this many notes

    def rhythm_for(self, kind: str) -> Rhythm:
        return self.rhythm.get(kind) or self.rhythm.get("default") or (Hit(0.0, 16.0),)


@dataclass(frozen=True, slots=True)
class Drums:
    kit: int
    grooves: dict[str, dict[str, str]]  # groove name -> drum -> step string
    sections: dict[str, str]  # section kind -> groove name (missing or "" = no drums)
    fill: dict[str, str]  # the fill leading into a new section
    fills: dict[str, dict[str, str]] = field(default_factory=dict)  # next section kind -> fill
    steps_per_beat: int = 4
    crash_on_sections: bool = True
    feel_ms: dict[str, float] = field(default_factory=dict)  # drum -> timing offset (+ = late)

    def fill_into(self, kind: str) -> dict[str, str]:
        return self.fills.get(kind) or self.fill


@dataclass(frozen=True, slots=True)
class Style:
    name: str
    title: str
    description: str
    tempo_range: tuple[float, float]
    default_tempo: float
    swing: float  # 0.5 straight .. 0.67 triplet
    swing_unit: float  # 0.5 = eighths swing, 0.25 = sixteenths
    humanize_ms: float
    humanize_velocity: float
    extensions: dict[str, str]  # triad quality / function -> extended quality
    parts: tuple[Part, ...]
    drums: Drums | None
    mix: dict[str, Any]
    path: Path | None = None
    feel: str = ""  # one line about the feel, for `tunesmith styles --describe`
    beats_per_bar: int | None = None  # the meter the style needs (waltz: 3); None = any
    dynamics: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind -> (start, end)
    form: str = ""  # optional song form name (read by compose)

    @property
    def pattern_beats_per_bar(self) -> int:
        """The meter the rhythms and grooves of this file are written in."""
        return self.beats_per_bar or 4

    def dynamics_at(self, kind: str, fraction: float) -> float:
        """Velocity scale at `fraction` (0..1) of the way through a section of `kind`."""
        start, end = self.dynamics.get(kind, (1.0, 1.0))
        return start + (end - start) * min(max(fraction, 0.0), 1.0)

    def fit_tempo(self, tempo_bpm: float) -> tuple[float, float]:
        """(song tempo, beat scale) for a hum at `tempo_bpm`: the hum's tempo, half or double it
        (the same pulse counted differently: multiply the melody's beat positions by the beat
        scale), whichever lies in the style's range closest to the style's default tempo;
        clamped into the range when none fits."""
        lo, hi = self.tempo_range
        options = []
        for factor in (0.5, 1.0, 2.0):
            t = tempo_bpm * factor
            clamped = min(max(t, lo), hi)
            cost = abs(math.log(clamped / self.default_tempo)) + 3 * abs(math.log(clamped / t))
            options.append((cost, clamped, factor))
        best = min(options)
        return float(round(best[1], 2)), best[2]


def _hits(spec: list[str], where: str) -> Rhythm:
    out = []
    for item in spec:
        bits = str(item).split(":")
        try:
            if len(bits) not in (2, 3):
                raise ValueError(item)
            hit = Hit(float(bits[0]), float(bits[1]), bits[2] if len(bits) == 3 else "x")
        except ValueError as exc:
            raise StyleError(f"{where}: rhythm item '{item}' must look like 'step:length' or "
                             "'step:length:accent' (steps are sixteenth notes)") from exc
        if hit.accent not in ACCENTS:
            raise StyleError(f"{where}: accent '{hit.accent}' in '{item}' must be one of X x o g")
        if hit.step < 0 or hit.length <= 0:
            raise StyleError(f"{where}: rhythm item '{item}' needs a step >= 0 and a length > 0")
        out.append(hit)
    return tuple(sorted(out, key=lambda h: h.step))


def _check_range(part: Part, style: str) -> None:
    if part.pattern == "drums":
        return
    if not 0 <= part.program <= 127:
        raise StyleError(f"style {style}: part '{part.name}' has program {part.program}; "
                         "General MIDI programs are 0-127")
    rng = instrument_range(part.program)
    if part.low >= part.high:
        raise StyleError(f"style {style}: part '{part.name}' has low {part.low} >= high {part.high}")
    if part.pattern == "power" and part.high - part.low < 23:
        raise StyleError(f"style {style}: power-chord part '{part.name}' needs a register of at "
                         f"least 23 semitones (a root for every chord, plus its octave); it has "
                         f"{part.low}-{part.high}")
    if part.low < rng.low or part.high > rng.high:
        raise StyleError(
            f"style {style}: part '{part.name}' ({part.instrument or part.program}) is asked to play "
            f"{part.low}-{part.high}, outside what it can play ({rng.low}-{rng.high})")


def _part(d: dict[str, Any], style: str) -> Part:
    try:
        where = f"style {style}, part '{d.get('name', '?')}'"
        pattern = d["pattern"]
        if pattern not in PATTERNS:
            raise StyleError(f"{where}: unknown pattern '{pattern}'; "
                             f"use one of {', '.join(sorted(PATTERNS))}")
        rhythm = {k: _hits(v, where) for k, v in d.get("rhythm", {}).items()}
        tones = {k: tuple(str(t) for t in v) for k, v in d.get("tones", {}).items()}
        for kind_tones in tones.values():
            bad = [t for t in kind_tones if t not in BASS_TONES]
            if bad:
                raise StyleError(f"{where}: unknown bass tone '{bad[0]}'; "
                                 f"use {', '.join(BASS_TONES)}")
        program = int(d.get("program", 0))
        rng = instrument_range(program) if 0 <= program <= 127 else None
        # A melody part's register defaults to the instrument's whole range.
        default_low, default_high = (rng.low, rng.high) if rng and pattern == "melody" else (48, 72)
        sections = tuple(d.get("sections", SECTION_KINDS))
        unknown = [s for s in sections if s not in SECTION_KINDS]
        if unknown:
            raise StyleError(f"{where}: unknown section kind '{unknown[0]}'")
        voice = str(d.get("voice", ""))
        if pattern == "satb" and voice not in SATB_VOICES:
            raise StyleError(f"{where}: a satb part needs voice = soprano, alto, tenor or bass")
        part = Part(
            name=d["name"], role=d.get("role", d["name"]), program=program,
            instrument=d.get("instrument", ""), pattern=pattern, sections=sections,
            low=int(d.get("low", default_low)), high=int(d.get("high", default_high)),
            pan=float(d.get("pan", 0.0)), velocity=int(d.get("velocity", 80)),
            octave=int(d.get("octave", 0)), rhythm=rhythm,
            arpeggio=tuple(int(i) for i in d.get("arpeggio", ())), tones=tones, voice=voice,
            lead=bool(d.get("lead", False)), max_notes=int(d.get("max_notes", 4)))
    except KeyError as exc:
        raise StyleError(f"style {style}: a part is missing '{exc.args[0]}'") from exc
    _check_range(part, style)
    return part


def _drum_pattern(p: dict[str, Any], where: str) -> dict[str, str]:
    for drum, steps in p.items():
        if drum not in DRUM_NOTES:
            raise StyleError(f"{where}: unknown drum '{drum}'; use {', '.join(DRUM_NOTES)}")
        bad = set(str(steps)) - set(DRUM_VELOCITY) - {"."}
        if bad:
            raise StyleError(f"{where}: drum '{drum}' uses '{sorted(bad)[0]}'; "
                             "write X (accent), x, o (soft), g (ghost) or . (rest)")
    return {k: str(v) for k, v in p.items()}


def _check_rows(pattern: dict[str, str], *, steps_per_beat: int, bar_steps: int,
                where: str) -> None:
    """A row is whole beats long, and either fits in a bar (and repeats) or spans whole bars."""
    for drum, row in pattern.items():
        n = len(row)
        if n % steps_per_beat or (n > bar_steps and n % bar_steps):
            raise StyleError(f"{where}: drum '{drum}' has {n} steps; a row must be whole beats "
                             f"({steps_per_beat} steps each) and at most a bar ({bar_steps}) or "
                             "whole bars long")


def _drums(dd: dict[str, Any], name: str, beats_per_bar: int) -> Drums:
    where = f"style {name} drums"
    grooves = {g: _drum_pattern(p, f"{where}, groove '{g}'") for g, p in dd["grooves"].items()}
    spb = int(dd.get("steps_per_beat", 4))
    if spb not in (2, 4, 8):
        raise StyleError(f"{where}: steps_per_beat must be 2, 4 or 8")
    for g, p in grooves.items():
        _check_rows(p, steps_per_beat=spb, bar_steps=spb * beats_per_bar,
                    where=f"{where}, groove '{g}'")
    sections = {str(k): str(v) for k, v in dd.get("sections", {}).items()}
    for kind, groove in sections.items():
        if groove and groove not in grooves:
            raise StyleError(f"{where}: section '{kind}' plays groove '{groove}', "
                             "which the file does not define")
    kit = int(dd.get("kit", 0))
    if kit not in DRUM_KITS:
        raise StyleError(f"{where}: kit {kit} is not a General MIDI drum kit; "
                         f"use one of {', '.join(f'{k} ({v})' for k, v in DRUM_KITS.items())}")
    feel = {str(k): float(v) for k, v in dd.get("feel_ms", {}).items()}
    for drum in feel:
        if drum not in DRUM_NOTES:
            raise StyleError(f"{where}: feel_ms names unknown drum '{drum}'")
    fill = _drum_pattern(dd.get("fill", {}), f"{where}, fill")
    fills = {k: _drum_pattern(v, f"{where}, fill into {k}") for k, v in dd.get("fills", {}).items()}
    for label, p in [("fill", fill)] + [(f"fill into {k}", v) for k, v in fills.items()]:
        _check_rows(p, steps_per_beat=spb, bar_steps=spb * beats_per_bar, where=f"{where}, {label}")
    return Drums(kit=kit, grooves=grooves, sections=sections, fill=fill, fills=fills,
                 steps_per_beat=spb,
                 crash_on_sections=bool(dd.get("crash_on_sections", True)), feel_ms=feel)


def _dynamics(raw: dict[str, Any], name: str) -> dict[str, tuple[float, float]]:
    out = {}
    for kind, v in raw.items():
        if kind not in SECTION_KINDS:
            raise StyleError(f"style {name}: dynamics for unknown section kind '{kind}'")
        pair = (float(v), float(v)) if isinstance(v, int | float) else (float(v[0]), float(v[-1]))
        if not all(0.2 <= x <= 1.5 for x in pair):
            raise StyleError(f"style {name}: dynamics for {kind} must lie between 0.2 and 1.5")
        out[kind] = pair
    return out


def parse_style(data: dict[str, Any], *, path: Path | None = None) -> Style:
    name = data.get("name") or (path.stem if path else "")
    try:
        lo, hi = data["tempo_range"]
        bpb = data.get("beats_per_bar")
        if bpb is not None and int(bpb) not in (2, 3, 4, 6):
            raise StyleError(f"style {name}: beats_per_bar must be 2, 3, 4 or 6, not {bpb}")
        drums = _drums(data["drums"], name, int(bpb or 4)) if "drums" in data else None
        parts = tuple(_part(p, name) for p in data["parts"])
        names = [p.name for p in parts]
        if len(set(names)) != len(names):
            raise StyleError(f"style {name}: two parts share a name; every part needs its own")
        if any(p.pattern == "drums" for p in parts) and drums is None:
            raise StyleError(f"style {name}: a drums part needs a [drums] table")
        swing = float(data.get("swing", 0.5))
        if not 0.5 <= swing <= 0.75:
            raise StyleError(f"style {name}: swing must lie between 0.5 (straight) and 0.75")
        return Style(
            name=name, title=data.get("title", name), description=data["description"],
            tempo_range=(float(lo), float(hi)),
            default_tempo=float(data.get("default_tempo", (lo + hi) / 2)),
            swing=swing, swing_unit=float(data.get("swing_unit", 0.5)),
            humanize_ms=float(data.get("humanize_ms", 6.0)),
            humanize_velocity=float(data.get("humanize_velocity", 6.0)),
            extensions=dict(data.get("extensions", {})), parts=parts, drums=drums,
            mix=dict(data.get("mix", {})), path=path, feel=str(data.get("feel", "")),
            beats_per_bar=int(bpb) if bpb is not None else None,
            dynamics=_dynamics(data.get("dynamics", {}), name), form=str(data.get("form", "")))
    except KeyError as exc:
        raise StyleError(f"style {name}: missing '{exc.args[0]}'") from exc


def _style_files() -> dict[str, Path]:
    folder = resources.files("tunesmith.arrange") / "styles"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def style_names() -> list[str]:
    return sorted(_style_files())


def load_style(name_or_path: str) -> Style:
    """A built-in style by name (e.g. 'jazz-swing'), or a path to a style TOML file."""
    files = _style_files()
    key = name_or_path.strip().lower().replace(" ", "-").replace("_", "-")
    path = files.get(key)
    if path is None and name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        if not path.is_file():
            raise StyleError(f"style file not found: {name_or_path}")
    if path is None:
        raise StyleError(f"unknown style '{name_or_path}'; choose one of: {', '.join(sorted(files))}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"style file {path.name} is not valid TOML: {exc}") from exc
    return parse_style(data, path=path)
