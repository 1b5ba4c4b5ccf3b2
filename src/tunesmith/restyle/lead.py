"""Which part carries the tune? Not simply the highest one: a singable range, one note at a
time, presence through the song, a lively but not busy rhythm, phrases that come back, and the
part's name when it says so (melody, vocal, lead, soprano...)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.restyle.source import SourcePart
from tunesmith.score import Note

_LEAD_NAMES = re.compile(r"melod|vocal|voice|vox|lead|sing|soprano|canto|tune|theme|solo|"
                         r"right hand|flute|trumpet|violin ?1|violin i\b", re.I)
_NOT_LEAD_NAMES = re.compile(r"bass|drum|perc|kick|snare|pad|chord|comp|accomp|rhythm|strum|"
                             r"left hand|alto|tenor|harmony|bridge|string", re.I)


@dataclass(frozen=True, slots=True)
class LeadScore:
    """How much a part looks like the lead, with the evidence (for song.json and the CLI)."""

    name: str
    score: float
    polyphony: float
    mean_pitch: float
    in_range: float
    coverage: float
    notes_per_bar: float
    repetition: float
    name_hint: float


def rate_parts(parts: Sequence[SourcePart], *, beats_per_bar: int) -> list[LeadScore]:
    """A lead score per part (drums and empty parts get -inf)."""
    pitched = [p for p in parts if not p.is_drum and p.notes]
    if not pitched:
        return []
    end = max(n.end_beat for p in pitched for n in p.notes)
    bars = max(1, int(np.ceil(end / beats_per_bar)))
    means = np.array([np.mean([n.pitch for n in p.notes]) for p in pitched])
    centre = float(np.median(means))
    spread = float(np.std(means)) or 1.0
    out = []
    for part in parts:
        if part.is_drum or not part.notes:
            out.append(LeadScore(part.name, float("-inf"), 0, 0, 0, 0, 0, 0, 0))
            continue
        notes = part.notes
        pitches = np.array([n.pitch for n in notes])
        poly = polyphony(notes)
        line = skyline(notes)
        in_range = float(np.mean((pitches >= 55) & (pitches <= 86)))
        occupied = {int(n.start_beat // beats_per_bar) for n in notes}
        coverage = len(occupied) / bars
        per_bar = len(line) / max(len(occupied), 1)
        rep = repetition(line, beats_per_bar=beats_per_bar)
        hint = 0.0
        if _LEAD_NAMES.search(part.name):
            hint = 3.0
        elif _NOT_LEAD_NAMES.search(part.name):
            hint = -2.0
        height = (float(np.mean(pitches)) - centre) / spread
        busy = -abs(np.log2(max(per_bar, 0.25) / 5.0))  # about five notes a bar sings best
        low = -3.0 if np.mean(pitches) < 52 else 0.0
        score = (hint + 0.8 * np.clip(height, -2, 2) - 4.0 * poly + 2.0 * in_range
                 + 2.0 * coverage + 1.0 * busy + 1.5 * rep + low)
        out.append(LeadScore(part.name, round(float(score), 3), round(poly, 3),
                             round(float(np.mean(pitches)), 2), round(in_range, 3),
                             round(coverage, 3), round(per_bar, 2), round(rep, 3), hint))
    return out


def find_lead(parts: Sequence[SourcePart], *, beats_per_bar: int) -> tuple[int, list[LeadScore]]:
    """Index of the lead part and every part's rating."""
    rated = rate_parts(parts, beats_per_bar=beats_per_bar)
    if not rated:
        return -1, rated
    return int(np.argmax([r.score for r in rated])), rated


def polyphony(notes: Sequence[Note]) -> float:
    """Share of notes that start together with another note of the same part."""
    starts = Counter(round(n.start_beat, 2) for n in notes)
    return sum(c for c in starts.values() if c > 1) / max(len(notes), 1)


def skyline(notes: Sequence[Note]) -> list[Note]:
    """One note at a time: the highest note of each onset, cut where the next one starts."""
    by_start: dict[float, Note] = {}
    for n in notes:
        k = round(n.start_beat, 3)
        if k not in by_start or n.pitch > by_start[k].pitch:
            by_start[k] = n
    line = [by_start[k] for k in sorted(by_start)]
    out = []
    for i, n in enumerate(line):
        if i + 1 < len(line) and line[i + 1].start_beat < n.end_beat:
            n = Note(n.start_beat, max(line[i + 1].start_beat - n.start_beat, 1e-3), n.pitch,
                     n.velocity)
        out.append(n)
    return out


def repetition(line: Sequence[Note], *, beats_per_bar: int) -> float:
    """Share of bars whose interval-and-rhythm pattern occurs in another bar too."""
    bars: dict[int, list[Note]] = {}
    for n in line:
        bars.setdefault(int(n.start_beat // beats_per_bar), []).append(n)
    keys = []
    for b, ns in bars.items():
        if len(ns) < 2:
            continue
        pattern = tuple((ns[i + 1].pitch - ns[i].pitch, round(ns[i].start_beat - b * beats_per_bar, 2))
                        for i in range(len(ns) - 1))
        keys.append(pattern)
    if not keys:
        return 0.0
    counts = Counter(keys)
    return sum(c for c in counts.values() if c > 1) / len(keys)
