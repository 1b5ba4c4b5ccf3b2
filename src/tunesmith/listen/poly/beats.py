"""Tempo and beat times of a full mix, from the model's posteriors and the audio.

1. Envelopes, on the model's frame grid, each smoothed a little, its local mean removed and
   scaled to unit variance:
   - notes: the sum over keys of the onset posterior (every struck note counts, chords more);
   - audio: spectral flux, the rise of the log magnitude in log-spaced bands (loud attacks,
     bass notes and percussion count more than soft chord tones);
   - harmony: how much the pitch-class content of the note posterior in the next 0.3 s
     differs from that of the last 0.3 s (peaks where the chord changes: on a beat, seldom
     on the "and").
2. Tempo: the envelope of notes + audio is scored at every candidate period P (50-200 bpm) by
   two tempograms that err in opposite directions, multiplied:
   - the autocorrelation at P, at the subdivision P/2 and at two beats and a bar (2P, 4P):
     high at every multiple of the pulse, so alone it may take two triplet eighths of a
     triplet feel, or the dotted quarter of a 3-3-2 rhythm, for the beat;
   - the Fourier tempogram, the magnitude of the envelope's 1/P component in 10 s windows:
     high at every harmonic of the bar, so alone it takes eighth notes for the beat.
   A 3:2 or 2:3 period is a multiple of the pulse but no harmonic of the bar (or the other way
   round), so the product is low there; what is left is the choice between the beat and its
   double or half, made by a log-normal tempo preference (around 75 bpm).
3. Beats: dynamic programming (Ellis 2007) on the envelope of audio + harmony: every frame's
   best score is its envelope value plus the best earlier beat about one period back,
   penalised by the squared log-ratio of the gap to the period; the best path is traced back
   from the strongest end. The note onsets are left out here: an accompaniment that strikes its
   chords on the off-beats (bass on the beat, chord on the "and") would pull the beats there.

Weights tuned on 224 POP909 training songs (001-200 and 24 more with a triplet feel), the
first 60 s rendered as in bench/polyphonic.py; never on the bench's validation songs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.listen.poly.engine import LOWEST_MIDI

SMOOTH_FRAMES = 3
MEAN_WINDOW_S = 1.0
MIN_TEMPO_BPM = 50.0
MAX_TEMPO_BPM = 200.0
N_TEMPO_CANDIDATES = 500
SPECTRUM_WINDOW_S = 10.0  # Fourier tempogram windows (Hann), hopped by a quarter
FLUX_FFT = 1024
FLUX_BANDS = 48
FLUX_BAND_HZ = (40.0, 8000.0)
FLUX_COMPRESSION = 100.0  # log(1 + C * magnitude / peak)
FLUX_BLOCK_FRAMES = 1024  # STFT frames computed at once
HARMONY_WINDOW_S = 0.3
DEFAULT_TEMPO_BPM = 100.0
RIVAL_RATIO = 1.04  # tempi closer than this to the best are the same tempo (confidence)


@dataclass(frozen=True, slots=True)
class BeatParams:
    """How tempo and beats are found (tuned on POP909 training songs)."""

    notes_weight: float = 1.0  # onset posterior in the tempo envelope
    audio_weight: float = 1.0  # spectral flux in the tempo and beat envelopes
    harmony_weight: float = 2.0  # chord-change novelty in the beat envelope
    subdivision_weight: float = 1.0  # autocorrelation at P/2 ...
    double_weight: float = 0.5  # ... at 2P ...
    bar_weight: float = 0.25  # ... and at 4P, added to that at P
    spectrum_exponent: float = 0.75  # weight of the Fourier tempogram in the product
    preferred_tempo_bpm: float = 75.0  # centre of the log-normal tempo preference
    preference_octaves: float = 1.0  # its standard deviation in octaves
    tightness: float = 200.0  # DP penalty on the squared log-ratio of a beat gap to the period


DEFAULT_BEAT_PARAMS = BeatParams()


@dataclass(frozen=True)
class BeatGrid:
    """Tempo (bpm, from the median beat gap), beat times in seconds, and a 0-1 confidence
    (how clearly the best tempo wins over the runner-up, often its double or half)."""

    tempo_bpm: float
    beat_times_s: np.ndarray
    confidence: float


# ---------------------------------------------------------------- envelopes


def _normalise(env: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """Smoothed, local mean removed, clipped at zero, unit standard deviation."""
    env = np.asarray(env, dtype=np.float64)
    if env.size == 0:
        return env
    kernel = np.hanning(SMOOTH_FRAMES + 2)[1:-1]
    env = np.convolve(env, kernel / kernel.sum(), mode="same")
    w = max(1, int(MEAN_WINDOW_S * frame_rate_hz))
    local = np.convolve(env, np.ones(w) / w, mode="same")
    env = np.clip(env - local, 0.0, None)
    sd = float(env.std())
    return env / sd if sd > 0 else env


def onset_envelope(onset_posterior: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """Note onsets: the onset posterior summed over keys, normalised."""
    return _normalise(np.asarray(onset_posterior, dtype=np.float64).sum(axis=1), frame_rate_hz)


def _band_matrix(sample_rate: float) -> np.ndarray:
    """Triangular bands, log-spaced over FLUX_BAND_HZ, each summing to one (FLUX_BANDS, bins)."""
    freqs = np.arange(FLUX_FFT // 2 + 1) * sample_rate / FLUX_FFT
    edges = np.geomspace(*FLUX_BAND_HZ, FLUX_BANDS + 2)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    m = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)


def spectral_flux(audio: np.ndarray, *, sample_rate: float, n_frames: int,
                  hop: int) -> np.ndarray:
    """Audio onsets: the summed rise of log band magnitudes, frame k centred on sample k*hop."""
    import scipy.fft

    x = np.asarray(audio, dtype=np.float32)
    half = FLUX_FFT // 2
    padded = np.zeros(half + max(x.size, n_frames * hop) + FLUX_FFT, dtype=np.float32)
    padded[half:half + x.size] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, FLUX_FFT)[::hop][:n_frames]
    bands = _band_matrix(sample_rate).T.astype(np.float32)
    window = np.hanning(FLUX_FFT).astype(np.float32)
    out = np.empty((n_frames, FLUX_BANDS), dtype=np.float32)
    for a in range(0, n_frames, FLUX_BLOCK_FRAMES):
        out[a:a + FLUX_BLOCK_FRAMES] = np.abs(
            scipy.fft.rfft(frames[a:a + FLUX_BLOCK_FRAMES] * window, axis=1)) @ bands
    peak = float(out.max()) if out.size else 0.0
    if peak <= 0:
        return np.zeros(n_frames)
    level = np.log1p(FLUX_COMPRESSION * out.astype(np.float64) / peak)
    rise = np.diff(level, axis=0, prepend=level[:1])
    return np.clip(rise, 0.0, None).sum(axis=1)


def harmonic_change(note_posterior: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """Chord changes: 1 - cosine between the pitch-class profiles of the note posterior in the
    HARMONY_WINDOW_S before and after each frame (0 where either side is silent)."""
    note = np.asarray(note_posterior, dtype=np.float64)
    n, n_keys = note.shape
    pc = (np.arange(n_keys) + LOWEST_MIDI) % 12
    chroma = np.zeros((n, 12))
    for c in range(12):
        chroma[:, c] = note[:, pc == c].sum(axis=1)
    w = max(1, int(HARMONY_WINDOW_S * frame_rate_hz))
    cum = np.concatenate([np.zeros((1, 12)), np.cumsum(chroma, axis=0)])
    t = np.arange(n)
    past = cum[t] - cum[np.clip(t - w, 0, n)]
    future = cum[np.clip(t + w, 0, n)] - cum[t]
    norms = np.linalg.norm(past, axis=1) * np.linalg.norm(future, axis=1)
    return np.where(norms > 1e-6, 1.0 - (past * future).sum(axis=1) / np.maximum(norms, 1e-12),
                    0.0)


# ---------------------------------------------------------------- tempo


def _autocorrelation(env: np.ndarray) -> np.ndarray:
    x = env - env.mean()
    spec = np.fft.rfft(x, 2 * x.size)
    ac = np.fft.irfft(spec * np.conj(spec))[: x.size]
    return ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)


def _fourier_tempogram(env: np.ndarray, frame_rate_hz: float, bpm: np.ndarray) -> np.ndarray:
    """Mean magnitude of each tempo's component over Hann windows, scaled to a peak of 1."""
    w = min(env.size, max(4, int(SPECTRUM_WINDOW_S * frame_rate_hz)))
    starts = np.arange(0, env.size - w + 1, max(1, w // 4))
    segs = env[starts[:, None] + np.arange(w)[None, :]]
    segs = (segs - segs.mean(axis=1, keepdims=True)) * np.hanning(w)
    t = np.arange(w) / frame_rate_hz
    basis = np.exp(-2j * np.pi * (bpm[:, None] / 60.0) * t[None, :])
    mag = np.abs(basis @ segs.T).mean(axis=1)
    return mag / mag.max() if mag.max() > 0 else mag


def tempo_salience(env: np.ndarray, frame_rate_hz: float,
                   params: BeatParams = DEFAULT_BEAT_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """(candidate tempi in bpm, log score of each): metrical autocorrelation x Fourier
    tempogram ** exponent x tempo preference."""
    bpm = np.exp(np.linspace(np.log(MIN_TEMPO_BPM), np.log(MAX_TEMPO_BPM), N_TEMPO_CANDIDATES))
    period = frame_rate_hz * 60.0 / bpm
    ac = _autocorrelation(env)
    lags = np.arange(ac.size)

    def at(p: np.ndarray) -> np.ndarray:
        return np.clip(np.interp(p, lags, ac, right=0.0), 0.0, None)

    comb = (at(period) + params.subdivision_weight * at(period / 2)
            + params.double_weight * at(2 * period) + params.bar_weight * at(4 * period))
    spectrum = _fourier_tempogram(env, frame_rate_hz, bpm)
    preference = -0.5 * (np.log2(bpm / params.preferred_tempo_bpm) / params.preference_octaves) ** 2
    score = np.log(np.maximum(comb, 1e-6)) + params.spectrum_exponent * np.log(spectrum + 1e-6)
    return bpm, score + preference


# ---------------------------------------------------------------- beats


def track_beats(env: np.ndarray, period: float, *,
                tightness: float = DEFAULT_BEAT_PARAMS.tightness) -> np.ndarray:
    """Beat frames by dynamic programming over the onset envelope."""
    n = env.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    norm = env / (env.std() + 1e-9)
    score = norm.copy()
    back = np.full(n, -1, dtype=np.int64)
    lo, hi = max(1, int(round(period / 2))), int(round(2 * period))
    offsets = np.arange(lo, hi + 1)
    penalty = -tightness * np.log(offsets / period) ** 2
    for t in range(lo, n):
        prev = t - offsets
        ok = prev >= 0
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


def estimate_beats(onset_posterior: np.ndarray, frame_rate_hz: float, *, duration_s: float,
                   note_posterior: np.ndarray | None = None, audio: np.ndarray | None = None,
                   sample_rate: float | None = None,
                   params: BeatParams = DEFAULT_BEAT_PARAMS) -> BeatGrid:
    """Tempo and beats from the onset posterior (n_frames, keys) and, when given, the note
    posterior on the same frames and the audio (`sample_rate`, frame k centred on sample
    k * sample_rate / frame_rate_hz); a grid at the default tempo when there is no rhythm."""
    notes = onset_envelope(onset_posterior, frame_rate_hz)
    n = notes.size
    flux = np.zeros(n)
    if audio is not None and sample_rate and n:
        hop = int(round(sample_rate / frame_rate_hz))
        flux = _normalise(spectral_flux(audio, sample_rate=sample_rate, n_frames=n, hop=hop),
                          frame_rate_hz)
    if n < 4 or not (np.any(notes > 0) or np.any(flux > 0)):
        step = 60.0 / DEFAULT_TEMPO_BPM
        return BeatGrid(DEFAULT_TEMPO_BPM, np.arange(0.0, max(duration_s, step), step), 0.0)
    tempo_env = params.notes_weight * notes + params.audio_weight * flux
    bpm, score = tempo_salience(tempo_env, frame_rate_hz, params)
    k = int(np.argmax(score))
    confidence = _confidence(bpm, score, k)
    period = frame_rate_hz * 60.0 / bpm[k]

    beat_env = params.audio_weight * flux if np.any(flux > 0) else notes
    if note_posterior is not None and params.harmony_weight:
        beat_env = beat_env + params.harmony_weight * _normalise(
            harmonic_change(note_posterior, frame_rate_hz), frame_rate_hz)
    frames = track_beats(beat_env, period, tightness=params.tightness)
    times = _extend(frames / frame_rate_hz, period / frame_rate_hz, duration_s)
    gaps = np.diff(times)
    tempo = 60.0 / float(np.median(gaps)) if gaps.size else float(bpm[k])
    return BeatGrid(round(tempo, 2), np.round(times, 4), round(confidence, 3))


def _confidence(bpm: np.ndarray, score: np.ndarray, best: int) -> float:
    """1 - the likelihood ratio of the runner-up tempo (the best local maximum of the score
    more than RIVAL_RATIO away, often the double or the half) to the best one."""
    peak = np.r_[False, (score[1:-1] >= score[:-2]) & (score[1:-1] >= score[2:]), False]
    rival = peak & (np.abs(np.log(bpm / bpm[best])) > np.log(RIVAL_RATIO))
    if not rival.any():
        return 1.0
    return float(np.clip(1.0 - np.exp(score[rival].max() - score[best]), 0.0, 1.0))


def _extend(times: np.ndarray, period_s: float, duration_s: float) -> np.ndarray:
    """Continue the grid at the local period to cover the whole recording (intro and ending)."""
    if times.size == 0:
        return np.arange(0.0, max(duration_s, period_s), period_s)
    head = times[0] - period_s * np.arange(1, int(times[0] / period_s) + 1)
    last_gap = float(np.median(np.diff(times[-5:]))) if times.size > 2 else period_s
    n_tail = int((duration_s - times[-1]) / last_gap)
    tail = times[-1] + last_gap * np.arange(1, n_tail + 1)
    return np.concatenate([head[::-1], times, tail])
