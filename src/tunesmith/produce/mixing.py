"""Mixing: stems through per-role channel strips into a stereo mix with headroom.

Per stem: gain staging to STAGING_LUFS (so compressor thresholds mean the same on every
stem), Butterworth high-pass (scipy), EQ (the role's moves, then the stem's own carving cuts)
and compression (pedalboard), a trim to the role's target loudness, constant-power pan,
optional kick sidechain ducking. Shared reverb and delay returns are fed by per-stem sends.
The mix bus is an optional glue compressor; the result is scaled to peak at
`template.headroom_dbfs`. With the bus bypassed (`bypass_bus=True`, or a template without a
bus compressor) the processed stems plus the returns sum to the mix to float32 rounding
(peak error under 1e-5 of full scale). Dual-mono stems (identical channels, as most renders
are) go through their strip as one channel, which halves the cost.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from tunesmith.produce import buses
from tunesmith.produce.common import (
    ABSOLUTE_GATE_LUFS,
    MAX_STAGING_GAIN_DB,
    ROLES,
    STAGING_LUFS,
    ProduceError,
    as_stereo,
    canonical_role,
    require_duration,
)
from tunesmith.produce.loudness import (
    estimate_integrated_lufs,
    integrated_lufs_of_channels,
    select_segments,
)
from tunesmith.produce.templates import EqMove, MixTemplate

logger = logging.getLogger(__name__)

_MONO_TO_STEREO_DB = 10.0 * math.log10(2.0)  # a dual-mono stem measured on one channel
_HIGHPASS_ORDER = 2  # 12 dB/octave
_MAX_WORKERS = 4
#: The stems plus the returns sum to a bypassed mix within this peak error (full scale = 1).
SUM_TOLERANCE = 1e-5


@dataclass
class Stem:
    """One part to mix. `audio` is float (2, n) or mono (n,); `role` is one of ROLES or an
    alias (`piano`, `vox`, `percussion`, ...); `pan` is a -1 (left) .. 1 (right) hint; `gain_db`
    is an arrangement hint added to the role's target level. `eq` adds moves after the role's
    EQ (carving cuts); `highpass_hz`, `reverb_send` and `delay_send` override the role's
    setting when given (`highpass_hz=0` turns the high-pass off)."""

    name: str
    role: str
    audio: np.ndarray
    pan: float = 0.0
    gain_db: float = 0.0
    eq: tuple[EqMove, ...] = ()
    highpass_hz: float | None = None
    reverb_send: float | None = None
    delay_send: float | None = None


@dataclass(frozen=True)
class StemReport:
    """What the channel strip did to a stem, and its loudness before and in the mix (LUFS)."""

    name: str
    role: str
    input_lufs: float
    output_lufs: float
    target_lu: float  # role level + the stem's gain hint, relative to the melody/lead
    gain_db: float  # staging + trim + headroom gain applied (EQ/compression not included)
    silent: bool
    pan: float = 0.0
    highpass_hz: float | None = None
    eq: tuple[EqMove, ...] = ()
    compressed: bool = False
    reverb_send: float = 0.0
    delay_send: float = 0.0
    ducked: bool = False

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float):
                out[k] = round(v, 3) if math.isfinite(v) else None
            elif k == "eq":
                out[k] = [
                    {**m, "freq_hz": round(m["freq_hz"], 1), "gain_db": round(m["gain_db"], 2)}
                    for m in v
                ]
            else:
                out[k] = v
        return out


@dataclass
class MixResult:
    """`audio` is the (2, n) float32 mix. `stems` holds each stem after its channel strip,
    pan, ducking and the headroom gain; `returns` holds the reverb and delay returns. When
    `bus_bypassed`, `stems` plus `returns` sum to `audio` (within SUM_TOLERANCE)."""

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    returns: dict[str, np.ndarray]
    report: dict[str, StemReport] = field(default_factory=dict)
    sample_rate: int = 44100
    bus_bypassed: bool = True
    bus_change_lu: float = 0.0  # loudness change made by the bus compressor (<= 0)
    headroom_gain_db: float = 0.0
    delay_s: float = 0.0

    @property
    def reverb_return(self) -> np.ndarray:
        return self.returns["reverb"]

    def report_dict(self) -> dict[str, dict[str, object]]:
        return {name: r.to_dict() for name, r in self.report.items()}


@dataclass
class _Strip:
    audio: np.ndarray  # (1, n) for dual-mono stems, else (2, n)
    input_lufs: float
    output_lufs: float
    gain_db: float
    silent: bool
    highpass_hz: float | None = None
    compressed: bool = False


def mix(
    stems: Sequence[Stem],
    *,
    sample_rate: int,
    template: MixTemplate | None = None,
    tempo_bpm: float | None = None,
    bypass_bus: bool = False,
) -> MixResult:
    """Mix `stems` into a stereo (2, n) float32 mix peaking at the template's headroom; stems
    of different lengths are padded with silence to the longest. `tempo_bpm` syncs the delay;
    `bypass_bus` skips the mix-bus compressor so the stems and returns sum to the mix."""
    tpl = template if template is not None else MixTemplate.default()
    if not stems:
        raise ProduceError("there are no stems to mix")
    if tempo_bpm is not None and not (math.isfinite(tempo_bpm) and tempo_bpm > 0):
        raise ProduceError(f"tempo must be a positive number of bpm, got {tempo_bpm}")
    names = _unique_names([s.name for s in stems])
    roles = [_role(s, name) for s, name in zip(stems, names, strict=True)]
    sources = [_prepare(s, name) for s, name in zip(stems, names, strict=True)]
    n = max(x.shape[1] for x in sources)
    require_duration(n, sample_rate=sample_rate, what="the mix")

    # pedalboard and scipy's filters release the GIL: strips run side by side on 2+ cores.
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(stems)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        strips = list(
            pool.map(
                lambda i: _channel_strip(_pad(sources[i], n), stems[i], roles[i], tpl, sample_rate),
                range(len(stems)),
            )
        )
    pans = [
        0.0 if role in tpl.centred_roles else stem.pan
        for stem, role in zip(stems, roles, strict=True)
    ]
    outputs = [_pan(strip.audio, pan) for strip, pan in zip(strips, pans, strict=True)]

    ducked: set[int] = set()
    gain = buses.kick_ducking_gain(
        [s.audio for s, r in zip(strips, roles, strict=True) if r == "drums" and not s.silent],
        duck_db=tpl.sidechain_duck_db,
        release_ms=tpl.sidechain_release_ms,
        sample_rate=sample_rate,
    )
    if gain is not None:
        for i, role in enumerate(roles):
            if role in tpl.sidechain_roles and not strips[i].silent:
                buses.duck(outputs[i], gain)
                ducked.add(i)

    reverb_sends = [
        _send(s.reverb_send, tpl.reverb_send[r]) for s, r in zip(stems, roles, strict=True)
    ]
    delay_sends = [
        _send(s.delay_send, tpl.delay_send[r]) for s, r in zip(stems, roles, strict=True)
    ]
    delay_s = buses.delay_seconds(
        tempo_bpm=tempo_bpm, delay_beats=tpl.delay_beats, delay_ms=tpl.delay_ms
    )
    returns = {
        "reverb": buses.reverb_return(
            _send_bus(strips, reverb_sends, n),
            room_size=tpl.reverb_room_size,
            damping=tpl.reverb_damping,
            width=tpl.reverb_width,
            wet_level=tpl.reverb_wet_level,
            sample_rate=sample_rate,
        ),
        "delay": buses.delay_return(
            _send_bus(strips, delay_sends, n),
            seconds=delay_s,
            feedback=tpl.delay_feedback,
            wet_level=tpl.delay_wet_level,
            sample_rate=sample_rate,
        ),
    }
    total = np.zeros((2, n), dtype=np.float32)
    for arr in (*outputs, *returns.values()):
        total += arr

    bypassed = bypass_bus or tpl.bus_compressor is None
    bus_change = 0.0
    if not bypassed and total.any():
        total, bus_change = buses.bus_compress(total, tpl.bus_compressor, sample_rate=sample_rate)

    peak = float(np.abs(total).max())
    headroom_db = 0.0
    if peak > 0.0:
        headroom_db = tpl.headroom_dbfs - 20.0 * math.log10(peak)
        scale = np.float32(10.0 ** (headroom_db / 20.0))
        for arr in (total, *returns.values(), *outputs):
            arr *= scale
    else:
        logger.warning("every stem is silent: the mix is silence")

    report = {}
    for i, (name, strip, out) in enumerate(zip(names, strips, outputs, strict=True)):
        out_lufs = strip.output_lufs + headroom_db
        balance_moved = strip.audio.shape[0] == 2 and pans[i] != 0.0
        if not strip.silent and (i in ducked or balance_moved):
            out_lufs = integrated_lufs_of_channels(out, sample_rate=sample_rate)
        report[name] = StemReport(
            name=name,
            role=roles[i],
            input_lufs=strip.input_lufs,
            output_lufs=out_lufs,
            target_lu=tpl.level_lu[roles[i]] + stems[i].gain_db,
            gain_db=strip.gain_db + headroom_db,
            silent=strip.silent,
            pan=pans[i],
            highpass_hz=strip.highpass_hz,
            eq=tuple(tpl.eq[roles[i]]) + tuple(stems[i].eq),
            compressed=strip.compressed,
            reverb_send=reverb_sends[i],
            delay_send=delay_sends[i],
            ducked=i in ducked,
        )
        logger.debug("stem %s (%s): %.1f -> %.1f LUFS", name, roles[i], strip.input_lufs, out_lufs)
    return MixResult(
        audio=total,
        stems=dict(zip(names, outputs, strict=True)),
        returns=returns,
        report=report,
        sample_rate=sample_rate,
        bus_bypassed=bypassed,
        bus_change_lu=bus_change,
        headroom_gain_db=headroom_db,
        delay_s=delay_s,
    )


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}_{count}")
    return out


def _role(stem: Stem, name: str) -> str:
    role = canonical_role(stem.role)
    if role is None:
        raise ProduceError(
            f"stem {name!r} has unknown role {stem.role!r}; use one of {', '.join(ROLES)}"
        )
    return role


def _prepare(stem: Stem, name: str) -> np.ndarray:
    """Validated float32 audio: (1, n) when both channels are identical, else (2, n)."""
    if not (math.isfinite(stem.pan) and -1.0 <= stem.pan <= 1.0):
        raise ProduceError(f"stem {name!r} pan must be between -1 and 1, got {stem.pan}")
    if not math.isfinite(stem.gain_db):
        raise ProduceError(f"stem {name!r} gain_db must be a finite number")
    for what, value in (("reverb_send", stem.reverb_send), ("delay_send", stem.delay_send)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ProduceError(f"stem {name!r} {what} must be between 0 and 1, got {value}")
    x = as_stereo(stem.audio, what=f"stem {name!r}")
    return x[:1] if np.array_equal(x[0], x[1]) else x


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[1] == n:
        return x.copy()
    out = np.zeros((x.shape[0], n), dtype=np.float32)
    out[:, : x.shape[1]] = x
    return out


def _send(override: float | None, default: float) -> float:
    return float(default if override is None else override)


def _send_bus(strips: list[_Strip], levels: list[float], n: int) -> np.ndarray:
    """Mono sum of the strips (pre-pan) at their send levels; silent strips send nothing."""
    send = np.zeros(n, dtype=np.float32)
    for strip, level in zip(strips, levels, strict=True):
        if level > 0.0 and not strip.silent:
            send += np.float32(level) * buses.mono(strip.audio)
    return send


def _lufs(x: np.ndarray, sample_rate: int, starts: np.ndarray | None) -> float:
    """Loudness of the stem as stereo, whether held as one channel (dual mono) or two,
    measured on the segments at `starts` (None: all of it)."""
    lufs = estimate_integrated_lufs(x, sample_rate=sample_rate, starts=starts)
    return lufs + _MONO_TO_STEREO_DB if x.shape[0] == 1 else lufs


def _channel_strip(
    x: np.ndarray, stem: Stem, role: str, tpl: MixTemplate, sample_rate: int
) -> _Strip:
    """Stage, high-pass, EQ, compress and trim one stem to its role's target loudness."""
    import pedalboard
    from scipy.signal import butter, sosfilt

    starts = select_segments(x, sample_rate=sample_rate)
    input_lufs = _lufs(x, sample_rate, starts)
    if not input_lufs >= ABSOLUTE_GATE_LUFS:  # also catches -inf
        logger.info("stem %r is silent; it passes through untouched", stem.name)
        return _Strip(x, input_lufs, input_lufs, 0.0, silent=True)

    stage_db = float(np.clip(STAGING_LUFS - input_lufs, -MAX_STAGING_GAIN_DB, MAX_STAGING_GAIN_DB))
    x *= np.float32(10.0 ** (stage_db / 20.0))
    cutoff = tpl.highpass_hz[role] if stem.highpass_hz is None else (stem.highpass_hz or None)
    if cutoff is not None and cutoff < 0.45 * sample_rate:
        sos = butter(_HIGHPASS_ORDER, cutoff, btype="highpass", fs=sample_rate, output="sos")
        x = sosfilt(sos.astype(np.float32), x, axis=-1).astype(np.float32, copy=False)
    else:
        cutoff = None
    moves = [m for m in (*tpl.eq[role], *stem.eq) if m.freq_hz < 0.45 * sample_rate]
    plugins = [move.plugin() for move in moves]
    compressor = tpl.compressor[role]
    if compressor is not None:
        plugins.append(compressor.plugin())
    if plugins:
        x = pedalboard.Pedalboard(plugins)(x, sample_rate)

    processed_lufs = _lufs(x, sample_rate, starts)
    target = STAGING_LUFS + tpl.level_lu[role] + stem.gain_db
    trim_db = 0.0
    if math.isfinite(processed_lufs):
        trim_db = float(np.clip(target - processed_lufs, -MAX_STAGING_GAIN_DB, MAX_STAGING_GAIN_DB))
        x *= np.float32(10.0 ** (trim_db / 20.0))
    return _Strip(
        x,
        input_lufs,
        processed_lufs + trim_db,
        stage_db + trim_db,
        silent=False,
        highpass_hz=cutoff,
        compressed=compressor is not None,
    )


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan (balance for stereo stems), unity gain in each channel at centre."""
    angle = (pan + 1.0) * math.pi / 4.0
    gains = np.array([[math.cos(angle)], [math.sin(angle)]], dtype=np.float32) * np.float32(
        math.sqrt(2.0)
    )
    return gains * x  # (1, n) broadcasts to both channels
