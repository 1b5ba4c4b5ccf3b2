"""Four-part harmony (soprano, alto, tenor, bass), one voice per instrument, as in a string
quartet or a chorale: every chord is voiced with its root, third and seventh present, voices in
order and within an octave of each other, and the whole progression is chosen at once (a Viterbi
search) for the smallest total motion with no parallel fifths or octaves.

The soprano can be the song's melody (`lead = true`): it then moves freely under the chords and
the three lower voices are placed against it.

Parallels are judged the way a listener hears them: at each moment where any voice starts a note
(a "slice"), two voices that both move to a new pitch and keep a perfect fifth or an octave
(compound intervals included) between them make a parallel. `parallel_perfects` is that check.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.arrange.patterns import Context, part_hits
from tunesmith.arrange.style import SATB_VOICES, Part
from tunesmith.score import Note, Section
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol

PARALLEL_COST = 1000.0
FIRST_INVERSION_COST = 3.0
SECOND_INVERSION_COST = 8.0
THIRD_INVERSION_COST = 6.0
MISSING_TONE_COST = 60.0
NONE = -999  # "not sounding"


@dataclass(frozen=True, slots=True)
class ParallelMotion:
    """Two voices moving in parallel perfect fifths or octaves into the slice at `beat`."""

    beat: float
    upper: int  # voice index (0 = top)
    lower: int
    interval: int  # 0 (octave/unison) or 7 (fifth), modulo the octave


def parallel_perfects(voices: Sequence[Sequence[Note]], *, grid_beats: float = 0.25
                      ) -> list[ParallelMotion]:
    """Parallel fifths and octaves between monophonic voices (onsets snapped to `grid_beats`,
    so humanised timing does not split a slice)."""
    def q(x: float) -> float:
        return round(x / grid_beats) * grid_beats

    spans = [sorted((q(n.start_beat), max(q(n.end_beat), q(n.start_beat) + grid_beats), n.pitch)
                    for n in v) for v in voices]
    times = sorted({s for v in spans for s, _, _ in v})

    def sounding(v: int, t: float) -> int | None:
        found = None
        for s, e, p in spans[v]:
            if s <= t < e:
                found = p if found is None else max(found, p)
        return found

    out = []
    prev = [sounding(v, times[0]) for v in range(len(voices))] if times else []
    for t in times[1:]:
        cur = [sounding(v, t) for v in range(len(voices))]
        for u, w in itertools.combinations(range(len(voices)), 2):
            a0, b0, a1, b1 = prev[u], prev[w], cur[u], cur[w]
            if None in (a0, b0, a1, b1) or a0 == a1 or b0 == b1:
                continue
            i0, i1 = (a0 - b0) % 12, (a1 - b1) % 12  # type: ignore[operator]
            if i0 == i1 and i0 in (0, 7):
                out.append(ParallelMotion(t, u, w, i0))
        prev = cur
    return out


@dataclass(frozen=True, slots=True)
class FourPartPlan:
    """A voicing (soprano, alto, tenor, bass) per chord of the song, and the melody the soprano
    plays where it leads."""

    voicings: list[tuple[int, int, int, int]]
    chord_starts: list[float]
    melody: list[Note]

    def pitch(self, chord_index: int, voice: str) -> int:
        return self.voicings[chord_index][SATB_VOICES.index(voice)]


@dataclass(slots=True)
class _Event:
    start: float
    end: float
    voice: int
    pitch: int  # a fixed pitch (melody), or NONE when the pitch is the plan's for `chord`
    chord: int


def _required(chord: ChordSymbol) -> tuple[set[int], set[int]]:
    """(pitch classes that must sound, pitch classes that may be left out): root, third and
    seventh must, the fifth may."""
    iv = CHORD_QUALITIES[chord.quality]
    pcs = [(chord.root + i) % 12 for i in iv[:4]]
    must = {pcs[0], pcs[1]} | ({pcs[3]} if len(pcs) > 3 else set())
    return must, {pcs[2]}


FREE, FIXED, ABSENT = "free", "fixed", "absent"


def _candidates(chord: ChordSymbol, ranges: list[tuple[int, int]], *, mode: str,
                soprano: int | None = None, ceiling: int | None = None,
                max_gap: int = 12) -> np.ndarray:
    """All voicings (S, A, T, B) of `chord` in range, with a state cost in a fifth column.
    mode FREE: the soprano is chosen too; FIXED: the soprano is `soprano` (a melody note, maybe
    not a chord tone); ABSENT: no soprano sounds (column NONE). `ceiling`: the lowest melody
    note over the chord, which the alto should stay under."""
    must, optional = _required(chord)
    tones = must | optional
    third = (chord.root + CHORD_QUALITIES[chord.quality][1]) % 12
    (s_lo, s_hi), (a_lo, a_hi), (t_lo, t_hi), (b_lo, b_hi) = ranges
    # Root position (or the written bass) first; inversions cost a little, and give the bass a
    # way out when the melody would otherwise move in octaves with it.
    iv = CHORD_QUALITIES[chord.quality]
    inversion_cost = {chord.bass_pc % 12: 0.0}
    if chord.bass is None:
        inversion_cost.setdefault((chord.root + iv[1]) % 12, FIRST_INVERSION_COST)
        inversion_cost.setdefault((chord.root + iv[2]) % 12, SECOND_INVERSION_COST)
        if len(iv) > 3:
            inversion_cost.setdefault((chord.root + iv[3]) % 12, THIRD_INVERSION_COST)
    basses = [p for p in range(b_lo, b_hi + 1) if p % 12 in inversion_cost]
    tenors = [p for p in range(t_lo, t_hi + 1) if p % 12 in tones]
    altos = [p for p in range(a_lo, a_hi + 1) if p % 12 in tones]
    if mode == FREE:
        sops: list[int] = [p for p in range(s_lo, s_hi + 1) if p % 12 in tones]
    elif mode == FIXED and soprano is not None:
        sops = [soprano]
    else:
        sops = [NONE]
    centre = [(lo + hi) / 2 for lo, hi in ranges]
    rows = []
    for b in basses:
        for t in tenors:
            if t <= b or t - b > max_gap + 7:
                continue
            for a in altos:
                if a <= t or a - t > max_gap:
                    continue
                if ceiling is not None and a >= ceiling + (0 if mode == FIXED else 1):
                    continue
                for s in sops:
                    if s != NONE and (s <= a or s - a > max_gap):
                        continue
                    sounding = [b, t, a] + ([s] if s != NONE and s % 12 in tones else [])
                    pcs = [p % 12 for p in sounding]
                    cost = MISSING_TONE_COST * len(must - set(pcs)) + inversion_cost[b % 12]
                    cost += 2.0 * len(optional - set(pcs)) if len(must) < 3 else 0.0
                    cost += 4.0 * max(0, pcs.count(third) - 1)  # no doubled third
                    placed = [(p, c) for p, c in zip((s, a, t, b), centre, strict=True) if p != NONE]
                    cost += 0.08 * sum(abs(p - c) for p, c in placed)
                    rows.append((s, a, t, b, cost))
    return np.array(rows, dtype=float).reshape(-1, 5)


def _voicings(chord: ChordSymbol, ranges: list[tuple[int, int]], *, mode: str,
              soprano: int | None, ceiling: int | None) -> np.ndarray:
    """Candidates, relaxing ranges and spacing step by step when a melody note leaves none."""
    for widen in (0, 5, 12):
        rr = [(lo - widen, hi + widen) for lo, hi in ranges]
        cand = _candidates(chord, rr, mode=mode, soprano=soprano, ceiling=ceiling,
                           max_gap=12 + widen)
        if len(cand):
            return cand
    cand = _candidates(chord, ranges, mode=ABSENT, max_gap=24)
    if mode == FIXED and soprano is not None:
        cand[:, 0] = soprano
    return cand


def plan_four_part(parts: dict[str, Part], sections: Sequence[Section], ctx: Context,
                   melody: Sequence[Note]) -> FourPartPlan:
    """Voice every chord of the song for the satb `parts` (voice name -> part)."""
    chords = list(ctx.chords)
    starts = [c.start_beat for c in chords]
    ranges = [(parts[v].low, parts[v].high) if v in parts else _DEFAULT_RANGES[v]
              for v in SATB_VOICES]
    soprano = parts.get("soprano")
    lead_melody = list(melody) if soprano is not None and soprano.lead else []
    melody_sections = {i for i, s in enumerate(sections)
                       if any(s.start_beat - 1e-6 <= n.start_beat < s.end_beat - 1e-6
                              for n in lead_melody)}
    events = _events(parts, sections, ctx, lead_melody, melody_sections, starts)
    mel = [e for e in events if e.voice == 0 and e.pitch != NONE]
    cands = []
    for c in chords:
        sec_i = _section_index(c.start_beat, sections)
        if sec_i not in melody_sections:
            cands.append(_voicings(c.chord, ranges, mode=FREE, soprano=None, ceiling=None))
            continue
        at = [e.pitch for e in mel if e.start <= c.start_beat + 1e-6 < e.end]
        inside = [e.pitch for e in mel if c.start_beat - 1e-6 <= e.start < c.end_beat - 1e-6]
        ceiling = min(inside + at) if inside or at else None
        if at:
            cands.append(_voicings(c.chord, ranges, mode=FIXED, soprano=at[0], ceiling=ceiling))
        else:
            cands.append(_voicings(c.chord, ranges, mode=ABSENT, soprano=None, ceiling=ceiling))
    onsets = sorted({e.start for e in events})
    path = _viterbi(cands, events, onsets, starts)
    voicings = [(int(cands[k][i, 0]), int(cands[k][i, 1]), int(cands[k][i, 2]),
                 int(cands[k][i, 3])) for k, i in enumerate(path)]
    return FourPartPlan(voicings=voicings, chord_starts=starts, melody=lead_melody)


_DEFAULT_RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 67), "bass": (36, 60)}


def _section_index(beat: float, sections: Sequence[Section]) -> int:
    for i, s in enumerate(sections):
        if s.start_beat - 1e-6 <= beat < s.end_beat - 1e-6:
            return i
    return len(sections) - 1


def _events(parts: dict[str, Part], sections: Sequence[Section], ctx: Context,
            melody: Sequence[Note], melody_sections: set[int], starts: list[float]) -> list[_Event]:
    """Every note the four voices will play: melody notes with their pitch, chord hits with the
    index of the chord whose voicing they take."""
    events = []
    for si, sec in enumerate(sections):
        for v, name in enumerate(SATB_VOICES):
            part = parts.get(name)
            if part is None or sec.kind not in part.sections:
                continue
            if v == 0 and part.lead and si in melody_sections:
                events += [_Event(n.start_beat, n.end_beat, 0, n.pitch, -1) for n in melody
                           if sec.start_beat - 1e-6 <= n.start_beat < sec.end_beat - 1e-6]
                continue
            for h in part_hits(part, sec, ctx):
                k = bisect.bisect_right(starts, h.start + 1e-6) - 1
                events.append(_Event(h.start, h.start + h.length, v, NONE, max(k, 0)))
    return events


def _viterbi(cands: list[np.ndarray], events: list[_Event], onsets: list[float],
             starts: list[float]) -> list[int]:
    """The cheapest voicing per chord: state costs plus, between neighbouring chords, the motion
    and the parallels between the last slice before the change and the first slice after it."""
    cost = cands[0][:, 4].copy()
    back: list[np.ndarray] = []
    by_voice: list[list[_Event]] = [[e for e in events if e.voice == v] for v in range(4)]
    for k in range(1, len(cands)):
        i = bisect.bisect_left(onsets, starts[k] - 1e-6)
        t1 = onsets[i - 1] if i >= 1 else None
        t2 = onsets[i] if i < len(onsets) else None
        prev, cur = cands[k - 1], cands[k]
        before, after = [], []
        for v in range(4):
            before.append(_value_at(by_voice[v], t1, prev, k - 1, v, column=True))
            after.append(_value_at(by_voice[v], t2, cur, k, v, column=False))
        trans = np.zeros((len(prev), len(cur)))
        for v in range(4):
            b, a = before[v], after[v]
            if b is None or a is None:
                continue
            d = np.where((a != NONE) & (b != NONE), np.abs(a - b), 0.0)
            trans += d + 2.0 * np.maximum(d - 7, 0) * (v in (1, 2))
        for u, w in itertools.combinations(range(4), 2):
            bu, bw, au, aw = before[u], before[w], after[u], after[w]
            if bu is None or bw is None or au is None or aw is None:
                continue
            ok = (bu != NONE) & (bw != NONE) & (au != NONE) & (aw != NONE)
            moved = (bu != au) & (bw != aw)
            ib = np.mod(bu - bw, 12)
            ia = np.mod(au - aw, 12)
            trans += PARALLEL_COST * (ok & moved & (ib == ia) & ((ib == 0) | (ib == 7)))
        total = cost[:, None] + trans
        best = np.argmin(total, axis=0)
        back.append(best)
        cost = total[best, np.arange(len(cur))] + cur[:, 4]
    path = [int(np.argmin(cost))]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return path[::-1]


def _value_at(events: list[_Event], t: float | None, cands: np.ndarray, k: int, v: int, *,
              column: bool) -> np.ndarray | None:
    """What voice `v` sounds at time `t`: a constant (melody) pitch, the candidates' pitch for
    chord `k` (as a column for the previous chord, a row for the current one), or None."""
    if t is None:
        return None
    here = [e for e in events if e.start <= t + 1e-6 < e.end]
    if not here:
        return None
    e = max(here, key=lambda x: x.start)
    if e.pitch != NONE:
        return np.array(float(e.pitch))
    if e.chord != k:
        return None  # the voice still holds an older chord: nothing the plan decides here
    col = cands[:, v]
    return col[:, None] if column else col[None, :]


def satb_notes(part: Part, section: Section, ctx: Context, plan: FourPartPlan) -> list[Note]:
    """The notes of one satb voice in `section`: the melody where this soprano leads, else the
    planned voicing of each chord on the part's rhythm."""
    notes: list[Note] = []
    if part.voice == "soprano" and part.lead:
        mel = [n for n in plan.melody
               if section.start_beat - 1e-6 <= n.start_beat < section.end_beat - 1e-6]
        if mel:
            return mel
    for h in part_hits(part, section, ctx):
        k = max(0, bisect.bisect_right(plan.chord_starts, h.start + 1e-6) - 1)
        pitch = plan.pitch(k, part.voice)
        if pitch == NONE:
            continue
        downbeat = abs((h.start - section.start_beat) % ctx.beats_per_bar) < 1e-6
        vel = ctx.velocity(part.velocity, section, h.start, h.accent) + (4 if downbeat else 0)
        notes.append(Note(h.start, h.length, pitch, int(min(127, vel))))
    return notes
