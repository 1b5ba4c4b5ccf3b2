"""Write a chorus hook from scratch over a progression: a 4- or 8-bar phrase built the way
memorable hooks are built: one rhythmic motif stated, restated over the next chord (a sequence:
same rhythm, same contour, moved to fit the harmony), stated again, then a cadence bar that comes
home to the tonic. Strong beats land on chord tones, the line moves mostly by step with one leap
to a single high point, in a singable range.

Many candidates are drawn (seeded); each is scored on those rules and, when the learned melody
model from `tunesmith.compose` is available, on how natural it finds the line (mean
log-likelihood per note), and on not repeating a training song (the originality index). The best
candidate is the hook. Mood sets the rhythm: calm and sparse prompts get long notes, energetic
ones busier, more syncopated lines."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Chord, Note
from tunesmith.theory import Key

log = logging.getLogger(__name__)

CENTRE = 67  # G4: middle of a comfortable lead range
LOW, HIGH = 57, 79
CANDIDATES = 40
MODEL_WEIGHT = 0.6  # weight of the melody model's mean log-likelihood per note


class HookError(TunesmithError):
    """A hook cannot be written for this progression."""


@dataclass(frozen=True, slots=True)
class HookScore:
    """Why a candidate won: the rule score, the model's mean log-likelihood per note (None
    when the model is not available) and the longest run shared with a training song."""

    rules: float
    model: float | None
    copied_notes: int

    @property
    def total(self) -> float:
        copy_penalty = 3.0 if self.copied_notes >= 8 else 0.0
        return self.rules + (MODEL_WEIGHT * self.model if self.model is not None else 0.0) \
            - copy_penalty


@dataclass(frozen=True, slots=True)
class WrittenHook:
    notes: tuple[Note, ...]
    bars: int
    score: HookScore


# ---------------------------------------------------------------- pitch helpers

def _bar_scale(key: Key, chord: Chord) -> list[int]:
    """The key's scale with the chord's tones put in (a V chord in minor brings its leading
    tone): the pitch classes a line may use over this chord."""
    scale = list(key.scale)
    for t in chord.chord.pitch_classes:
        if t in scale:
            continue
        near = [i for i, s in enumerate(scale) if (t - s) % 12 in (1, 11)]
        if near:
            scale[near[0]] = t
    return sorted(set(scale))


def _scale_pitches(pcs: Sequence[int]) -> np.ndarray:
    return np.array([p for p in range(LOW - 12, HIGH + 13) if p % 12 in pcs])


def _step(pitch: int, steps: int, pcs: Sequence[int]) -> int:
    grid = _scale_pitches(pcs)
    i = int(np.argmin(np.abs(grid - pitch)))
    return int(grid[int(np.clip(i + steps, 0, len(grid) - 1))])


def _nearest(pitch: float, pcs: Sequence[int]) -> int:
    grid = _scale_pitches(pcs)
    return int(grid[int(np.argmin(np.abs(grid - pitch) + 0.01 * (grid > pitch)))])


# ---------------------------------------------------------------- rhythm

@dataclass(frozen=True, slots=True)
class _Cell:
    onsets: tuple[float, ...]  # beats within the bar
    durations: tuple[float, ...]


def _activity(valence: float, arousal: float, density: float, tempo_bpm: float) -> float:
    """0 (few long notes) .. 1 (busy): energy and density raise it, fast tempos lower it (the
    notes per second a voice can carry)."""
    a = 0.45 + 0.4 * arousal + 0.3 * (density - 0.5) + 0.05 * valence
    a -= 0.2 * math.log2(max(tempo_bpm, 40.0) / 100.0)
    return float(np.clip(a, 0.0, 1.0))


def _rhythm_cell(beats_per_bar: int, activity: float, rng: np.random.Generator) -> _Cell:
    grid = 0.5 if activity < 0.85 else 0.25
    slots = np.arange(0, beats_per_bar, grid)
    n_target = int(np.clip(round(1.5 + activity * 1.6 * beats_per_bar), 2, len(slots) - 1))
    weight = np.array([3.0 if s == 0 else 1.6 if abs(s - round(s)) < 1e-9 else
                       0.5 + 0.9 * activity for s in slots])
    start = 0.0 if rng.random() < 0.7 else grid * int(rng.integers(1, 3))
    weight[slots < start] = 0.0
    chosen = {start}
    while len(chosen) < n_target:
        free = np.array([0.0 if s in chosen else w for s, w in zip(slots, weight, strict=True)])
        if free.sum() <= 0:
            break
        chosen.add(float(rng.choice(slots, p=free / free.sum())))
    onsets = sorted(chosen)
    durs = []
    for i, o in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else float(beats_per_bar)
        gap = nxt - o
        # Mostly legato; a short note now and then leaves a breath.
        durs.append(gap if gap <= 1.0 or rng.random() < 0.6 else max(grid, gap - grid))
    # The cell ends with a held note or a breath before the next bar.
    if rng.random() < 0.35 and durs[-1] > grid:
        durs[-1] -= grid
    return _Cell(tuple(onsets), tuple(durs))


def _cadence_cell(cell: _Cell, beats_per_bar: int) -> _Cell:
    """The cell's opening, then a long note to the end of the bar."""
    keep = [o for o in cell.onsets if o < beats_per_bar / 2][:2] or [0.0]
    last = keep[-1] if len(keep) > 1 else 0.0
    onsets = keep[:-1] + [last] if len(keep) > 1 else [0.0]
    durs = [onsets[i + 1] - onsets[i] for i in range(len(onsets) - 1)]
    durs.append(beats_per_bar - onsets[-1] - 0.25)
    return _Cell(tuple(onsets), tuple(durs))


# ---------------------------------------------------------------- one candidate

def _motif_steps(n: int, rng: np.random.Generator) -> list[int]:
    """Scale-step moves between the cell's notes: mostly steps, a repeated note, one leap."""
    moves = list(rng.choice([-1, 1, 1, 0, -1, 2, -2], size=max(n - 1, 0)))
    if n >= 3 and rng.random() < 0.6:
        moves[int(rng.integers(0, n - 1))] = int(rng.choice([3, 4, -3, 2]))
    return [int(m) for m in moves]


def _realise(cell: _Cell, steps: list[int], *, bar: int, beats_per_bar: int, chord: Chord,
             key: Key, target: float, velocity: int) -> list[Note]:
    """The motif over one bar: the first note the chord tone nearest `target`, then the
    motif's steps in the bar's scale; notes on a beat snap to the nearest chord tone."""
    pcs = _bar_scale(key, chord)
    tones = chord.chord.pitch_classes
    pitch = _nearest(target, tones)
    out = []
    for i, (o, d) in enumerate(zip(cell.onsets, cell.durations, strict=True)):
        if i > 0:
            pitch = _step(pitch, steps[i - 1] if i - 1 < len(steps) else 0, pcs)
            if abs(o - round(o)) < 1e-9 and pitch % 12 not in tones:
                pitch = _nearest(pitch, tones)
        accent = 8 if o == 0 else 0
        out.append(Note(bar * beats_per_bar + o, d, int(np.clip(pitch, LOW, HIGH)),
                        min(127, velocity + accent)))
    return out


def _plan_targets(bars: int, rng: np.random.Generator) -> list[float]:
    """Register centre per bar: an arch with its peak late (bar 3 of 4, bar 6 of 8)."""
    peak = (bars * 3) // 4 - 1 if bars >= 4 else bars - 1
    lift = float(rng.uniform(3.0, 6.0))
    return [CENTRE - 2 + lift * math.exp(-((b - peak) / (bars / 4)) ** 2) for b in range(bars)]


def _candidate(progression: Sequence[Chord], key: Key, *, beats_per_bar: int, activity: float,
               rng: np.random.Generator) -> list[Note]:
    bars = len(progression)
    cell = _rhythm_cell(beats_per_bar, activity, rng)
    answer = _rhythm_cell(beats_per_bar, activity, rng) if rng.random() < 0.4 else cell
    steps = _motif_steps(len(cell.onsets), rng)
    answer_steps = _motif_steps(len(answer.onsets), rng) if answer is not cell else steps
    targets = _plan_targets(bars, rng)
    velocity = int(rng.integers(90, 100))
    notes: list[Note] = []
    for b, chord in enumerate(progression):
        phrase_pos = b % 4
        last_bar = b == bars - 1
        if last_bar:
            c = _cadence_cell(cell, beats_per_bar)
            st = steps
        elif phrase_pos == 3:  # end of the first 4-bar phrase of 8: an open cadence
            c, st = _cadence_cell(answer, beats_per_bar), answer_steps
        elif phrase_pos == 1:
            c, st = answer, answer_steps
        else:
            c, st = cell, steps
        bar_notes = _realise(c, st, bar=b, beats_per_bar=beats_per_bar, chord=chord, key=key,
                             target=targets[b], velocity=velocity)
        if last_bar:
            # Home: the last note is the tonic (the chord's root if the tonic does not belong
            # to the last chord, as over a loop that ends on V), nearest the line.
            prev = notes[-1].pitch if notes else CENTRE
            home = key.tonic if key.tonic in chord.chord.pitch_classes else chord.chord.root
            end = min((p for p in range(LOW, HIGH + 1) if p % 12 == home),
                      key=lambda p: abs(p - prev))
            bar_notes[-1] = replace(bar_notes[-1], pitch=end)
        notes += bar_notes
    return notes


# ---------------------------------------------------------------- scoring

def rule_score(notes: Sequence[Note], progression: Sequence[Chord], *, beats_per_bar: int,
               key: Key) -> float:
    """Higher is more singable and hook-like (0 is a reasonable line; each fault costs)."""
    if len(notes) < 3:
        return -10.0
    pitches = np.array([n.pitch for n in notes])
    iv = np.abs(np.diff(pitches))
    s = 0.0
    # Strong beats on chord tones.
    strong = [n for n in notes if abs(n.start_beat - round(n.start_beat)) < 1e-9]
    fit = [n.pitch % 12 in progression[min(int(n.start_beat // beats_per_bar),
                                           len(progression) - 1)].chord.pitch_classes
           for n in strong]
    s += 2.0 * (float(np.mean(fit)) if fit else 0.0)
    # Mostly steps, some repeats, few big leaps; a leap is followed by a step back.
    step_share = float(np.mean((iv >= 1) & (iv <= 2)))
    s -= 3.0 * abs(step_share - 0.6)
    s -= 1.5 * float(np.mean(iv == 0) > 0.4)
    s -= 1.0 * float(np.sum(iv > 7))
    for i in range(len(iv) - 1):
        if iv[i] >= 5 and not (1 <= iv[i + 1] <= 2
                               and np.sign(pitches[i + 2] - pitches[i + 1]) != np.sign(pitches[i + 1] - pitches[i])):
            s -= 0.4
    # A singable range with one high point in the second half.
    span = int(pitches.max() - pitches.min())
    s -= 0.3 * max(0, 5 - span) + 0.4 * max(0, span - 13)
    top = np.flatnonzero(pitches == pitches.max())
    s += 0.5 if len(top) == 1 else -0.2 * (len(top) - 1)
    total_beats = len(progression) * beats_per_bar
    s += 0.5 if notes[int(top[0])].start_beat >= total_beats * 0.4 else 0.0
    # Ends at home (or on the last chord's root).
    s += 0.5 if notes[-1].pitch % 12 in (key.tonic, progression[-1].chord.root) else -1.0
    return s


def _model_scorer(key: Key, progression: Sequence[Chord], *, beats_per_bar: int,
                  compound: bool) -> object | None:
    """A function notes -> mean log-likelihood per note under the learned melody model, or
    None when the model cannot be used (the rules then decide alone)."""
    try:
        from tunesmith.compose.melody_model import (
            ChordTones,
            MelodyModel,
            NoteContext,
            encode,
        )
        from tunesmith.compose.meter import Meter

        model = MelodyModel.load()
        meter = Meter(beats_per_bar, compound)
    except (ImportError, AttributeError, TunesmithError, TypeError) as exc:
        log.info("hook: melody model not used (%s)", exc)
        return None
    total = len(progression) * beats_per_bar

    def score(notes: Sequence[Note]) -> float | None:
        try:
            ctxs = []
            for n in notes:
                bar = min(int(n.start_beat // beats_per_bar), len(progression) - 1)
                c = progression[bar].chord
                ctxs.append(NoteContext(key, ChordTones(c.root, frozenset(c.pitch_classes)),
                                        "chorus", 0.0, float(total), float(CENTRE)))
            ll = model.note_log_likelihood(encode(list(notes), ctxs, meter))
            return float(np.nanmean(ll.sum(axis=1)))
        except (TypeError, ValueError, AttributeError, TunesmithError) as exc:
            log.info("hook: melody model failed (%s)", exc)
            return None

    return score


def _copy_checker() -> object | None:
    try:
        from tunesmith.compose.originality import OriginalityIndex

        index = OriginalityIndex.load()
    except (ImportError, AttributeError, TunesmithError) as exc:
        log.info("hook: originality index not used (%s)", exc)
        return None

    def longest(notes: Sequence[Note]) -> int:
        try:
            return int(index.longest_match(list(notes)).notes)
        except (TypeError, ValueError, AttributeError):
            return 0

    return longest


def write_hook(progression: Sequence[Chord], *, key: Key, beats_per_bar: int = 4,
               compound: bool = False, valence: float = 0.0, arousal: float = 0.0,
               density: float = 0.5, tempo_bpm: float = 100.0, seed: int = 0,
               candidates: int = CANDIDATES, use_model: bool = True) -> WrittenHook:
    """A hook (notes from beat 0, one bar per chord of `progression`, 2-8 bars)."""
    bars = len(progression)
    if not 2 <= bars <= 8:
        raise HookError(f"a hook is 2 to 8 bars long, not {bars}")
    if any(abs(c.start_beat - i * beats_per_bar) > 1e-6 for i, c in enumerate(progression)):
        raise HookError("the hook's progression must have one chord per bar")
    if candidates < 1:
        raise HookError("at least one candidate hook must be drawn")
    rng = np.random.default_rng(seed)
    activity = _activity(valence, arousal, density, tempo_bpm)
    model = _model_scorer(key, progression, beats_per_bar=beats_per_bar, compound=compound) \
        if use_model else None
    copies = _copy_checker() if use_model else None
    best: tuple[float, list[Note], HookScore] = (-math.inf, [], HookScore(-math.inf, None, 0))
    for _ in range(candidates):
        notes = _candidate(progression, key, beats_per_bar=beats_per_bar, activity=activity,
                           rng=rng)
        r = rule_score(notes, progression, beats_per_bar=beats_per_bar, key=key)
        m = model(notes) if callable(model) else None
        copied = copies(notes) if callable(copies) else 0
        sc = HookScore(round(r, 3), None if m is None else round(m, 3), copied)
        if sc.total > best[0]:
            best = (sc.total, notes, sc)
    log.info("hook: %d notes over %d bars, score %s", len(best[1]), bars, best[2])
    return WrittenHook(tuple(best[1]), bars, best[2])
