"""A style is data: one TOML file per style in `arrange/styles/`. See docs/styles.md."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tunesmith.errors import StyleError

SECTION_KINDS = ("intro", "verse", "prechorus", "chorus", "bridge", "solo", "outro")
DRUM_NOTES = {
    "kick": 36, "side": 37, "snare": 38, "clap": 39, "tom_floor": 41, "hat": 42, "tom_low": 45,
    "hat_pedal": 44, "hat_open": 46, "tom_mid": 47, "crash": 49, "tom_high": 50, "ride": 51,
    "ride_bell": 53, "tambourine": 54, "shaker": 70, "brush": 40,
}


@dataclass(frozen=True, slots=True)
class Part:
    """One instrument of a style."""

    name: str  # track name, e.g. "chords"
    role: str  # melody, chords, bass, drums, pad, guitar, ...
    program: int
    instrument: str
    pattern: str  # melody, block, arpeggio, power, rootless, strum, pad, bass, walking, drums
    sections: tuple[str, ...]  # section kinds where it plays
    low: int = 48  # register for voicings / bass line
    high: int = 72
    pan: float = 0.0
    velocity: int = 80
    octave: int = 0  # melody transposition in octaves
    rhythm: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)  # kind -> ((step, len),...)
    arpeggio: tuple[int, ...] = ()  # chord-tone indices for arpeggio patterns
    tones: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bass: kind -> tone per hit


@dataclass(frozen=True, slots=True)
class Drums:
    kit: int
    grooves: dict[str, dict[str, str]]  # groove name -> drum -> step string
    sections: dict[str, str]  # section kind -> groove name ("" = silent)
    fill: dict[str, str]
    steps_per_beat: int = 4
    crash_on_sections: bool = True


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


def _steps(spec: list[str]) -> tuple[tuple[float, float], ...]:
    out = []
    for item in spec:
        try:
            a, b = item.split(":")[:2]
            out.append((float(a), float(b)))
        except ValueError as exc:
            raise StyleError(f"rhythm item '{item}' must look like 'step:length'") from exc
    return tuple(out)


def _part(d: dict[str, Any], style: str) -> Part:
    try:
        rhythm = {k: _steps(v) for k, v in d.get("rhythm", {}).items()}
        tones = {k: tuple(v) for k, v in d.get("tones", {}).items()}
        return Part(
            name=d["name"], role=d.get("role", d["name"]), program=int(d.get("program", 0)),
            instrument=d.get("instrument", ""), pattern=d["pattern"],
            sections=tuple(d.get("sections", SECTION_KINDS)), low=int(d.get("low", 48)),
            high=int(d.get("high", 72)), pan=float(d.get("pan", 0.0)),
            velocity=int(d.get("velocity", 80)), octave=int(d.get("octave", 0)), rhythm=rhythm,
            arpeggio=tuple(d.get("arpeggio", ())), tones=tones)
    except KeyError as exc:
        raise StyleError(f"style {style}: a part is missing '{exc.args[0]}'") from exc


def parse_style(data: dict[str, Any], *, path: Path | None = None) -> Style:
    name = data.get("name") or (path.stem if path else "")
    try:
        drums = None
        if "drums" in data:
            dd = data["drums"]
            drums = Drums(kit=int(dd.get("kit", 0)), grooves=dd["grooves"],
                          sections=dd.get("sections", {}), fill=dd.get("fill", {}),
                          steps_per_beat=int(dd.get("steps_per_beat", 4)),
                          crash_on_sections=bool(dd.get("crash_on_sections", True)))
            for groove in drums.grooves.values():
                for drum in groove:
                    if drum not in DRUM_NOTES:
                        raise StyleError(f"style {name}: unknown drum '{drum}'")
        lo, hi = data["tempo_range"]
        return Style(
            name=name, title=data.get("title", name), description=data["description"],
            tempo_range=(float(lo), float(hi)),
            default_tempo=float(data.get("default_tempo", (lo + hi) / 2)),
            swing=float(data.get("swing", 0.5)), swing_unit=float(data.get("swing_unit", 0.5)),
            humanize_ms=float(data.get("humanize_ms", 6.0)),
            humanize_velocity=float(data.get("humanize_velocity", 6.0)),
            extensions=dict(data.get("extensions", {})),
            parts=tuple(_part(p, name) for p in data["parts"]), drums=drums,
            mix=dict(data.get("mix", {})), path=path)
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
