"""Monophonic pitch tracking: a pYIN-style tracker in NumPy.

1. YIN's cumulative-mean-normalised difference function (CMNDF), computed for blocks of frames
   at once with FFT cross-correlation.
2. Every trough of the CMNDF is a pitch candidate. As in pYIN, the YIN threshold is not one
   number but a Beta distribution: a trough's probability is the chance that it is the first
   trough under the threshold, `F(min of the earlier troughs) - F(its own value)`.
3. A Viterbi pass over (the best few candidates + "unvoiced") per frame picks a smooth path:
   pitch jumps cost in proportion to their size in semitones, voicing changes cost a constant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

log = logging.getLogger(__name__)

INTERNAL_SAMPLE_RATE = 16000
HOP_S = 0.01
FMIN_HZ = 60.0
FMAX_HZ = 3200.0
WINDOW_S = 0.03  # YIN integration window
MAX_CANDIDATES = 4
THRESHOLD_BETA = (2.0, 8.0)  # Beta(a, b) distribution of the YIN threshold (mean 0.2)
SILENCE_DB = -60.0  # frames quieter than this (dBFS) are never voiced
FLOOR_BELOW_PEAK_DB = 45.0  # nor are frames this far below the recording's loud level
JUMP_COST_PER_SEMITONE = 0.35
VOICING_SWITCH_COST = 4.0
UNVOICED_BIAS = 0.0
BLOCK_FRAMES = 2048
BRIGHT_BAND_HZ = (3000.0, 7500.0)
OCTAVE_RATIO = 0.3  # a trough at twice the lag this much deeper wins (see _prefer_lower_octave)
OCTAVE_FLOOR = 0.04
OCTAVE_SEARCH = 2
OCTAVE_MIN_LAG = 8  # samples (2 kHz): above that a whistle's CMNDF is too coarsely sampled for
# the comparison (its period is 5-8 lags) and no voice has a second harmonic up there
SPECTRUM_SIZE = 512
FLUX_LAG = 2  # frames: spectral flux compares each frame with the one this far back
FLUX_MAX_BINS = 3  # maximum filter across frequency (SuperFlux): vibrato moves a partial by
# up to a bin between frames, which then costs no flux
FLUX_FLOOR = 1e-3  # magnitude floor of the log spectrum
BACKGROUND_PERCENTILE = 10.0  # in a noisy take, the background level is this percentile of
# the frame loudness (the pauses, where only the noise sounds) ...
ABOVE_BACKGROUND_DB = 3.0  # ... and frames no louder than it plus this are never voiced (in a
# crowd, those frames are the talkers') ...
MIN_BACKGROUND_SPAN_DB = 12.0  # ... unless that level is this close to the loud level (a take
# without pauses: its quietest frames are soft singing)


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise analysis: times (frame centres, s), f0 as fractional MIDI (NaN = unvoiced),
    voicing probability 0-1 and loudness in dBFS, all the same length."""

    times_s: np.ndarray
    midi: np.ndarray
    voicing: np.ndarray
    loudness_db: np.ndarray
    hop_s: float
    brightness_db: np.ndarray  # energy above BRIGHT_BAND_HZ[0]: consonants dip it
    best_midi: np.ndarray  # the most likely candidate of every frame, voiced or not (NaN: none)
    # rise of the log spectrum over FLUX_LAG frames (SuperFlux): peaks at re-attacks
    onset_strength: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def voiced(self) -> np.ndarray:
        return ~np.isnan(self.midi)


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def prepare(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """A mono signal resampled to INTERNAL_SAMPLE_RATE (soxr) and high-passed at 40 Hz."""
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    if sample_rate != INTERNAL_SAMPLE_RATE:
        x = soxr.resample(x, sample_rate, INTERNAL_SAMPLE_RATE)
    return highpass(x)


def highpass(x: np.ndarray) -> np.ndarray:
    """`prepare`'s zero-phase high-pass at 40 Hz (sosfiltfilt) of a signal at
    INTERNAL_SAMPLE_RATE; signals of 64 samples or fewer are left as they are (see
    StreamHighpass for a signal that arrives in pieces)."""
    from scipy.signal import sosfiltfilt

    if x.size <= 64:
        return x
    return sosfiltfilt(_highpass_sos(), x).astype(np.float32)


@cache
def _highpass_sos() -> np.ndarray:
    from scipy.signal import butter

    return butter(2, 40.0, btype="highpass", fs=INTERNAL_SAMPLE_RATE, output="sos")


@cache
def _highpass_zi() -> np.ndarray:
    from scipy.signal import sosfilt_zi

    return sosfilt_zi(_highpass_sos())


_HIGHPASS_PAD = 9  # samples sosfiltfilt pads the signal with at both ends (odd extension)
# for one second-order section: 3 x (2 x sections + 1)


class StreamHighpass:
    """`highpass` of a signal that arrives in pieces (a stream): the forward pass runs once
    over the audio as it comes, padded at the start as `highpass` pads the whole signal (the
    same values); the backward pass starts from the newest audio, padded as the end of a
    whole signal, and runs back to the sample asked for (see `filtered`). Where it starts far
    enough after a sample, that sample has what `highpass` of the whole take gives it to
    float32 precision: the filter's memory fades (a stream re-filters only its newest audio)."""

    def __init__(self) -> None:
        self._zi: np.ndarray | None = None  # forward state after the last sample
        self._fwd = np.zeros(0)  # forward pass, samples [_fwd0, end)
        self._fwd0 = 0
        self._raw = np.zeros(0, dtype=np.float32)  # all samples until the filter starts, then
        # the last _HIGHPASS_PAD + 1 (the padding of the end)
        self.end = 0  # samples pushed

    def push(self, x: np.ndarray) -> None:
        """Append samples (at INTERNAL_SAMPLE_RATE)."""
        from scipy.signal import sosfilt

        x = np.asarray(x, dtype=np.float32)
        self.end += x.size
        raw = np.concatenate([self._raw, x])
        if self._zi is None:
            if raw.size <= 64:  # as `highpass`: too short to filter (yet)
                self._raw = raw
                return
            ext = 2 * raw[0] - raw[_HIGHPASS_PAD:0:-1]
            y, self._zi = sosfilt(_highpass_sos(), np.concatenate([ext, raw]),
                                  zi=_highpass_zi() * ext[0])
            self._fwd = y[_HIGHPASS_PAD:]
        elif x.size:
            y, self._zi = sosfilt(_highpass_sos(), x, zi=self._zi)
            self._fwd = np.concatenate([self._fwd, y])
        self._raw = raw[-(_HIGHPASS_PAD + 1):]

    def filtered(self, lo: int, tail: np.ndarray | None = None) -> np.ndarray:
        """The filtered signal from sample `lo` to the end, extended by `tail` (provisional
        samples after the end: filtered with the rest, not kept)."""
        from scipy.signal import sosfilt

        tail = np.zeros(0, dtype=np.float32) if tail is None else np.asarray(tail, np.float32)
        if self._zi is None:
            return highpass(np.concatenate([self._raw, tail]))[lo:]
        sos = _highpass_sos()
        y_tail, zi = sosfilt(sos, tail, zi=self._zi) if tail.size else (np.zeros(0), self._zi)
        r = np.concatenate([self._raw, tail])[-(_HIGHPASS_PAD + 1):]
        y_ext, _ = sosfilt(sos, 2 * r[-1] - r[-2:-_HIGHPASS_PAD - 2:-1], zi=zi)
        f = np.concatenate([self._fwd[lo - self._fwd0:], y_tail, y_ext])
        z, _ = sosfilt(sos, f[::-1], zi=_highpass_zi() * f[-1])
        return z[::-1][:-_HIGHPASS_PAD].astype(np.float32)

    def forget(self, before: int) -> None:
        """Samples before `before` will not be asked for again."""
        if before > self._fwd0 and self._zi is not None:
            self._fwd = self._fwd[before - self._fwd0:]
            self._fwd0 = before


def track_pitch(x: np.ndarray, *, fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ,
                earlier_loudness_db: np.ndarray | None = None,
                noisy: bool = False, levels: np.ndarray | None = None) -> PitchTrack:
    """Track f0 of `x` (already at INTERNAL_SAMPLE_RATE, see `prepare`).

    `earlier_loudness_db`: loudness of the frames of the same recording before `x` (a stream
    analysed window by window): they count towards the loud level the silence floor is
    measured from, and towards the background level.
    `noisy`: the recording has a background noise worth removing (see `denoise.learn_noise`):
    frames at its level (ABOVE_BACKGROUND_DB) are not voiced.
    `levels`: the signal (same length and rate as `x`) whose loudness the track measures (and
    the silence floor follows), when `x` is a reverberant take with its late reverberation
    subtracted (see `dereverb`). Pitch, brightness and onset strength are clearer without the
    tail (a consonant's darkening and a repeated note's re-attack show again), but the
    subtraction deepens every dip of loudness within a note, which the note segmenter would
    take for a note boundary."""
    geo = FrameGeometry.of(fmin_hz, fmax_hz)
    n_frames = max(1, int(np.ceil(len(x) / geo.hop)))
    padded = pad_for_frames(x, n_frames, geo)
    levels_padded = None if levels is None else pad_for_frames(levels, n_frames, geo)
    frames, _ = frame_features(padded, n_frames, geo, levels_padded=levels_padded)
    return decode_pitch(frames, earlier_loudness_db=earlier_loudness_db, noisy=noisy)


def pad_for_frames(x: np.ndarray, n_frames: int, geo: FrameGeometry) -> np.ndarray:
    """`x` with the zeros around it that frames 0..n_frames-1 read (see FrameGeometry)."""
    padded = np.zeros(n_frames * geo.hop + geo.frame_len + 1, dtype=np.float32)
    padded[geo.pad_left:geo.pad_left + len(x)] = x[: len(padded) - geo.pad_left]
    return padded


@dataclass(frozen=True)
class FrameGeometry:
    """Where the tracker's frames lie: frame i is padded[i * hop: i * hop + frame_len] of the
    signal with pad_left zeros before it (its centre is sample i * hop)."""

    hop: int
    win: int  # YIN integration window
    max_lag: int
    min_lag: int
    frame_len: int
    pad_left: int

    @staticmethod
    def of(fmin_hz: float = FMIN_HZ, fmax_hz: float = FMAX_HZ) -> FrameGeometry:
        sr = INTERNAL_SAMPLE_RATE
        win = int(round(WINDOW_S * sr))
        max_lag = int(np.ceil(sr / fmin_hz)) + 1
        frame_len = win + max_lag
        return FrameGeometry(int(round(HOP_S * sr)), win, max_lag,
                             max(2, int(np.floor(sr / fmax_hz))), frame_len, frame_len // 2)


@dataclass(frozen=True)
class PitchFrames:
    """The tracker's evidence frame by frame, before the voicing floor and the Viterbi pass
    (which look at the whole recording): each frame's depends on its own audio only (and the
    onset strength on the FLUX_LAG frames before), so a stream can keep the frames it has
    analysed and only add new ones."""

    cand_midi: np.ndarray  # (frames, MAX_CANDIDATES) fractional MIDI, NaN: no candidate
    cand_prob: np.ndarray  # (frames, MAX_CANDIDATES) pYIN probability
    power: np.ndarray  # mean square of the YIN window
    bright: np.ndarray  # energy above BRIGHT_BAND_HZ[0]
    flux: np.ndarray  # onset strength (SuperFlux)

    def __len__(self) -> int:
        return len(self.power)

    def __getitem__(self, s: slice) -> PitchFrames:
        return PitchFrames(self.cand_midi[s], self.cand_prob[s], self.power[s], self.bright[s],
                           self.flux[s])

    @staticmethod
    def concatenate(parts: list[PitchFrames]) -> PitchFrames:
        return PitchFrames(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in ("cand_midi", "cand_prob", "power", "bright", "flux")))


def frame_features(padded: np.ndarray, n_frames: int, geo: FrameGeometry,
                   carry: np.ndarray | None = None,
                   carry_at: int | None = None,
                   levels_padded: np.ndarray | None = None) -> tuple[PitchFrames, np.ndarray]:
    """The per-frame evidence of frames 0..n_frames-1 of `padded` (see FrameGeometry).
    `carry`: the log spectra of the FLUX_LAG frames before frame 0 (None: frame 0 opens the
    recording). `levels_padded`: the signal the loudness is measured on, padded the same way
    (see `track_pitch`'s `levels`; None: `padded`). Returns the frames and the carry for the
    frames after them, or for those from frame `carry_at` on."""
    sr = INTERNAL_SAMPLE_RATE
    hop, win, max_lag, frame_len = geo.hop, geo.win, geo.max_lag, geo.frame_len
    cand_midi = np.full((n_frames, MAX_CANDIDATES), np.nan)
    cand_prob = np.zeros((n_frames, MAX_CANDIDATES))
    power = np.zeros(n_frames)
    bright = np.zeros(n_frames)
    flux = np.zeros(n_frames)
    last = np.zeros((0, SPECTRUM_SIZE // 2 + 1)) if carry is None else carry
    kept = last
    spec_win = np.hanning(SPECTRUM_SIZE)
    freqs = np.fft.rfftfreq(SPECTRUM_SIZE, 1.0 / sr)
    band = (freqs >= BRIGHT_BAND_HZ[0]) & (freqs < BRIGHT_BAND_HZ[1])
    for start in range(0, n_frames, BLOCK_FRAMES):
        stop = min(n_frames, start + BLOCK_FRAMES)
        frames = np.lib.stride_tricks.sliding_window_view(
            padded[start * hop: (stop - 1) * hop + frame_len], frame_len)[::hop]
        cmndf, diff = _cmndf(frames.astype(np.float64), win=win, max_lag=max_lag)
        m, p = _candidates(cmndf, diff, min_lag=geo.min_lag)
        cand_midi[start:stop] = hz_to_midi(sr / m)
        cand_prob[start:stop] = p
        level_frames = frames if levels_padded is None else np.lib.stride_tricks.sliding_window_view(
            levels_padded[start * hop: (stop - 1) * hop + frame_len], frame_len)[::hop]
        centre = level_frames[:, (frame_len - win) // 2: (frame_len + win) // 2]
        power[start:stop] = np.mean(centre.astype(np.float64) ** 2, axis=1)
        c = (frame_len - SPECTRUM_SIZE) // 2
        spec = np.fft.rfft(frames[:, c:c + SPECTRUM_SIZE] * spec_win, axis=1)
        mag = np.abs(spec)
        bright[start:stop] = np.sum(mag[:, band] ** 2, axis=1) / np.sum(spec_win ** 2)
        log_mag = np.log(mag + FLUX_FLOOR)
        if carry_at is not None and start < carry_at <= stop:
            kept = np.concatenate([last, log_mag[:carry_at - start]])[-FLUX_LAG:]
        flux[start:stop], last = _superflux(log_mag, last)
    return PitchFrames(cand_midi, cand_prob, power, bright, flux), (
        last if carry_at is None else kept)


def decode_pitch(frames: PitchFrames, *, earlier_loudness_db: np.ndarray | None = None,
                 noisy: bool = False,
                 decoder: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 ) -> PitchTrack:
    """The pitch track from the frames' evidence: frames too quiet for a voice (against the
    recording's loud level, and its background level when `noisy`) lose their candidates,
    then the Viterbi pass picks the path (see `track_pitch` for the arguments; `decoder`:
    another Viterbi pass, e.g. a stream's `StreamViterbi.decode`)."""
    cand_midi, cand_prob = frames.cand_midi, frames.cand_prob.copy()
    n_frames = len(frames)
    loud = 10.0 * np.log10(frames.power + 1e-12)
    pool = loud if earlier_loudness_db is None else np.concatenate([earlier_loudness_db, loud])
    peak = np.percentile(pool, 95) if pool.size else 0.0
    quiet = (loud < SILENCE_DB) | (loud < peak - FLOOR_BELOW_PEAK_DB)
    if noisy and pool.size:
        background = float(np.percentile(pool, BACKGROUND_PERCENTILE))
        if peak - background >= MIN_BACKGROUND_SPAN_DB:
            quiet |= loud < background + ABOVE_BACKGROUND_DB
    cand_prob[quiet] = 0.0
    path = (decoder or _viterbi)(cand_midi, cand_prob)
    midi = np.where(path >= 0, np.take_along_axis(
        cand_midi, np.maximum(path, 0)[:, None], axis=1)[:, 0], np.nan)
    times = np.arange(n_frames) * HOP_S
    bright_db = 10.0 * np.log10(frames.bright / SPECTRUM_SIZE + 1e-12)
    best = np.take_along_axis(cand_midi, np.argmax(cand_prob, axis=1)[:, None], axis=1)[:, 0]
    best[cand_prob.max(axis=1) <= 0] = np.nan
    return PitchTrack(times, midi, cand_prob.sum(axis=1), loud, HOP_S, bright_db, best,
                      frames.flux)


def _superflux(log_mag: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-wave rectified rise of each frame's log spectrum over the maximum-filtered one
    FLUX_LAG frames earlier; `last` holds the previous block's final frames (the carry)."""
    from scipy.ndimage import maximum_filter1d

    ref = maximum_filter1d(np.concatenate([last, log_mag]), FLUX_MAX_BINS, axis=1)
    n, k = len(log_mag), len(last)
    out = np.zeros(n)
    lo = max(0, FLUX_LAG - k)  # the first frames of the recording have nothing to compare with
    if lo < n:
        out[lo:] = np.maximum(log_mag[lo:] - ref[k + lo - FLUX_LAG: k + n - FLUX_LAG], 0.0).sum(axis=1)
    return out, log_mag[-FLUX_LAG:]


def _cmndf(frames: np.ndarray, *, win: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """YIN difference d(tau) and its cumulative-mean-normalised form d'(tau), tau = 0..max_lag."""
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1])))  # lags <= max_lag never wrap
    spec = np.fft.rfft(frames, n_fft, axis=1)
    head = np.fft.rfft(frames[:, :win], n_fft, axis=1)
    corr = np.fft.irfft(spec * np.conj(head), n_fft, axis=1)[:, : max_lag + 1]
    sq = np.cumsum(np.concatenate([np.zeros((len(frames), 1)), frames ** 2], axis=1), axis=1)
    energy_tau = sq[:, win: win + max_lag + 1] - sq[:, : max_lag + 1]
    diff = sq[:, win: win + 1] + energy_tau - 2.0 * corr
    diff[:, 0] = 0.0
    np.maximum(diff, 0.0, out=diff)
    cum = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, max_lag + 1)
    out = np.ones_like(diff)
    out[:, 1:] = diff[:, 1:] * taus / np.maximum(cum, 1e-12)
    return out, diff


def _candidates(cmndf: np.ndarray, diff: np.ndarray, *,
                min_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to MAX_CANDIDATES troughs per frame: (lag interpolated on d, pYIN probability)."""
    from scipy.special import betainc

    d = cmndf
    n, m = d.shape
    mid = d[:, 1:-1]
    trough = np.zeros_like(d, dtype=bool)
    trough[:, 1:-1] = (mid < d[:, :-2]) & (mid <= d[:, 2:])
    trough[:, :min_lag] = False
    vals = np.where(trough, d, np.inf)
    earlier = np.minimum.accumulate(vals, axis=1)
    prev_min = np.concatenate([np.full((n, 1), np.inf), earlier[:, :-1]], axis=1)
    a, b = THRESHOLD_BETA
    cdf_prev = betainc(a, b, np.clip(prev_min, 0.0, 1.0))
    cdf_here = betainc(a, b, np.clip(np.where(trough, d, 1.0), 0.0, 1.0))
    mass = np.where(trough, np.maximum(cdf_prev - cdf_here, 0.0), 0.0)

    k = MAX_CANDIDATES
    idx = np.argpartition(-mass, k - 1, axis=1)[:, :k]
    prob = np.take_along_axis(mass, idx, axis=1)
    rows = np.arange(n)[:, None]
    idx = _prefer_lower_octave(d, idx, rows)
    i = np.clip(idx, 1, m - 2)
    y0, y1, y2 = diff[rows, i - 1], diff[rows, i], diff[rows, i + 1]
    denom = y0 - 2.0 * y1 + y2
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0.0)
    lag = i + np.clip(shift, -0.5, 0.5)
    lag = np.where(prob > 1e-4, lag, np.nan)
    prob = np.where(prob > 1e-4, prob, 0.0)
    return lag, prob


def _prefer_lower_octave(d: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Move a candidate to twice its lag when the CMNDF is much deeper there: the true period
    is the longer one and a strong second harmonic (e.g. under the first formant) fooled YIN.
    Trough depths are compared at the best integer lag of each (aperiodicity such as shimmer
    makes both troughs shallow: only a much deeper one counts)."""
    m = d.shape[1]
    here = np.minimum(d[rows, np.clip(idx, 0, m - 1)], d[rows, np.clip(idx + 1, 0, m - 1)])
    here = np.minimum(here, d[rows, np.clip(idx - 1, 0, m - 1)])
    best_j = np.zeros_like(idx)
    best_v = np.full(idx.shape, np.inf)
    for off in range(-OCTAVE_SEARCH, OCTAVE_SEARCH + 1):
        j = 2 * idx + off
        v = np.where((j >= 1) & (j < m - 1), d[rows, np.clip(j, 0, m - 1)], np.inf)
        better = v < best_v
        best_v = np.where(better, v, best_v)
        best_j = np.where(better, j, best_j)
    move = (here > OCTAVE_FLOOR) & (best_v < OCTAVE_RATIO * here) & (idx >= OCTAVE_MIN_LAG)
    return np.where(move, best_j, idx)


def _viterbi(cand_midi: np.ndarray, cand_prob: np.ndarray) -> np.ndarray:
    """Best path over states (candidate 0..K-1, unvoiced = K). Returns candidate index or -1."""
    n, k = cand_prob.shape
    ll, filled = _viterbi_inputs(cand_midi, cand_prob)
    back = np.zeros((n, k + 1), dtype=np.int16)
    score = _viterbi_forward(ll, filled, ll[0].copy(), back, 1)
    return _backtrack(back, int(np.argmax(score)), k)


def _viterbi_inputs(cand_midi: np.ndarray, cand_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's log-likelihood of every state, and its candidates' pitches (0: none)."""
    eps = 1e-6
    voiced_ll = np.log(cand_prob + eps)
    voiced_ll[cand_prob <= 0] = -np.inf
    unvoiced_ll = np.log(np.clip(1.0 - cand_prob.sum(axis=1), eps, 1.0)) + UNVOICED_BIAS
    ll = np.concatenate([voiced_ll, unvoiced_ll[:, None]], axis=1)
    return ll, np.nan_to_num(cand_midi, nan=0.0)


def _viterbi_forward(ll: np.ndarray, filled: np.ndarray, score: np.ndarray, back: np.ndarray,
                     start: int, scores: np.ndarray | None = None) -> np.ndarray:
    """The forward pass from frame `start` on, `score` being that of frame start - 1: fills
    back[start:] (and scores[start:] if given); returns the last frame's score."""
    n, k = filled.shape
    switch = np.full(k, -VOICING_SWITCH_COST)
    for t in range(start, n):
        jump = np.abs(filled[t][:, None] - filled[t - 1][None, :]) * -JUMP_COST_PER_SEMITONE
        from_v = jump + score[None, :k]  # (to, from)
        best_v = np.argmax(from_v, axis=1)
        v_score = from_v[np.arange(k), best_v]
        via_u = score[k] - VOICING_SWITCH_COST
        use_u = via_u > v_score
        new = np.empty(k + 1)
        new[:k] = np.where(use_u, via_u, v_score) + ll[t, :k]
        back[t, :k] = np.where(use_u, k, best_v)
        u_from = np.concatenate([score[:k] + switch, score[k:]])
        back[t, k] = int(np.argmax(u_from))
        new[k] = u_from[back[t, k]] + ll[t, k]
        score = new
        if scores is not None:
            scores[t] = new
    return score


def _backtrack(back: np.ndarray, last_state: int, k: int) -> np.ndarray:
    n = len(back)
    path = np.empty(n, dtype=np.int64)
    path[-1] = last_state
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return np.where(path == k, -1, path)


class StreamViterbi:
    """The Viterbi pass of a stream analysed window by window. Each window's path starts from
    the forward pass's state just before the window (as the whole-take pass would, rather than
    afresh), and the forward pass is kept for the window's first frames as long as their
    evidence has not changed: each call redoes it only from the first frame that changed (in
    a stream: the newest frames, whose audio was not final at the last call)."""

    def __init__(self) -> None:
        k = MAX_CANDIDATES
        self._first = 0  # frame index of the rows below
        self._ll = np.zeros((0, k + 1))
        self._filled = np.zeros((0, k))
        self._scores = np.zeros((0, k + 1))
        self._back = np.zeros((0, k + 1), dtype=np.int16)

    def decode(self, first: int, cand_midi: np.ndarray, cand_prob: np.ndarray) -> np.ndarray:
        """The path (as `_viterbi`) of frames first.. (never earlier than the last call's)."""
        n, k = cand_prob.shape
        ll, filled = _viterbi_inputs(cand_midi, cand_prob)
        # the rows kept start with the state before the window (none for the first frame),
        # then the window's frames up to the first one whose evidence changed
        base = max(0, first - 1)
        o = base - self._first  # its row in the last call's rows
        kept = 0
        if 0 <= o < len(self._scores):
            kept = first - base
            w = first - self._first
            m = min(len(self._scores) - w, n)
            if m > 0:
                same = (np.all(ll[:m] == self._ll[w:w + m], axis=1)
                        & np.all(filled[:m] == self._filled[w:w + m], axis=1))
                changed = np.flatnonzero(~same)
                kept += int(changed[0]) if changed.size else m
        else:
            base, o = first, 0  # nothing to continue from: the window starts afresh
        rows, w = first + n - base, first - base
        scores = np.zeros((rows, k + 1))
        back = np.zeros((rows, k + 1), dtype=np.int16)
        scores[:kept], back[:kept] = self._scores[o:o + kept], self._back[o:o + kept]
        ll_all = np.concatenate([self._ll[o:o + w], ll])
        filled_all = np.concatenate([self._filled[o:o + w], filled])
        start = kept
        if start == 0:  # the first row of all: its own likelihoods
            scores[0] = ll_all[0]
            start = 1
        _viterbi_forward(ll_all, filled_all, scores[start - 1].copy(), back, start, scores)
        self._first = base
        self._ll, self._filled, self._scores, self._back = ll_all, filled_all, scores, back
        return _backtrack(back[w:], int(np.argmax(scores[-1])), k)
