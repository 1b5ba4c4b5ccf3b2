"""Bass lines that follow the chords: a rhythm with a tone per hit (root, fifth, octave, approach
notes...) or a walking line, each root placed near the last one so the line moves like a player's
hand rather than jumping to a fixed octave."""

from __future__ import annotations

import numpy as np

from tunesmith.arrange.patterns import Context, part_hits
from tunesmith.arrange.style import Part
from tunesmith.score import Chord, Note, Section
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol

LEGATO = 0.92  # bass notes end a little before the next one (a player's release)


def bass_part(part: Part, section: Section, ctx: Context, rng: np.random.Generator,
              prev: int | None = None) -> tuple[list[Note], int | None]:
    """The bass notes of `section` and the last pitch played (for the next section to move from)."""
    if part.pattern == "walking":
        return _walking(part, section, ctx, rng, prev)
    tones = part.tones.get(section.kind) or part.tones.get("default") or ("R",)
    notes = []
    root_prev = prev
    for hit in part_hits(part, section, ctx):
        last = ctx.is_last_bar(hit.start)
        tone = "R" if last or hit.index < 0 else tones[hit.index % len(tones)]
        chord = hit.chord.chord
        root = root_near(chord.bass_pc, root_prev if root_prev is not None else prev, part)
        root_prev = root
        nxt = ctx.next_chord(hit.chord)
        pitch = bass_tone(tone, chord, root, nxt.chord if nxt else None, part, ctx,
                          current=prev)
        downbeat = abs((hit.start - section.start_beat) % ctx.beats_per_bar) < 1e-6
        vel = ctx.velocity(part.velocity, section, hit.start, hit.accent) + (8 if downbeat else 0)
        length = hit.length if last else hit.length * LEGATO
        notes.append(Note(hit.start, max(0.05, length), pitch, int(min(127, vel))))
        prev = pitch
    return notes, prev


def root_near(pc: int, prev: int | None, part: Part) -> int:
    """The chord's bass note in the part's register, nearest the previous note; the lowest
    octave when there is none. Low notes are preferred a little (the bass anchors the band)."""
    cands = [p for p in range(part.low, part.high + 1) if p % 12 == pc % 12]
    if not cands:
        return part.low + ((pc - part.low) % 12)
    if prev is None:
        return cands[0]
    return min(cands, key=lambda p: abs(p - prev) + 0.35 * max(0, p - (part.low + 10)))


def _fold(p: int, part: Part) -> int:
    while p > part.high:
        p -= 12
    while p < part.low:
        p += 12
    return p


def bass_tone(tone: str, chord: ChordSymbol, root: int, nxt: ChordSymbol | None, part: Part,
              ctx: Context, *, current: int | None) -> int:
    """Pitch of one tone token (see style.BASS_TONES) over `chord`, whose bass sits at `root`."""
    iv = CHORD_QUALITIES[chord.quality]
    if tone == "5":
        p = root + iv[2]
        if p > part.high:
            p -= 12
    elif tone == "5-":
        p = root + iv[2] - 12
        if p < part.low:
            p += 12
    elif tone == "8":
        p = root + 12 if root + 12 <= part.high else root
    elif tone == "3":
        p = root + iv[1]
    elif tone == "6":
        p = root + (8 if chord.triad_quality == "dim" else 9)
    elif tone == "b7":
        p = root + (iv[3] if len(iv) > 3 else 10)
    elif tone in ("A", "S", "D"):
        if nxt is None or nxt.bass_pc == chord.bass_pc:
            p = root + iv[2] if root + iv[2] <= part.high else root + iv[2] - 12
        else:
            here = current if current is not None else root
            target = root_near(nxt.bass_pc, here, part)
            p = approach(tone, target, here, ctx)
    else:
        p = root
    return _fold(p, part)


def approach(kind: str, target: int, here: int, ctx: Context) -> int:
    """A note leading into `target` from the side the line is on: a half step (A), the nearest
    scale step (S) or the target's fifth (D)."""
    below = here <= target
    if kind == "A":
        return target - 1 if below else target + 1
    if kind == "S":
        scale = set(ctx.key.scale)
        steps = (-1, -2) if below else (1, 2)
        for d in steps:
            if (target + d) % 12 in scale:
                return target + d
        return target + steps[0]
    # D: the target's fifth, above or below, whichever is nearer the line
    return min((target + 7, target - 5), key=lambda p: abs(p - here))


def _walking(part: Part, section: Section, ctx: Context, rng: np.random.Generator,
             prev: int | None) -> tuple[list[Note], int | None]:
    """A note per beat (per dotted-quarter pulse in 6/8 and 12/8): the root on the chord's first
    beat, chord and scale tones stepping toward the next chord, and an approach note (chromatic,
    scale step or dominant) on its last beat."""
    notes = []
    step = ctx.pulse_beats
    beat = section.start_beat
    end = section.end_beat
    scale = set(ctx.key.scale)
    centre = (part.low + part.high) / 2 - 2
    while beat < end - 1e-6:
        chord = ctx.chord_at(beat)
        if chord is None:
            beat += step
            continue
        in_bar = (beat - section.start_beat) % ctx.beats_per_bar
        vel = ctx.velocity(part.velocity, section, beat) + (4 if abs(in_bar) < 1e-6 else 0)
        if ctx.is_last_bar(beat - in_bar):
            root = root_near(chord.chord.bass_pc, prev, part)
            notes.append(Note(beat, float(ctx.beats_per_bar - in_bar), root, vel))
            prev = root
            break
        nxt = ctx.next_chord(chord)
        steps_left = int(np.ceil((chord.end_beat - beat) / step - 1e-6))
        first = beat < chord.start_beat + step - 1e-6 or prev is None
        if first:
            pitch = root_near(chord.chord.bass_pc, prev, part)
        elif steps_left <= 1 and nxt is not None:
            target = root_near(nxt.chord.bass_pc, prev, part)
            kind = str(rng.choice(["A", "S", "D"], p=[0.5, 0.25, 0.25]))
            pitch = approach(kind, target, prev, ctx)
            if pitch == prev:
                pitch = approach("A", target, prev, ctx)
        else:
            pitch = _passing(chord.chord, prev, nxt, part, scale, centre, rng)
        pitch = _fold(pitch, part)
        notes.append(Note(beat, LEGATO * step, pitch, int(min(127, vel))))
        prev = pitch
        beat += step
    return notes, prev


def _passing(chord: ChordSymbol, prev: int, nxt: Chord | None, part: Part, scale: set[int],
             centre: float, rng: np.random.Generator) -> int:
    """A middle beat: a chord tone (or a scale tone) a step or a third from the last note,
    heading toward the next chord and pulled back toward the middle of the register."""
    tones = {(chord.root + i) % 12 for i in CHORD_QUALITIES[chord.quality]}
    target = root_near(nxt.chord.bass_pc, prev, part) if nxt is not None else prev
    cands, weights = [], []
    for p in range(part.low, part.high + 1):
        d = abs(p - prev)
        if d == 0 or d > 5:
            continue
        if p % 12 in tones:
            w = 2.0
        elif p % 12 in scale and d <= 2:
            w = 0.8
        else:
            continue
        toward = abs(target - p) < abs(target - prev)
        w *= 1.6 if toward else 1.0
        w *= float(np.exp(-abs(p - centre) / 6.0))
        cands.append(p)
        weights.append(w)
    if not cands:
        return prev + 7 if prev + 7 <= part.high else prev - 5
    w = np.array(weights)
    return int(rng.choice(cands, p=w / w.sum()))
