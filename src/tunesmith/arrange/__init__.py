"""arrange: a style turns a lead sheet (melody, chords, sections) into a multi-track Score."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from tunesmith.arrange.patterns import Context, bass_part, chord_part, drum_part, energy_velocity
from tunesmith.arrange.style import Part, Style, load_style, style_names
from tunesmith.compose.harmony import roman_of
from tunesmith.score import Chord, Note, Score, Track
from tunesmith.theory import ChordSymbol, Key

log = logging.getLogger(__name__)

__all__ = ["Style", "apply_swing", "arrange", "colour_chords", "load_style", "style_names"]

_DOMINANTS = {"V", "V/V"}


def colour_chords(chords: list[Chord], *, key: Key, extensions: dict[str, str]) -> list[Chord]:
    """Extend triads the way the style does (e.g. jazz: I->maj7, ii->m7, V->7)."""
    if not extensions:
        return list(chords)
    out = []
    for c in chords:
        roman = roman_of(c.chord, key)
        q = extensions.get(roman)
        if q is None and roman in _DOMINANTS:
            q = extensions.get("dom")
        if q is None:
            q = extensions.get(c.chord.quality)
        out.append(replace(c, chord=ChordSymbol(c.chord.root, q, c.chord.bass)) if q else c)
    return out


def _swing_time(t: float, ratio: float, unit: float) -> float:
    period = 2 * unit
    base = np.floor(t / period + 1e-9) * period
    frac = t - base
    split = period * ratio
    if frac <= unit:
        return base + frac / unit * split
    return base + split + (frac - unit) / unit * (period - split)


def apply_swing(notes: list[Note], *, ratio: float, unit: float = 0.5) -> list[Note]:
    """Time-warp straight notes so off-beat `unit`s fall at `ratio` of the pair (0.5 = straight)."""
    if abs(ratio - 0.5) < 1e-3:
        return notes
    out = []
    for n in notes:
        s = _swing_time(n.start_beat, ratio, unit)
        e = _swing_time(n.end_beat, ratio, unit)
        out.append(replace(n, start_beat=s, duration_beats=max(0.05, e - s)))
    return out


def _humanize(notes: list[Note], *, tempo_bpm: float, timing_ms: float, velocity_sd: float,
              rng: np.random.Generator) -> list[Note]:
    if not notes:
        return notes
    beats_per_ms = tempo_bpm / 60000.0
    dt = np.clip(rng.normal(0, timing_ms, len(notes)), -2.5 * timing_ms, 2.5 * timing_ms) * beats_per_ms
    dv = rng.normal(0, velocity_sd, len(notes))
    out = []
    for n, t, v in zip(notes, dt, dv, strict=True):
        start = max(0.0, n.start_beat + float(t))
        out.append(replace(n, start_beat=round(start, 4),
                           velocity=int(np.clip(round(n.velocity + v), 1, 127))))
    return out


def _melody_part(part: Part, lead: Score) -> list[Note]:
    melody = next((t for t in lead.tracks if t.role == "melody"), None)
    if melody is None:
        return []
    out = []
    for n in melody.notes:
        sec = next((s for s in lead.sections if s.start_beat <= n.start_beat < s.end_beat), None)
        if sec is None or sec.kind not in part.sections:
            continue
        vel = energy_velocity(part.velocity, sec.energy)
        out.append(replace(n, pitch=n.pitch + 12 * part.octave, velocity=vel))
    return out


def arrange(lead: Score, style: Style, *, seed: int = 0) -> Score:
    """Arrange `lead` (a lead sheet from compose) in `style`. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    chords = colour_chords(lead.chords, key=lead.key, extensions=style.extensions)
    ctx = Context(chords=chords, sections=lead.sections, beats_per_bar=lead.beats_per_bar,
                  song_end=max(s.end_beat for s in lead.sections))
    tracks: list[Track] = []
    for part in style.parts:
        notes: list[Note] = []
        if part.pattern == "melody":
            notes = _melody_part(part, lead)
        elif part.pattern == "drums":
            if style.drums is None:
                continue
            notes = drum_part(style.drums, lead.sections, ctx, rng)
        else:
            prev: list[int] | None = None
            for sec in lead.sections:
                if sec.kind not in part.sections:
                    prev = None
                    continue
                if part.pattern in ("bass", "walking"):
                    notes += bass_part(part, sec, ctx, rng)
                else:
                    sec_notes, prev = chord_part(part, sec, ctx, prev)
                    notes += sec_notes
        unit = style.swing_unit
        notes = apply_swing(sorted(notes, key=lambda n: (n.start_beat, n.pitch)),
                            ratio=style.swing, unit=unit)
        timing = style.humanize_ms * (0.5 if part.role == "melody" else 1.0)
        notes = _humanize(notes, tempo_bpm=lead.tempo_bpm, timing_ms=timing,
                          velocity_sd=style.humanize_velocity, rng=rng)
        is_drum = part.pattern == "drums"
        program = style.drums.kit if is_drum and style.drums else part.program
        tracks.append(Track(name=part.name, program=program, is_drum=is_drum, notes=notes,
                            instrument=part.instrument, pan=part.pan, role=part.role))
    log.info("arranged %d tracks in style %s", len(tracks), style.name)
    return Score(tempo_bpm=lead.tempo_bpm, key=lead.key, beats_per_bar=lead.beats_per_bar,
                 tracks=tracks, chords=chords, sections=list(lead.sections), swing=style.swing)
