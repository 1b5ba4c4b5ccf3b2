"""Meters: style patterns are written in one meter (4/4 unless the style says otherwise) and
played in the lead sheet's. A pattern moves to another meter beat by beat: 4/4 into 3/4 keeps
beats 1, 2 and 4 (so a backbeat groove becomes boom-chick-chick and a pickup figure still ends
the bar), 4/4 into 6/4 or 6/8 does that twice (two groups of three), 3/4 into 6 repeats.

In a compound meter (6/8, 12/8: eighth notes in threes, `Score.compound`) each beat of the
pattern becomes a dotted-quarter pulse, its off-beat eighth landing on the pulse's third eighth
and its sixteenths on the second and last (the shuffle a drummer plays when a 4/4 groove goes
into 12/8); 6/8 has two pulses (beats 1 and 2 of the pattern: kick, then backbeat), 12/8 four.

`remeter_melody` is for a song whose style needs a meter the hum was not in (a 4/4 hum made into
a waltz): each half-bar of the hum becomes a bar of three, the pulse speeding up by the same
factor, so every note keeps its place in time and its place in the bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tunesmith.arrange.style import STEPS_PER_BEAT, Rhythm
from tunesmith.errors import StyleError
from tunesmith.score import Note


def beat_map(src: int, dst: int) -> tuple[int, ...]:
    """For each beat of a `dst`-beat bar, the beat of a `src`-beat pattern bar it plays."""
    if src == dst:
        return tuple(range(dst))
    if src == 4 and dst % 3 == 0:
        return (0, 1, 3) * (dst // 3)
    if src % dst == 0:
        return tuple(range(dst))
    if dst % src == 0:
        return tuple(range(src)) * (dst // src)
    return tuple(i * src // dst for i in range(dst))


PULSE_BEATS = 1.5  # a compound meter's pulse: a dotted quarter


def compound_pulses(beats_per_bar: int) -> int:
    """Dotted-quarter pulses in a compound bar of `beats_per_bar` quarter-note beats."""
    return max(1, round(beats_per_bar / PULSE_BEATS))


def _shuffle(x: float) -> float:
    """Position `x` (in beats, from a pattern beat's start) as a fraction of a compound pulse:
    the first half of the beat takes two eighths of the pulse, the second half one."""
    whole = float(np.floor(x + 1e-9))
    frac = x - whole
    y = frac / 0.5 * (2 / 3) if frac < 0.5 else 2 / 3 + (frac - 0.5) / 0.5 * (1 / 3)
    return whole + y


@dataclass(frozen=True, slots=True)
class BarHit:
    """A hit placed in a bar of the song's meter: step within the bar, and the index of the hit
    in the style's rhythm list (bass tone lists are indexed by it)."""

    step: float
    length: float
    accent: str
    index: int


def pattern_bars(rhythm: Rhythm, *, src_beats_per_bar: int) -> int:
    """How many bars a rhythm spans (a hit at step 20 of a 4/4 pattern makes it two bars)."""
    steps = src_beats_per_bar * STEPS_PER_BEAT
    return max(1, int(max((h.step for h in rhythm), default=0) // steps) + 1)


def fit_rhythm(rhythm: Rhythm, *, bar_index: int, src_beats_per_bar: int,
               beats_per_bar: int, compound: bool = False) -> list[BarHit]:
    """The hits of bar `bar_index` (counted from the section start) of a rhythm written in
    `src_beats_per_bar`, moved into a bar of `beats_per_bar` (compound: in dotted-quarter
    pulses)."""
    src_steps = src_beats_per_bar * STEPS_PER_BEAT
    n_bars = pattern_bars(rhythm, src_beats_per_bar=src_beats_per_bar)
    offset = (bar_index % n_bars) * src_steps
    slots = compound_pulses(beats_per_bar) if compound else beats_per_bar
    slot_steps = PULSE_BEATS * STEPS_PER_BEAT if compound else STEPS_PER_BEAT
    out = []
    for dst, src_beat in enumerate(beat_map(src_beats_per_bar, slots)):
        lo = offset + src_beat * STEPS_PER_BEAT
        for i, h in enumerate(rhythm):
            if not lo - 1e-9 <= h.step < lo + STEPS_PER_BEAT - 1e-9:
                continue
            x0 = (h.step - lo) / STEPS_PER_BEAT
            if compound:
                x1 = x0 + h.length / STEPS_PER_BEAT
                start = _shuffle(x0) * slot_steps
                length = (_shuffle(x1) - _shuffle(x0)) * slot_steps
            else:
                start, length = h.step - lo, h.length
            out.append(BarHit(round(dst * slot_steps + start, 6), round(length, 6), h.accent, i))
    return sorted(out, key=lambda h: h.step)


_STRENGTH = {".": 0, "g": 1, "o": 2, "x": 3, "X": 4}


def fit_drum_row(row: str, *, bar_index: int, steps_per_beat: int, src_beats_per_bar: int,
                 beats_per_bar: int, compound: bool = False) -> str:
    """One drum's step string for bar `bar_index` of the song, in the song's meter (a character
    per step, `steps_per_beat` to the quarter-note beat). A row shorter than a bar repeats; a
    row longer than a bar is a multi-bar pattern."""
    if not row:
        return ""
    src_steps = src_beats_per_bar * steps_per_beat
    n_bars = max(1, -(-len(row) // src_steps)) if len(row) > src_steps else 1
    offset = (bar_index % n_bars) * src_steps
    if not compound:
        chars = []
        for src_beat in beat_map(src_beats_per_bar, beats_per_bar):
            for k in range(steps_per_beat):
                chars.append(row[(offset + src_beat * steps_per_beat + k) % len(row)])
        return "".join(chars)
    out = ["."] * (beats_per_bar * steps_per_beat)
    pulse_steps = PULSE_BEATS * steps_per_beat
    for dst, src_beat in enumerate(beat_map(src_beats_per_bar, compound_pulses(beats_per_bar))):
        for k in range(steps_per_beat):
            ch = row[(offset + src_beat * steps_per_beat + k) % len(row)]
            at = int(round(dst * pulse_steps + _shuffle(k / steps_per_beat) * pulse_steps))
            if at < len(out) and _STRENGTH.get(ch, 0) > _STRENGTH.get(out[at], 0):
                out[at] = ch
    return "".join(out)


_TRIPLE = {3, 6}


def remeter_melody(melody: Sequence[Note], *, tempo_bpm: float, beats_per_bar: int,
                   target_beats_per_bar: int) -> tuple[list[Note], float]:
    """(melody, tempo) re-barred into `target_beats_per_bar`, keeping every note's time in
    seconds. Duple to triple (4/4 -> 3/4 or 6/8-style 6): a group of two beats becomes a group
    of three, played at 1.5x the tempo; triple to duple the other way round; same family: as is."""
    if beats_per_bar == target_beats_per_bar:
        return list(melody), tempo_bpm
    src_triple = beats_per_bar in _TRIPLE
    dst_triple = target_beats_per_bar in _TRIPLE
    if beats_per_bar not in (2, 3, 4, 6) or target_beats_per_bar not in (2, 3, 4, 6):
        raise StyleError(f"cannot move a melody from {beats_per_bar} to {target_beats_per_bar} "
                         "beats per bar")
    if src_triple == dst_triple:
        return list(melody), tempo_bpm
    scale = 1.5 if dst_triple else 2 / 3
    out = [replace(n, start_beat=round(n.start_beat * scale, 4),
                   duration_beats=round(n.duration_beats * scale, 4)) for n in melody]
    return out, tempo_bpm * scale
