"""The song's melody played by an instrument: moved by octaves into the instrument's register,
one octave choice for the whole song (so a phrase keeps its shape and the verse stays below the
chorus as written), stray notes folded by an octave; a section gets its own octave only where
the song's would leave more than a quarter of its notes out of range."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tunesmith.arrange.patterns import energy_velocity
from tunesmith.arrange.style import Part
from tunesmith.score import Note, Score, Section

MAX_OUTSIDE_SHARE = 0.25  # notes a section may fold by an octave before it moves as a whole


def section_of(beat: float, sections: Sequence[Section]) -> Section | None:
    for s in sections:
        if s.start_beat - 1e-6 <= beat < s.end_beat - 1e-6:
            return s
    return None


def melody_notes(part: Part, lead: Score) -> list[Note]:
    """The lead sheet's melody for `part`, in the sections it plays, inside [low, high]."""
    melody = next((t for t in lead.tracks if t.role == "melody"), None)
    if melody is None:
        return []
    by_section: dict[int, list[Note]] = {}
    for n in melody.notes:
        sec = section_of(n.start_beat, lead.sections)
        if sec is None or sec.kind not in part.sections:
            continue
        by_section.setdefault(lead.sections.index(sec), []).append(n)
    out = []
    song_shift = _best_shift([n for notes in by_section.values() for n in notes], part)
    for si, notes in sorted(by_section.items()):
        sec = lead.sections[si]
        outside = sum(not part.low <= n.pitch + song_shift <= part.high for n in notes)
        shift = song_shift if outside <= MAX_OUTSIDE_SHARE * len(notes) else _best_shift(notes, part)
        vel = energy_velocity(part.velocity, sec.energy)
        for n in notes:
            p = n.pitch + shift
            while p > part.high:
                p -= 12
            while p < part.low:
                p += 12
            out.append(replace(n, pitch=p, velocity=vel))
    return out


def _best_shift(notes: Sequence[Note], part: Part) -> int:
    """The octave shift (near the part's `octave`) that keeps most of the notes in range."""
    def outside(shift: int) -> tuple[int, int]:
        n_out = sum(not part.low <= n.pitch + shift <= part.high for n in notes)
        return n_out, abs(shift - 12 * part.octave)

    return min((12 * (part.octave + k) for k in (-2, -1, 0, 1, 2)), key=outside)
