"""What a stem is, from its audio: features a mix engineer hears, and the role they suggest.

Features (on a mono 22.05 kHz copy, at most ANALYSIS_MAX_S of the stem's active parts):

- `low_share`: share of the energy below 150 Hz (bass, kick);
- `centroid_hz`: median spectral centroid of the active frames (brightness, register);
- `flatness`: median spectral flatness 100 Hz-8 kHz (noise-like drums vs tones);
- `percussive_share`: energy share above 150 Hz of the percussive part of a median-filter
  harmonic/percussive separation (Fitzgerald 2010): drums (a kick's low thump is tonal);
- `onset_rate`: onsets per active second (peaks of the mean positive dB rise per frame);
- `decay_db`: median level 300 ms after each onset relative to its peak (plucked and struck
  sounds decay, pads and held notes do not);
- `polyphony`: median number of harmonic series per frame (greedy grouping of spectral peaks
  of the harmonic part): 1 for a melody, 3+ for chords;
- `pitch_hz`: median lowest fundamental of those series (register).

`detect_role` scores every role with transparent ramps on these features; a role word in the
file name (`kick`, `vox`, `gtr`, ...) only adds a small bonus, so audio wins over a misleading
name. Guitar, strings, vocal and brass sound too much like keys, pads and leads to be told apart
by these features, so they are chosen when the name says so and the audio agrees with the
role they resemble.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

from tunesmith.produce.common import canonical_role

ANALYSIS_RATE = 22050
ANALYSIS_MAX_S = 32.0
_SEGMENT_S = 8.0
_N_FFT = 2048
_HOP = 512
_ACTIVE_DB = 40.0  # frames within this of the loudest frame count as playing
_SILENT_DBFS = -75.0
_LOW_HZ = 150.0
_FLAT_BAND_HZ = (100.0, 8000.0)
_HPSS_FRAMES = 9  # ~0.2 s
_HPSS_BINS = 9  # of 2-bin pooled spectrum: ~190 Hz
_HPSS_POOL = 2
_ONSET_MIN_DB = 2.0  # mean positive rise (dB per bin) that makes an onset
_ONSET_ABOVE_MEDIAN_DB = 1.0
_ONSET_WAIT_FRAMES = 3  # ~70 ms between onsets at the most
_DECAY_S = 0.3
_POLY_MAX_FRAMES = 240
_PEAK_RANGE_DB = 30.0  # spectral peaks within this of the frame's strongest
_PEAK_BAND_HZ = (35.0, 5000.0)
_HARMONIC_TOL = 0.03  # a peak within 3 % of k * f0 belongs to f0's series
_SERIES_SHARE = 0.1  # a series counts as a voice with >= 10 % of the strongest one's energy
_NAME_BONUS = 0.2
_OTHER_BELOW = 0.25  # best score under this: the stem is "other"
_LTAS_NPERSEG = 8192

#: Extra words in file names that point at a role (besides ROLES and ROLE_ALIASES).
NAME_WORDS: dict[str, str] = {
    **{
        w: "drums"
        for w in (
            "kick",
            "kik",
            "bd",
            "snare",
            "snr",
            "sd",
            "hat",
            "hats",
            "hihat",
            "hh",
            "cymbal",
            "cymbals",
            "overhead",
            "overheads",
            "oh",
            "tom",
            "toms",
            "clap",
            "ride",
            "crash",
            "shaker",
            "tamb",
            "room",
        )
    },
    **{w: "vocal" for w in ("vocal", "bv", "bvs", "backing", "lyric", "sing", "sung", "adlib")},
    **{w: "guitar" for w in ("gtr", "gtrs", "strat", "tele", "acoustic")},
    **{w: "keys" for w in ("pno", "key", "wurli", "ep", "rhodes")},
    **{w: "bass" for w in ("bs", "subbass", "bassline")},
}

# When a name holds several role words ("Lead Vox", "Bass Synth"), the more specific wins.
_NAME_PRIORITY = (
    "vocal",
    "drums",
    "bass",
    "guitar",
    "strings",
    "brass",
    "pad",
    "keys",
    "chords",
    "lead",
    "melody",
    "other",
)

# Roles decided from the audio alone, and the audio role each name-only role resembles.
_AUDIO_ROLES = ("drums", "bass", "lead", "keys", "pad")
_RESEMBLES = {
    "melody": "lead",
    "vocal": "lead",
    "brass": "lead",
    "guitar": "keys",
    "chords": "keys",
    "strings": "pad",
}


@dataclass(frozen=True)
class StemFeatures:
    duration_s: float
    active_s: float
    peak_dbfs: float
    low_share: float
    centroid_hz: float
    flatness: float
    percussive_share: float
    onset_rate: float
    decay_db: float
    polyphony: float
    pitch_hz: float

    @property
    def silent(self) -> bool:
        return self.active_s <= 0.0

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) if math.isfinite(v) else None for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RoleGuess:
    """The chosen role, how sure (best score minus runner-up, 0..1) and every role's score."""

    role: str
    confidence: float
    scores: dict[str, float]
    name_hint: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "role": self.role,
            "confidence": round(self.confidence, 3),
            "name_hint": self.name_hint,
            "scores": {
                k: round(v, 3) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])
            },
        }


@dataclass(frozen=True)
class Spectrum:
    """Long-term average spectrum of a stem: power per Hz at `freqs_hz` (Welch)."""

    freqs_hz: np.ndarray
    power: np.ndarray


# --------------------------------------------------------------------------- features


def _mono_analysis_copy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    mono = x if x.ndim == 1 else x.mean(axis=0)
    if sample_rate != ANALYSIS_RATE:
        mono = soxr.resample(mono, sample_rate, ANALYSIS_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _segments(x: np.ndarray) -> list[np.ndarray]:
    """The whole signal when short, else evenly spread segments of its loudest half."""
    seg = int(_SEGMENT_S * ANALYSIS_RATE)
    if x.size <= ANALYSIS_MAX_S * ANALYSIS_RATE:
        return [x]
    n_segs = x.size // seg
    energy = np.square(x[: n_segs * seg].reshape(n_segs, seg)).sum(axis=1)
    active = np.nonzero(energy >= np.median(energy[energy > 0]) if energy.any() else energy >= 0)[0]
    if active.size == 0:
        active = np.arange(n_segs)
    want = int(ANALYSIS_MAX_S // _SEGMENT_S)
    picks = np.unique(active[np.linspace(0, active.size - 1, want).astype(int)])
    return [x[i * seg : (i + 1) * seg] for i in picks]


def _stft_mag(x: np.ndarray) -> np.ndarray:
    """|STFT| (bins, frames), Hann window, centred frames."""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.pad(x, _N_FFT // 2)
    if padded.size < _N_FFT:
        padded = np.pad(padded, (0, _N_FFT - padded.size))
    frames = sliding_window_view(padded, _N_FFT)[::_HOP]
    window = np.hanning(_N_FFT).astype(np.float32)
    return np.abs(np.fft.rfft(frames * window, axis=1)).T.astype(np.float32)


def _percussive_mask(mag: np.ndarray) -> np.ndarray:
    """Soft percussive mask (0..1 per bin and frame) of a median-filter harmonic/percussive
    separation, computed on a spectrum pooled by _HPSS_POOL bins (4x cheaper) and expanded."""
    from scipy.ndimage import median_filter

    n_bins = mag.shape[0] - mag.shape[0] % _HPSS_POOL
    pooled = mag[:n_bins].reshape(-1, _HPSS_POOL, mag.shape[1]).sum(axis=1)
    harmonic = median_filter(pooled, size=(1, _HPSS_FRAMES), mode="nearest")
    percussive = median_filter(pooled, size=(_HPSS_BINS, 1), mode="nearest")
    h2, p2 = np.square(harmonic), np.square(percussive)
    mask = np.repeat(p2 / np.maximum(h2 + p2, 1e-20), _HPSS_POOL, axis=0)
    if mask.shape[0] < mag.shape[0]:
        mask = np.concatenate([mask, mask[-1:]], axis=0)
    return mask


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at lo, 1 at hi, linear between (hi < lo gives a falling ramp)."""
    if not math.isfinite(x):
        return 0.0
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def onset_frames(mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset frame indices and the onset-strength curve (mean positive dB rise per bin)."""
    db = 20.0 * np.log10(np.maximum(mag, 1e-6))
    db = np.maximum(db, db.max() - 80.0)
    rise = np.maximum(np.diff(db, axis=1, prepend=db[:, :1]), 0.0).mean(axis=0)
    if rise.size < 3:
        return np.zeros(0, dtype=int), rise
    from scipy.ndimage import maximum_filter1d, median_filter

    local = median_filter(rise, size=min(rise.size, 43), mode="nearest")
    peaks = (
        (rise == maximum_filter1d(rise, 2 * _ONSET_WAIT_FRAMES + 1, mode="nearest"))
        & (rise >= _ONSET_MIN_DB)
        & (rise >= local + _ONSET_ABOVE_MEDIAN_DB)
    )
    return np.nonzero(peaks)[0], rise


def _peaks_of_frame(frame_db: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima within _PEAK_RANGE_DB of the frame's strongest, in _PEAK_BAND_HZ, with
    parabolic interpolation: (frequencies, powers)."""
    lo = int(np.searchsorted(freqs, _PEAK_BAND_HZ[0]))
    hi = int(np.searchsorted(freqs, _PEAK_BAND_HZ[1]))
    seg = frame_db[lo - 1 : hi + 1]
    is_peak = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])
    is_peak &= seg[1:-1] >= frame_db[lo:hi].max() - _PEAK_RANGE_DB
    idx = np.nonzero(is_peak)[0] + 1
    a, b, c = seg[idx - 1], seg[idx], seg[idx + 1]
    denom = a - 2 * b + c
    offset = np.where(denom != 0, 0.5 * (a - c) / np.where(denom != 0, denom, 1), 0.0)
    bin_hz = freqs[1] - freqs[0]
    return freqs[lo - 1 + idx] + offset * bin_hz, 10.0 ** (b / 10.0)


def _harmonic_series(freqs: np.ndarray, powers: np.ndarray) -> list[tuple[float, float]]:
    """Greedy grouping of peaks into harmonic series, lowest first: (f0, energy) per series."""
    order = np.argsort(freqs)
    f, p = freqs[order], powers[order]
    free = np.ones(f.size, dtype=bool)
    series = []
    for i in range(f.size):
        if not free[i]:
            continue
        ratio = f / f[i]
        member = free & (np.abs(ratio - np.round(ratio)) <= _HARMONIC_TOL * np.round(ratio))
        member &= np.round(ratio) >= 1
        series.append((float(f[i]), float(p[member].sum())))
        free &= ~member
    return series


def _polyphony(harmonic_mag: np.ndarray, active: np.ndarray) -> tuple[float, float]:
    """Median number of harmonic series per active frame and median lowest f0 (Hz)."""
    frames = np.nonzero(active)[0]
    if frames.size == 0:
        return 0.0, math.nan
    frames = frames[np.linspace(0, frames.size - 1, min(frames.size, _POLY_MAX_FRAMES)).astype(int)]
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / ANALYSIS_RATE)
    counts, f0s = [], []
    for t in frames:
        frame_db = 20.0 * np.log10(np.maximum(harmonic_mag[:, t], 1e-7))
        pf, pp = _peaks_of_frame(frame_db, freqs)
        if pf.size == 0:
            continue
        series = _harmonic_series(pf, pp)
        strongest = max(e for _, e in series)
        voices = [f0 for f0, e in series if e >= _SERIES_SHARE * strongest]
        counts.append(len(voices))
        f0s.append(min(voices))
    if not counts:
        return 0.0, math.nan
    return float(np.median(counts)), float(np.median(f0s))


def stem_features(audio: np.ndarray, *, sample_rate: int) -> StemFeatures:
    """Measure a stem ((channels, n) or (n,) float audio at `sample_rate`)."""
    x = _mono_analysis_copy(audio, sample_rate)
    duration = x.size / ANALYSIS_RATE
    peak = float(np.abs(x).max()) if x.size else 0.0
    peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if peak_db < _SILENT_DBFS:
        nan = math.nan
        return StemFeatures(duration, 0.0, peak_db, nan, nan, nan, nan, 0.0, nan, 0.0, nan)

    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / ANALYSIS_RATE)
    low = freqs < _LOW_HZ
    flat_band = (freqs >= _FLAT_BAND_HZ[0]) & (freqs <= _FLAT_BAND_HZ[1])
    mags = [_stft_mag(seg) for seg in _segments(x)]
    frame_power = [np.square(m).sum(axis=0) for m in mags]
    loudest = max(float(p.max()) for p in frame_power)
    floor = max(loudest * 10.0 ** (-_ACTIVE_DB / 10.0), 10.0 ** (_SILENT_DBFS / 10.0) * _N_FFT)

    total = low_energy = high_energy = perc_energy = 0.0
    centroids, flatness, decays = [], [], []
    n_onsets, active_frames = 0, 0
    poly_counts: list[float] = []
    pitches: list[float] = []
    decay_frames = int(round(_DECAY_S * ANALYSIS_RATE / _HOP))
    for mag, fp in zip(mags, frame_power, strict=True):
        active = fp > floor
        if not active.any():
            continue
        active_frames += int(active.sum())
        power = np.square(mag)
        mask = _percussive_mask(mag)
        pa = power[:, active]
        total += float(pa.sum())
        low_energy += float(pa[low].sum())
        high_energy += float(pa[~low].sum())
        perc_energy += float((mask[~low][:, active] * pa[~low]).sum())
        centroids.append((freqs @ pa) / np.maximum(pa.sum(axis=0), 1e-20))
        band = np.maximum(pa[flat_band], 1e-20)
        flatness.append(np.exp(np.log(band).mean(axis=0)) / band.mean(axis=0))
        onsets, _ = onset_frames(mag)
        onsets = onsets[active[onsets]]
        n_onsets += onsets.size
        level_db = 10.0 * np.log10(np.maximum(fp, 1e-20))
        for t in onsets:
            if t + decay_frames < fp.size:
                top = level_db[t : t + 3].max()
                decays.append(level_db[t + decay_frames] - top)
        count, pitch = _polyphony(mag * (mask < 0.5), active)
        poly_counts.append(count)
        pitches.append(pitch)
    active_s = active_frames * _HOP / ANALYSIS_RATE
    return StemFeatures(
        duration_s=duration,
        active_s=active_s,
        peak_dbfs=peak_db,
        low_share=low_energy / total if total > 0 else math.nan,
        centroid_hz=float(np.median(np.concatenate(centroids))),
        flatness=float(np.median(np.concatenate(flatness))),
        percussive_share=perc_energy / high_energy if high_energy > 0 else math.nan,
        onset_rate=n_onsets / active_s if active_s > 0 else 0.0,
        decay_db=float(np.median(decays)) if decays else 0.0,
        polyphony=float(np.median(poly_counts)) if poly_counts else 0.0,
        pitch_hz=float(np.nanmedian(pitches)) if np.isfinite(pitches).any() else math.nan,
    )


# --------------------------------------------------------------------------- roles


def name_hint(name: str) -> str | None:
    """The role a file name points at (`Kick_01.wav` -> drums, `LeadVox` -> vocal), or None."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    words = [re.sub(r"\d+$", "", w) or w for w in words]
    hinted = {r for w in words if (r := NAME_WORDS.get(w) or canonical_role(w)) is not None}
    for role in _NAME_PRIORITY:
        if role in hinted:
            return role
    return None


def role_scores(f: StemFeatures) -> dict[str, float]:
    """Score (0..1) of each audio-decidable role for these features."""
    perc = f.percussive_share
    tonal = 1.0 - _ramp(perc, 0.35, 0.65)
    low = f.low_share
    fast_decay = _ramp(-f.decay_db, 6.0, 11.0)  # struck drums: > 10 dB down after 300 ms
    scores = {
        "drums": 0.35 * _ramp(perc, 0.2, 0.5)
        + 0.15 * _ramp(f.flatness, 0.02, 0.15)
        + 0.25 * _ramp(f.onset_rate, 1.5, 4.0)
        + 0.25 * fast_decay,
        "bass": tonal
        * (0.5 * _ramp(low, 0.15, 0.45) + 0.5 * _ramp(f.pitch_hz, 120.0, 80.0))
        * (1.0 - _ramp(-f.decay_db, 7.0, 12.0))
        * (1.0 - _ramp(f.flatness, 0.05, 0.15))
        * (1.0 - 0.5 * _ramp(f.polyphony, 2.5, 3.5)),
        "lead": tonal
        * _ramp(f.polyphony, 2.2, 1.2)
        * _ramp(f.pitch_hz, 110.0, 200.0)
        * (1.0 - _ramp(low, 0.3, 0.6))
        * (0.7 + 0.3 * _ramp(f.onset_rate, 0.3, 1.5)),
        "keys": tonal
        * _ramp(f.polyphony, 1.3, 2.5)
        * (1.0 - _ramp(low, 0.4, 0.7))
        * (0.5 + 0.5 * _ramp(f.pitch_hz, 55.0, 85.0))
        * (0.5 * _ramp(f.onset_rate, 0.2, 0.8) + 0.5 * _ramp(-f.decay_db, 1.0, 4.0)),
        "pad": tonal
        * (1.0 - _ramp(low, 0.4, 0.7))
        * (0.5 + 0.5 * _ramp(f.polyphony, 1.3, 2.5))
        * _ramp(f.onset_rate, 0.8, 0.2)
        * _ramp(f.decay_db, -4.0, -1.0),
    }
    return {k: float(v) for k, v in scores.items()}


def detect_role(features: StemFeatures, *, name: str | None = None) -> RoleGuess:
    """Pick the role of a stem from its features; the file name is a weak hint. The
    confidence is the margin between the best and the second-best sound (a vocal and a lead
    sound alike: that is one sound, not two)."""
    hint = name_hint(name) if name else None
    audio = role_scores(features)
    scores = dict(audio)
    for role, like in _RESEMBLES.items():
        scores[role] = 0.9 * audio[like]
    scores["other"] = _OTHER_BELOW
    if hint is not None:
        scores[hint] += _NAME_BONUS
    role = max(scores, key=lambda r: scores[r])
    sound = _RESEMBLES.get(role, role)
    rivals = [v for r, v in scores.items() if _RESEMBLES.get(r, r) != sound]
    confidence = scores[role] - max(rivals, default=0.0)
    return RoleGuess(role=role, confidence=float(confidence), scores=scores, name_hint=hint)


# --------------------------------------------------------------------------- spectra


def long_term_spectrum(audio: np.ndarray, *, sample_rate: int) -> Spectrum:
    """Welch average power spectrum of the mono sum of (channels, n) or (n,) audio."""
    from scipy.signal import welch

    x = np.asarray(audio, dtype=np.float32)
    mono = x if x.ndim == 1 else x.mean(axis=0)
    nperseg = min(_LTAS_NPERSEG, max(256, 1 << int(math.log2(max(mono.size, 2)))))
    freqs, power = welch(mono, fs=sample_rate, nperseg=nperseg, average="mean")
    return Spectrum(freqs_hz=freqs, power=power.astype(np.float64))


def band_levels_db(
    spectrum: Spectrum, centres_hz: np.ndarray, *, width_octaves: float = 1.0 / 3.0
) -> np.ndarray:
    """Power (dB) in a band `width_octaves` wide around each centre frequency."""
    f, p = spectrum.freqs_hz, spectrum.power
    df = f[1] - f[0] if f.size > 1 else 1.0
    cum = np.concatenate([[0.0], np.cumsum(p) * df])
    half = 2.0 ** (width_octaves / 2.0)
    lo = np.searchsorted(f, centres_hz / half)
    hi = np.searchsorted(f, centres_hz * half)
    hi = np.maximum(hi, lo + 1)
    hi = np.minimum(hi, f.size)
    energy = cum[hi] - cum[np.minimum(lo, f.size - 1)]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.maximum(energy, 1e-30))


# --------------------------------------------------------------------------- tempo

_TEMPO_RANGE_BPM = (60.0, 200.0)
_TEMPO_PRIOR_BPM = 115.0
_TEMPO_PRIOR_OCTAVES = 1.0
_TEMPO_MAX_S = 30.0


def estimate_tempo_bpm(audio: np.ndarray, *, sample_rate: int) -> float | None:
    """Tempo of a rhythmic stem (drums, ideally) from the autocorrelation of its onset
    strength, weighted toward 115 bpm (a log-normal prior one octave wide); None when there
    is no periodic pulse."""
    x = _mono_analysis_copy(audio, sample_rate)
    loud = np.nonzero(np.abs(x) > 10.0 ** (_SILENT_DBFS / 20.0))[0]
    if loud.size == 0:
        return None
    x = x[loud[0] : loud[0] + int(_TEMPO_MAX_S * ANALYSIS_RATE)]
    _, rise = onset_frames(_stft_mag(x))
    if rise.size < 4 * ANALYSIS_RATE / _HOP:  # under 4 s
        return None
    env = rise - rise.mean()
    spectrum = np.fft.rfft(env, n=2 * env.size)
    acf = np.fft.irfft(np.abs(spectrum) ** 2)[: env.size]
    if acf[0] <= 0:
        return None
    acf /= acf[0]
    fps = ANALYSIS_RATE / _HOP
    lags = np.arange(
        int(fps * 60.0 / _TEMPO_RANGE_BPM[1]), int(fps * 60.0 / _TEMPO_RANGE_BPM[0]) + 2
    )
    lags = lags[lags < acf.size - 1]
    bpm = 60.0 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpm / _TEMPO_PRIOR_BPM) / _TEMPO_PRIOR_OCTAVES) ** 2)
    weighted = acf[lags] * prior
    best = int(np.argmax(weighted))
    if acf[lags[best]] < 0.1:
        return None
    lag = float(lags[best])
    a, b, c = acf[lags[best] - 1], acf[lags[best]], acf[lags[best] + 1]
    if a - 2 * b + c < 0:
        lag += 0.5 * (a - c) / (a - 2 * b + c)
    return float(60.0 * fps / lag)
