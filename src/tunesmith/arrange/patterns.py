"""Pattern code shared by every style: the data in a style file says which pattern and rhythm,
this code turns chords and sections into notes. Here: the song context, where a part's hits fall,
velocities (section energy x the style's dynamics curve x accents), and the chord patterns
(block, pad, arpeggio, power, strum, rootless, shell, bossa). Bass lines live in `bass.py`,
drums in `drums.py`, four-part harmony in `fourpart.py`."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.arrange.meter import fit_rhythm
from tunesmith.arrange.style import ACCENTS, STEPS_PER_BEAT, Part, Style
from tunesmith.score import Chord, Note, Section
from tunesmith.theory import CHORD_QUALITIES, ChordSymbol, Key, voice_chord

STRUM_S_PER_STRING = 0.012  # a strum sweeps the strings 12 ms apart
SUSTAINED = ("block", "pad", "power", "strum", "rootless", "shell", "satb", "bass")


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a pattern needs to know about the song besides its own part."""

    chords: Sequence[Chord]
    sections: Sequence[Section]
    beats_per_bar: int
    song_end: float
    key: Key
    style: Style
    tempo_bpm: float = 120.0
    compound: bool = False  # 6/8, 12/8: eighth notes in threes (Score.compound)
    _starts: list[float] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._starts.extend(c.start_beat for c in self.chords)

    def chord_at(self, beat: float) -> Chord | None:
        i = bisect.bisect_right(self._starts, beat + 1e-6) - 1
        if i < 0:
            return None
        c = self.chords[i]
        if beat + 1e-6 < c.end_beat or i == len(self.chords) - 1:
            return c
        return None

    def next_chord(self, chord: Chord) -> Chord | None:
        i = bisect.bisect_left(self._starts, chord.end_beat - 1e-6)
        return self.chords[i] if i < len(self.chords) else None

    @property
    def pulse_beats(self) -> float:
        """The felt beat: a dotted quarter in a compound meter, else a quarter."""
        return 1.5 if self.compound else 1.0

    def is_last_bar(self, bar_start: float) -> bool:
        return bar_start + self.beats_per_bar >= self.song_end - 1e-6

    def velocity(self, base: int, section: Section, beat: float, accent: str = "x") -> int:
        """Velocity of a hit: the part's base, scaled by the section's energy, the style's
        dynamics curve at this point of the section and the hit's accent."""
        frac = (beat - section.start_beat) / max(section.duration_beats, 1e-9)
        v = (energy_velocity(base, section.energy) * self.style.dynamics_at(section.kind, frac)
             * ACCENTS.get(accent, 1.0))
        return clamp_velocity(v)


def clamp_velocity(v: float) -> int:
    """A MIDI velocity, 1-127 (plain Python: called for every note)."""
    return min(127, max(1, int(round(v))))


def energy_velocity(base: int, energy: float) -> int:
    return clamp_velocity(base * (0.72 + 0.42 * energy))


@dataclass(frozen=True, slots=True)
class PartHit:
    """Where a part plays: start and length in beats, the chord sounding, accent, and the index
    of the hit in the style's rhythm list (-1 for a re-strike at a chord change)."""

    start: float
    length: float
    chord: Chord
    accent: str
    index: int


def part_hits(part: Part, section: Section, ctx: Context, *, restrike: bool | None = None,
              cut_at_chords: bool = True) -> list[PartHit]:
    """Each rhythmic hit of `part` in `section`, cut at chord changes, with a re-strike where a
    chord changes between hits of a sustained pattern. The last bar of the song is one held hit."""
    rhythm = part.rhythm_for(section.kind)
    bpb = ctx.beats_per_bar
    src_bpb = ctx.style.pattern_beats_per_bar
    restrike = part.pattern in SUSTAINED if restrike is None else restrike
    out: list[PartHit] = []
    n_bars = int(round(section.duration_beats / bpb))
    for b in range(n_bars):
        bar = section.start_beat + b * bpb
        if ctx.is_last_bar(bar):
            c = ctx.chord_at(bar)
            if c:
                out.append(PartHit(bar, float(bpb), c, "x", 0))
            continue
        bar_hits = [(bar + h.step / STEPS_PER_BEAT, h.length / STEPS_PER_BEAT, h.accent, h.index)
                    for h in fit_rhythm(rhythm, bar_index=b, src_beats_per_bar=src_bpb,
                                        beats_per_bar=bpb, compound=ctx.compound)]
        if restrike:
            for c in ctx.chords:
                if (bar < c.start_beat < bar + bpb
                        and not any(abs(h[0] - c.start_beat) < 1e-6 for h in bar_hits)):
                    # Hold the new chord until the next hit of the pattern (or the bar's end).
                    nxt = min((h[0] for h in bar_hits if h[0] > c.start_beat), default=bar + bpb)
                    sounding = any(h[0] < c.start_beat < h[0] + h[1] for h in bar_hits)
                    if sounding or part.pattern == "pad":
                        bar_hits.append((c.start_beat, nxt - c.start_beat, "x", -1))
        for start, length, accent, index in sorted(bar_hits):
            c = ctx.chord_at(start)
            if c is None:
                continue
            limit = c.end_beat - start if cut_at_chords else length
            length = min(length, limit, bar + bpb - start)
            if length > 1e-6:
                out.append(PartHit(start, length, c, accent, index))
    return out


def chord_part(part: Part, section: Section, ctx: Context,
               prev: list[int] | None) -> tuple[list[Note], list[int] | None]:
    """Comping, pads, arpeggios, power chords, strums, rootless and shell voicings, bossa guitar.
    `prev` is the voicing the part last played: each chord moves from it as little as possible."""
    notes: list[Note] = []
    last_chord: ChordSymbol | None = None
    voicing = prev
    arp_i = 0
    for hit in part_hits(part, section, ctx):
        sym = hit.chord.chord
        if sym != last_chord or voicing is None:
            voicing = voice_for(part, sym, voicing)
            last_chord = sym
            arp_i = 0
        downbeat = abs((hit.start - section.start_beat) % ctx.beats_per_bar) < 1e-6
        v = ctx.velocity(part.velocity, section, hit.start, hit.accent) + (6 if downbeat else 0)
        v = clamp_velocity(v)
        last = ctx.is_last_bar(hit.start)
        if part.pattern == "arpeggio" and not last:
            order = part.arpeggio or (0, 1, 2, 3)
            idx = order[arp_i % len(order)]
            arp_i += 1
            pitch = voicing[idx % len(voicing)] + 12 * (idx // len(voicing))
            notes.append(Note(hit.start, hit.length, pitch, v))
        elif part.pattern == "strum" and not last:
            down = hit.index < 0 or _is_downstroke(hit.start - section.start_beat)
            strings = voicing if down else list(reversed(voicing))[: max(2, len(voicing) - 2)]
            for k, p in enumerate(strings):
                d = STRUM_S_PER_STRING * k * ctx.tempo_bpm / 60.0
                vel = v - 3 * k if down else int(v * 0.8) - 2 * k
                notes.append(Note(hit.start + d, max(0.05, hit.length - d), p, max(1, vel)))
        elif part.pattern == "bossa" and not last:
            notes += _bossa_fingers(hit.start, hit.length, voicing, v)
        else:
            notes += [Note(hit.start, hit.length, p, v) for p in voicing]
    if part.pattern == "bossa":
        notes += _bossa_thumb(part, section, ctx)
    return notes, voicing


def _is_downstroke(beat_in_section: float) -> bool:
    """Strumming hand: down strokes on the beat, up strokes between beats."""
    return abs(beat_in_section - round(beat_in_section)) < 1e-6


def voice_for(part: Part, chord: ChordSymbol, prev: list[int] | None) -> list[int]:
    """The voicing a part plays for `chord`, led smoothly from `prev`."""
    if part.pattern == "power":
        return _power(chord, low=part.low, high=part.high, previous=prev)
    if part.pattern == "rootless":
        return _rootless(chord, low=part.low, high=part.high, previous=prev)
    if part.pattern == "shell":
        return _shell(chord, low=part.low, high=part.high, previous=prev)
    if part.pattern == "strum":
        v = voice_chord(chord, low=part.low + 7, high=part.high, previous=prev,
                        max_notes=max(3, part.max_notes - 1))
        bass = part.low + ((chord.bass_pc - part.low) % 12)
        return sorted({bass, *v})
    if part.pattern == "bossa":
        return _rootless(chord, low=part.low + 12, high=part.high, previous=prev, size=3)
    return voice_chord(chord, low=part.low, high=part.high, previous=prev,
                       max_notes=part.max_notes)


def _power(chord: ChordSymbol, *, low: int, high: int, previous: list[int] | None) -> list[int]:
    """Root, fifth and octave, the root placed nearest the previous one (a guitarist sliding
    along the neck), inside [low, high]."""
    roots = [p for p in range(low, high - 11) if p % 12 == chord.bass_pc % 12]
    if not roots:
        roots = [low + ((chord.bass_pc - low) % 12)]
    root = min(roots, key=lambda r: (abs(r - previous[0]), r)) if previous else roots[0]
    fifth = 6 if chord.triad_quality == "dim" else 7
    return [root, root + fifth, root + 12]


def _shell(chord: ChordSymbol, *, low: int, high: int, previous: list[int] | None) -> list[int]:
    """Shell voicing: root low, third and seventh (sixth on a triad) above it, nearest motion."""
    iv = CHORD_QUALITIES[chord.quality]
    third = iv[1]
    seventh = iv[3] if len(iv) > 3 else (9 if third == 4 else 10)
    cands = []
    for root in range(low, high):
        if root % 12 != chord.root % 12:
            continue
        for form in ([0, third + 12, seventh], [0, seventh, third + 12]):
            v = sorted(root + i for i in form)
            if v[-1] <= high:
                cands.append(v)
    if not cands:
        return voice_chord(chord, low=low, high=high, previous=previous, max_notes=3)
    return _closest(cands, previous, low, high)


def _rootless(chord: ChordSymbol, *, low: int, high: int, previous: list[int] | None,
              size: int = 4) -> list[int]:
    """Bill Evans-style A/B rootless voicings: 3-5-7-9 or 7-9-3-5 (6 instead of 7 on triads);
    `size` 3 drops the fifth (3-7-9 / 7-9-3)."""
    iv = CHORD_QUALITIES[chord.quality]
    third = iv[1]
    fifth = iv[2]
    seventh = iv[3] if len(iv) > 3 else (9 if third == 4 else 10)
    ninth = 14 if chord.quality not in ("m7b5", "dim7", "dim") else 13
    if size >= 4:
        forms = ([third, fifth, seventh, ninth], [seventh, ninth, third + 12, fifth + 12])
    else:
        forms = ([third, seventh, ninth], [seventh, ninth, third + 12])
    cands: list[list[int]] = []
    for form in forms:
        for octave in range(1, 9):
            base = 12 * octave + chord.root
            v = [base + i for i in form]
            if v[0] >= low and v[-1] <= high:
                cands.append(v)
    if not cands:
        return voice_chord(chord, low=low, high=high, previous=previous)
    return _closest(cands, previous, low, high)


def _closest(cands: list[list[int]], previous: list[int] | None, low: int, high: int) -> list[int]:
    if not previous:
        mid = (low + high) / 2
        return min(cands, key=lambda v: abs(float(np.mean(v)) - mid))
    return min(cands, key=lambda v: sum(min(abs(p - q) for q in previous) for p in v)
               + 0.5 * abs(float(np.mean(v)) - float(np.mean(previous))))


def _bossa_fingers(start: float, length: float, voicing: list[int], vel: int) -> list[Note]:
    """The fingers pluck the upper voicing together, a little softer than the thumb."""
    return [Note(start, length, p, max(1, vel - 6)) for p in voicing]


def _bossa_thumb(part: Part, section: Section, ctx: Context) -> list[Note]:
    """The thumb: chord root on beat 1, the fifth (below when it fits) on the bar's middle beat,
    each held for a dotted quarter: the alternating bass of the bossa nova guitar."""
    notes = []
    bpb = ctx.beats_per_bar
    beats = (0.0,) if bpb == 3 and not ctx.compound else (0.0, bpb / 2)
    n_bars = int(round(section.duration_beats / bpb))
    for b in range(n_bars):
        bar = section.start_beat + b * bpb
        for k, off in enumerate(beats):
            t = bar + off
            c = ctx.chord_at(t)
            if c is None:
                continue
            root = part.low + ((c.chord.bass_pc - part.low) % 12)
            pitch = root
            if k == 1 and abs(c.start_beat - t) > 1e-6:
                fifth = root + CHORD_QUALITIES[c.chord.quality][2]
                pitch = fifth - 12 if fifth - 12 >= part.low else fifth
            dur = min(1.5, c.end_beat - t, bar + bpb - t)
            if ctx.is_last_bar(bar):
                dur = float(bpb)
            notes.append(Note(t, max(0.25, dur), pitch, ctx.velocity(part.velocity, section, t)))
            if ctx.is_last_bar(bar):
                break
        # A chord that changes mid-bar off the thumb's beats still gets its root.
        for c in ctx.chords:
            if bar < c.start_beat < bar + bpb and all(abs(c.start_beat - (bar + o)) > 1e-6
                                                       for o in beats):
                root = part.low + ((c.chord.bass_pc - part.low) % 12)
                notes.append(Note(c.start_beat, min(1.0, c.end_beat - c.start_beat), root,
                                  ctx.velocity(part.velocity, section, c.start_beat)))
    return notes
