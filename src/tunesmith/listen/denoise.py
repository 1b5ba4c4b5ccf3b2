"""Background noise reduction before pitch tracking: steady noise (fans, hiss, room tone) and
fluctuating noise (a crowd of talkers, "babble").

Spectral subtraction: the noise spectrum is the mean spectrum of the quietest frames of the
recording; each STFT bin keeps `max(1 - oversubtract * noise / power, FLOOR^2) ** 0.5` of its
amplitude. Only applied when the quiet frames are well below the loud ones (there are pauses to
learn the noise from) yet not so far below that the noise cannot matter.

The over-subtraction factor follows how much the noise fluctuates. Steady noise stays close to
its mean spectrum, and subtracting twice the mean removes it. Babble does not: a talker's
harmonics rise 10-15 dB above the mean spectrum for a syllable at a time, so that noise is only
removed when the mean is subtracted many times over, i.e. when every bin not well above the
noise is pulled down to the floor. The fluctuation is the spread (standard deviation, dB) of
band energies across the quiet frames: about 2 dB for white noise, 4-16 dB for 6-8 talkers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import numpy as np

log = logging.getLogger(__name__)

FRAME = 512
HOP = 128
QUIET_FRACTION = 0.1  # the quietest 10 % of frames define the noise spectrum
OVERSUBTRACT = 2.0  # for steady noise
OVERSUBTRACT_MAX = 12.0  # for strongly fluctuating noise (babble)
STEADY_FLUCTUATION_DB = 3.0  # band energies of steady noise spread less than this ...
FLUCTUATION_RANGE_DB = 2.0  # ... and the factor reaches OVERSUBTRACT_MAX this much above it
FLOOR = 0.4  # never attenuate a bin by more than about 8 dB
MIN_SNR_DB = 6.0  # quiet vs loud frames closer than this: no pauses to learn noise from
MAX_SNR_DB = 25.0  # further apart: the noise is too quiet to matter
BAND_EDGES = (4, 8, 12, 16, 24, 32, 48, 64, 96)  # STFT bins (31.25 Hz each): 125 Hz-3 kHz


@dataclass(frozen=True)
class NoiseProfile:
    """What `learn_noise` found: the noise power spectrum (bins, 1), how much its band
    energies fluctuate (dB) and the over-subtraction factor that follows from it."""

    power: np.ndarray
    fluctuation_db: float
    oversubtract: float


@dataclass(frozen=True)
class Denoised:
    """The audio after noise reduction, and the noise that was removed (None: none was)."""

    audio: np.ndarray
    noise: NoiseProfile | None


def reduce_noise(x: np.ndarray, *, sample_rate: int, spec: np.ndarray | None = None) -> Denoised:
    """`x` with its background noise reduced (unchanged when not worth it). `spec`: its
    STFT (`stft`), when the caller has it already (the transcriber's reverberation check)."""
    if x.size < 4 * FRAME:
        return Denoised(x, None)
    spec = stft(x, sample_rate=sample_rate) if spec is None else spec
    noise = learn_noise(np.abs(spec) ** 2)
    return Denoised(x if noise is None else _subtract(x, spec, noise, sample_rate), noise)


def stft(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Complex STFT (bins, frames) with the frames noise reduction works on."""
    from scipy.signal import stft as scipy_stft

    return scipy_stft(x, fs=sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)[2]


def stft_power(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Power spectrogram (bins, frames) of the frames `reduce_noise` learns the noise from."""
    return np.abs(stft(x, sample_rate=sample_rate)) ** 2


def frame_power(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The power spectra (bins, frames) of the frames of `x` centred at the sample indices
    `centres` (zeros outside `x`), as `stft_power` gives them (within float32 rounding) for
    the frames it centres there: for a stream, which needs a few of them at a time."""
    win = _hann()
    centres = np.asarray(centres, dtype=np.int64)
    if centres.size and centres.min() >= FRAME // 2 and centres.max() + FRAME // 2 <= x.size:
        # every frame inside `x` (a stream's usual case): gathered without the zero padding,
        # the same values about ten times faster
        frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[centres - FRAME // 2]
    else:
        idx = centres[:, None] + np.arange(-FRAME // 2, FRAME // 2)
        inside = (idx >= 0) & (idx < x.size)
        frames = np.where(inside, x[np.clip(idx, 0, max(x.size - 1, 0))] if x.size else 0.0,
                          0.0)
    spec = np.fft.rfft(frames * win, axis=1) / win.sum()
    return (np.abs(spec) ** 2).T.astype(np.float32)


def learn_noise(power: np.ndarray) -> NoiseProfile | None:
    """The noise learnt from a recording's power spectrogram (bins, frames), or None when
    noise reduction is not worth it (see the module notes)."""
    frame_db = 10.0 * np.log10(power.sum(axis=0) + 1e-20)
    order = np.argsort(frame_db)
    n_quiet = max(1, int(QUIET_FRACTION * order.size))
    snr_db = float(np.percentile(frame_db, 90) - np.mean(frame_db[order[:n_quiet]]))
    if not MIN_SNR_DB <= snr_db <= MAX_SNR_DB:
        return None
    quiet = power[:, order[:n_quiet]]
    fluctuation = _fluctuation_db(quiet)
    ramp = np.clip((fluctuation - STEADY_FLUCTUATION_DB) / FLUCTUATION_RANGE_DB, 0.0, 1.0)
    factor = float(OVERSUBTRACT * (OVERSUBTRACT_MAX / OVERSUBTRACT) ** ramp)
    log.debug("noise reduction applies (speech-to-quiet ratio %.1f dB, fluctuation %.1f dB, "
              "over-subtraction %.1f)", snr_db, fluctuation, factor)
    return NoiseProfile(quiet.mean(axis=1, keepdims=True), fluctuation, factor)


def subtract_noise(x: np.ndarray, noise: NoiseProfile, *, sample_rate: int) -> np.ndarray:
    """`x` with the noise `noise` (from `learn_noise`) subtracted."""
    return _subtract(x, stft(x, sample_rate=sample_rate), noise, sample_rate)


@cache
def _hann() -> np.ndarray:
    from scipy.signal import get_window

    return get_window("hann", FRAME)  # as scipy's stft windows its frames


def _fluctuation_db(quiet: np.ndarray) -> float:
    """Median over bands of the spread (dB) of each band's energy across the quiet frames."""
    if quiet.shape[1] < 2:
        return 0.0
    bands = np.add.reduceat(quiet, list(BAND_EDGES), axis=0)[:-1]
    return float(np.median(np.std(10.0 * np.log10(bands + 1e-20), axis=1)))


def _subtract(x: np.ndarray, spec: np.ndarray, noise: NoiseProfile,
              sample_rate: int) -> np.ndarray:
    from scipy.signal import istft

    power = np.abs(spec) ** 2
    ratio = noise.oversubtract * noise.power / np.maximum(power, 1e-20)
    gain = np.sqrt(np.maximum(1.0 - ratio, FLOOR**2))
    _, y = istft(spec * gain, fs=sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)
    return y[: x.size].astype(np.float32)
