"""New melody for verse, pre-chorus, bridge and solo, written by the melody model from the hum.

A section is planned as motif bars and free spans:
- a motif bar takes a bar of the hum (its rhythm exactly, its contour as a strong preference:
  each interval keeps its direction and, within a step or so, its size) and the model chooses
  the pitches, so they fit the section's chords and register (and, mildly, differ from the
  hum's own pitches: a verse is new material, not the chorus again);
- a free span is written by the model alone (rhythm and pitch), continuing what came before; a
  cadence span ends the phrase on a long note (on the tonic, or open on the dominant).
The model's state is first primed with the hum, so what it writes continues and answers it.
Sampling is seeded. A section that repeats 8 or more consecutive notes of a training song is
written again (up to `MAX_ATTEMPTS` times), then altered note by note until it does not.

Register: every chorus is the hum, so the new sections are placed against it (`Register`), as in
POP909, where the verse's mean pitch sits a median 2.8 semitones below the chorus's and above
it in only 16 % of songs (`bench/melody.py`, register rows): the verse aims a little below the
hum, the pre-chorus climbs from there towards it, the bridge aims just above it. The model reads
the song's register centre as in training (the song's median pitch, estimated from the hum), a
soft prior in sampling draws each section towards its aim, and no new note leaves the hum's
range by more than a few semitones (no section an octave away from the chorus).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tunesmith.compose.melody import MELODY_HIGH, MELODY_LOW, Hook, diatonic_shift
from tunesmith.compose.melody_model import (
    INTERVALS,
    MAX_INTERVAL,
    N_DUR,
    N_GAP,
    ChordTones,
    Event,
    History,
    MelodyModel,
    NoteContext,
    dur_cond,
    dur_phi,
    dur_steps,
    dur_token,
    gap_cond,
    gap_phi,
    gap_steps,
    gap_token,
    input_vector,
    log_softmax,
    pitch_cond,
    pitch_phi,
    to_steps,
)
from tunesmith.compose.meter import STEPS_PER_BEAT, Meter
from tunesmith.compose.originality import NO_MATCH, Match, OriginalityIndex
from tunesmith.score import Chord, Note
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
PITCH_TEMPERATURE = 0.9
RHYTHM_TEMPERATURE = 1.0
CONTOUR_DIRECTION_WEIGHT = 4.0  # log-odds lost by a note that moves the other way than the hum
CONTOUR_SIZE_WEIGHT = 0.35  # per semitone of difference from the hum's interval
REGISTER_WEIGHT = 0.3  # per semitone further than REGISTER_SPAN from the section's aim
REGISTER_SPAN = 4
# Section aims, semitones from the chorus's mean pitch (POP909: verse median -2.8).
VERSE_AIM = -3.0
PRECHORUS_AIM = (-4.0, 0.0)  # from its start to its end: it climbs towards the chorus
BRIDGE_AIM = 1.0
SONG_CENTRE_BELOW_CHORUS = 1.5  # POP909: the song's median pitch vs its chorus's (the model's input)
RANGE_BELOW_HUM = 5  # new notes stay within [hum's lowest - 5, hum's highest + 3]
RANGE_ABOVE_HUM = 3
ANCHOR_WEIGHT = 0.8  # per semitone away from a slot's anchor pitch
NOVELTY_WEIGHT = 1.5  # log-odds against singing the hum's own pitch where its rhythm is reused


@dataclass(frozen=True, slots=True)
class Register:
    """Where the chorus (the hum) sits, and the pitches new sections may use around it."""

    chorus: float  # mean pitch of the hum
    low: int
    high: int

    @classmethod
    def of(cls, hook: Hook) -> Register:
        pitches = [n.pitch for n in (*hook.notes, *hook.pickup)]
        if not pitches:
            return cls(67.0, MELODY_LOW, MELODY_HIGH)
        return cls(float(np.mean(pitches)), max(MELODY_LOW, min(pitches) - RANGE_BELOW_HUM),
                   min(MELODY_HIGH, max(pitches) + RANGE_ABOVE_HUM))

    @property
    def song_centre(self) -> float:
        """The register centre the model was trained with: the song's median pitch."""
        return self.chorus - SONG_CENTRE_BELOW_CHORUS

    def aim(self, offset: float) -> float:
        """The chorus's mean moved by `offset` semitones, kept where the range leaves room
        around it."""
        room = min(REGISTER_SPAN, (self.high - self.low) / 2)
        return float(np.clip(self.chorus + offset, self.low + room, self.high - room))


@dataclass(frozen=True, slots=True)
class Slot:
    """A motif note placed in a section: time (beats from the section start), the hum's
    interval into it (None for a motif's first note) and the hum's pitch (for the provisional
    harmony)."""

    start: float
    duration: float
    contour: int | None
    source_pitch: int
    anchor: float | None = None  # a pitch this note is drawn towards (a climbing sequence)


@dataclass(frozen=True, slots=True)
class FreeSpan:
    """Beats [start, end) of a section that the model writes alone."""

    start: float
    end: float
    cadence: bool = False


@dataclass(frozen=True, slots=True)
class SectionPlan:
    kind: str
    bars: int
    slots: tuple[Slot, ...]
    free: tuple[FreeSpan, ...]
    centre_start: float  # the register aimed at, at the section start and end (a pre-chorus
    centre_end: float  # climbs)
    ending: str  # "closed" (tonic), "open" (dominant side), "stable" (a chord tone)
    velocity: int
    prefix: tuple[Note, ...] = ()  # notes already in the section (the hum, in a blues chorus)

    def centre(self, beat: float, total: float) -> float:
        return self.centre_start + (self.centre_end - self.centre_start) * beat / max(total, 1e-6)


@dataclass(frozen=True, slots=True)
class Written:
    notes: tuple[Note, ...]
    match: Match  # longest run shared with a training song (after the guard)
    attempts: int


# ---------------------------------------------------------------- plans

def hook_bar_notes(hook: Hook, meter: Meter) -> list[list[Note]]:
    """The hum cut into bars: each bar's notes, timed from the bar start and cut at its end."""
    bpb = meter.beats_per_bar
    bars: list[list[Note]] = [[] for _ in range(hook.bars)]
    for n in hook.notes:
        b = int(n.start_beat // bpb)
        if 0 <= b < hook.bars:
            start = n.start_beat - b * bpb
            bars[b].append(Note(start, min(n.duration_beats, bpb - start), n.pitch, n.velocity))
    return bars


def entry_intervals(hook: Hook, meter: Meter) -> list[int | None]:
    """For each bar of the hum, the interval into its first note from the note before it (the
    hum's last note for the first bar: the hum sung twice); None for an empty bar."""
    bars = hook_bar_notes(hook, meter)
    notes = sorted(hook.notes, key=lambda n: n.start_beat)
    out: list[int | None] = []
    for b, m in enumerate(bars):
        if not m or len(notes) < 2:
            out.append(None)
            continue
        start = b * meter.beats_per_bar + m[0].start_beat
        before = [n for n in notes if n.start_beat < start - 1e-6]
        prev = before[-1] if before else notes[-1]
        out.append(m[0].pitch - prev.pitch)
    return out


def _motif_slots(notes: Sequence[Note], offset: float, *, scale: float = 1.0,
                 invert: bool = False, entry: int | None = None) -> list[Slot]:
    """A motif placed at `offset` (beats), `scale` times slower, its contour upside down;
    `entry`: the interval wanted into its first note."""
    out = []
    for i, n in enumerate(notes):
        contour = entry if i == 0 else n.pitch - notes[i - 1].pitch
        if contour is not None and invert:
            contour = -contour
        out.append(Slot(offset + n.start_beat * scale, n.duration_beats * scale, contour, n.pitch))
    return out


def _merge_free(spans: list[FreeSpan]) -> list[FreeSpan]:
    out: list[FreeSpan] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and abs(out[-1].end - s.start) < 1e-6 and not out[-1].cadence:
            out[-1] = FreeSpan(out[-1].start, s.end, s.cadence)
        else:
            out.append(s)
    return out


def _velocity(hook: Hook, delta: int) -> int:
    vel = int(np.median([n.velocity for n in hook.notes])) if hook.notes else 90
    return int(np.clip(vel + delta, 1, 127))


def plan_section(kind: str, hook: Hook, *, bars: int, meter: Meter, rng: np.random.Generator,
                 ending: str = "closed") -> SectionPlan:
    """Motif bars and free spans for a section of `kind` (verse, prechorus, bridge, solo)."""
    bpb = meter.beats_per_bar
    motifs = hook_bar_notes(hook, meter)
    entries = entry_intervals(hook, meter)
    filled = [i for i, m in enumerate(motifs) if m] or [0]
    register = Register.of(hook)
    slots: list[Slot] = []
    free: list[FreeSpan] = []

    def motif_bar(bar: int, which: int) -> None:
        m = filled[which % len(filled)]
        if motifs[m]:
            slots.extend(_motif_slots(motifs[m], bar * bpb, entry=entries[m]))
        else:
            free.append(FreeSpan(bar * bpb, (bar + 1) * bpb))

    if kind == "verse":
        patterns = (("M0", "M1", "M0", "C"), ("M0", "M1", "F", "C"), ("M0", "F", "M0", "C"))
        for p0 in range(0, bars, 4):
            pattern = patterns[int(rng.integers(len(patterns)))]
            first = 2 * (p0 // 4)
            for k in range(min(4, bars - p0)):
                bar = p0 + k
                step = "C" if bar == bars - 1 else pattern[k]
                if step.startswith("M"):
                    motif_bar(bar, first + int(step[1]))
                else:
                    free.append(FreeSpan(bar * bpb, (bar + 1) * bpb, cadence=step == "C"))
        low = register.aim(VERSE_AIM)  # a little below the chorus
        return SectionPlan(kind, bars, tuple(slots), tuple(_merge_free(free)), low, low,
                           ending, _velocity(hook, -8))
    if kind == "prechorus":
        # The same bar of the hum, sequenced upwards bar by bar from the verse's register
        # towards the chorus's: each bar starts higher.
        which = int(rng.integers(len(filled)))
        notes = motifs[filled[which]]
        start, end = (register.aim(a) for a in PRECHORUS_AIM)
        rise = (end - start) / max(1, bars - 2)  # the last motif bar reaches the end's aim
        mean = float(np.mean([n.pitch for n in notes]))
        for bar in range(bars - 1):
            slots.extend(replace(x, anchor=start + rise * bar + n.pitch - mean)
                         for x, n in zip(_motif_slots(notes, bar * bpb), notes, strict=True))
        free.append(FreeSpan((bars - 1) * bpb, bars * bpb, cadence=True))
        return SectionPlan(kind, bars, tuple(slots), tuple(_merge_free(free)), start, end,
                           ending, _velocity(hook, -4))
    if kind == "bridge":
        # Contrast: the hum's opening slowed to half speed (or turned upside down), then new
        # phrases from the model.
        half = max(1, bars // 2)
        if rng.random() < 0.5 and bars >= 4:
            src = [Note(x.start_beat + i * bpb, x.duration_beats, x.pitch)
                   for i, m in enumerate(filled[:2]) for x in motifs[m]]
            span = min(2, len(filled)) * bpb
            k = 0
            while (k + 1) * 2 * span <= half * bpb + 1e-6:
                slots.extend(_motif_slots(src, k * 2 * span, scale=2.0))
                k += 1
            motif_end = k * 2 * span
        else:
            for bar in range(half):
                notes = motifs[filled[bar % len(filled)]]
                slots.extend(_motif_slots(notes, bar * bpb, invert=True))
            motif_end = half * bpb
        if motif_end < bars * bpb - bpb:
            free.append(FreeSpan(motif_end, (bars - 1) * bpb))
        free.append(FreeSpan(max(motif_end, (bars - 1) * bpb), bars * bpb, cadence=True))
        bridge = register.aim(BRIDGE_AIM)
        return SectionPlan(kind, bars, tuple(slots), tuple(_merge_free(free)), bridge, bridge,
                           ending, _velocity(hook, -4))
    # solo (and anything else): the model improvises in 4-bar phrases
    for p0 in range(0, bars, 4):
        end = min(bars, p0 + 4)
        if end - p0 > 1:
            free.append(FreeSpan(p0 * bpb, (end - 1) * bpb))
        free.append(FreeSpan((end - 1) * bpb, end * bpb, cadence=True))
    centre = register.aim(0.0)
    return SectionPlan(kind, bars, (), tuple(_merge_free(free)), centre, centre, ending,
                       _velocity(hook, 0))


def answer_plan(hook: Hook, *, start_bar: int, bars: int, meter: Meter) -> SectionPlan:
    """The rest of a 12-bar blues chorus after the hum: the hum's rhythm and contour again (the
    second line of an AAB verse, pitched to the new chord), then a closing line."""
    bpb = meter.beats_per_bar
    motifs = hook_bar_notes(hook, meter)
    entries = entry_intervals(hook, meter)
    slots: list[Slot] = []
    free: list[FreeSpan] = []
    bar = start_bar
    total = start_bar + bars
    if hook.bars <= 4:
        while bar < total - 4:
            for m, entry in zip(motifs, entries, strict=True):
                if bar >= total - 4:
                    break
                slots.extend(_motif_slots(m, bar * bpb, entry=entry))
                bar += 1
    if total - bar > 1:
        free.append(FreeSpan(bar * bpb, (total - 1) * bpb))
    free.append(FreeSpan(max(bar, total - 1) * bpb, total * bpb, cadence=True))
    centre = Register.of(hook).aim(0.0)
    prefix = tuple(n for n in hook.notes if n.start_beat < start_bar * bpb)
    return SectionPlan("chorus", total, tuple(slots), tuple(free), centre, centre, "closed",
                       _velocity(hook, 0), prefix)


def provisional_melody(plan: SectionPlan, key: Key, meter: Meter) -> list[Note]:
    """The plan's motif notes at the hum's pitches, moved by a diatonic step pattern per kind
    (verse a third down, pre-chorus climbing by bar, bridge from the fourth degree): enough for
    the harmoniser to choose chords before the model writes the line."""
    notes = [Note(s.start, s.duration, s.source_pitch) for s in plan.slots]
    if plan.kind == "verse":
        return diatonic_shift(notes, -2, key)
    if plan.kind == "bridge":
        return diatonic_shift(notes, 3, key)
    if plan.kind == "prechorus":
        return [diatonic_shift([n], int(n.start_beat // meter.beats_per_bar), key)[0]
                for n in notes]
    return notes


# ---------------------------------------------------------------- sampling

def chord_tones_at(chords: Sequence[Chord], beat: float) -> ChordTones:
    for c in chords:
        if c.start_beat - 1e-6 <= beat < c.end_beat - 1e-6:
            return ChordTones(c.chord.root, frozenset(c.chord.pitch_classes))
    if chords and beat >= chords[-1].start_beat:
        c = chords[-1]
        return ChordTones(c.chord.root, frozenset(c.chord.pitch_classes))
    return ChordTones(None, frozenset())


def _sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    x = logits / temperature
    x = x - x.max()
    p = np.exp(x)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


@dataclass(slots=True)
class _Cursor:
    """Where writing stands: the model state, the last note placed and whether the model has
    read it yet."""

    h: np.ndarray
    prev: Note
    prev_ev: Event | None
    prev_ctx: NoteContext
    pending: bool
    notes: list[Note]
    history: History

    def sync(self, model: MelodyModel, meter: Meter) -> None:
        """Let the model read the last note placed (then it joins the history)."""
        if self.pending:
            x = input_vector(self.prev, self.prev_ev, self.prev_ctx, meter, self.history)
            self.h = model.step(self.h, x)
            self.history.add(self.prev)
            self.pending = False

    def place(self, note: Note, ev: Event, ctx: NoteContext) -> None:
        self.prev, self.prev_ev, self.prev_ctx, self.pending = note, ev, ctx, True
        self.notes.append(note)


class SectionWriter:
    """Writes sections with the melody model, primed with the hum and its chorus chords."""

    def __init__(self, model: MelodyModel, index: OriginalityIndex | None, hook: Hook, *,
                 key: Key, meter: Meter, chorus_chords: Sequence[Chord]) -> None:
        self.model = model
        self.index = index
        self.hook = hook
        self.key = key
        self.meter = meter
        self.register = Register.of(hook)
        h = model.initial_state()
        notes = list(hook.notes)
        total = hook.bars * meter.beats_per_bar
        prev: Note | None = None
        history = History()
        for n in notes:
            ctx = NoteContext(key, chord_tones_at(chorus_chords, n.start_beat), "chorus", 0.0,
                              float(total), self.register.song_centre)
            if prev is None:
                h = model.step(h, input_vector(n, None, ctx, meter))
                ev = Event(0, dur_token(to_steps(n.duration_beats)), MAX_INTERVAL)
            else:
                gap = max(0, to_steps(n.start_beat) - to_steps(prev.end_beat))
                ev = Event(gap_token(gap), dur_token(to_steps(n.duration_beats)),
                           int(np.clip(n.pitch - prev.pitch, -MAX_INTERVAL, MAX_INTERVAL)) + MAX_INTERVAL)
            h = model.step(h, input_vector(n, ev, ctx, meter, history))
            history.add(n)
            prev = n
        self.primed = h
        self.last_hook_note = notes[-1] if notes else Note(0, 1, int(round(self.register.chorus)))

    def _context(self, plan: SectionPlan, chords: Sequence[Chord], beat: float) -> NoteContext:
        total = plan.bars * self.meter.beats_per_bar
        return NoteContext(self.key, chord_tones_at(chords, beat), plan.kind, 0.0, float(total),
                           self.register.song_centre)

    def _pitch_bias(self, prev_pitch: int, ctx: NoteContext, contour: int | None,
                    final: str, aim: float, anchor: float | None = None) -> np.ndarray:
        """Log-odds added to the model's interval logits: the section's register (`aim`), the
        hum's contour, an anchor pitch, a cadence's goal; pitches outside the range are out."""
        pitches = prev_pitch + INTERVALS
        bias = np.zeros(len(INTERVALS))
        if anchor is not None:
            bias -= ANCHOR_WEIGHT * np.abs(pitches - anchor)
        bias[(pitches < self.register.low) | (pitches > self.register.high)] = -np.inf
        bias -= REGISTER_WEIGHT * np.maximum(0.0, np.abs(pitches - aim) - REGISTER_SPAN)
        if contour is not None:
            bias -= CONTOUR_DIRECTION_WEIGHT * (np.sign(INTERVALS) != np.sign(contour))
            bias -= CONTOUR_SIZE_WEIGHT * np.abs(INTERVALS - np.clip(contour, -12, 12))
        if final:
            pcs = pitches % 12
            degree = (pcs - self.key.tonic) % 12
            chord = np.array([pc in ctx.chord.pitch_classes for pc in pcs])
            if final == "closed":
                bias += 2.5 * (degree == 0) + 1.0 * chord
            elif final == "open":  # the 2nd, 5th or 7th degree, anything but the tonic
                bias += 1.5 * np.isin(degree, (2, 7, 11 if self.key.mode == "major" else 10))
                bias -= 2.0 * (degree == 0)
            else:  # "stable": a chord tone
                bias += 1.2 * chord
        return bias

    def _write_once(self, plan: SectionPlan, chords: Sequence[Chord],
                    rng: np.random.Generator) -> list[Note]:
        total = plan.bars * self.meter.beats_per_bar
        # The line goes on from the hum's last note (where the song's chorus ends), moved by an
        # octave only when that is far from the section's register.
        pitch = self.last_hook_note.pitch
        while pitch - plan.centre_start > 7 and pitch - 12 >= self.register.low:
            pitch -= 12
        while plan.centre_start - pitch > 7 and pitch + 12 <= self.register.high:
            pitch += 12
        d = self.last_hook_note.duration_beats
        cur = _Cursor(self.primed.copy(), Note(-d, d, pitch), None,
                      self._context(plan, chords, 0.0), False, [], History(plan.prefix))
        if plan.prefix:
            cur.prev = plan.prefix[-1]
        last_slot = plan.slots[-1] if plan.slots and not any(
            f.start >= plan.slots[-1].start for f in plan.free) else None
        for item in sorted([*plan.slots, *plan.free], key=lambda x: x.start):
            if isinstance(item, FreeSpan):
                self._free_span(cur, item, plan, chords, rng)
                continue
            onset = max(item.start, cur.prev.end_beat if cur.notes else item.start)
            if onset >= item.start + item.duration - 1e-6:
                continue
            steps = max(1, to_steps(item.start + item.duration - onset))
            avoid = item.source_pitch if plan.kind != "chorus" else None
            self._emit(cur, plan, chords, rng, onset, dur_token(steps), item.contour,
                       plan.ending if item is last_slot else "", item.anchor, avoid)
        return _fit(cur.notes, total)

    def _emit(self, cur: _Cursor, plan: SectionPlan, chords: Sequence[Chord],
              rng: np.random.Generator, onset: float, dur_tok: int, contour: int | None,
              final: str, anchor: float | None = None, avoid: int | None = None) -> None:
        """Choose the pitch of a note whose time is known, and place it."""
        cur.sync(self.model, self.meter)
        ctx = self._context(plan, chords, onset)
        logits = self.model.head_logits("pitch", cur.h, pitch_cond(onset, dur_tok, ctx, self.meter),
                                        pitch_phi(cur.prev.pitch, ctx, onset, self.meter,
                                                  cur.history))
        total = plan.bars * self.meter.beats_per_bar
        bias = self._pitch_bias(cur.prev.pitch, ctx, contour, final, plan.centre(onset, total),
                                anchor)
        if avoid is not None:  # new words, new notes: not the hum again on its own rhythm
            bias[cur.prev.pitch + INTERVALS == avoid] -= NOVELTY_WEIGHT
        k = _sample(log_softmax(logits) + bias, PITCH_TEMPERATURE, rng)
        gap = max(0, to_steps(onset) - to_steps(cur.prev.end_beat))
        note = Note(onset, dur_steps(dur_tok) / STEPS_PER_BEAT,
                    cur.prev.pitch + k - MAX_INTERVAL, plan.velocity)
        cur.place(note, Event(gap_token(gap), dur_tok, k), ctx)

    def _free_span(self, cur: _Cursor, span: FreeSpan, plan: SectionPlan,
                   chords: Sequence[Chord], rng: np.random.Generator) -> None:
        """The model writes rhythm and pitches of [span.start, span.end)."""
        meter = self.meter
        total = plan.bars * meter.beats_per_bar
        pulse = meter.pulse_beats
        while True:
            base = cur.prev.end_beat
            earliest = max(span.start, base)
            if earliest > span.end - 0.25 + 1e-6:
                return
            cur.sync(self.model, meter)
            logits = self.model.head_logits("gap", cur.h, gap_cond(cur.prev, cur.prev_ctx, meter),
                                            gap_phi(base, meter, cur.history))
            onsets = base + np.array([gap_steps(g) for g in range(N_GAP)]) / STEPS_PER_BEAT
            ok = (onsets >= earliest - 1e-6) & (onsets <= span.end - 0.25 + 1e-6)
            if not ok.any():
                # The onset the span needs is further than the longest gap: start it there.
                g, onset = N_GAP - 1, earliest
            else:
                g = _sample(np.where(ok, log_softmax(logits), -np.inf), RHYTHM_TEMPERATURE, rng)
                onset = float(onsets[g])
            room = span.end - onset
            if span.cadence and room <= 2 * pulse + 1e-6:
                # The phrase's last note rings to the end of the span, sometimes with a breath.
                breath = 0.5 if room > 1.5 and rng.random() < 0.5 else 0.0
                final = plan.ending if span.end >= total - 1e-6 else "stable"
                # A section that leads on (into the chorus) ends up in its register, not below.
                anchor = plan.centre(onset, total) if final == "open" else None
                self._emit(cur, plan, chords, rng, onset, dur_token(to_steps(room - breath)),
                           None, final, anchor)
                return
            ctx = self._context(plan, chords, onset)
            dlog = self.model.head_logits("dur", cur.h, dur_cond(onset, g, ctx, meter),
                                          dur_phi(onset, meter, cur.history))
            ends = onset + np.array([dur_steps(d) for d in range(N_DUR)]) / STEPS_PER_BEAT
            fits = ends <= span.end + 1e-6
            if span.cadence and (fits & (ends <= span.end - 2 * pulse + 1e-6)).any():
                fits &= ends <= span.end - 2 * pulse + 1e-6
            if not fits.any():
                return
            d = _sample(np.where(fits, log_softmax(dlog), -np.inf), RHYTHM_TEMPERATURE, rng)
            self._emit(cur, plan, chords, rng, onset, d, None, "")

    def write(self, plan: SectionPlan, chords: Sequence[Chord], *, seed: int) -> Written:
        """The section's notes (beats from its start), checked against the training songs."""
        rng = np.random.default_rng(seed)
        notes: list[Note] = []
        match = NO_MATCH
        for attempt in range(1, MAX_ATTEMPTS + 1):
            notes = self._write_once(plan, chords, rng)
            match = self.index.longest_match(notes) if self.index is not None else NO_MATCH
            if not match.found:
                return Written(tuple(notes), match, attempt)
            log.info("%s: attempt %d repeats %d notes of a training song; writing it again",
                     plan.kind, attempt, match.notes)
        notes = self._alter(notes, chords)
        match = self.index.longest_match(notes) if self.index is not None else NO_MATCH
        return Written(tuple(notes), match, MAX_ATTEMPTS)

    def _alter(self, notes: list[Note], chords: Sequence[Chord]) -> list[Note]:
        """Move one note of each matching window to a neighbouring chord or scale tone until
        nothing of 8 notes or more matches."""
        out = list(notes)
        if self.index is None:
            return out
        for _ in range(len(notes)):
            match = self.index.longest_match(out)
            if not match.found:
                break
            i = match.start + 4
            n = out[i]
            tones = chord_tones_at(chords, n.start_beat).pitch_classes or frozenset(self.key.scale)
            cands = [p for p in range(n.pitch - 4, n.pitch + 5)
                     if p != n.pitch and p % 12 in tones
                     and self.register.low <= p <= self.register.high]
            cands = cands or [n.pitch + (2 if n.pitch < self.register.chorus else -2)]
            out[i] = replace(n, pitch=min(cands, key=lambda p: abs(p - n.pitch)))
        return out


def _fit(notes: list[Note], total: float) -> list[Note]:
    out = []
    for n in sorted(notes, key=lambda n: n.start_beat):
        if n.start_beat >= total - 1e-6:
            continue
        if out and n.start_beat < out[-1].end_beat:
            out[-1] = replace(out[-1], duration_beats=n.start_beat - out[-1].start_beat)
        out.append(replace(n, duration_beats=min(n.duration_beats, total - n.start_beat)))
    return [n for n in out if n.duration_beats > 1e-6]
