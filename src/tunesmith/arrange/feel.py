"""Feel: swing (a time warp of the off-beats) and humanisation that keeps the groove.

Humanisation moves each onset by a small random amount around its place on the grid, never
accumulating (no drift: every note is placed relative to the grid, not to the previous note);
notes struck together (a chord, a strum) move together; a drum can sit consistently behind or
ahead of the beat (`feel_ms`, e.g. a laid-back snare); velocities vary a little, never enough to
swap an accent and a ghost note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from tunesmith.score import Note

MAX_SD = 2.0  # timing and velocity variation are clipped at two standard deviations


def swing_time(t: float, ratio: float, unit: float) -> float:
    """Straight time `t` (beats) swung: the second `unit` of each pair starts at `ratio`."""
    return _warp_pairs(t, unit, unit, 2 * unit * ratio)


def unswing_time(t: float, ratio: float, unit: float) -> float:
    """The inverse of `swing_time`: swung time `t` back on the straight grid."""
    if abs(ratio - 0.5) < 1e-3:
        return t
    return _warp_pairs(t, unit, 2 * unit * ratio, unit)


def _warp_pairs(t: float, unit: float, src: float, dst: float) -> float:
    """Time `t` warped piecewise-linearly within each pair of `unit`s: the point `src` into
    the pair moves to `dst`, the pair's start and end stay."""
    period = 2 * unit
    base = np.floor(t / period + 1e-9) * period
    frac = t - base
    if frac <= src:
        return float(base + frac / src * dst)
    return float(base + dst + (frac - src) / (period - src) * (period - dst))


def apply_swing(notes: list[Note], *, ratio: float, unit: float = 0.5) -> list[Note]:
    """Time-warp straight notes so off-beat `unit`s fall at `ratio` of the pair (0.5 = straight)."""
    if abs(ratio - 0.5) < 1e-3:
        return notes
    out = []
    for n in notes:
        s = swing_time(n.start_beat, ratio, unit)
        e = swing_time(n.end_beat, ratio, unit)
        out.append(replace(n, start_beat=s, duration_beats=max(0.05, e - s)))
    return out


def humanize(notes: list[Note], *, tempo_bpm: float, timing_ms: float, velocity_sd: float,
             rng: np.random.Generator, offsets_ms: Mapping[int, float] | None = None,
             strum_window_beats: float = 0.0) -> list[Note]:
    """Vary timing and velocity like a player. Notes starting within `strum_window_beats` of a
    group's first note (a chord, a strum) share one timing offset. `offsets_ms` maps a pitch (a
    drum) to a constant offset, positive = behind the beat."""
    if not notes:
        return notes
    beats_per_ms = tempo_bpm / 60000.0
    order = sorted(range(len(notes)), key=lambda i: notes[i].start_beat)
    groups: list[list[int]] = []
    for i in order:
        if groups and notes[i].start_beat - notes[groups[-1][0]].start_beat <= strum_window_beats + 1e-4:
            groups[-1].append(i)
        else:
            groups.append([i])
    dt = np.clip(rng.normal(0, timing_ms, len(groups)), -MAX_SD * timing_ms, MAX_SD * timing_ms)
    dv = np.clip(rng.normal(0, velocity_sd, len(notes)), -MAX_SD * velocity_sd,
                 MAX_SD * velocity_sd)
    out: list[Note | None] = [None] * len(notes)
    offsets = offsets_ms or {}
    dt_list, dv_list = dt.tolist(), dv.tolist()
    for g, members in enumerate(groups):
        for i in members:
            n = notes[i]
            shift_ms = dt_list[g] + offsets.get(n.pitch, 0.0)
            start = max(0.0, n.start_beat + shift_ms * beats_per_ms)
            out[i] = replace(n, start_beat=round(start, 4),
                             velocity=min(127, max(1, int(round(n.velocity + dv_list[i])))))
    return sorted((n for n in out if n is not None), key=lambda n: (n.start_beat, n.pitch))
