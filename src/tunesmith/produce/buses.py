"""The shared buses of a mix: reverb and delay returns fed by per-stem sends, kick-keyed
sidechain ducking and the mix-bus compressor.

Everything here except the bus compressor is linear in the stems (fixed-parameter reverb and
delay, a gain curve computed from the drums only), which is why the processed stems plus the
returns sum to the mix when the bus compressor is bypassed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tunesmith.produce.common import LIMITER_BLOCK, STAGING_LUFS
from tunesmith.produce.limiter import TruePeakLimiter, apply_block_gain
from tunesmith.produce.loudness import estimate_integrated_lufs, select_segments
from tunesmith.produce.templates import CompressorSettings

_KICK_LOWPASS_HZ = 120.0
_KICK_FLOOR = 0.25  # kick envelope (0..1) below this does not duck
_DUCK_ATTACK_MS = 10.0  # look-ahead: the duck is fully down as the kick lands
_DUCK_HOLD_MS = 20.0
_REVERB_HALF_RATE_FROM = 44100
_DELAY_HIGHPASS_HZ = 250.0  # echoes stay out of the low end ...
_DELAY_LOWPASS_HZ = 6000.0  # ... and behind the dry sound
_DELAY_MAX_S = 1.5
_DELAY_RIGHT_RATIO = 4.0 / 3.0  # right echo a little later: 3/4 beat left, 1 beat right
_DEFAULT_DELAY_TEMPO = 120.0


def mono(x: np.ndarray) -> np.ndarray:
    """(1, n) or (2, n) -> (n,)."""
    return x[0] if x.shape[0] == 1 else 0.5 * (x[0] + x[1])


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])


def kick_ducking_gain(
    drums: Sequence[np.ndarray],
    *,
    duck_db: float,
    release_ms: float,
    sample_rate: int,
) -> np.ndarray | None:
    """Per-block linear gain (LIMITER_BLOCK samples a block) that dips by up to `duck_db` as
    the kick (the low end of the drum stems) hits; None when there is no kick to follow."""
    from scipy.signal import butter, sosfilt

    if duck_db <= 0.0 or not drums:
        return None
    sos = butter(2, _KICK_LOWPASS_HZ, btype="lowpass", fs=sample_rate, output="sos")
    low = np.abs(sosfilt(sos.astype(np.float32), np.sum([mono(d) for d in drums], axis=0)))
    n_blocks = -(-low.size // LIMITER_BLOCK)
    blocks = np.pad(low, (0, n_blocks * LIMITER_BLOCK - low.size)).reshape(n_blocks, -1).max(axis=1)
    reference = float(np.percentile(blocks, 99.5))
    if reference <= 0.0:
        return None
    level = np.clip((blocks / reference - _KICK_FLOOR) / (1.0 - _KICK_FLOOR), 0.0, 1.0)
    # The limiter's gain computer gives look-ahead, hold and release for free: "peaks" of
    # duck_db * level over a 0 dB ceiling come back as a smooth duck of that depth.
    ducker = TruePeakLimiter(
        ceiling_dbtp=0.0, lookahead_ms=_DUCK_ATTACK_MS, hold_ms=_DUCK_HOLD_MS, release_ms=release_ms
    )
    return 10.0 ** (ducker.gain_db(duck_db * level, sample_rate=sample_rate) / 20.0)


def duck(audio: np.ndarray, gain: np.ndarray) -> None:
    """Apply a per-block ducking gain to (channels, n) audio in place."""
    audio[:] = apply_block_gain(audio, gain, block=LIMITER_BLOCK)


def reverb_return(
    send: np.ndarray,
    *,
    room_size: float,
    damping: float,
    width: float,
    wet_level: float,
    sample_rate: int,
) -> np.ndarray:
    """A mono send (n,) through a stereo, 100 % wet reverb; returns (2, n) float32."""
    import pedalboard
    import soxr

    n = send.size
    if wet_level <= 0.0 or not send.any():
        return np.zeros((2, n), dtype=np.float32)
    reverb = pedalboard.Reverb(
        room_size=room_size, damping=damping, wet_level=1.0, dry_level=0.0, width=width
    )
    # A reverb tail carries little above 11 kHz (damping darkens it further), so run it at
    # half rate when that still leaves >= 22 kHz: half the cost of the most expensive effect.
    rate = (
        sample_rate // 2
        if sample_rate >= _REVERB_HALF_RATE_FROM and sample_rate % 2 == 0
        else sample_rate
    )
    x = send if rate == sample_rate else soxr.resample(send, sample_rate, rate, quality="HQ")
    wet = reverb(np.stack([x, x]).astype(np.float32), rate)
    if rate != sample_rate:
        wet = fit_length(soxr.resample(wet.T, rate, sample_rate, quality="HQ").T, n)
    wet = np.ascontiguousarray(wet, dtype=np.float32)
    wet *= np.float32(wet_level)
    return wet


def delay_seconds(*, tempo_bpm: float | None, delay_beats: float, delay_ms: float) -> float:
    """The left echo time: `delay_beats` at the song tempo, else `delay_ms`."""
    seconds = delay_beats * 60.0 / tempo_bpm if tempo_bpm else delay_ms / 1000.0
    return float(min(seconds, _DELAY_MAX_S / _DELAY_RIGHT_RATIO))


def delay_return(
    send: np.ndarray,
    *,
    seconds: float,
    feedback: float,
    wet_level: float,
    sample_rate: int,
) -> np.ndarray:
    """A mono send (n,) through a band-limited stereo echo (left after `seconds`, right a
    third later); returns (2, n) float32."""
    import pedalboard
    from scipy.signal import butter, sosfilt

    n = send.size
    if wet_level <= 0.0 or not send.any():
        return np.zeros((2, n), dtype=np.float32)
    hi = min(_DELAY_LOWPASS_HZ, 0.45 * sample_rate)
    sos = butter(2, [_DELAY_HIGHPASS_HZ, hi], btype="bandpass", fs=sample_rate, output="sos")
    x = sosfilt(sos, send).astype(np.float32)[None, :]
    left = pedalboard.Delay(delay_seconds=seconds, feedback=feedback, mix=1.0)(x, sample_rate)
    right = pedalboard.Delay(
        delay_seconds=seconds * _DELAY_RIGHT_RATIO, feedback=feedback, mix=1.0
    )(x, sample_rate)
    wet = np.concatenate([left, right]).astype(np.float32)
    wet *= np.float32(wet_level)
    return wet


def bus_compress(
    audio: np.ndarray, settings: CompressorSettings, *, sample_rate: int
) -> tuple[np.ndarray, float]:
    """Glue-compress the (2, n) mix sum: staged to STAGING_LUFS so the threshold means the
    same for every song, compressed, and brought back to its own level. Returns the result and
    its loudness change in LU (<= 0)."""
    import pedalboard

    starts = select_segments(audio, sample_rate=sample_rate)
    before = estimate_integrated_lufs(audio, sample_rate=sample_rate, starts=starts)
    if not math.isfinite(before):
        return audio, 0.0
    stage = np.float32(10.0 ** ((STAGING_LUFS - before) / 20.0))
    out = pedalboard.Pedalboard([settings.plugin()])(audio * stage, sample_rate)
    out = np.ascontiguousarray(out, dtype=np.float32) / stage
    after = estimate_integrated_lufs(out, sample_rate=sample_rate, starts=starts)
    return out, float(after - before) if math.isfinite(after) else 0.0
