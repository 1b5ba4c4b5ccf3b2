"""Steady background noise reduction before pitch tracking (fans, hiss, room tone).

Spectral subtraction: the noise spectrum is the mean spectrum of the quietest frames of the
recording; each STFT bin keeps `max(1 - OVERSUBTRACT * noise / power, FLOOR^2) ** 0.5` of its
amplitude. Only applied when the quiet frames are well below the loud ones (there are pauses to
learn the noise from) yet not so far below that the noise cannot matter.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

FRAME = 512
HOP = 128
QUIET_FRACTION = 0.1  # the quietest 10 % of frames define the noise spectrum
OVERSUBTRACT = 2.0
FLOOR = 0.3  # never attenuate a bin by more than about 10 dB
MIN_SNR_DB = 6.0  # quiet vs loud frames closer than this: no pauses to learn noise from
MAX_SNR_DB = 25.0  # further apart: the noise is too quiet to matter


def reduce_noise(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """`x` with its stationary background noise reduced (unchanged when not worth it)."""
    if x.size < 4 * FRAME:
        return x
    spec = _stft(x, sample_rate)
    noise = noise_spectrum(np.abs(spec) ** 2)
    return x if noise is None else _subtract(x, spec, noise, sample_rate)


def stft_power(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Power spectrogram (bins, frames) of the frames `reduce_noise` learns the noise from."""
    return np.abs(_stft(x, sample_rate)) ** 2


def noise_spectrum(power: np.ndarray) -> np.ndarray | None:
    """The noise power spectrum (bins, 1) learnt from a recording's power spectrogram (bins,
    frames), or None when noise reduction is not worth it (see the module notes)."""
    frame_db = 10.0 * np.log10(power.sum(axis=0) + 1e-20)
    order = np.argsort(frame_db)
    n_quiet = max(1, int(QUIET_FRACTION * order.size))
    snr_db = float(np.percentile(frame_db, 90) - np.mean(frame_db[order[:n_quiet]]))
    if not MIN_SNR_DB <= snr_db <= MAX_SNR_DB:
        return None
    log.debug("noise reduction applies (speech-to-quiet ratio %.1f dB)", snr_db)
    return power[:, order[:n_quiet]].mean(axis=1, keepdims=True)


def subtract_noise(x: np.ndarray, noise: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """`x` with the noise spectrum `noise` (from `noise_spectrum`) subtracted."""
    return _subtract(x, _stft(x, sample_rate), noise, sample_rate)


def _stft(x: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy.signal import stft

    return stft(x, fs=sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)[2]


def _subtract(x: np.ndarray, spec: np.ndarray, noise: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy.signal import istft

    power = np.abs(spec) ** 2
    gain = np.sqrt(np.maximum(1.0 - OVERSUBTRACT * noise / np.maximum(power, 1e-20), FLOOR**2))
    _, y = istft(spec * gain, fs=sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)
    return y[: x.size].astype(np.float32)
