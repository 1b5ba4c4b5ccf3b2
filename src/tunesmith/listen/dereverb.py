"""Late-reverberation suppression before pitch tracking, for takes recorded in a live room.

In a reverberant room the tail of each note (and of each loud consonant: an "s" decays as
noise) keeps sounding over the next 0.2-0.5 s: it masks soft vowels that follow a loud
consonant, pulls the pitch tracker's voicing down at the start of the next note and holds the
previous pitch there. Lebart et al. (2001) / Habets (2007): the late reverberant power of an
STFT bin at frame t is about the observed power LATE_S earlier times the room's energy decay
over LATE_S, `exp(-2 * delta * LATE_S) * P(t - LATE_S)` with `delta = 3 ln 10 / RT60`; each bin
keeps `max(1 - late / P(t), GAIN_FLOOR^2) ** 0.5` of its amplitude (spectral subtraction).

The gain of frame t depends only on frames t and t - LATE_S, so the stage is causal: a window of
a stream processed with at least CONTEXT_S of audio before the part that matters gives the same
samples there as the whole take (given the same `Room`).

The room's decay is estimated blindly, once per recording (`estimate_room`). Per STFT bin, the
level can never fall faster than the room lets it: a dry voice that stops drops a harmonic by
35-50 dB within 160 ms, a room with RT60 0.6 s by 25-30 dB (the direct sound's share, then the
tail at 100 dB/s). So the statistic is a high percentile (DROP_PERCENTILE) of the level drop
over GATE_LAG_S of every strong bin-frame (well above that bin's noise floor). Under
GATE_MAX_DROP_DB the take is reverberant; the decay rate is then the growth of that percentile
between two lags (the direct-sound drop is common to both and cancels). Dry takes, and noisy
ones (few bin-frames rise far enough above the noise floor), get no `Room` and are left
untouched: the transcriber then runs exactly as without this module.

How the transcriber uses it (`transcriber.transcribe`; a streaming transcriber must do the same
on each window): with a `Room`, the pitch tracker analyses the suppressed audio (after noise
reduction) but measures loudness on the take itself (`track_pitch(..., levels=take)`: the
subtraction would deepen every dip of loudness within a note into a false note boundary), and
the segmenter uses `notes.for_reverberant_take(params)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tunesmith.listen.denoise import FRAME, HOP, stft
from tunesmith.listen.pitch import INTERNAL_SAMPLE_RATE

log = logging.getLogger(__name__)

BIN_RANGE = (3, 160)  # STFT bins (31.25 Hz each at 16 kHz): 94 Hz-5 kHz, where voices sound
LEVEL_SMOOTH_FRAMES = 3  # moving average of each bin's power: one bin of a reverberant tail
# fluctuates like noise (Rayleigh), a few frames average that out
FLOOR_PERCENTILE = 10.0  # a bin's noise floor: this percentile of its level over the take
STRONG_ABOVE_FLOOR_DB = 35.0  # bin-frames this far above their floor can show a full decay
MIN_STRONG_CELLS = 2000  # fewer strong bin-frames: too little evidence, no estimate
DROP_PERCENTILE = 99.0  # the fastest drops (not the fastest one: single-bin outliers)
GATE_LAG_S = 0.16  # drop measured over this lag decides dry vs reverberant ...
GATE_MAX_DROP_DB = 31.5  # ... reverberant when under this (ssvd-dev, clean and under noise,
# band-limiting, MP3 and drift: 34-54 dB except take 1252, heard as a room of RT60 0.65 s in
# every condition; in a synthetic room of RT60 0.6 s 24-30 dB, 0.45 s 27-32 dB, 0.3 s 32-37 dB)
SLOPE_LAGS_S = (0.096, 0.24)  # the decay rate is the growth of the drop between these lags ...
SLOPE_BIAS = 1.2  # ... which overestimates RT60 by about this factor (synthetic rooms
# RT60 0.45-1.2 s: the percentile's spread grows with the lag too)
RT60_RANGE_S = (0.3, 2.0)  # estimates are clipped to rooms people sing in
LATE_S = 0.08  # reverberation arriving this long after the direct sound counts as late
GAIN_FLOOR = 0.2  # never attenuate a bin by more than 14 dB (deeper: musical noise)
CONTEXT_S = LATE_S + FRAME / INTERNAL_SAMPLE_RATE  # audio a window of a stream needs before
# the samples that must come out as in the whole take


@dataclass(frozen=True)
class Room:
    """What `estimate_room` found: the reverberation time (s, -60 dB) and the statistic that
    gated it (the DROP_PERCENTILE drop over GATE_LAG_S, dB)."""

    rt60_s: float
    drop_db: float


def estimate_room(power: np.ndarray, *, sample_rate: int) -> Room | None:
    """The room of a recording, from its power spectrogram (bins, frames: `denoise.stft_power`
    of consecutive audio at `sample_rate`), or None when it sounds dry (or too noisy to tell):
    then `suppress_late_reverb` must not run. See the module notes."""
    if power.shape[1] < 4 * FRAME // HOP:
        return None
    return room_from_levels(band_levels(power[BIN_RANGE[0]:BIN_RANGE[1]]), sample_rate=sample_rate)


def band_levels(band: np.ndarray) -> np.ndarray:
    """The smoothed level (dB) of each bin-frame of `band` (the BIN_RANGE rows of a power
    spectrogram) that `room_from_levels` reads: split from `estimate_room` so that a stream
    can keep the levels of the audio heard so far and only add new frames."""
    from scipy.ndimage import uniform_filter1d

    return 10.0 * np.log10(uniform_filter1d(band, LEVEL_SMOOTH_FRAMES, axis=1) + 1e-14)


def room_from_levels(level: np.ndarray, *, sample_rate: int) -> Room | None:
    """`estimate_room` from the recording's `band_levels` (bins of BIN_RANGE, frames)."""
    if level.shape[1] < 4 * FRAME // HOP:
        return None
    strong = level > np.percentile(level, FLOOR_PERCENTILE, axis=1, keepdims=True) \
        + STRONG_ABOVE_FLOOR_DB
    drops = {}
    for lag_s in (GATE_LAG_S, *SLOPE_LAGS_S):
        k = int(round(lag_s * sample_rate / HOP))
        if level.shape[1] <= k:
            return None
        ok = strong[:, :-k]
        if ok.sum() < MIN_STRONG_CELLS:
            return None
        drops[lag_s] = float(np.percentile((level[:, :-k] - level[:, k:])[ok], DROP_PERCENTILE))
        if lag_s == GATE_LAG_S and drops[lag_s] >= GATE_MAX_DROP_DB:
            return None  # dry: the slope lags are not needed (a stream asks again and again)
    gate = drops[GATE_LAG_S]
    growth = drops[SLOPE_LAGS_S[1]] - drops[SLOPE_LAGS_S[0]]
    rt60 = 60.0 * (SLOPE_LAGS_S[1] - SLOPE_LAGS_S[0]) / max(growth, 1e-3) / SLOPE_BIAS
    rt60 = float(np.clip(rt60, *RT60_RANGE_S))
    log.debug("reverberant take: RT60 about %.2f s (drop over %.2f s: %.1f dB)",
              rt60, GATE_LAG_S, gate)
    return Room(rt60, gate)


def suppress_late_reverb(x: np.ndarray, room: Room, *, sample_rate: int,
                         spec: np.ndarray | None = None) -> np.ndarray:
    """`x` with its late reverberation subtracted (causal; see the module notes). `spec`: the
    STFT of `x` (`denoise.stft`) when the caller has it already."""
    from scipy.signal import istft

    spec = stft(x, sample_rate=sample_rate) if spec is None else spec
    power = np.abs(spec) ** 2
    lag = max(1, int(round(LATE_S * sample_rate / HOP)))
    decay = np.exp(-2.0 * (3.0 * np.log(10.0) / room.rt60_s) * lag * HOP / sample_rate)
    late = np.zeros_like(power)
    late[:, lag:] = decay * power[:, :-lag]
    gain = np.sqrt(np.maximum(1.0 - late / np.maximum(power, 1e-20), GAIN_FLOOR**2))
    _, y = istft(spec * gain, fs=sample_rate, nperseg=FRAME, noverlap=FRAME - HOP)
    return y[: x.size].astype(np.float32)

