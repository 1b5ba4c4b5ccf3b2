"""`tunesmith styles --describe STYLE`: what a style does, in words a musician reads, generated
from the style's data (so it cannot drift from what the arranger plays)."""

from __future__ import annotations

from tunesmith.arrange.instruments import DRUM_KITS, instrument_range
from tunesmith.arrange.style import (
    BASS_TONES,
    DRUM_VELOCITY,
    PATTERNS,
    SECTION_KINDS,
    STEPS_PER_BEAT,
    Part,
    Rhythm,
    Style,
)
from tunesmith.theory import midi_to_name

_SUB = {0: "", 1: "e", 2: "&", 3: "a"}


def count(step: float, steps_per_beat: int = STEPS_PER_BEAT) -> str:
    """A step as a drummer counts it: 0 -> '1', 2 -> '1&', 5 -> '2e' (sixteenths: 1 e & a)."""
    beat, sub = divmod(step, steps_per_beat)
    sub16 = sub * 4 / steps_per_beat
    name = _SUB.get(int(sub16)) if float(sub16).is_integer() else None
    return f"{int(beat) + 1}{name if name is not None else f'+{sub / steps_per_beat:.2f}'}"


def _mark(letter: str) -> str:
    return "!" if letter == "X" else "(g)" if letter == "g" else ""


def _bars(marks: list[tuple[float, str]], bar_steps: float, steps_per_beat: int) -> str:
    """Counts, with a '|' between the bars of a multi-bar pattern."""
    out: list[str] = []
    bar = 0
    for step, letter in marks:
        b, rem = divmod(step, bar_steps)
        if b > bar:
            out.append("|")
            bar = int(b)
        out.append(count(rem, steps_per_beat) + _mark(letter))
    return " ".join(out)


def describe_row(row: str, steps_per_beat: int, beats_per_bar: int = 4) -> str:
    hits = [i for i, ch in enumerate(row) if ch in DRUM_VELOCITY]
    if not hits:
        return "rest"
    n = len(row)
    for every, word in ((steps_per_beat // 4, "sixteenths"), (steps_per_beat // 2, "eighths"),
                        (steps_per_beat, "quarters")):
        if every and hits == list(range(0, n, every)):
            return f"straight {word}"
    if steps_per_beat == 8 and hits == list(range(n)):
        return "thirty-second rolls"
    return _bars([(i, row[i]) for i in hits], beats_per_bar * steps_per_beat, steps_per_beat)


def describe_rhythm(rhythm: Rhythm, beats_per_bar: int = 4) -> str:
    return _bars([(h.step, h.accent) for h in rhythm], beats_per_bar * STEPS_PER_BEAT,
                 STEPS_PER_BEAT)


def _part_line(part: Part, beats_per_bar: int) -> str:
    rng = instrument_range(part.program) if part.pattern != "drums" else None
    head = f"  {part.name:<9} {part.instrument or 'GM ' + str(part.program)} (GM {part.program}, {part.role})"
    what = PATTERNS[part.pattern]
    if part.pattern == "satb":
        what += f"; voice: {part.voice}" + (" (plays the melody where there is one)" if part.lead else "")
    lines = [head, f"            {what}"]
    if rng is not None:
        lines.append(f"            register {midi_to_name(part.low)}-{midi_to_name(part.high)} "
                     f"(instrument {midi_to_name(rng.low)}-{midi_to_name(rng.high)})")
    if tuple(part.sections) != SECTION_KINDS:
        lines.append(f"            plays in: {', '.join(part.sections)}")
    for kind, rhythm in part.rhythm.items():
        lines.append(f"            rhythm {kind}: {describe_rhythm(rhythm, beats_per_bar)}")
    for kind, tones in part.tones.items():
        lines.append(f"            tones {kind}: {' '.join(tones)}")
    if part.arpeggio:
        lines.append(f"            arpeggio order: {' '.join(str(i) for i in part.arpeggio)}")
    return "\n".join(lines)


def _swing_words(style: Style) -> str:
    if abs(style.swing - 0.5) < 1e-3:
        return "straight"
    unit = "eighths" if style.swing_unit >= 0.5 else "sixteenths"
    kind = ("triplet swing" if style.swing >= 0.64 else "medium swing" if style.swing >= 0.58
            else "light swing")
    return f"{kind} on {unit} ({style.swing:.2f} of the pair on the downbeat)"


def describe_style(style: Style) -> str:
    """A plain-text description of everything the style does."""
    lo, hi = style.tempo_range
    meter = (f"{style.beats_per_bar}/4" if style.beats_per_bar
             else "any meter (patterns written in 4/4, adapted to 3/4 and 6/8)")
    out = [f"{style.title} ({style.name})", style.description, ""]
    out.append(f"tempo      {lo:g}-{hi:g} bpm, default {style.default_tempo:g}; meter {meter}")
    out.append(f"feel       {_swing_words(style)}; humanised +-{style.humanize_ms:g} ms, "
               f"+-{style.humanize_velocity:g} velocity" + (f"; {style.feel}" if style.feel else ""))
    if style.extensions:
        ext = ", ".join(f"{k}->{v}" for k, v in style.extensions.items())
        out.append(f"chords     {ext}")
    if style.dynamics:
        dyn = []
        for kind in SECTION_KINDS:
            if kind in style.dynamics:
                a, b = style.dynamics[kind]
                dyn.append(f"{kind} {a:g}" if a == b else f"{kind} {a:g}->{b:g}")
        out.append(f"dynamics   {', '.join(dyn)}")
    out.append("")
    out.append("instruments")
    bpb = style.pattern_beats_per_bar
    out += [_part_line(p, bpb) for p in style.parts if p.pattern != "drums"]
    tones_used = sorted({t for p in style.parts for ts in p.tones.values() for t in ts})
    if tones_used:
        out.append("            (bass tones: " + ", ".join(f"{t} {BASS_TONES[t]}" for t in tones_used)
                   + ")")
    d = style.drums
    if d is not None and any(p.pattern == "drums" for p in style.parts):
        out.append("")
        kit = DRUM_KITS.get(d.kit, str(d.kit))
        out.append(f"drums      {kit} kit; crash on section starts: "
                   f"{'yes' if d.crash_on_sections else 'no'}")
        for kind in SECTION_KINDS:
            name = d.sections.get(kind)
            if not name:
                continue
            out.append(f"  {kind:<9} groove '{name}'")
            for drum, row in d.grooves[name].items():
                out.append(f"    {drum:<10} {describe_row(row, d.steps_per_beat, bpb)}")
        for label, fill in [("fill", d.fill)] + [(f"fill into {k}", f) for k, f in d.fills.items()]:
            if fill:
                out.append(f"  {label}")
                for drum, row in fill.items():
                    out.append(f"    {drum:<10} {describe_row(row, d.steps_per_beat, bpb)}")
        if d.feel_ms:
            out.append("  feel       " + ", ".join(
                f"{k} {'+' if v > 0 else ''}{v:g} ms" for k, v in d.feel_ms.items()))
    return "\n".join(out)
