"""Is this recording one voice, or several instruments/voices at once?

The monophonic transcriber follows one pitch; given a full mix or chords it would write a
jumble of notes hopping between the parts. This module spots such input so that `transcribe`
can say so and point to `tunesmith transcribe --polyphonic`.

The test is harmonic: in each analysed frame (64 ms, every 40 ms, among the loud frames)
1. the spectral peaks between 50 Hz and 4 kHz are picked (prominent over the local floor);
2. the harmonic comb (one f0 and its multiples) that best explains them is found: the score
   is the explained peak power times the squared fill of the comb (the share of its first
   harmonics that are present), so that a sub-octave whose comb only catches every other
   partial, or a low bass-like f0 that catches chord notes by accident, loses to the real f0;
3. the same is done on the peaks that comb leaves over; when a second comb explains at least
   SECOND_SERIES_MIN_PARTIALS of them, its share of the frame's peak amplitude is the frame's
   "second voice" level (a lone leftover partial, or two, is a reflection or noise);
4. a second voice with fewer partials (a hummed "mm" has two strong ones, a whistle one; a
   voice a fifth above another shares every other partial with it) counts when it persists:
   a second comb of two partials, or a lone leftover partial within LEFTOVER_MIN_DB of the
   frame's strongest, that is still there at the same pitch (PERSIST_CENTS) PERSIST_HOPS
   frames (160 ms) later. Babble, reverberation tails and breath leave such peaks too, but
   they seldom hold still that long; two singers in thirds, sixths or fifths do, for the
   length of every note.

One voice, however breathy, reverberant or noisy, rarely leaves a second harmonic series
behind; chords and mixes do in most frames. Each loud frame votes 1 for a second harmonic
series (of at least SECOND_SERIES_MIN_SHARE of the peak amplitude) and PERSISTENT_WEIGHT
more for a persisting second voice; a recording is polyphonic when the mean vote reaches
POLYPHONIC_SCORE. Thresholds were chosen on ssvd-dev (67 sung takes, clean and degraded:
never a false alarm) against POP909 validation songs rendered with tunesmith.render and sung
by synthetic duets (see bench/polyphony_check.py and bench/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.errors import PolyphonicInputError

log = logging.getLogger(__name__)

ANALYSIS_SAMPLE_RATE = 16000  # the transcriber's internal rate (pitch.INTERNAL_SAMPLE_RATE)
FRAME = 1024  # 64 ms
HOP = 640  # 40 ms
N_FFT = 2048
BAND_HZ = (50.0, 4000.0)  # where peaks are looked for
PEAK_NEIGHBOURHOOD = 5  # bins of the padded spectrum a peak must be the maximum of
FLOOR_BLOCK_HZ = 250.0  # the spectral floor: a low percentile of blocks this wide (half-
FLOOR_PERCENTILE = 20.0  # overlapping; low, so that dense low partials do not lift it)
PEAK_PROMINENCE_DB = 15.0  # a peak stands this far over the floor ...
PEAK_RANGE_DB = 50.0  # ... and within this range of the frame's strongest peak
MAX_PEAKS = 30
F0_RANGE_HZ = (55.0, 2100.0)
CANDIDATE_PEAKS = 6  # f0 candidates: each of the strongest peaks divided by 1..CANDIDATE_DIVISORS
CANDIDATE_DIVISORS = 6
MATCH_CENTS = 30.0  # a peak belongs to harmonic h of f0 when within this many cents of h*f0,
MATCH_MIN_HZ = 3.0  # or this many Hz (peak-frequency precision at low frequencies),
MATCH_MAX_F0_SHARE = 0.15  # but never further than this fraction of f0
MAX_HARMONIC = 40
FILL_HARMONICS = 12  # a comb's fill is counted over its first harmonics up to this one
FILL_POWER = 2.0
LOUD_GATE_DB = 15.0  # frames this far below the recording's loud level (95th pct) are ignored
SILENT_DBFS = -50.0
SECOND_SERIES_MIN_PARTIALS = 3  # a second harmonic series counts with this many partials ...
SECOND_SERIES_MIN_SHARE = 0.05  # ... holding this share of the frame's peak amplitude
PERSIST_MIN_PARTIALS = 2  # a second voice with fewer partials counts when it persists:
LEFTOVER_MIN_DB = -8.0  # (or a lone leftover partial this loud against the frame's strongest)
PERSIST_HOPS = 4  # still there this many frames (160 ms) later ...
PERSIST_CENTS = 30.0  # ... within this many cents
PERSISTENT_WEIGHT = 4.0  # a frame's vote: 1 for a second series, this much more if it persists
POLYPHONIC_SCORE = 0.8  # mean vote of the loud frames that makes a recording polyphonic
POLYPHONIC_FRAME_SHARE = 0.45  # without persistence (FrameEvidence.persistent None): the share
# of loud frames with a second series that makes it polyphonic
MIN_LOUD_FRAMES = 25  # 1 s of loud sound: less is too little to judge
MAX_FRAMES = 200  # loud frames analysed in one recording (evenly spread over it)
BATCHES = 4  # ... in up to this many batches, until the verdict is clear:
CLEAR_MARGIN_SD = 2.5  # the score is this many standard errors from the threshold
MIN_VOTE_SD = 0.5  # floor of the votes' standard deviation in that test


@dataclass(frozen=True)
class FrameEvidence:
    """Per analysed frame: loudness (dBFS), the second harmonic series' share of the peak
    amplitude (0 when there is none; NaN when the frame held no usable peaks), and whether a
    second voice persists PERSIST_HOPS frames later (None: not looked at; `concatenate` keeps
    it, so that evidence gathered in parts is judged as a whole)."""

    loudness_db: np.ndarray
    second_share: np.ndarray
    persistent: np.ndarray | None = None

    def votes(self) -> np.ndarray:
        """Each frame's vote: 1 for a second series, PERSISTENT_WEIGHT more if it persists."""
        second = np.nan_to_num(self.second_share) >= SECOND_SERIES_MIN_SHARE
        persists = (np.zeros(second.size, dtype=bool) if self.persistent is None
                    else np.asarray(self.persistent, dtype=bool))
        return second.astype(np.float64) + PERSISTENT_WEIGHT * persists

    @staticmethod
    def concatenate(parts: Sequence[FrameEvidence]) -> FrameEvidence:
        if not parts:
            return FrameEvidence(np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
        persistent = [p.persistent if p.persistent is not None
                      else np.zeros(p.second_share.size, dtype=bool) for p in parts]
        return FrameEvidence(np.concatenate([p.loudness_db for p in parts]),
                             np.concatenate([p.second_share for p in parts]),
                             np.concatenate(persistent))


@dataclass(frozen=True)
class PolyphonyEstimate:
    """How polyphonic a recording sounds.

    `share`: the fraction of analysed loud frames in which a second voice sounds (a second
    harmonic series, or a second voice that persists); `frames`: how many loud frames were
    analysed; `score`: their mean vote (see the module notes); `polyphonic`: the verdict.
    """

    share: float
    frames: int
    polyphonic: bool
    score: float = 0.0


def frame_loudness(x: np.ndarray) -> np.ndarray:
    """Loudness (dBFS, mean square) of every analysis frame of a 16 kHz signal."""
    n = 1 + max(0, (x.size - FRAME) // HOP)
    if x.size < FRAME:
        x = np.pad(x, (0, FRAME - x.size))
    sq = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(n) * HOP
    power = (sq[starts + FRAME] - sq[starts]) / FRAME
    return 10.0 * np.log10(power + 1e-12)


@dataclass(frozen=True)
class _Voices:
    """What the combs found in a batch of frames: f0 of the first comb, the second comb's f0,
    partial count and amplitude share, and the strongest partial left over by the first comb
    (Hz, dB against the frame's strongest peak); NaN / 0 where there is none."""

    f0: np.ndarray
    second_f0: np.ndarray
    second_partials: np.ndarray
    second_share: np.ndarray
    leftover_hz: np.ndarray
    leftover_db: np.ndarray

    def take(self, i: np.ndarray) -> _Voices:
        return _Voices(*(getattr(self, f)[i] for f in self.__dataclass_fields__))

    def candidates(self) -> np.ndarray:
        """Frames whose second voice might persist (worth analysing the later frame for)."""
        return (((self.second_partials >= PERSIST_MIN_PARTIALS)
                 & (self.second_share >= SECOND_SERIES_MIN_SHARE))
                | (self.leftover_db >= LEFTOVER_MIN_DB))


def _analyse(x: np.ndarray, frames: np.ndarray) -> _Voices:
    if x.size < frames.max() * HOP + FRAME:
        x = np.pad(x, (0, frames.max() * HOP + FRAME - x.size))
    segs = x[frames[:, None] * HOP + np.arange(FRAME)[None, :]].astype(np.float64)
    spec = np.abs(np.fft.rfft(segs * np.hanning(FRAME), N_FFT, axis=1))
    freqs, power = _peaks(20.0 * np.log10(spec + 1e-9))
    freqs, power = freqs.astype(np.float32), (power / power.max(initial=1e-30)).astype(np.float32)
    n_peaks = max(1, int((power > 0).sum(axis=1).max()))
    freqs, power = freqs[:, :n_peaks], power[:, :n_peaks]
    m1, valid, f0 = _best_comb(freqs, power)
    rest = np.where(m1, 0.0, power)
    m2, valid2, f02 = _best_comb(freqs, rest)
    amp = np.sqrt(power)
    share2 = np.where(valid2, (amp * m2).sum(axis=1) / np.maximum(amp.sum(axis=1), 1e-30), 0.0)
    j = np.argmax(rest, axis=1)
    left_p = np.take_along_axis(rest, j[:, None], axis=1)[:, 0]
    left_db = np.where(left_p > 0, 10.0 * np.log10(np.maximum(left_p, 1e-30)
                                                   / np.maximum(power.max(axis=1), 1e-30)),
                       -np.inf)
    return _Voices(f0=np.where(valid, f0, np.nan),
                   second_f0=np.where(valid2, f02, np.nan),
                   second_partials=np.where(valid2, m2.sum(axis=1), 0),
                   second_share=np.where(valid, share2, np.nan),
                   leftover_hz=np.take_along_axis(freqs, j[:, None], axis=1)[:, 0],
                   leftover_db=np.where(valid, left_db, -np.inf))


def _same_pitch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(1200.0 * np.log2(a / b)) < PERSIST_CENTS


def _persists(now: _Voices, later: _Voices) -> np.ndarray:
    """Whether the second voice of `now` still sounds in `later` (same frames, later)."""
    two = ((now.second_partials >= PERSIST_MIN_PARTIALS)
           & (now.second_share >= SECOND_SERIES_MIN_SHARE))
    two_later = ((later.second_partials >= PERSIST_MIN_PARTIALS)
                 & (later.second_share >= SECOND_SERIES_MIN_SHARE))
    kept = two_later & (_same_pitch(later.second_f0, now.second_f0)  # the same second voice,
                        | (_same_pitch(later.f0, now.second_f0)  # or the two swapped places
                           & _same_pitch(later.second_f0, now.f0)))
    partial = ((now.leftover_db >= LEFTOVER_MIN_DB) & (later.leftover_db >= LEFTOVER_MIN_DB)
               & _same_pitch(later.leftover_hz, now.leftover_hz))
    return (two & kept) | partial


def frame_evidence(x: np.ndarray, frames: np.ndarray) -> FrameEvidence:
    """Analyse the frames with the given indices of a 16 kHz signal `x` (frame i starts at
    sample i * HOP), and PERSIST_HOPS frames later where a second voice might persist."""
    frames = np.asarray(frames, dtype=np.int64)
    loud = frame_loudness(x)[frames] if frames.size else np.zeros(0)
    if frames.size == 0:
        return FrameEvidence(loud, np.zeros(0), np.zeros(0, dtype=bool))
    now = _analyse(x, frames)
    second = np.where(now.second_partials >= SECOND_SERIES_MIN_PARTIALS, now.second_share, 0.0)
    second = np.where(np.isnan(now.second_share), np.nan, second)
    persistent = np.zeros(frames.size, dtype=bool)
    cand = np.flatnonzero(now.candidates())
    if cand.size:
        later = _analyse(x, frames[cand] + PERSIST_HOPS)
        persistent[cand] = _persists(now.take(cand), later)
    return FrameEvidence(loud, second, persistent)


def _counted(evidence: FrameEvidence, reference_db: float) -> np.ndarray:
    """The frames that count: loud (within LOUD_GATE_DB of `reference_db`) and with peaks."""
    loud = evidence.loudness_db
    return (loud > reference_db - LOUD_GATE_DB) & (loud > SILENT_DBFS) & ~np.isnan(
        evidence.second_share)


def judge(evidence: FrameEvidence, *, reference_db: float | None = None) -> PolyphonyEstimate:
    """The verdict from analysed frames: only frames within LOUD_GATE_DB of the recording's
    loud level (`reference_db`, default: the 95th percentile of the frames given) count.
    Evidence without persistence (`persistent` None) is judged on the second series alone:
    polyphonic when they sound in POLYPHONIC_FRAME_SHARE of the frames."""
    loud = evidence.loudness_db
    if loud.size == 0:
        return PolyphonyEstimate(0.0, 0, False)
    ref = float(np.percentile(loud, 95)) if reference_db is None else reference_db
    keep = _counted(evidence, ref)
    n = int(keep.sum())
    if n == 0:
        return PolyphonyEstimate(0.0, 0, False)
    votes = evidence.votes()[keep]
    share = float(np.mean(votes > 0))
    score = float(votes.mean())
    threshold = POLYPHONIC_FRAME_SHARE if evidence.persistent is None else POLYPHONIC_SCORE
    return PolyphonyEstimate(round(share, 4), n, n >= MIN_LOUD_FRAMES and score >= threshold,
                             round(score, 4))


def estimate_polyphony(x: np.ndarray, *, sample_rate: int) -> PolyphonyEstimate:
    """How polyphonic the mono signal `x` sounds (resampled to 16 kHz when needed)."""
    if sample_rate != ANALYSIS_SAMPLE_RATE:
        import soxr

        x = soxr.resample(np.asarray(x, dtype=np.float32), sample_rate, ANALYSIS_SAMPLE_RATE)
    loud = frame_loudness(x)
    ref = float(np.percentile(loud, 95))
    chosen = np.flatnonzero((loud > ref - LOUD_GATE_DB) & (loud > SILENT_DBFS))
    if chosen.size > MAX_FRAMES:
        chosen = chosen[np.linspace(0, chosen.size - 1, MAX_FRAMES).round().astype(np.int64)]
    # Sequential test: batches of frames, each spread over the whole take; stop as soon as
    # the score is clearly on one side of the threshold (most takes: after the first batch).
    parts: list[FrameEvidence] = []
    found = PolyphonyEstimate(0.0, 0, False)
    for b in range(BATCHES):
        parts.append(frame_evidence(x, chosen[b::BATCHES]))
        evidence = FrameEvidence.concatenate(parts)
        found = judge(evidence, reference_db=ref)
        if found.frames >= MIN_LOUD_FRAMES:
            sd = max(float(evidence.votes()[_counted(evidence, ref)].std()), MIN_VOTE_SD)
            if abs(found.score - POLYPHONIC_SCORE) > CLEAR_MARGIN_SD * sd / np.sqrt(found.frames):
                break
    log.debug("polyphony: a second voice in %.0f%% of %d loud frames (score %.2f)",
              100 * found.share, found.frames, found.score)
    return found


def polyphonic_error(estimate: PolyphonyEstimate) -> PolyphonicInputError:
    return PolyphonicInputError(
        "this recording seems to hold several instruments or voices at once (a second line of "
        f"pitches sounds through {100 * estimate.share:.0f}% of it); hum and transcribe follow "
        "a single voice: for a full song, a band or chords use `tunesmith transcribe "
        "--polyphonic`")


def check_monophonic(x: np.ndarray, *, sample_rate: int) -> PolyphonyEstimate:
    """Raise PolyphonicInputError when `x` sounds like several instruments/voices at once."""
    found = estimate_polyphony(x, sample_rate=sample_rate)
    if found.polyphonic:
        raise polyphonic_error(found)
    return found


# ---------------------------------------------------------------- internals


def _peaks(mag_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The up to MAX_PEAKS strongest prominent peaks of each frame's spectrum (dB, N_FFT//2+1
    bins): (frequency Hz, power), sorted by power, padded with zero power."""
    from scipy.ndimage import maximum_filter1d

    n, n_bins = mag_db.shape
    bin_hz = ANALYSIS_SAMPLE_RATE / N_FFT
    lo, hi = int(np.ceil(BAND_HZ[0] / bin_hz)), int(BAND_HZ[1] / bin_hz)
    band = mag_db[:, lo:hi + 1]
    floor = _block_floor(band, int(round(FLOOR_BLOCK_HZ / bin_hz)))
    local_max = band == maximum_filter1d(band, PEAK_NEIGHBOURHOOD, axis=1)
    ok = local_max & (band > floor + PEAK_PROMINENCE_DB)
    ok &= band > band.max(axis=1, keepdims=True) - PEAK_RANGE_DB
    ok[:, 0] = ok[:, -1] = False
    # parabolic interpolation of every bin on the log spectrum (used where ok)
    y0, y1, y2 = band[:, :-2], band[:, 1:-1], band[:, 2:]
    d = y0 - 2.0 * y1 + y2
    shift = np.clip(np.where(np.abs(d) > 1e-9, 0.5 * (y0 - y2) / np.where(d == 0, 1.0, d), 0.0),
                    -0.5, 0.5)
    f_all = np.zeros_like(band)
    p_all = np.zeros_like(band)
    f_all[:, 1:-1] = (lo + np.arange(1, band.shape[1] - 1) + shift) * bin_hz
    p_all[:, 1:-1] = 10.0 ** ((y1 - 0.25 * (y0 - y2) * shift) / 10.0)
    p_all = np.where(ok, p_all, 0.0)
    k = min(MAX_PEAKS, band.shape[1])
    idx = np.argpartition(-p_all, k - 1, axis=1)[:, :k]
    p = np.take_along_axis(p_all, idx, axis=1)
    order = np.argsort(-p, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    p = np.take_along_axis(p, order, axis=1)
    f = np.where(p > 0, np.take_along_axis(f_all, idx, axis=1), 0.0)
    return f, p


def _block_floor(band: np.ndarray, block: int) -> np.ndarray:
    """The spectral floor: a low percentile of half-overlapping blocks, interpolated."""
    block = max(block, 4)
    step = block // 2
    starts = np.arange(0, max(1, band.shape[1] - block + 1), step)
    blocks = np.lib.stride_tricks.sliding_window_view(band, block, axis=1)[:, starts]
    meds = np.percentile(blocks, FLOOR_PERCENTILE, axis=2)
    centres = starts + block / 2.0
    cols = np.arange(band.shape[1])
    out = np.empty_like(band)
    for i in range(band.shape[0]):
        out[i] = np.interp(cols, centres, meds[i])
    return out


def _match(f: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which peaks (n, P) lie on the harmonic comb of each candidate f0 (n, K): (n, K, P)."""
    ratio = f[:, None, :] / np.maximum(c[:, :, None], 1e-9)
    h = np.maximum(np.round(ratio), 1.0)
    hc = h * c[:, :, None]
    tol = np.minimum(np.maximum(hc * (2.0 ** (MATCH_CENTS / 1200.0) - 1.0), MATCH_MIN_HZ),
                     MATCH_MAX_F0_SHARE * c[:, :, None])
    m = (np.abs(f[:, None, :] - hc) <= tol) & (h <= MAX_HARMONIC) & (f[:, None, :] > 0)
    return m, h


def _best_comb(f: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame, the peaks (mask (n, P)) of the harmonic comb that best explains the
    peaks with power `p` (peaks of zero power are ignored), whether there was any, and its
    f0 (Hz)."""
    n = f.shape[0]
    order = np.argsort(-p, axis=1)[:, :CANDIDATE_PEAKS]
    top_f = np.take_along_axis(np.where(p > 0, f, 0.0), order, axis=1)
    c = (top_f[:, :, None] / np.arange(1, CANDIDATE_DIVISORS + 1)[None, None, :]).reshape(n, -1)
    ok = (c >= F0_RANGE_HZ[0]) & (c <= F0_RANGE_HZ[1])
    c = np.where(ok, c, 1.0)
    m, h = _match(f, c)
    m &= (p > 0)[:, None, :] & ok[:, :, None]
    # refine each f0 on the peaks it caught (power-weighted), then match again
    w = m * p[:, None, :]
    wsum = w.sum(axis=2)
    refined = (w * f[:, None, :] / h).sum(axis=2) / np.maximum(wsum, 1e-30)
    c = np.where(wsum > 0, refined, c)
    m, h = _match(f, c)
    m &= (p > 0)[:, None, :] & ok[:, :, None]
    total = np.maximum(p.sum(axis=1), 1e-30)
    explained = (m * p[:, None, :]).sum(axis=2) / total[:, None]
    hh = np.where(m & (h <= FILL_HARMONICS), h, 0).astype(np.int64)
    slots = np.zeros((*c.shape, FILL_HARMONICS + 1), dtype=bool)
    np.put_along_axis(slots, hh, True, axis=2)
    slots[:, :, 0] = False
    top_h = np.clip(np.where(m, h, 0).max(axis=2), 1, FILL_HARMONICS)
    fill = slots.sum(axis=2) / top_h
    score = np.where(ok, explained * fill ** FILL_POWER, -1.0)
    best = np.argmax(score, axis=1)
    mask = np.take_along_axis(m, best[:, None, None], axis=1)[:, 0, :]
    valid = np.take_along_axis(score, best[:, None], axis=1)[:, 0] > 0
    f0 = np.take_along_axis(c, best[:, None], axis=1)[:, 0]
    return mask & valid[:, None], valid, f0
