"""The learned melody model: events, features and NumPy inference.

A melody is a sequence of note events, each three tokens on a sixteenth-note grid:
- `gap`: rest before the note, 0-16 steps, or "longer" (a phrase break);
- `dur`: the note's length, 1-16 steps, or "longer";
- `interval`: semitones from the previous note, -12..+12 (larger leaps clipped to an octave).

A GRU reads the notes so far (their tokens, scale degree in the key, register, chord-tone flag,
metric level, section and position in the phrase) and three heads predict the next note's gap,
then its duration, then its interval. Each head adds to its own logits a learned, context-gated
score of features of every candidate: the metric level where a candidate onset or ending would
fall, and whether a candidate pitch is a tone of the chord sounding at the note, of the key, the
tonic, and how far it sits from the section's register centre. That is how the model is
conditioned on the chord at the note, the position in the bar and the section type, in any meter.

Training (torch, `training/train_melody.py`) and inference (NumPy, here) share these feature
functions, so a song is encoded the same way in both.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.meter import METRIC_LEVELS, STEPS_PER_BEAT, Meter
from tunesmith.errors import TunesmithError
from tunesmith.score import Note
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"  # the weights shipped in the package

MODEL_FILE = "melody.npz"
MAX_GAP = 16
MAX_DUR = 16
N_GAP = MAX_GAP + 2  # 0..16 steps, 17 = longer
N_DUR = MAX_DUR + 1  # 1..16 steps (index 0..15), 16 = longer
MAX_INTERVAL = 12
N_INT = 2 * MAX_INTERVAL + 1
LONG_GAP_STEPS = 24  # what "longer" means when generating
LONG_DUR_STEPS = 24
SECTION_KINDS = ("other", "verse", "prechorus", "chorus", "bridge")
N_SECTION = len(SECTION_KINDS)
PHRASE_BARS = 4
LOOKBACK_BARS = (1, 2, 4, 8)  # repetition features: what happened this many bars earlier
N_LOOK = len(LOOKBACK_BARS)
N_INPUT = (N_GAP + N_DUR + N_INT + 12 + 1 + 2 + METRIC_LEVELS + N_SECTION + PHRASE_BARS + N_LOOK
           + 1)
N_COND = N_SECTION + METRIC_LEVELS + PHRASE_BARS + 2  # + fraction of section, minor key
N_PHI_TIME = METRIC_LEVELS + 2 + N_LOOK
N_PHI_PITCH = 7 + N_LOOK
INTERVALS = np.arange(-MAX_INTERVAL, MAX_INTERVAL + 1)


class MelodyModelError(TunesmithError):
    """The shipped melody model is missing or damaged (reinstall tunesmith)."""


# ---------------------------------------------------------------- events

def gap_token(steps: int) -> int:
    return steps if 0 <= steps <= MAX_GAP else MAX_GAP + 1


def gap_steps(token: int) -> int:
    return token if token <= MAX_GAP else LONG_GAP_STEPS


def dur_token(steps: int) -> int:
    steps = max(1, steps)
    return steps - 1 if steps <= MAX_DUR else MAX_DUR


def dur_steps(token: int) -> int:
    return token + 1 if token < MAX_DUR else LONG_DUR_STEPS


def interval_token(semitones: int) -> int:
    return int(np.clip(semitones, -MAX_INTERVAL, MAX_INTERVAL)) + MAX_INTERVAL


def to_steps(beats: float) -> int:
    return int(round(beats * STEPS_PER_BEAT))


@dataclass(frozen=True, slots=True)
class ChordTones:
    """The chord sounding at a note: root pitch class (None: no chord) and its pitch classes."""

    root: int | None
    pitch_classes: frozenset[int]


NO_CHORD = ChordTones(None, frozenset())


@dataclass(frozen=True, slots=True)
class NoteContext:
    """What a note is conditioned on: key, chord at its onset, section, register centre."""

    key: Key
    chord: ChordTones
    section: str  # one of SECTION_KINDS (others map to "other")
    section_start: float  # beats
    section_beats: float
    centre: float  # register centre of the section (MIDI pitch)


@dataclass(frozen=True, slots=True)
class Event:
    """A note as the model sees it."""

    gap: int
    dur: int
    interval: int


class History:
    """The notes so far (in time order), for the look-back features: does a candidate repeat
    the onset, the length or the pitch found 1, 2, 4 or 8 bars earlier?"""

    def __init__(self, notes: Iterable[Note] = ()) -> None:
        self._starts: list[int] = []
        self._notes: list[Note] = []
        self._by_step: dict[int, Note] = {}
        for n in notes:
            self.add(n)

    def add(self, note: Note) -> None:
        step = to_steps(note.start_beat)
        self._starts.append(step)
        self._notes.append(note)
        self._by_step[step] = note

    def starting_at(self, step: int) -> Note | None:
        return self._by_step.get(step)

    def sounding_at(self, step: int) -> int | None:
        i = bisect_right(self._starts, step) - 1
        if i < 0:
            return None
        n = self._notes[i]
        return n.pitch if step < to_steps(n.end_beat) else None


def events(notes: Sequence[Note]) -> list[Event]:
    """Tokens of a monophonic line; the first note's gap and interval are 0."""
    out = []
    for i, n in enumerate(notes):
        if i == 0:
            out.append(Event(0, dur_token(to_steps(n.duration_beats)), interval_token(0)))
            continue
        prev = notes[i - 1]
        gap = to_steps(n.start_beat) - to_steps(prev.end_beat)
        out.append(Event(gap_token(max(0, gap)), dur_token(to_steps(n.duration_beats)),
                         interval_token(n.pitch - prev.pitch)))
    return out


# ---------------------------------------------------------------- features

def _section_index(kind: str) -> int:
    kind = {"solo": "verse", "intro": "other", "outro": "other"}.get(kind, kind)
    return SECTION_KINDS.index(kind) if kind in SECTION_KINDS else 0


def _phrase_bar(beat: float, ctx: NoteContext, meter: Meter) -> int:
    return int((beat - ctx.section_start) // meter.beats_per_bar) % PHRASE_BARS


def cond_vector(beat: float, ctx: NoteContext, meter: Meter) -> np.ndarray:
    """Section, metric level and phrase position of a time point, fraction of the section, mode."""
    v = np.zeros(N_COND, dtype=np.float32)
    v[_section_index(ctx.section)] = 1
    v[N_SECTION + meter.level(beat)] = 1
    v[N_SECTION + METRIC_LEVELS + _phrase_bar(beat, ctx, meter)] = 1
    frac = (beat - ctx.section_start) / max(ctx.section_beats, 1e-6)
    v[-2] = float(np.clip(frac, 0.0, 1.0))
    v[-1] = 1.0 if ctx.key.mode == "minor" else 0.0
    return v


def input_vector(note: Note, ev: Event | None, ctx: NoteContext, meter: Meter,
                 history: History | None = None) -> np.ndarray:
    """The GRU input for a realised note (`ev` None: the start-of-melody symbol); `history`
    holds the notes before it."""
    v = np.zeros(N_INPUT, dtype=np.float32)
    if ev is None:
        v[-1] = 1.0
        return v
    v[ev.gap] = 1
    v[N_GAP + ev.dur] = 1
    v[N_GAP + N_DUR + ev.interval] = 1
    o = N_GAP + N_DUR + N_INT
    v[o + (note.pitch - ctx.key.tonic) % 12] = 1
    o += 12
    v[o] = (note.pitch - ctx.centre) / 12.0
    v[o + 1] = 1.0 if note.pitch % 12 in ctx.chord.pitch_classes else 0.0
    v[o + 2] = 1.0 if ctx.chord.root is not None and note.pitch % 12 == ctx.chord.root else 0.0
    o += 3
    v[o + meter.level(note.start_beat)] = 1
    o += METRIC_LEVELS
    v[o + _section_index(ctx.section)] = 1
    o += N_SECTION
    v[o + _phrase_bar(note.start_beat, ctx, meter)] = 1
    o += PHRASE_BARS
    if history is not None:
        step = to_steps(note.start_beat)
        for j, bars in enumerate(LOOKBACK_BARS):
            v[o + j] = history.sounding_at(step - bars * meter.steps_per_bar) == note.pitch
    return v


def _time_phi(beat: float, meter: Meter, origin_bar: int) -> np.ndarray:
    phi = np.zeros(N_PHI_TIME, dtype=np.float32)
    phi[meter.level(beat)] = 1
    bar = int(np.floor(beat / meter.beats_per_bar + 1e-9))
    phi[METRIC_LEVELS] = 1.0 if bar != origin_bar else 0.0  # crosses a bar line
    phi[METRIC_LEVELS + 1] = 1.0 if abs(beat / meter.beats_per_bar - round(
        beat / meter.beats_per_bar)) < 1e-6 and bar != origin_bar else 0.0
    return phi


def gap_phi(prev_end: float, meter: Meter, history: History | None = None) -> np.ndarray:
    """[N_GAP, N_PHI_TIME]: where each candidate onset would fall, and whether a note started
    there 1, 2, 4 or 8 bars earlier."""
    origin = int(np.floor(prev_end / meter.beats_per_bar + 1e-9))
    phi = np.stack([_time_phi(prev_end + gap_steps(g) / STEPS_PER_BEAT, meter, origin)
                    for g in range(N_GAP)])
    if history is not None:
        base = to_steps(prev_end)
        for g in range(N_GAP):
            for j, bars in enumerate(LOOKBACK_BARS):
                back = base + gap_steps(g) - bars * meter.steps_per_bar
                phi[g, METRIC_LEVELS + 2 + j] = back < base and history.starting_at(back) is not None
    return phi


def dur_phi(onset: float, meter: Meter, history: History | None = None) -> np.ndarray:
    """[N_DUR, N_PHI_TIME]: where each candidate note would end, and whether the note that
    started 1, 2, 4 or 8 bars earlier had that length."""
    origin = int(np.floor(onset / meter.beats_per_bar + 1e-9))
    phi = np.stack([_time_phi(onset + dur_steps(d) / STEPS_PER_BEAT, meter, origin)
                    for d in range(N_DUR)])
    if history is not None:
        step = to_steps(onset)
        for j, bars in enumerate(LOOKBACK_BARS):
            before = history.starting_at(step - bars * meter.steps_per_bar)
            if before is not None:
                phi[dur_token(to_steps(before.duration_beats)), METRIC_LEVELS + 2 + j] = 1
    return phi


def pitch_phi(prev_pitch: int, ctx: NoteContext, onset: float | None = None,
              meter: Meter | None = None, history: History | None = None) -> np.ndarray:
    """[N_INT, N_PHI_PITCH]: chord tone, chord root, scale tone, tonic, register (z, z^2), leap,
    and whether the pitch sounded 1, 2, 4 or 8 bars before `onset`."""
    pitches = prev_pitch + INTERVALS
    pcs = pitches % 12
    scale = set(ctx.key.scale)
    phi = np.zeros((N_INT, N_PHI_PITCH), dtype=np.float32)
    phi[:, 0] = [pc in ctx.chord.pitch_classes for pc in pcs]
    phi[:, 1] = (pcs == ctx.chord.root) if ctx.chord.root is not None else 0.0
    phi[:, 2] = [pc in scale for pc in pcs]
    phi[:, 3] = pcs == ctx.key.tonic
    z = (pitches - ctx.centre) / 6.0
    phi[:, 4] = z
    phi[:, 5] = z * z
    phi[:, 6] = np.abs(INTERVALS) > 7
    if history is not None and onset is not None and meter is not None:
        step = to_steps(onset)
        for j, bars in enumerate(LOOKBACK_BARS):
            p = history.sounding_at(step - bars * meter.steps_per_bar)
            if p is not None:
                phi[:, 7 + j] = pitches == p
    return phi


def gap_cond(prev: Note, ctx: NoteContext, meter: Meter) -> np.ndarray:
    return cond_vector(prev.end_beat, ctx, meter)


def dur_cond(onset: float, gap: int, ctx: NoteContext, meter: Meter) -> np.ndarray:
    g = np.zeros(N_GAP, dtype=np.float32)
    g[gap] = 1
    return np.concatenate([cond_vector(onset, ctx, meter), g])


def pitch_cond(onset: float, dur: int, ctx: NoteContext, meter: Meter) -> np.ndarray:
    d = np.zeros(N_DUR, dtype=np.float32)
    d[dur] = 1
    root = np.zeros(13, dtype=np.float32)
    root[12 if ctx.chord.root is None else (ctx.chord.root - ctx.key.tonic) % 12] = 1
    return np.concatenate([cond_vector(onset, ctx, meter), d, root])


N_COND_GAP = N_COND
N_COND_DUR = N_COND + N_GAP
N_COND_PITCH = N_COND + N_DUR + 13


@dataclass(slots=True)
class EncodedMelody:
    """A whole melody as arrays, for training and for scoring (teacher forcing). Row i of the
    inputs is note i-1 (row 0 the start symbol); rows of the heads predict note i. Targets of
    note 0 are masked out (it has no previous note)."""

    inputs: np.ndarray  # [N, N_INPUT]
    gap_cond: np.ndarray  # [N, N_COND_GAP]
    gap_phi: np.ndarray  # [N, N_GAP, N_PHI_TIME]
    dur_cond: np.ndarray
    dur_phi: np.ndarray
    pitch_cond: np.ndarray
    pitch_phi: np.ndarray
    gap: np.ndarray  # [N] targets
    dur: np.ndarray
    interval: np.ndarray
    mask: np.ndarray  # [N] bool: note has a previous note


def encode(notes: Sequence[Note], contexts: Sequence[NoteContext], meter: Meter) -> EncodedMelody:
    """Encode a monophonic melody with the context of each note."""
    evs = events(notes)
    n = len(notes)
    inputs = np.zeros((n, N_INPUT), np.float32)
    gc = np.zeros((n, N_COND_GAP), np.float32)
    gp = np.zeros((n, N_GAP, N_PHI_TIME), np.float32)
    dc = np.zeros((n, N_COND_DUR), np.float32)
    dp = np.zeros((n, N_DUR, N_PHI_TIME), np.float32)
    pc = np.zeros((n, N_COND_PITCH), np.float32)
    pp = np.zeros((n, N_INT, N_PHI_PITCH), np.float32)
    history = History()
    for i, (note, ev, ctx) in enumerate(zip(notes, evs, contexts, strict=True)):
        if i == 0:
            inputs[0] = input_vector(note, None, ctx, meter)
            continue
        prev = notes[i - 1]
        inputs[i] = input_vector(prev, evs[i - 1], contexts[i - 1], meter, history)
        history.add(prev)
        gc[i] = gap_cond(prev, contexts[i - 1], meter)
        gp[i] = gap_phi(prev.end_beat, meter, history)
        dc[i] = dur_cond(note.start_beat, ev.gap, ctx, meter)
        dp[i] = dur_phi(note.start_beat, meter, history)
        pc[i] = pitch_cond(note.start_beat, ev.dur, ctx, meter)
        pp[i] = pitch_phi(prev.pitch, ctx, note.start_beat, meter, history)
    mask = np.ones(n, bool)
    mask[0] = False
    return EncodedMelody(inputs, gc, gp, dc, dp, pc, pp,
                         np.array([e.gap for e in evs]), np.array([e.dur for e in evs]),
                         np.array([e.interval for e in evs]), mask)


# ---------------------------------------------------------------- NumPy inference

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@dataclass(slots=True)
class _Head:
    w1: np.ndarray
    b1: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    w_gate: np.ndarray
    b_gate: np.ndarray

    def logits(self, h: np.ndarray, cond: np.ndarray, phi: np.ndarray) -> np.ndarray:
        x = np.concatenate([h, cond], axis=-1)
        hid = np.maximum(x @ self.w1.T + self.b1, 0.0)
        base = hid @ self.w_out.T + self.b_out
        gate = hid @ self.w_gate.T + self.b_gate
        return base + np.einsum("...f,...kf->...k", gate, phi)


class MelodyModel:
    """GRU melody model with gap, duration and interval heads (weights from `melody.npz`)."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        try:
            self.w_ih = weights["gru.weight_ih_l0"]
            self.w_hh = weights["gru.weight_hh_l0"]
            self.b_ih = weights["gru.bias_ih_l0"]
            self.b_hh = weights["gru.bias_hh_l0"]
            self.heads = {name: _Head(*(weights[f"{name}.{p}"] for p in (
                "fc.weight", "fc.bias", "out.weight", "out.bias", "gate.weight", "gate.bias")))
                for name in ("gap", "dur", "pitch")}
        except KeyError as exc:
            raise MelodyModelError(f"melody model weights lack {exc.args[0]}") from exc
        self.hidden = self.w_hh.shape[1]
        if self.w_ih.shape[1] != N_INPUT:
            raise MelodyModelError("melody model weights do not match this version of tunesmith")

    @classmethod
    def load(cls, path: Path | None = None) -> MelodyModel:
        try:
            with np.load(path or MODEL_DIR / MODEL_FILE) as data:
                weights = {k: data[k].astype(np.float32) for k in data.files}
        except (OSError, ValueError, FileNotFoundError) as exc:
            raise MelodyModelError(f"cannot load the melody model: {exc}") from exc
        return cls(weights)

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.hidden, dtype=np.float32)

    def step(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        """One GRU step (PyTorch's equations): new state after reading input `x`."""
        gi = x @ self.w_ih.T + self.b_ih
        gh = h @ self.w_hh.T + self.b_hh
        n_h = self.hidden
        r = _sigmoid(gi[..., :n_h] + gh[..., :n_h])
        z = _sigmoid(gi[..., n_h:2 * n_h] + gh[..., n_h:2 * n_h])
        n = np.tanh(gi[..., 2 * n_h:] + r * gh[..., 2 * n_h:])
        return (1.0 - z) * n + z * h

    def head_logits(self, head: str, h: np.ndarray, cond: np.ndarray, phi: np.ndarray) -> np.ndarray:
        return self.heads[head].logits(h, cond, phi)

    def run(self, enc: EncodedMelody) -> np.ndarray:
        """States before each note ([N, hidden]) for a teacher-forced melody."""
        states = np.zeros((len(enc.inputs), self.hidden), np.float32)
        h = self.initial_state()
        for i, x in enumerate(enc.inputs):
            h = self.step(h, x)
            states[i] = h
        return states

    def note_log_likelihood(self, enc: EncodedMelody) -> np.ndarray:
        """[N, 3] natural-log probabilities of each note's gap, duration and interval tokens
        (row 0, which has no previous note, is NaN)."""
        states = self.run(enc)
        out = np.full((len(enc.inputs), 3), np.nan)
        m = enc.mask
        idx = np.flatnonzero(m)
        if not len(idx):
            return out
        for col, (name, cond, phi, target) in enumerate((
                ("gap", enc.gap_cond, enc.gap_phi, enc.gap),
                ("dur", enc.dur_cond, enc.dur_phi, enc.dur),
                ("pitch", enc.pitch_cond, enc.pitch_phi, enc.interval))):
            lp = log_softmax(self.head_logits(name, states[idx], cond[idx], phi[idx]))
            out[idx, col] = lp[np.arange(len(idx)), target[idx]]
        return out
