"""Drums: a groove per section kind, a fill leading into each new section (the fill can depend
on the section it leads into), a crash on section starts, a final hit on the last bar."""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.arrange.instruments import DRUM_NOTES
from tunesmith.arrange.meter import fit_drum_row
from tunesmith.arrange.patterns import Context
from tunesmith.arrange.style import DRUM_VELOCITY, Drums
from tunesmith.score import Note, Section

_CRASH_REPLACES = ("hat", "hat_open", "ride", "ride_bell")  # a crash hit takes the cymbal hand


def drum_part(drums: Drums, sections: Sequence[Section], ctx: Context) -> list[Note]:
    notes: list[Note] = []
    bpb = ctx.beats_per_bar
    for si, sec in enumerate(sections):
        groove_name = drums.sections.get(sec.kind, "")
        groove = drums.grooves.get(groove_name) if groove_name else None
        n_bars = int(round(sec.duration_beats / bpb))
        nxt = sections[si + 1] if si + 1 < len(sections) else None
        next_plays = nxt is not None and bool(drums.sections.get(nxt.kind, ""))
        fill = drums.fill_into(nxt.kind) if nxt is not None else {}
        for b in range(n_bars):
            bar = sec.start_beat + b * bpb
            if ctx.is_last_bar(bar):
                notes += [Note(bar, 2.0, DRUM_NOTES["kick"], ctx.velocity(110, sec, bar)),
                          Note(bar, 4.0, DRUM_NOTES["crash"], ctx.velocity(112, sec, bar))]
                continue
            fill_here = b == n_bars - 1 and nxt is not None and bool(fill)
            if groove is None:
                # A silent section still leads into a playing one with a fill.
                if fill_here and next_plays:
                    notes += _bar_notes(fill, drums, b, bar, sec, ctx, from_step=_first_hit(
                        fill, drums, b, ctx))
                continue
            fill_from = _first_hit(fill, drums, b, ctx) if fill_here else None
            crash = drums.crash_on_sections and b == 0 and si > 0
            notes += _bar_notes(groove, drums, b, bar, sec, ctx, until_step=fill_from, crash=crash)
            if fill_from is not None:
                notes += _bar_notes(fill, drums, b, bar, sec, ctx, from_step=fill_from, boost=0.08)
    return notes


def _rows(pattern: dict[str, str], drums: Drums, bar_index: int, ctx: Context) -> dict[str, str]:
    return {drum: fit_drum_row(row, bar_index=bar_index, steps_per_beat=drums.steps_per_beat,
                               src_beats_per_bar=ctx.style.pattern_beats_per_bar,
                               beats_per_bar=ctx.beats_per_bar, compound=ctx.compound)
            for drum, row in pattern.items()}


def _first_hit(pattern: dict[str, str], drums: Drums, bar_index: int, ctx: Context) -> int:
    rows = _rows(pattern, drums, bar_index, ctx)
    firsts = [next((i for i, ch in enumerate(r) if ch in DRUM_VELOCITY), len(r))
              for r in rows.values()]
    return min(firsts, default=0)


def _bar_notes(pattern: dict[str, str], drums: Drums, bar_index: int, bar: float, sec: Section,
               ctx: Context, *, from_step: int = 0, until_step: int | None = None,
               crash: bool = False, boost: float = 0.0) -> list[Note]:
    spb = drums.steps_per_beat
    rows = _rows(pattern, drums, bar_index, ctx)
    steps = ctx.beats_per_bar * spb
    until = steps if until_step is None else until_step
    notes = []
    for drum, row in rows.items():
        for i in range(from_step, min(until, len(row))):
            ch = row[i]
            if ch not in DRUM_VELOCITY:
                continue
            if crash and i == 0 and drum in _CRASH_REPLACES:
                continue
            t = bar + i / spb
            vel = ctx.velocity(DRUM_VELOCITY[ch], sec, t) * (1 + boost)
            notes.append(Note(t, 0.25, DRUM_NOTES[drum], int(min(127, round(vel)))))
    if crash:
        notes.append(Note(bar, 2.0, DRUM_NOTES["crash"], ctx.velocity(110, sec, bar)))
    return notes
