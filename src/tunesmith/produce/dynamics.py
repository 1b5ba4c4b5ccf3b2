"""Master-bus dynamics beyond the glue compressor: a tonally neutral 3-band compressor and a
mono low end (for club systems).

The multiband splits with Linkwitz-Riley 4th-order crossovers (two cascaded 2nd-order
Butterworths; the low band passes the upper crossover's all-pass so the bands sum flat),
compresses each band with pedalboard's Compressor at a threshold set relative to that band's
own RMS, then restores each band's RMS: it evens out dynamics per band without changing the
tonal balance the EQ stage chose.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tunesmith.produce.common import ProduceError


def _lr4(kind: str, freq_hz: float, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter

    sos = butter(2, freq_hz, btype=kind, fs=sample_rate, output="sos")
    return np.concatenate([sos, sos])


def _filt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(sos, x, axis=-1).astype(np.float32)


def _rms_db(x: np.ndarray) -> float:
    ms = float(np.mean(np.square(x, dtype=np.float64)))
    return 10.0 * math.log10(ms) if ms > 0 else -math.inf


@dataclass(frozen=True)
class MultibandCompressor:
    """Three bands (low / mid / high) split at `crossovers_hz`. Per band: threshold in dB
    above the band's RMS, ratio, attack and release."""

    crossovers_hz: tuple[float, float] = (120.0, 2500.0)
    threshold_db: tuple[float, float, float] = (3.0, 4.0, 4.0)
    ratio: tuple[float, float, float] = (2.0, 1.8, 1.6)
    attack_ms: tuple[float, float, float] = (30.0, 15.0, 5.0)
    release_ms: tuple[float, float, float] = (200.0, 150.0, 100.0)

    def __post_init__(self) -> None:
        lo, hi = self.crossovers_hz
        if not 20.0 <= lo < hi:
            raise ProduceError(
                f"multiband crossovers must rise from 20 Hz, got {self.crossovers_hz}"
            )
        if min(self.ratio) < 1.0 or min(self.attack_ms) < 0 or min(self.release_ms) < 0:
            raise ProduceError("multiband ratios must be >= 1 and times >= 0 ms")

    def split(self, audio: np.ndarray, sample_rate: int) -> list[np.ndarray]:
        """Low, mid and high bands of (channels, n) audio; they sum to an all-passed input."""
        f1, f2 = self.crossovers_hz
        if f2 >= 0.45 * sample_rate:
            raise ProduceError(
                f"the upper crossover {f2:g} Hz is too high for {sample_rate} Hz audio"
            )
        low = _filt(_lr4("lowpass", f1, sample_rate), audio)
        rest = _filt(_lr4("highpass", f1, sample_rate), audio)
        mid = _filt(_lr4("lowpass", f2, sample_rate), rest)
        high = _filt(_lr4("highpass", f2, sample_rate), rest)
        low = _filt(_lr4("lowpass", f2, sample_rate), low) + _filt(
            _lr4("highpass", f2, sample_rate), low
        )
        return [low, mid, high]

    def process(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        bands = self.split(np.asarray(audio, dtype=np.float32), sample_rate)
        out = np.zeros_like(bands[0])
        for i, band in enumerate(bands):
            before = _rms_db(band)
            if not math.isfinite(before):
                continue
            comp = pedalboard.Compressor(
                threshold_db=before + self.threshold_db[i],
                ratio=self.ratio[i],
                attack_ms=self.attack_ms[i],
                release_ms=self.release_ms[i],
            )
            squashed = np.asarray(comp(band, sample_rate), dtype=np.float32)
            after = _rms_db(squashed)
            if math.isfinite(after):
                squashed *= np.float32(10.0 ** ((before - after) / 20.0))
            out += squashed
        return out

    __call__ = process

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mono_below(audio: np.ndarray, *, freq_hz: float, sample_rate: int) -> np.ndarray:
    """Make (2, n) audio mono below `freq_hz` (the side signal is high-passed, LR4)."""
    x = np.asarray(audio, dtype=np.float32)
    mid = 0.5 * (x[0] + x[1])
    side = _filt(_lr4("highpass", freq_hz, sample_rate), 0.5 * (x[0] - x[1]))
    return np.stack([mid + side, mid - side]).astype(np.float32)
