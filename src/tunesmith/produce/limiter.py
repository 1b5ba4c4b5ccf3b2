"""A true-peak-safe look-ahead brickwall limiter, vectorised in NumPy.

The gain computer works on blocks of LIMITER_BLOCK samples, in dB:

1. required gain per block: min(0, ceiling - true peak), the true peak read on the 4x
   oversampled signal (`true_peak_envelope`), widened by two blocks each side so that the
   interpolated per-sample gain around every peak is already down;
2. a sliding minimum over [b - hold, b + lookahead): the gain reduction starts before a peak
   and is held after it;
3. release: max(h, forward moving average of h over `release` blocks), a ramp back up that ends
   where the hold ends;
4. attack: backward moving average over `attack` (<= lookahead) blocks.

Each smoothing step averages only values that are already at or below the required gain of
the block being smoothed (the windows nest inside the min window), so the result never exceeds
the required gain at any peak: no per-sample loop and no overshoot by construction. The
per-sample gain is a linear interpolation of the block gains. `process` still measures the
output and trims it if float rounding or the oversampling filter left it a hair over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.produce.common import (
    LIMITER_BLOCK,
    LIMITER_HOLD_MS,
    LIMITER_LOOKAHEAD_MS,
    LIMITER_RELEASE_MS,
    TRUE_PEAK_OVERSAMPLE,
    ProduceError,
    as_stereo,
)
from tunesmith.produce.loudness import true_peak_envelope

_DILATE_BLOCKS = 2  # covers the oversampling filter's reach (10 samples) with room to spare
_SAFETY = 0.9999  # final trim lands this far (-0.0009 dB) under the ceiling


def _sliding_min(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """out[i] = min(x[i - before : i + after + 1]); zeros (no reduction) outside."""
    from scipy.ndimage import minimum_filter1d

    size = before + after + 1
    return minimum_filter1d(x, size, mode="constant", cval=0.0, origin=before - size // 2)


def _moving_mean(x: np.ndarray, length: int, *, forward: bool) -> np.ndarray:
    """Mean of x[i : i + length] (forward) or x[i - length + 1 : i + 1] (backward); the array
    is treated as zero outside (callers pad it)."""
    if length <= 1:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    pad = np.full(length - 1, c[-1]) if forward else np.zeros(length - 1)
    if forward:
        c = np.concatenate([c, pad])
        return (c[length : length + x.size] - c[: x.size]) / length
    c = np.concatenate([pad, c])
    return (c[length : length + x.size] - c[: x.size]) / length


def apply_block_gain(audio: np.ndarray, gain: np.ndarray, *, block: int) -> np.ndarray:
    """Multiply (channels, n) audio by per-block linear gains, interpolated linearly from each
    block's start to the next; returns a new float32 array."""
    n = audio.shape[-1]
    n_blocks = -(-n // block)
    g = np.concatenate([gain[:n_blocks], gain[n_blocks - 1 : n_blocks]]).astype(np.float32)
    ramp = np.arange(block, dtype=np.float32) / block
    per_sample = (g[:-1, None] + (g[1:] - g[:-1])[:, None] * ramp[None, :]).reshape(-1)[:n]
    return (audio * per_sample).astype(np.float32, copy=False)


@dataclass(frozen=True)
class TruePeakLimiter:
    """Brickwall limiter whose output true peak (4x oversampled) stays at or under
    `ceiling_dbtp`. Composable like a pedalboard plugin: `limiter(audio, sample_rate)`."""

    ceiling_dbtp: float = -1.0
    lookahead_ms: float = LIMITER_LOOKAHEAD_MS
    hold_ms: float = LIMITER_HOLD_MS
    release_ms: float = LIMITER_RELEASE_MS
    oversample: int = TRUE_PEAK_OVERSAMPLE

    def __post_init__(self) -> None:
        if self.ceiling_dbtp > 0.0:
            raise ProduceError(
                f"limiter ceiling must be at or below 0 dBTP, got {self.ceiling_dbtp}"
            )
        if min(self.lookahead_ms, self.hold_ms, self.release_ms) < 0 or self.oversample < 1:
            raise ProduceError("limiter times must be >= 0 ms and oversample >= 1")

    def _blocks(self, ms: float, sample_rate: int) -> int:
        return max(1, int(round(ms * 1e-3 * sample_rate / LIMITER_BLOCK)))

    def gain_db(self, peak_db: np.ndarray, *, sample_rate: int) -> np.ndarray:
        """Per-block gain (dB, <= 0) for per-block true peaks `peak_db` (dB, any input gain
        already added). At every block, gain + peak <= ceiling."""
        ahead = self._blocks(self.lookahead_ms, sample_rate)
        release = self._blocks(self.release_ms, sample_rate)
        hold = release + self._blocks(self.hold_ms, sample_rate)
        required = np.minimum(0.0, self.ceiling_dbtp - peak_db.astype(np.float64))
        if not (required < 0.0).any():
            return np.zeros_like(required)
        pad = ahead + hold + 2 * _DILATE_BLOCKS
        req = np.pad(required, pad)  # zeros: no reduction needed outside the signal
        req = _sliding_min(req, _DILATE_BLOCKS, _DILATE_BLOCKS)
        held = _sliding_min(req, hold - 1, ahead - 1)
        released = np.maximum(held, _moving_mean(held, release, forward=True))
        smoothed = _moving_mean(released, ahead, forward=False)
        return np.minimum(smoothed[pad:-pad], 0.0)

    def process(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Limit stereo (2, n) audio; returns float32 (2, n) with true peak <= ceiling."""
        x = as_stereo(audio)
        if x.shape[1] == 0:
            return x
        envelope = true_peak_envelope(x, block=LIMITER_BLOCK, oversample=self.oversample)
        gain = 10.0 ** (self.gain_db(peak_db_of(envelope), sample_rate=sample_rate) / 20.0)
        return enforce_ceiling(
            apply_block_gain(x, gain, block=LIMITER_BLOCK),
            ceiling_dbtp=self.ceiling_dbtp,
            oversample=self.oversample,
        )

    __call__ = process


def enforce_ceiling(
    audio: np.ndarray, *, ceiling_dbtp: float, oversample: int = TRUE_PEAK_OVERSAMPLE
) -> np.ndarray:
    """Measure the true peak and scale the audio down (in place) if it is over the ceiling."""
    peak = float(true_peak_envelope(audio, oversample=oversample).max())
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    if peak > ceiling:
        audio *= np.float32(ceiling / peak * _SAFETY)
        peak = float(true_peak_envelope(audio, oversample=oversample).max())
        if peak > ceiling:  # float32 rounding: one more, larger step
            audio *= np.float32(ceiling / peak * _SAFETY**4)
    return audio


def peak_db_of(envelope: np.ndarray) -> np.ndarray:
    """Linear per-block peaks to dB (-inf for silent blocks)."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(envelope.astype(np.float64))
