"""Tempo and bar phase of a performed melody, from its note onsets.

1. Every candidate tempo gets a periodicity score: how tightly the onsets, weighted by how long
   each note lasts (long notes tend to fall on beats), line up on a grid of that period
   (the length of the mean resultant vector of the onset phases at beat, half-beat and
   quarter-beat level), times a log-normal preference around 80 bpm and one for about 1.5
   notes per beat. The weights and preferences are tuned on POP909 training songs (001-800,
   8-bar melody excerpts; `training/tune_tempo.py`): the quarter-beat level is what keeps a
   melody with sixteenth-note syncopations from being heard at 4/3 or 3/2 of its tempo, and
   the slower preference matches how pop songs are counted (median 74 bpm in POP909).
2. The best tempo is refined by a weighted least-squares fit of the onsets to their nearest
   half-beat grid points, which also gives the beat phase.
3. The downbeat is the beat of the bar on which the longest notes and the final note fall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.score import SungNote

DEFAULT_TEMPO_BPM = 100.0
MIN_TEMPO_BPM = 50.0
MAX_TEMPO_BPM = 200.0
MIN_WEIGHT_S = 0.08
MAX_WEIGHT_S = 2.0
PICKUP_PRIOR = 0.4  # relative likelihood of each extra beat of pickup before the first downbeat
ACCENT_WEIGHT = 1.0  # share of (long-note weighted) onsets on a beat
END_WEIGHT = 0.5  # the final note ends on a bar line


@dataclass(frozen=True, slots=True)
class TempoParams:
    """How candidate tempos are scored (tuned by `training/tune_tempo.py`)."""

    preferred_tempo_bpm: float = 80.0  # centre of the log-normal tempo preference
    preference_octaves: float = 1.0  # its width (standard deviation, in octaves of tempo)
    preferred_notes_per_beat: float = 1.5
    density_octaves: float = 1.0
    half_beat_weight: float = 0.25
    quarter_beat_weight: float = 1.5


DEFAULT_TEMPO_PARAMS = TempoParams()
SUBDIVISIONS = (1, 2, 4)  # beat, half-beat, quarter-beat levels of the periodicity score
N_CANDIDATES = 600


@dataclass(frozen=True, slots=True)
class TempoEstimate:
    """Tempo in beats per minute, time of the first downbeat in seconds (may precede the first
    note slightly, or follow a pickup), and a confidence 0-1 (how well onsets fit the grid)."""

    tempo_bpm: float
    downbeat_s: float
    confidence: float


def estimate_tempo(notes: Sequence[SungNote], *, beats_per_bar: int = 4) -> TempoEstimate:
    """Tempo and first downbeat of a melody. Fewer than three notes give the default tempo."""
    ordered = sorted(notes, key=lambda n: n.onset_s)
    if len(ordered) < 3:
        start = float(ordered[0].onset_s) if ordered else 0.0
        return TempoEstimate(DEFAULT_TEMPO_BPM, start, 0.0)
    onsets = np.array([n.onset_s for n in ordered])
    weights = _accent_weights(ordered)
    period, phase, strength = beat_grid(onsets, weights)
    downbeat = _downbeat(onsets, weights, ordered, period=period, phase=phase,
                         beats_per_bar=max(1, beats_per_bar))
    return TempoEstimate(round(60.0 / period, 2), round(float(downbeat), 4), round(strength, 3))


def beat_grid(onsets: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """(beat period in seconds, time of a beat, periodicity 0-1) of sorted onsets weighted by
    `onset_weights`: steps 1 and 2 of the module docstring."""
    period, strength = _best_period(onsets, weights)
    period, phase = _refine(onsets, weights, period)
    return period, phase, strength


def onset_weights(notes: Sequence[SungNote]) -> np.ndarray:
    """How much each onset (notes sorted by onset) counts for the beat: about the time it
    lasts, up to the next onset (long notes tend to fall on beats)."""
    return _accent_weights(notes)


def estimate_downbeat(notes: Sequence[SungNote], *, tempo_bpm: float, beats_per_bar: int = 4) -> float:
    """Time of the first downbeat for a known tempo (e.g. one the user typed in)."""
    ordered = sorted(notes, key=lambda n: n.onset_s)
    if not ordered:
        return 0.0
    if len(ordered) < 2:
        return float(ordered[0].onset_s)
    onsets = np.array([n.onset_s for n in ordered])
    weights = _accent_weights(ordered)
    period = 60.0 / tempo_bpm
    z = np.sum(weights * np.exp(2j * np.pi * onsets / period))
    phase = (np.angle(z) / (2.0 * np.pi)) * period
    return round(float(_downbeat(onsets, weights, ordered, period=period, phase=phase,
                                 beats_per_bar=max(1, beats_per_bar))), 4)


def _accent_weights(notes: Sequence[SungNote]) -> np.ndarray:
    onsets = np.array([n.onset_s for n in notes])
    ioi = np.append(np.diff(onsets), notes[-1].duration_s)
    span = np.minimum(ioi, np.array([max(n.duration_s, 0.0) for n in notes]) + 0.25 * ioi)
    return np.clip(span, MIN_WEIGHT_S, MAX_WEIGHT_S)


def candidate_tempos_bpm() -> np.ndarray:
    """The tempos considered, log-spaced from MIN_TEMPO_BPM to MAX_TEMPO_BPM."""
    return np.exp(np.linspace(np.log(MIN_TEMPO_BPM), np.log(MAX_TEMPO_BPM), N_CANDIDATES))


def subdivision_fit(onsets: np.ndarray, weights: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Weighted mean resultant length of the onset phases per period, one row per level of
    SUBDIVISIONS (beat, half-beat, quarter-beat): shape (len(SUBDIVISIONS), len(periods))."""
    w = weights / weights.sum()
    phase = 2j * np.pi * onsets[None, :] / periods[:, None]
    return np.stack([np.abs(np.exp(level * phase) @ w) for level in SUBDIVISIONS])


def notes_per_beat(onsets: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """How many notes each beat holds at each candidate period."""
    span = onsets[-1] - onsets[0] + float(np.median(np.diff(onsets)))
    return len(onsets) * periods / span


def tempo_score(fit: np.ndarray, bpm: np.ndarray, density: np.ndarray,
                params: TempoParams = DEFAULT_TEMPO_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """(periodicity, periodicity x preferences) for each candidate, from `subdivision_fit`."""
    level_weights = np.array([1.0, params.half_beat_weight, params.quarter_beat_weight])
    periodicity = level_weights @ fit / level_weights.sum()
    prior = np.exp(-0.5 * (np.log2(bpm / params.preferred_tempo_bpm) / params.preference_octaves) ** 2)
    prior *= np.exp(-0.5 * (np.log2(density / params.preferred_notes_per_beat)
                            / params.density_octaves) ** 2)
    return periodicity, periodicity * prior


def _best_period(onsets: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    bpm = candidate_tempos_bpm()
    periods = 60.0 / bpm
    fit = subdivision_fit(onsets, weights, periods)
    periodicity, score = tempo_score(fit, bpm, notes_per_beat(onsets, periods))
    k = int(np.argmax(score))
    return float(periods[k]), float(periodicity[k])


def _refine(onsets: np.ndarray, weights: np.ndarray, period: float) -> tuple[float, float]:
    """Weighted least squares of onsets against their half-beat grid indices."""
    z = np.sum(weights * np.exp(2j * np.pi * onsets / period))
    phase = (np.angle(z) / (2.0 * np.pi)) * period
    for _ in range(3):
        step = period / 2.0
        k = np.round((onsets - phase) / step)
        resid = (onsets - phase) / step - k
        keep = np.abs(resid) < 0.3
        if keep.sum() < 3 or np.ptp(k[keep]) == 0:
            break
        w = weights[keep]
        a = np.vstack([np.ones(keep.sum()), k[keep]]).T
        sol = np.linalg.lstsq(a * np.sqrt(w)[:, None], onsets[keep] * np.sqrt(w), rcond=None)[0]
        phase, step = float(sol[0]), float(sol[1])
        new_period = 2.0 * step
        if not 60.0 / MAX_TEMPO_BPM <= new_period <= 60.0 / MIN_TEMPO_BPM:
            break
        # keep the phase on a beat (not an off-beat) of the refined grid
        z = np.sum(weights * np.exp(2j * np.pi * (onsets - phase) / new_period))
        phase += (np.angle(z) / (2.0 * np.pi)) * new_period
        period = new_period
    return period, phase


def _downbeat(onsets: np.ndarray, weights: np.ndarray, notes: Sequence[SungNote], *,
              period: float, phase: float, beats_per_bar: int) -> float:
    """Pick which beat of the bar is the downbeat. Each candidate scores on three cues:
    the melody starts on it or after a short pickup, long notes fall on it, and the final note
    ends on a bar line (a phrase fills whole bars)."""
    beat_pos = (onsets - phase) / period
    beat_idx = np.round(beat_pos).astype(np.int64)
    on_beat = np.abs(beat_pos - beat_idx) < 0.25
    first_beat = int(beat_idx[0]) if on_beat[0] else int(np.ceil(beat_pos[0]))
    end_beat = int(np.round((notes[-1].onset_s + max(weights[-1], notes[-1].duration_s) - phase)
                            / period))
    accent = np.zeros(beats_per_bar)
    np.add.at(accent, beat_idx[on_beat] % beats_per_bar, weights[on_beat])
    accent /= max(accent.sum(), 1e-9)
    score = np.zeros(beats_per_bar)
    for r in range(beats_per_bar):
        pickup = (r - first_beat) % beats_per_bar
        score[r] = (PICKUP_PRIOR ** pickup + ACCENT_WEIGHT * accent[r]
                    + END_WEIGHT * ((end_beat - r) % beats_per_bar == 0))
    bar_phase = int(np.argmax(score))
    offset = (bar_phase - first_beat) % beats_per_bar
    return phase + (first_beat + offset) * period
