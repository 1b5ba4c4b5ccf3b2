"""Performed notes (seconds, fractional pitch) to score notes (beats, integer pitch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.listen.tuning import corrected_pitches, estimate_tuning_cents
from tunesmith.score import Note, SungNote

DEFAULT_GRID_BEATS = 0.25
DEFAULT_VELOCITY = 90
VELOCITY_RANGE = (40, 120)
VELOCITY_PER_DB = 2.5  # MIDI velocity steps per dB of loudness around the median note


class QuantizeError(TunesmithError):
    """The tempo or grid given for quantising does not make sense."""


def quantize(notes: Sequence[SungNote], *, tempo_bpm: float, downbeat_s: float,
             grid_beats: float = DEFAULT_GRID_BEATS,
             tuning_cents: float | Sequence[float] | None = None,
             velocities: Sequence[int] | None = None) -> list[Note]:
    """Snap performed notes to a beat grid.

    Beat 0 is the first downbeat (`downbeat_s`); notes before it get negative start beats (a
    pickup). Pitches are rounded to integers after removing the singer's global tuning offset
    (estimated from the notes unless `tuning_cents` is given: one value, or one per note for a
    drifting singer, see `follow_tuning_cents`). The result is sorted, has no
    overlaps and no zero-length notes; two notes landing on the same grid point keep the longer.
    `velocities` (one per note, e.g. from `note_velocities`) default to 90.
    """
    if not tempo_bpm or tempo_bpm <= 0 or not np.isfinite(tempo_bpm):
        raise QuantizeError(f"the tempo must be a positive number of beats per minute, not {tempo_bpm}")
    if not grid_beats or grid_beats <= 0:
        raise QuantizeError(f"the grid must be a positive number of beats, not {grid_beats}")
    if velocities is not None and len(velocities) != len(notes):
        raise QuantizeError("give one velocity per note")
    if not notes:
        return []
    cents = np.asarray(estimate_tuning_cents(notes) if tuning_cents is None else tuning_cents,
                       dtype=np.float64)
    if cents.ndim and cents.size != len(notes):
        raise QuantizeError("give one tuning per note")
    pitches = corrected_pitches(notes, cents)
    vels = list(velocities) if velocities is not None else [DEFAULT_VELOCITY] * len(notes)
    spb = 60.0 / tempo_bpm

    def snap(t_s: float) -> float:
        return float(np.round((t_s - downbeat_s) / spb / grid_beats) * grid_beats)

    placed: dict[float, tuple[float, int, int, float]] = {}  # start -> (end, pitch, vel, dur_s)
    for note, pitch, vel in zip(notes, pitches, vels, strict=True):
        start = snap(note.onset_s)
        end = max(snap(note.offset_s), start + grid_beats)
        kept = placed.get(start)
        if kept is None or note.duration_s > kept[3]:
            placed[start] = (end, int(pitch), int(vel), note.duration_s)

    starts = sorted(placed)
    out: list[Note] = []
    for i, start in enumerate(starts):
        end, pitch, vel, _ = placed[start]
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        out.append(Note(start, round(end - start, 6), pitch, int(np.clip(vel, 1, 127))))
    return out


def note_velocities(audio: np.ndarray, *, sample_rate: int, notes: Sequence[SungNote]) -> list[int]:
    """MIDI velocity per note from its RMS loudness relative to the median note (90 = median)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[0] >= x.shape[1] else x.mean(axis=0)
    levels = []
    for n in notes:
        a = max(0, int(n.onset_s * sample_rate))
        b = min(x.size, max(a + 1, int(n.offset_s * sample_rate)))
        seg = x[a:b]
        levels.append(10.0 * np.log10(np.mean(seg**2) + 1e-12) if seg.size else -120.0)
    if not levels:
        return []
    ref = float(np.median(levels))
    lo, hi = VELOCITY_RANGE
    return [int(np.clip(round(DEFAULT_VELOCITY + VELOCITY_PER_DB * (db - ref)), lo, hi))
            for db in levels]
