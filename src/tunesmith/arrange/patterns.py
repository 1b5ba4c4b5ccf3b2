"""Pattern code shared by every style: the data in a style file says which pattern and rhythm,
this code turns chords and sections into notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.arrange.style import DRUM_NOTES, Drums, Part
from tunesmith.score import Chord, Note, Section
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol, voice_chord

_VEL = {"X": 118, "x": 96, "o": 58, "g": 40}
STEPS_PER_BEAT = 4  # rhythm positions in style files are sixteenth-note steps


@dataclass(frozen=True, slots=True)
class Context:
    chords: Sequence[Chord]
    sections: Sequence[Section]
    beats_per_bar: int
    song_end: float

    def chord_at(self, beat: float) -> Chord | None:
        for c in self.chords:
            if c.start_beat <= beat + 1e-6 < c.end_beat:
                return c
        return self.chords[-1] if self.chords and beat >= self.chords[-1].start_beat else None

    def next_chord(self, chord: Chord) -> Chord | None:
        for c in self.chords:
            if c.start_beat >= chord.end_beat - 1e-6:
                return c
        return None


def energy_velocity(base: int, energy: float) -> int:
    return int(np.clip(round(base * (0.72 + 0.42 * energy)), 1, 127))


def _section_rhythm(part: Part, kind: str) -> tuple[tuple[float, float], ...]:
    return part.rhythm.get(kind) or part.rhythm.get("default") or ((0.0, 16.0),)


def _is_last_bar(ctx: Context, bar_start: float) -> bool:
    return bar_start + ctx.beats_per_bar >= ctx.song_end - 1e-6


def _hits(part: Part, section: Section, ctx: Context) -> list[tuple[float, float, Chord]]:
    """(start_beat, duration_beats, chord) for each rhythmic hit of `part` in `section`, cut at
    chord changes, with a re-strike where a chord changes between hits."""
    rhythm = _section_rhythm(part, section.kind)
    bpb = ctx.beats_per_bar
    out: list[tuple[float, float, Chord]] = []
    n_bars = int(round(section.duration_beats / bpb))
    for b in range(n_bars):
        bar = section.start_beat + b * bpb
        if _is_last_bar(ctx, bar):
            c = ctx.chord_at(bar)
            if c:
                out.append((bar, bpb, c))
            continue
        bar_hits: list[tuple[float, float]] = []
        for step, length in rhythm:
            if step >= bpb * STEPS_PER_BEAT:
                continue
            bar_hits.append((bar + step / STEPS_PER_BEAT, length / STEPS_PER_BEAT))
        # Re-strike at chord changes that fall between hits.
        for c in ctx.chords:
            restrike = part.pattern in ("block", "pad", "power", "strum", "rootless")
            if (restrike and bar < c.start_beat < bar + bpb
                    and not any(abs(h[0] - c.start_beat) < 1e-6 for h in bar_hits)):
                bar_hits.append((c.start_beat, bar + bpb - c.start_beat))
        for start, length in sorted(bar_hits):
            c = ctx.chord_at(start)
            if c is None:
                continue
            length = min(length, c.end_beat - start, bar + bpb - start)
            if length > 0:
                out.append((start, length, c))
    return out


def chord_part(part: Part, section: Section, ctx: Context,
               prev: list[int] | None) -> tuple[list[Note], list[int] | None]:
    """Comping, pads, arpeggios, power chords, strums, rootless jazz voicings."""
    notes: list[Note] = []
    vel = energy_velocity(part.velocity, section.energy)
    last_chord: ChordSymbol | None = None
    voicing = prev
    arp_i = 0
    for start, length, chord in _hits(part, section, ctx):
        sym = chord.chord
        if sym != last_chord or voicing is None:
            voicing = _voice(part, sym, voicing)
            last_chord = sym
        v = int(np.clip(vel + (8 if abs(start % ctx.beats_per_bar) < 1e-6 else 0), 1, 127))
        if part.pattern == "arpeggio" and not _is_last_bar(ctx, start):
            order = part.arpeggio or (0, 1, 2, 3)
            idx = order[arp_i % len(order)]
            arp_i += 1
            pitch = voicing[idx % len(voicing)] + 12 * (idx // len(voicing))
            notes.append(Note(start, length, pitch, v))
        elif part.pattern == "strum":
            down = arp_i % 2 == 0
            arp_i += 1
            strings = voicing if down else list(reversed(voicing))
            for k, p in enumerate(strings):
                d = 0.018 * k
                notes.append(Note(start + d, max(0.05, length - d), p, v - 4 * k if down else v - 12))
        else:
            for p in voicing:
                notes.append(Note(start, length, p, v))
    return notes, voicing


def _voice(part: Part, chord: ChordSymbol, prev: list[int] | None) -> list[int]:
    if part.pattern == "power":
        root = part.low + ((chord.root - part.low) % 12)
        return [root, root + 7, root + 12]
    if part.pattern == "rootless":
        return _rootless(chord, low=part.low, high=part.high, previous=prev)
    if part.pattern == "strum":
        v = voice_chord(chord, low=part.low + 7, high=part.high, previous=prev, max_notes=4)
        bass = part.low + ((chord.bass_pc - part.low) % 12)
        return sorted({bass, *v})
    return voice_chord(chord, low=part.low, high=part.high, previous=prev)


def _rootless(chord: ChordSymbol, *, low: int, high: int, previous: list[int] | None) -> list[int]:
    """Bill Evans-style A/B rootless voicings: 3-5-7-9 or 7-9-3-5 (6 instead of 7 on triads)."""
    iv = CHORD_QUALITIES[chord.quality]
    third = iv[1]
    fifth = iv[2]
    seventh = iv[3] if len(iv) > 3 else (9 if third == 4 else 10)
    ninth = 14 if chord.quality not in ("m7b5", "dim7", "dim") else 13
    forms = ([third, fifth, seventh, ninth], [seventh, ninth, third + 12, fifth + 12])
    cands: list[list[int]] = []
    for form in forms:
        for octave in range(2, 7):
            base = 12 * octave + chord.root
            v = [base + i for i in form]
            if v[0] >= low and v[-1] <= high:
                cands.append(v)
    if not cands:
        return voice_chord(chord, low=low, high=high, previous=previous)
    if not previous:
        mid = (low + high) / 2
        return min(cands, key=lambda v: abs(np.mean(v) - mid))
    return min(cands, key=lambda v: sum(min(abs(p - q) for q in previous) for p in v))


def bass_part(part: Part, section: Section, ctx: Context, rng: np.random.Generator) -> list[Note]:
    """Root/fifth/octave/approach lines from the style's rhythm and tone lists, or a walking line."""
    if part.pattern == "walking":
        return _walking(part, section, ctx, rng)
    tones = part.tones.get(section.kind) or part.tones.get("default") or ("R",)
    vel = energy_velocity(part.velocity, section.energy)
    notes = []
    hits = _hits(part, section, ctx)
    rhythm = _section_rhythm(part, section.kind)
    for i, (start, length, chord) in enumerate(hits):
        pos_in_bar = round((start % ctx.beats_per_bar) * STEPS_PER_BEAT)
        idx = next((k for k, (s, _) in enumerate(rhythm) if s == pos_in_bar), i)
        tone = tones[idx % len(tones)] if not _is_last_bar(ctx, start) else "R"
        nxt = hits[i + 1][2] if i + 1 < len(hits) else ctx.next_chord(chord)
        pitch = _bass_tone(tone, chord.chord, nxt.chord if nxt else None, part)
        accent = 10 if pos_in_bar == 0 else 0
        notes.append(Note(start, length * 0.95, pitch, min(127, vel + accent)))
    return notes


def _bass_root(pc: int, part: Part) -> int:
    return part.low + ((pc - part.low) % 12)


def _bass_tone(tone: str, chord: ChordSymbol, nxt: ChordSymbol | None, part: Part) -> int:
    root = _bass_root(chord.bass_pc, part)
    iv = CHORD_QUALITIES[chord.quality]
    if tone == "5":
        p = root + iv[2]
    elif tone == "8":
        p = root + 12
    elif tone == "3":
        p = root + iv[1]
    elif tone == "b7":
        p = root + (iv[3] if len(iv) > 3 else 10)
    elif tone == "A":
        if nxt is None or nxt.bass_pc == chord.bass_pc:
            p = root + iv[2]
        else:
            target = _bass_root(nxt.bass_pc, part)
            p = target - 1 if target - 1 >= part.low else target + 1
    else:
        p = root
    while p > part.high:
        p -= 12
    return p


def _walking(part: Part, section: Section, ctx: Context, rng: np.random.Generator) -> list[Note]:
    vel = energy_velocity(part.velocity, section.energy)
    notes = []
    start, end = section.start_beat, section.end_beat
    beat = start
    prev = None
    while beat < end - 1e-6:
        chord = ctx.chord_at(beat)
        if chord is None:
            beat += 1
            continue
        if _is_last_bar(ctx, beat) and abs((beat - start) % ctx.beats_per_bar) < 1e-6:
            notes.append(Note(beat, ctx.beats_per_bar, _bass_root(chord.chord.bass_pc, part), vel))
            break
        nxt = ctx.next_chord(chord)
        beats_left = chord.end_beat - beat
        root = _bass_root(chord.chord.root, part)
        if abs(beat - chord.start_beat) < 1e-6:
            pitch = root if prev is None or abs(root - prev) <= 7 else (root + 12 if root + 12 <= part.high else root)
        elif beats_left <= 1 + 1e-6 and nxt is not None:
            target = _bass_root(nxt.chord.root, part)
            if prev is not None and abs(target + 12 - prev) < abs(target - prev) and target + 12 <= part.high:
                target += 12
            pitch = target + (1 if rng.random() < 0.5 else -1)
        else:
            tones = [(chord.chord.root + i) % 12 for i in CHORD_QUALITIES[chord.chord.quality]]
            scale_step = [p for p in range(part.low, part.high + 1)
                          if p % 12 in tones and prev is not None and 0 < abs(p - prev) <= 5]
            if scale_step:
                # Step through chord tones, pulled back toward the middle of the register so the
                # line does not drift to an extreme.
                centre = (part.low + part.high) / 2 - 2
                w = np.exp(-np.abs(np.array(scale_step) - centre) / 5.0)
                pitch = int(rng.choice(scale_step, p=w / w.sum()))
            else:
                pitch = root + 7
        pitch = int(np.clip(pitch, part.low, part.high))
        notes.append(Note(beat, 0.92, pitch, vel + (8 if abs((beat - start) % 2) < 1e-6 else 0)))
        prev = pitch
        beat += 1
    return notes


def drum_part(drums: Drums, sections: Sequence[Section], ctx: Context,
              rng: np.random.Generator) -> list[Note]:
    """Grooves per section kind, a fill leading into each new section, a crash on section
    starts, and a final hit on the last bar."""
    notes: list[Note] = []
    spb = drums.steps_per_beat
    bpb = ctx.beats_per_bar
    for si, sec in enumerate(sections):
        groove_name = drums.sections.get(sec.kind, "")
        groove = drums.grooves.get(groove_name) if groove_name else None
        n_bars = int(round(sec.duration_beats / bpb))
        has_next = si + 1 < len(sections)
        next_plays = has_next and bool(drums.sections.get(sections[si + 1].kind, ""))
        for b in range(n_bars):
            bar = sec.start_beat + b * bpb
            if _is_last_bar(ctx, bar):
                notes += [Note(bar, 2.0, DRUM_NOTES["kick"], 110), Note(bar, 4.0, DRUM_NOTES["crash"], 112)]
                continue
            if groove is None:
                if b == n_bars - 1 and next_plays and drums.fill:
                    notes += _pattern_notes(drums.fill, bar, spb, bpb, sec.energy, from_step=0)
                continue
            fill_here = b == n_bars - 1 and has_next and bool(drums.fill)
            fill_from = _first_hit(drums.fill) if fill_here else bpb * spb
            notes += _pattern_notes(groove, bar, spb, bpb, sec.energy, until_step=fill_from,
                                    crash=drums.crash_on_sections and b == 0 and si > 0)
            if fill_here:
                notes += _pattern_notes(drums.fill, bar, spb, bpb, min(1.0, sec.energy + 0.1),
                                        from_step=fill_from)
    return notes


def _first_hit(pattern: dict[str, str]) -> int:
    firsts = [next((i for i, ch in enumerate(s) if ch in _VEL), len(s)) for s in pattern.values()]
    return min(firsts, default=0)


def _pattern_notes(pattern: dict[str, str], bar: float, spb: int, bpb: int, energy: float, *,
                   from_step: int = 0, until_step: int | None = None, crash: bool = False) -> list[Note]:
    steps = bpb * spb
    until = steps if until_step is None else until_step
    notes = []
    for drum, s in pattern.items():
        if not s:
            continue
        for i in range(from_step, until):
            ch = s[i % len(s)]
            if ch not in _VEL:
                continue
            if crash and i == 0 and drum in ("hat", "ride", "hat_open"):
                continue
            notes.append(Note(bar + i / spb, 0.25, DRUM_NOTES[drum], energy_velocity(_VEL[ch], energy)))
    if crash:
        notes.append(Note(bar, 2.0, DRUM_NOTES["crash"], energy_velocity(110, energy)))
    return notes
