"""Tempo and beat times of a full mix, from the model's onset posterior.

1. Onset strength: the sum over keys of the onset posterior per frame (every struck note counts,
   chords count more), smoothed a little and with its local mean removed.
2. Tempo: each candidate period scores the autocorrelation of that envelope at the period and at
   its multiples (a beat grid repeats at 2 and 4 beats too) and half the period (eighth notes),
   times the log-normal tempo preference of `tunesmith.listen.tempo` (around 80 bpm: how pop
   songs are counted).
3. Beats: dynamic programming (Ellis 2007): every frame's best score is its onset strength plus
   the best earlier beat about one period back, penalised by the squared log-ratio of the gap
   to the period; the best path is traced back from the strongest end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.listen.tempo import DEFAULT_TEMPO_PARAMS, MAX_TEMPO_BPM, MIN_TEMPO_BPM

SMOOTH_FRAMES = 3
MEAN_WINDOW_S = 1.0
N_TEMPO_CANDIDATES = 400
HARMONIC_WEIGHTS = ((1.0, 1.0), (2.0, 0.5), (4.0, 0.25), (0.5, 0.25))  # (period multiple, weight)
TIGHTNESS = 100.0  # DP penalty on the squared log-ratio of a beat gap to the period
DEFAULT_TEMPO_BPM = 100.0


@dataclass(frozen=True)
class BeatGrid:
    """Tempo (bpm, from the median beat gap), beat times in seconds, and a 0-1 confidence
    (how much the best period's autocorrelation stands above the average)."""

    tempo_bpm: float
    beat_times_s: np.ndarray
    confidence: float


def onset_envelope(onset_posterior: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """Onset strength per frame, local mean removed and clipped at zero."""
    env = onset_posterior.astype(np.float64).sum(axis=1)
    if env.size == 0:
        return env
    kernel = np.hanning(SMOOTH_FRAMES + 2)[1:-1]
    env = np.convolve(env, kernel / kernel.sum(), mode="same")
    w = max(1, int(MEAN_WINDOW_S * frame_rate_hz))
    local = np.convolve(env, np.ones(w) / w, mode="same")
    return np.clip(env - local, 0.0, None)


def estimate_period(env: np.ndarray, frame_rate_hz: float) -> tuple[float, float]:
    """(period in frames, confidence) of the beat."""
    x = env - env.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    if ac[0] <= 0:
        return frame_rate_hz * 60.0 / DEFAULT_TEMPO_BPM, 0.0
    ac = ac / ac[0]
    bpm = np.exp(np.linspace(np.log(MIN_TEMPO_BPM), np.log(MAX_TEMPO_BPM), N_TEMPO_CANDIDATES))
    period = frame_rate_hz * 60.0 / bpm
    lags = np.arange(n)

    def at(p: np.ndarray) -> np.ndarray:
        return np.interp(p, lags, ac, right=0.0)

    score = sum(w * np.clip(at(m * period), 0.0, None) for m, w in HARMONIC_WEIGHTS)
    params = DEFAULT_TEMPO_PARAMS
    prior = np.exp(-0.5 * (np.log2(bpm / params.preferred_tempo_bpm) / params.preference_octaves) ** 2)
    total = score * prior
    k = int(np.argmax(total))
    confidence = float(np.clip((score[k] - score.mean()) / (score.max() + 1e-9), 0.0, 1.0))
    return float(period[k]), confidence


def track_beats(env: np.ndarray, period: float) -> np.ndarray:
    """Beat frames by dynamic programming over the onset envelope."""
    n = env.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    norm = env / (env.std() + 1e-9)
    score = norm.copy()
    back = np.full(n, -1, dtype=np.int64)
    lo, hi = int(round(period / 2)), int(round(2 * period))
    offsets = np.arange(lo, hi + 1)
    penalty = -TIGHTNESS * np.log(offsets / period) ** 2
    for t in range(lo, n):
        prev = t - offsets
        ok = prev >= 0
        if not np.any(ok):
            continue
        cand = score[prev[ok]] + penalty[ok]
        j = int(np.argmax(cand))
        if cand[j] > 0:
            score[t] = norm[t] + cand[j]
            back[t] = prev[ok][j]
    # end on the best-scoring frame in the last period
    tail = max(0, n - int(round(period)))
    t = tail + int(np.argmax(score[tail:]))
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.array(beats[::-1], dtype=np.int64)


def estimate_beats(onset_posterior: np.ndarray, frame_rate_hz: float, *,
                   duration_s: float) -> BeatGrid:
    """Tempo and beats; a grid at the default tempo when there is no rhythm to follow."""
    env = onset_envelope(onset_posterior, frame_rate_hz)
    if env.size < 4 or not np.any(env > 0):
        step = 60.0 / DEFAULT_TEMPO_BPM
        return BeatGrid(DEFAULT_TEMPO_BPM, np.arange(0.0, max(duration_s, step), step), 0.0)
    period, confidence = estimate_period(env, frame_rate_hz)
    frames = track_beats(env, period)
    times = frames / frame_rate_hz
    times = _extend(times, period / frame_rate_hz, duration_s)
    gaps = np.diff(times)
    tempo = 60.0 / float(np.median(gaps)) if gaps.size else 60.0 * frame_rate_hz / period
    return BeatGrid(round(tempo, 2), np.round(times, 4), round(confidence, 3))


def _extend(times: np.ndarray, period_s: float, duration_s: float) -> np.ndarray:
    """Continue the grid at the local period to cover the whole recording (intro and ending)."""
    if times.size == 0:
        return np.arange(0.0, max(duration_s, period_s), period_s)
    head = times[0] - period_s * np.arange(1, int(times[0] / period_s) + 1)
    last_gap = float(np.median(np.diff(times[-5:]))) if times.size > 2 else period_s
    n_tail = int((duration_s - times[-1]) / last_gap)
    tail = times[-1] + last_gap * np.arange(1, n_tail + 1)
    return np.concatenate([head[::-1], times, tail])
