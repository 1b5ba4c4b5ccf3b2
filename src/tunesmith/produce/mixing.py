"""Mixing: stems through per-role channel strips into a stereo mix with headroom.

Per stem: gain staging to STAGING_LUFS (so compressor thresholds mean the same on every
stem), Butterworth high-pass (scipy), EQ and compression (pedalboard), a trim to the role's
target loudness, constant-power pan, optional kick sidechain ducking. A shared reverb
(pedalboard Reverb, 100 % wet) is fed by per-role sends. The sum is scaled to peak at
`template.headroom_dbfs`. Dual-mono stems (identical channels, as most renders are) go
through their strip as one channel, which halves the cost.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from tunesmith.produce.common import (
    ABSOLUTE_GATE_LUFS,
    LIMITER_BLOCK,
    MAX_STAGING_GAIN_DB,
    ROLES,
    STAGING_LUFS,
    ProduceError,
    as_stereo,
    require_duration,
)
from tunesmith.produce.limiter import TruePeakLimiter, apply_block_gain
from tunesmith.produce.loudness import (
    estimate_integrated_lufs,
    integrated_lufs_of_channels,
    select_segments,
)
from tunesmith.produce.templates import MixTemplate

logger = logging.getLogger(__name__)

_MONO_TO_STEREO_DB = 10.0 * math.log10(2.0)  # a dual-mono stem measured on one channel
_HIGHPASS_ORDER = 2  # 12 dB/octave
_KICK_LOWPASS_HZ = 120.0
_KICK_FLOOR = 0.25  # kick envelope (0..1) below this does not duck
_DUCK_ATTACK_MS = 10.0  # look-ahead: the duck is fully down as the kick lands
_DUCK_HOLD_MS = 20.0
_REVERB_HALF_RATE_FROM = 44100
_MAX_WORKERS = 4


@dataclass
class Stem:
    """One rendered part. `audio` is float (2, n); `pan` is a -1 (left) .. 1 (right) hint;
    `gain_db` is an arrangement hint added to the role's target level."""

    name: str
    role: str
    audio: np.ndarray
    pan: float = 0.0
    gain_db: float = 0.0


@dataclass(frozen=True)
class StemReport:
    """Loudness of a stem before its strip and as it sits in the mix (stereo, LUFS)."""

    name: str
    role: str
    input_lufs: float
    output_lufs: float
    target_lu: float  # role level + the stem's gain hint, relative to the melody/lead
    gain_db: float  # staging + trim + headroom gain applied (EQ/compression not included)
    silent: bool

    def to_dict(self) -> dict[str, object]:
        return {
            k: (round(v, 3) if math.isfinite(v) else None) if isinstance(v, float) else v
            for k, v in asdict(self).items()
        }


@dataclass
class MixResult:
    """`audio` is the (2, n) float32 mix. `stems` holds each stem after its channel strip,
    pan and the headroom gain; `stems` plus `reverb_return` sum to `audio`."""

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    reverb_return: np.ndarray
    report: dict[str, StemReport] = field(default_factory=dict)
    sample_rate: int = 44100

    def report_dict(self) -> dict[str, dict[str, object]]:
        return {name: r.to_dict() for name, r in self.report.items()}


@dataclass
class _Strip:
    audio: np.ndarray  # (1, n) for dual-mono stems, else (2, n)
    input_lufs: float
    output_lufs: float
    gain_db: float
    silent: bool


def mix(
    stems: Sequence[Stem], *, sample_rate: int, template: MixTemplate | None = None
) -> MixResult:
    """Mix `stems` into a stereo (2, n) float32 mix peaking at the template's headroom; stems
    of different lengths are padded with silence to the longest."""
    tpl = template if template is not None else MixTemplate.default()
    if not stems:
        raise ProduceError("there are no stems to mix")
    names = _unique_names([s.name for s in stems])
    sources = [_prepare(s, name) for s, name in zip(stems, names, strict=True)]
    n = max(x.shape[1] for x in sources)
    require_duration(n, sample_rate=sample_rate, what="the mix")

    # pedalboard and scipy's filters release the GIL: strips run side by side on 2+ cores.
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(stems)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        strips = list(
            pool.map(
                lambda pair: _channel_strip(_pad(pair[0], n), pair[1], tpl, sample_rate),
                zip(sources, stems, strict=True),
            )
        )
    pans = [0.0 if stem.role in tpl.centred_roles else stem.pan for stem in stems]
    outputs = [_pan(strip.audio, pan) for strip, pan in zip(strips, pans, strict=True)]
    ducked = _apply_sidechain(stems, strips, outputs, tpl, sample_rate)

    reverb = _reverb_return(stems, strips, tpl, n, sample_rate)
    total = reverb.copy()
    for out in outputs:
        total += out
    peak = float(np.abs(total).max())
    headroom_db = 0.0
    if peak > 0.0:
        headroom_db = tpl.headroom_dbfs - 20.0 * math.log10(peak)
        scale = np.float32(10.0 ** (headroom_db / 20.0))
        for arr in (total, reverb, *outputs):
            arr *= scale
    else:
        logger.warning("every stem is silent: the mix is silence")

    report = {}
    for i, (name, stem, strip, out) in enumerate(zip(names, stems, strips, outputs, strict=True)):
        out_lufs = strip.output_lufs + headroom_db
        balance_moved = strip.audio.shape[0] == 2 and pans[i] != 0.0
        if not strip.silent and (i in ducked or balance_moved):
            out_lufs = integrated_lufs_of_channels(out, sample_rate=sample_rate)
        report[name] = StemReport(
            name=name,
            role=stem.role,
            input_lufs=strip.input_lufs,
            output_lufs=out_lufs,
            target_lu=tpl.level_lu[stem.role] + stem.gain_db,
            gain_db=strip.gain_db + headroom_db,
            silent=strip.silent,
        )
        logger.debug("stem %s (%s): %.1f -> %.1f LUFS", name, stem.role, strip.input_lufs, out_lufs)
    return MixResult(
        audio=total,
        stems=dict(zip(names, outputs, strict=True)),
        reverb_return=reverb,
        report=report,
        sample_rate=sample_rate,
    )


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}_{count}")
    return out


def _prepare(stem: Stem, name: str) -> np.ndarray:
    """Validated float32 audio: (1, n) when both channels are identical, else (2, n)."""
    if stem.role not in ROLES:
        raise ProduceError(
            f"stem {name!r} has unknown role {stem.role!r}; use one of {', '.join(ROLES)}"
        )
    if not (math.isfinite(stem.pan) and -1.0 <= stem.pan <= 1.0):
        raise ProduceError(f"stem {name!r} pan must be between -1 and 1, got {stem.pan}")
    if not math.isfinite(stem.gain_db):
        raise ProduceError(f"stem {name!r} gain_db must be a finite number")
    x = as_stereo(stem.audio, what=f"stem {name!r}")
    return x[:1] if np.array_equal(x[0], x[1]) else x


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[1] == n:
        return x.copy()
    out = np.zeros((x.shape[0], n), dtype=np.float32)
    out[:, : x.shape[1]] = x
    return out


def _lufs(x: np.ndarray, sample_rate: int, starts: np.ndarray | None) -> float:
    """Loudness of the stem as stereo, whether held as one channel (dual mono) or two,
    measured on the segments at `starts` (None: all of it)."""
    lufs = estimate_integrated_lufs(x, sample_rate=sample_rate, starts=starts)
    return lufs + _MONO_TO_STEREO_DB if x.shape[0] == 1 else lufs


def _channel_strip(x: np.ndarray, stem: Stem, tpl: MixTemplate, sample_rate: int) -> _Strip:
    """Stage, high-pass, EQ, compress and trim one stem to its role's target loudness."""
    import pedalboard
    from scipy.signal import butter, sosfilt

    role = stem.role
    starts = select_segments(x, sample_rate=sample_rate)
    input_lufs = _lufs(x, sample_rate, starts)
    if not input_lufs >= ABSOLUTE_GATE_LUFS:  # also catches -inf
        logger.info("stem %r is silent; it passes through untouched", stem.name)
        return _Strip(x, input_lufs, input_lufs, 0.0, silent=True)

    stage_db = float(np.clip(STAGING_LUFS - input_lufs, -MAX_STAGING_GAIN_DB, MAX_STAGING_GAIN_DB))
    x *= np.float32(10.0 ** (stage_db / 20.0))
    cutoff = tpl.highpass_hz[role]
    if cutoff is not None and cutoff < 0.45 * sample_rate:
        sos = butter(_HIGHPASS_ORDER, cutoff, btype="highpass", fs=sample_rate, output="sos")
        x = sosfilt(sos.astype(np.float32), x, axis=-1).astype(np.float32, copy=False)
    plugins = [move.plugin() for move in tpl.eq[role]]
    if tpl.compressor[role] is not None:
        plugins.append(tpl.compressor[role].plugin())
    if plugins:
        x = pedalboard.Pedalboard(plugins)(x, sample_rate)

    processed_lufs = _lufs(x, sample_rate, starts)
    target = STAGING_LUFS + tpl.level_lu[role] + stem.gain_db
    trim_db = 0.0
    if math.isfinite(processed_lufs):
        trim_db = float(np.clip(target - processed_lufs, -MAX_STAGING_GAIN_DB, MAX_STAGING_GAIN_DB))
        x *= np.float32(10.0 ** (trim_db / 20.0))
    return _Strip(x, input_lufs, processed_lufs + trim_db, stage_db + trim_db, silent=False)


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan (balance for stereo stems), unity gain in each channel at centre."""
    angle = (pan + 1.0) * math.pi / 4.0
    gains = np.array([[math.cos(angle)], [math.sin(angle)]], dtype=np.float32) * np.float32(
        math.sqrt(2.0)
    )
    return gains * x  # (1, n) broadcasts to both channels


def _mono(x: np.ndarray) -> np.ndarray:
    return x[0] if x.shape[0] == 1 else 0.5 * (x[0] + x[1])


def _apply_sidechain(
    stems: Sequence[Stem],
    strips: list[_Strip],
    outputs: list[np.ndarray],
    tpl: MixTemplate,
    sample_rate: int,
) -> set[int]:
    """Duck the sidechain roles under the kick (low end of the drum stems), in place.
    Returns the indices of the ducked stems."""
    from scipy.signal import butter, sosfilt

    drums = [_mono(s.audio) for s, st in zip(strips, stems, strict=True) if st.role == "drums"]
    targets = [i for i, st in enumerate(stems) if st.role in tpl.sidechain_roles]
    if tpl.sidechain_duck_db <= 0.0 or not drums or not targets:
        return set()
    sos = butter(2, _KICK_LOWPASS_HZ, btype="lowpass", fs=sample_rate, output="sos")
    low = np.abs(sosfilt(sos.astype(np.float32), np.sum(drums, axis=0)))
    n_blocks = -(-low.size // LIMITER_BLOCK)
    blocks = np.pad(low, (0, n_blocks * LIMITER_BLOCK - low.size)).reshape(n_blocks, -1).max(axis=1)
    reference = float(np.percentile(blocks, 99.5))
    if reference <= 0.0:
        return set()
    level = np.clip((blocks / reference - _KICK_FLOOR) / (1.0 - _KICK_FLOOR), 0.0, 1.0)
    ducker = TruePeakLimiter(
        ceiling_dbtp=0.0,
        lookahead_ms=_DUCK_ATTACK_MS,
        hold_ms=_DUCK_HOLD_MS,
        release_ms=tpl.sidechain_release_ms,
    )
    gain = 10.0 ** (ducker.gain_db(tpl.sidechain_duck_db * level, sample_rate=sample_rate) / 20.0)
    for i in targets:
        outputs[i][:] = apply_block_gain(outputs[i], gain, block=LIMITER_BLOCK)
    return set(targets)


def _reverb_return(
    stems: Sequence[Stem], strips: list[_Strip], tpl: MixTemplate, n: int, sample_rate: int
) -> np.ndarray:
    """The shared reverb: a mono send bus (pre-pan) into a stereo, 100 % wet reverb."""
    import pedalboard
    import soxr

    send = np.zeros(n, dtype=np.float32)
    for stem, strip in zip(stems, strips, strict=True):
        level = tpl.reverb_send[stem.role]
        if level > 0.0 and not strip.silent:
            send += np.float32(level) * _mono(strip.audio)
    if tpl.reverb_wet_level <= 0.0 or not send.any():
        return np.zeros((2, n), dtype=np.float32)
    reverb = pedalboard.Reverb(
        room_size=tpl.reverb_room_size,
        damping=tpl.reverb_damping,
        wet_level=1.0,
        dry_level=0.0,
        width=tpl.reverb_width,
    )
    # A reverb tail carries little above 11 kHz (damping darkens it further), so run it at
    # half rate when that still leaves >= 22 kHz: half the cost of the most expensive effect.
    rate = (
        sample_rate // 2
        if sample_rate >= _REVERB_HALF_RATE_FROM and sample_rate % 2 == 0
        else sample_rate
    )
    if rate != sample_rate:
        send = soxr.resample(send, sample_rate, rate, quality="HQ")
    wet = reverb(np.stack([send, send]), rate)
    if rate != sample_rate:
        wet = soxr.resample(wet.T, rate, sample_rate, quality="HQ").T
        wet = _fit_length(wet, n)
    wet = np.ascontiguousarray(wet, dtype=np.float32)
    wet *= np.float32(tpl.reverb_wet_level)
    return wet


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
