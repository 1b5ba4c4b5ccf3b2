"""Meter of a hummed melody, from its notes: 4/4 (2/4 too), 3/4 or 6/8.

1. Grid. The tempo estimator's beat and phase (`listen.tempo`) give the grid step: half a beat,
   or a third of one when the onsets fit that finer triple grid clearly better (a 6/8 tune whose
   dotted-quarter pulse was heard as the beat). Onsets are snapped to the grid with a local phase
   that follows the singer's drift (the circular mean of nearby onset phases, unwrapped).
2. Readings. Each meter is tried with the grid step read as an eighth or a sixteenth note (4/4
   and 3/4 also as a quarter note), at every bar phase; 4/4 also as pairs of 2/4 bars and with a
   pop-song profile.
3. Evidence per reading and phase, weighed by a log-linear score (`MeterParams.weights`):
   - onsets: mean log-likelihood per grid step of where notes start (and where none does) under
     the meter's onset profile, the probability of a note starting on each sixteenth of the bar;
   - durations: mean log-likelihood of which notes are long (a quarter note or more), under the
     meter's long-note profile (long notes fall on strong beats);
   - loudness: how much louder the notes on the bar's strong pulses are than the others;
   - phrase: the last note starts on a downbeat, it ends on a bar line, the first note starts on
     a downbeat (no pickup);
   - repetition: the share of notes whose rhythm (time to the next note) and melody (step to
     the next note) come back one bar and two bars later;
   - tempo: a preference per meter for the felt beat (a quarter note in 4/4 and 3/4, a dotted
     quarter in 6/8), and a bias per meter.
4. Each meter's score is the log-sum-exp over its readings and phases; their softmax is the
   probability. 3/4 or 6/8 is answered only when its probability reaches `min_confidence`:
   otherwise 4/4 (a waltz heard in 4/4 still makes a song; a 4/4 song forced into 3/4 does not).

The profiles count onsets in folk tunes of the music21 corpus that `bench/meter.py` does not
test on, and in POP909 training songs (001-800); the weights are fitted on half A of the
benchmark's hums. `python bench/meter.py --tune` rebuilds both and prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.listen.tempo import beat_grid, estimate_tempo, onset_weights
from tunesmith.score import SungNote

METERS = ("4/4", "3/4", "6/8")
MIN_NOTES = 8  # fewer notes than this: 4/4, confidence 0
LONG_SIXTEENTHS = 4  # a note is long from a quarter note up
LEAP_SEMITONES = 0.5  # melody repeats: same step to the next note within this
REFERENCE_BPM = 100.0  # the tempo preference is quadratic in log2(felt beat / this)


class MeterInputError(TunesmithError):
    """The notes given for reading the meter do not make sense together."""


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """One bar of a meter, per sixteenth note: the probability that a note starts there, and
    that a note starting there is long (a quarter note or more)."""

    onset: tuple[float, ...]
    long: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Reading:
    """A way to read the grid: `meter` with bars shaped like `profile`, each grid step being
    `sixteenths` sixteenth notes (2: an eighth, 1: a sixteenth, 4: a quarter note, when the
    tempo estimator's beat was a half note, as in a brisk waltz)."""

    meter: str
    profile: str
    sixteenths: int


READINGS = (
    Reading("4/4", "4/4", 2), Reading("4/4", "4/4", 1), Reading("4/4", "4/4", 4),
    Reading("4/4", "2/4", 2), Reading("4/4", "2/4", 1),
    Reading("4/4", "pop", 2), Reading("4/4", "pop", 1),
    Reading("3/4", "3/4", 2), Reading("3/4", "3/4", 1), Reading("3/4", "3/4", 4),
    Reading("6/8", "6/8", 2), Reading("6/8", "6/8", 1),
)
STRONG_SIXTEENTHS = {"4/4": (0, 8), "2/4": (0,), "pop": (0, 8), "3/4": (0,), "6/8": (0, 6)}

FEATURES = (
    "onsets", "long notes", "loudness",
    "last note on a downbeat", "first note on a downbeat", "ends on a bar line",
    "rhythm repeats a bar later", "melody repeats a bar later",
    "rhythm repeats two bars later", "melody repeats two bars later",
    "tempo 4/4", "tempo^2 4/4", "tempo 3/4", "tempo^2 3/4", "tempo 6/8", "tempo^2 6/8",
    "bias 3/4", "bias 6/8",
)
REPETITION_FEATURES = tuple(i for i, name in enumerate(FEATURES) if "repeats" in name)

# Tuned by `python bench/meter.py --tune` (profiles: music21 corpus tunes outside the benchmark
# and POP909 songs 001-800; weights: half A of the benchmark's hums).
DEFAULT_PROFILES: dict[str, MeterProfile] = {
    "4/4": MeterProfile(
        onset=(0.993, 0.032, 0.15, 0.045, 0.638, 0.024, 0.379, 0.058,
               0.836, 0.017, 0.178, 0.026, 0.779, 0.023, 0.435, 0.057),
        long=(0.803, 0.034, 0.03, 0.025, 0.562, 0.045, 0.006, 0.019,
              0.786, 0.062, 0.032, 0.042, 0.51, 0.048, 0.079, 0.098)),
    "2/4": MeterProfile(
        onset=(0.993, 0.206, 0.647, 0.354, 0.861, 0.191, 0.741, 0.303),
        long=(0.261, 0.004, 0.056, 0.002, 0.214, 0.005, 0.06, 0.06)),
    "pop": MeterProfile(
        onset=(0.755, 0.117, 0.527, 0.263, 0.559, 0.144, 0.574, 0.274,
               0.642, 0.117, 0.448, 0.204, 0.534, 0.164, 0.543, 0.283),
        long=(0.344, 0.154, 0.149, 0.106, 0.16, 0.02, 0.095, 0.176,
              0.368, 0.218, 0.152, 0.117, 0.198, 0.052, 0.187, 0.177)),
    "3/4": MeterProfile(
        onset=(0.99, 0.006, 0.233, 0.067, 0.645, 0.011, 0.3, 0.034, 0.843, 0.021, 0.46, 0.06),
        long=(0.721, 0.071, 0.027, 0.019, 0.693, 0.037, 0.027, 0.037, 0.467, 0.04, 0.084, 0.085)),
    "6/8": MeterProfile(
        onset=(0.995, 0.013, 0.494, 0.081, 0.847, 0.019, 0.909, 0.007, 0.467, 0.042, 0.887, 0.049),
        long=(0.427, 0.032, 0.021, 0.005, 0.009, 0.111, 0.45, 0.056, 0.006, 0.01, 0.057, 0.103)),
}
DEFAULT_WEIGHTS = (  # in the order of FEATURES
    9.789, 5.585, 1.721,  # onsets, long notes, loudness
    3.244, 0.368, 2.201,  # last note on a downbeat, first note on a downbeat, ends on a bar line
    8.595, 3.579, 1.806, 7.408,  # rhythm, melody repeat a bar later; rhythm, melody two bars later
    -0.729, 0.392, -2.507, -3.607, -5.878, -5.961,  # tempo preference: 4/4, 3/4, 6/8
    3.797, 0.685,  # bias 3/4, 6/8
)


@dataclass(frozen=True, slots=True)
class MeterParams:
    """How the meter is read (see the module docstring)."""

    weights: tuple[float, ...] = DEFAULT_WEIGHTS  # one per FEATURES
    profiles: Mapping[str, MeterProfile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    min_confidence: float = 0.5  # 3/4 or 6/8 needs at least this probability, else 4/4
    triple_grid_ratio: float = 0.6  # triple grid when its snapping error is below this share
    phase_window_s: float = 0.8  # width (standard deviation) of the local-phase window


DEFAULT_METER_PARAMS = MeterParams()


@dataclass(frozen=True, slots=True)
class MeterEstimate:
    """The meter heard: `beats_per_bar` quarter-note beats, `compound` for 6/8 (three beats
    felt as two dotted-quarter pulses); `confidence` is the probability of the meter answered
    (0 when there were too few notes to tell); `probabilities` per time signature. `tempo_bpm`
    (quarter notes) and `downbeat_s` place the bars of that meter."""

    beats_per_bar: int
    compound: bool
    confidence: float
    probabilities: dict[str, float]
    tempo_bpm: float
    downbeat_s: float

    @property
    def time_signature(self) -> str:
        return f"{2 * self.beats_per_bar}/8" if self.compound else f"{self.beats_per_bar}/4"


@dataclass(frozen=True, slots=True)
class MeterEvidence:
    """Every (reading, bar phase) hypothesis about a melody: `features` (one row each, columns
    as FEATURES), the meter (index into METERS) and reading (index into READINGS) of each row,
    its bar phase in grid steps, the grid step in seconds and the notes' grid positions."""

    features: np.ndarray
    meter: np.ndarray
    reading: np.ndarray
    phase: np.ndarray
    step_s: float
    steps: np.ndarray
    onsets_s: np.ndarray


def estimate_meter(notes: Sequence[SungNote], *, velocities: Sequence[float] | None = None,
                   params: MeterParams = DEFAULT_METER_PARAMS) -> MeterEstimate:
    """The meter of a performed melody, with tempo and first downbeat in that meter.
    `velocities` (one per note, e.g. `note_velocities`) let loud notes count as accents."""
    evidence = meter_evidence(notes, velocities=velocities, params=params)
    if evidence is None:
        tempo = estimate_tempo(notes, beats_per_bar=4)
        return MeterEstimate(4, False, 0.0, {"4/4": 1.0, "3/4": 0.0, "6/8": 0.0},
                             tempo.tempo_bpm, tempo.downbeat_s)
    weights = np.array(params.weights, dtype=np.float64)
    scores = evidence.features @ weights
    per_meter = np.array([_logsumexp(scores[evidence.meter == m]) for m in range(len(METERS))])
    probs = np.exp(per_meter - _logsumexp(per_meter))
    best = int(np.argmax(probs))
    if best != 0 and probs[best] < params.min_confidence:
        best = 0
    probabilities = {m: round(float(p), 3) for m, p in zip(METERS, probs, strict=True)}
    if best == 0:  # 4/4 keeps the tempo estimator's own bars
        tempo = estimate_tempo(notes, beats_per_bar=4)
        return MeterEstimate(4, False, round(float(probs[0]), 3), probabilities,
                             tempo.tempo_bpm, tempo.downbeat_s)
    # Which reading of that meter (grid step, bar phase) places the bars: all the evidence but
    # repetition, which a phrase repeating every two bars gives a reading with bars twice as
    # long just as well.
    rows = np.flatnonzero(evidence.meter == best)
    weights[list(REPETITION_FEATURES)] = 0.0
    row = int(rows[np.argmax(evidence.features[rows] @ weights)])
    reading = READINGS[int(evidence.reading[row])]
    quarter_s = evidence.step_s * 4 / reading.sixteenths
    bar_steps = len(params.profiles[reading.profile].onset) // reading.sixteenths
    first_bar = int(evidence.phase[row]) % bar_steps
    downbeat = float(np.interp(first_bar, evidence.steps, evidence.onsets_s))
    return MeterEstimate(3, best == 2, round(float(probs[best]), 3), probabilities,
                         round(60.0 / quarter_s, 2), round(downbeat, 4))


def meter_evidence(notes: Sequence[SungNote], *, velocities: Sequence[float] | None = None,
                   params: MeterParams = DEFAULT_METER_PARAMS) -> MeterEvidence | None:
    """The evidence `estimate_meter` weighs, one row per hypothesis (None: too few notes)."""
    if velocities is not None and len(velocities) != len(notes):
        raise MeterInputError("give one velocity per note")
    order = sorted(range(len(notes)), key=lambda i: notes[i].onset_s)
    ordered = [notes[i] for i in order]
    if len(ordered) < MIN_NOTES:
        return None
    onsets = np.array([n.onset_s for n in ordered])
    weights = onset_weights(ordered)
    period, phase, _ = beat_grid(onsets, weights)
    steps2, err2 = _snap(onsets, weights, period / 2, phase, params.phase_window_s)
    steps3, err3 = _snap(onsets, weights, period / 3, phase, params.phase_window_s)
    triple = err3 < params.triple_grid_ratio * err2
    step_s = period / 3 if triple else period / 2
    steps = (steps3 if triple else steps2) - (steps3 if triple else steps2).min()
    steps, first = np.unique(steps, return_index=True)  # one note per grid step: the first
    if steps.size < MIN_NOTES:
        return None
    kept = [ordered[i] for i in first]
    pitch = np.array([n.pitch for n in kept])
    loud = np.zeros(steps.size)
    if velocities is not None:
        v = np.asarray(velocities, dtype=np.float64)[order][first]
        spread = float(np.std(v))
        loud = (v - np.median(v)) / spread if spread > 0 else loud
    gaps = np.append(np.diff(steps), max(1, int(round(kept[-1].duration_s / step_s))))
    end = int(steps[-1] + gaps[-1])
    onset_grid = np.zeros(int(steps[-1]) + 1)
    onset_grid[steps] = 1.0
    grid = np.arange(onset_grid.size)
    rep = {}  # repetition features per bar length in steps

    blocks, meters, readings, phases = [], [], [], []
    for r, reading in enumerate(READINGS):
        prof = params.profiles[reading.profile]
        p_on = np.clip(np.asarray(prof.onset), 1e-3, 1 - 1e-3)
        p_long = np.clip(np.asarray(prof.long), 1e-3, 1 - 1e-3)
        bar = p_on.size // reading.sixteenths
        ph = np.arange(bar)[:, None]
        at_grid = ((grid[None, :] - ph) % bar) * reading.sixteenths  # sixteenth in bar
        at_note = ((steps[None, :] - ph) % bar) * reading.sixteenths
        on_ll = (onset_grid * np.log(p_on[at_grid])
                 + (1 - onset_grid) * np.log(1 - p_on[at_grid])).mean(axis=1)
        is_long = (gaps * reading.sixteenths >= LONG_SIXTEENTHS).astype(np.float64)
        long_ll = (is_long * np.log(p_long[at_note])
                   + (1 - is_long) * np.log(1 - p_long[at_note])).mean(axis=1)
        strong = np.isin(at_note, STRONG_SIXTEENTHS[reading.profile])
        n_strong = strong.sum(axis=1)
        accent = np.where((n_strong > 0) & (n_strong < steps.size),
                          (strong @ loud) / np.maximum(n_strong, 1)
                          - (~strong @ loud) / np.maximum(steps.size - n_strong, 1), 0.0)
        if bar not in rep:
            rep[bar] = (*_repetition(steps, gaps, pitch, bar), *_repetition(steps, gaps, pitch, 2 * bar))
        m = METERS.index(reading.meter)
        felt_s = step_s * 4 / reading.sixteenths * (1.5 if reading.meter == "6/8" else 1.0)
        q = np.log2(60.0 / felt_s / REFERENCE_BPM)
        tempo = np.zeros(6)
        tempo[2 * m: 2 * m + 2] = (q, q * q)
        bias = np.array([m == 1, m == 2], dtype=np.float64)
        block = np.column_stack([
            on_ll, long_ll, accent,
            at_note[:, -1] == 0, at_note[:, 0] == 0, (end - ph[:, 0]) % bar == 0,
            np.tile(rep[bar], (bar, 1)), np.tile(tempo, (bar, 1)), np.tile(bias, (bar, 1))])
        blocks.append(block)
        meters.append(np.full(bar, m))
        readings.append(np.full(bar, r))
        phases.append(ph[:, 0])
    return MeterEvidence(features=np.vstack(blocks).astype(np.float64),
                         meter=np.concatenate(meters), reading=np.concatenate(readings),
                         phase=np.concatenate(phases), step_s=float(step_s), steps=steps,
                         onsets_s=onsets[first])


def _snap(onsets: np.ndarray, weights: np.ndarray, step: float, phase: float,
          window_s: float) -> tuple[np.ndarray, float]:
    """Grid step index of each onset, following the local phase of the onsets (a singer drifts),
    and the weighted mean snapping error in steps."""
    x = (onsets - phase) / step
    z = weights * np.exp(2j * np.pi * x)
    near = np.exp(-0.5 * ((onsets[:, None] - onsets[None, :]) / window_s) ** 2)
    local = np.unwrap(np.angle(near @ z)) / (2.0 * np.pi)
    y = x - local
    k = np.round(y).astype(np.int64)
    return k, float(np.sum(weights * np.abs(y - k)) / np.sum(weights))


def _repetition(steps: np.ndarray, gaps: np.ndarray, pitch: np.ndarray, lag: int
                ) -> tuple[float, float]:
    """Share of notes (with room for a repeat) whose time to the next note, and step to the
    next note, come back `lag` grid steps later."""
    base = np.flatnonzero(steps + lag <= steps[-1])
    if base.size == 0:
        return 0.0, 0.0
    j = np.searchsorted(steps, steps[base] + lag)
    hit = steps[np.minimum(j, steps.size - 1)] == steps[base] + lag
    i, j = base[hit], j[hit]
    rhythm = float(np.sum(gaps[i] == gaps[j])) / base.size
    has_next = (i + 1 < steps.size) & (j + 1 < steps.size)
    i, j = i[has_next], j[has_next]
    melody = float(np.sum(np.abs((pitch[i + 1] - pitch[i]) - (pitch[j + 1] - pitch[j]))
                          < LEAP_SEMITONES)) / base.size
    return rhythm, melody


def _logsumexp(x: np.ndarray) -> float:
    if x.size == 0:
        return -np.inf
    top = float(np.max(x))
    return top + float(np.log(np.sum(np.exp(x - top))))
