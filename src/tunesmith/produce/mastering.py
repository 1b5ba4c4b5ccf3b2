"""Mastering: tonal EQ toward a reference or genre balance, bus dynamics (glue compressor,
optional multiband and mono low end), then the true-peak limiter and loudness normalisation,
solved together so the master lands on the target loudness under the ceiling.

The loudness-vs-gain search runs on per-block data (K-weighted energy and oversampled peak of
the bus output, LIMITER_BLOCK samples per block): gain only scales those, and the limiter's
gain curve is computed per block anyway, so each step of the search costs milliseconds. The
chosen gain is then rendered once and measured exactly (BS.1770 loudness, 4x true peak); a
small residual is trimmed with plain gain where the true-peak margin allows, otherwise the
search is redone with the measured bias.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from tunesmith.produce.common import (
    ABSOLUTE_GATE_LUFS,
    BUS_LEVEL_LUFS,
    LIMITER_BLOCK,
    LIMITER_RELEASE_LADDER,
    LOUDNESS_TOLERANCE_LU,
    TRUE_PEAK_MARGIN_DB,
    ProduceError,
    as_stereo,
    require_duration,
)
from tunesmith.produce.dynamics import MultibandCompressor, mono_below
from tunesmith.produce.limiter import TruePeakLimiter, apply_block_gain, peak_db_of
from tunesmith.produce.loudness import (
    LoudnessReport,
    estimate_integrated_lufs,
    gated_loudness,
    hop_energies,
    hop_length,
    k_weighted_power,
    measure,
    select_segments,
    true_peak_envelope,
)
from tunesmith.produce.tonal import MatchEq, TonalBalance, apply_matching_eq, match_eq

logger = logging.getLogger(__name__)

#: Delivery targets (integrated LUFS, true-peak ceiling dBTP); docs/mastering.md explains them.
TARGET_PRESETS: dict[str, tuple[float, float]] = {
    "spotify": (-14.0, -1.0),
    "youtube": (-14.0, -1.0),
    "soundcloud": (-14.0, -1.0),
    "tidal": (-14.0, -1.0),
    "amazon": (-14.0, -2.0),
    "apple": (-16.0, -1.0),
    "ebu_r128": (-23.0, -1.0),
    "cd": (-9.0, -0.3),
    "club": (-8.0, -0.5),
}
DEFAULT_TARGET = "spotify"
#: Targets that get the loud-master bus (multiband compression; club: mono below 120 Hz).
LOUD_TARGETS = ("cd", "club")
CLUB_MONO_BELOW_HZ = 120.0

# Tonal matching: a reference is followed closely, a genre curve only nudges.
REFERENCE_EQ_STRENGTH = 1.0
REFERENCE_EQ_MAX_DB = 12.0
GENRE_EQ_STRENGTH = 0.5
GENRE_EQ_MAX_DB = 3.0

_MAX_PASSES = 4  # exact render-and-measure rounds
_MAX_SEARCH_STEPS = 12
_SEARCH_TOLERANCE_LU = 0.01
_MAX_PUSH_DB = 24.0  # never drive the limiter harder than this past the unlimited gain
_ACCEPT_LU = 0.5  # the promise to the caller
_TRIM_ROOM_DB = 0.05  # keep at least this far under the ceiling when trimming up


@dataclass(frozen=True)
class MasterTarget:
    """Loudness target for a delivery platform."""

    name: str
    integrated_lufs: float = -14.0
    true_peak_dbtp: float = -1.0

    def __post_init__(self) -> None:
        if not -40.0 <= self.integrated_lufs <= -5.0:
            raise ProduceError(f"target loudness must be -40..-5 LUFS, got {self.integrated_lufs}")
        if not -12.0 <= self.true_peak_dbtp <= 0.0:
            raise ProduceError(f"true-peak ceiling must be -12..0 dBTP, got {self.true_peak_dbtp}")

    @classmethod
    def named(cls, name: str) -> MasterTarget:
        key = name.strip().lower()
        if key not in TARGET_PRESETS:
            raise ProduceError(
                f"unknown loudness target {name!r}; choose one of {', '.join(TARGET_PRESETS)}"
            )
        lufs, ceiling = TARGET_PRESETS[key]
        return cls(name=key, integrated_lufs=lufs, true_peak_dbtp=ceiling)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MasterTarget:
        try:
            return cls(**data)
        except TypeError as exc:
            raise ProduceError(f"malformed master target: {exc}") from exc


@dataclass(frozen=True)
class BusSettings:
    """Master bus before the limiter: gentle shelves and a slow glue compressor. The
    compressor threshold is dBFS for a mix brought to BUS_LEVEL_LUFS (-20 LUFS)."""

    low_shelf_hz: float = 90.0
    low_shelf_db: float = 1.0
    high_shelf_hz: float = 10000.0
    high_shelf_db: float = 1.5
    glue_threshold_db: float = -18.0
    glue_ratio: float = 2.0
    glue_attack_ms: float = 30.0
    glue_release_ms: float = 250.0
    multiband: MultibandCompressor | None = None
    mono_below_hz: float | None = None

    @classmethod
    def for_target(cls, name: str) -> BusSettings:
        """The bus for a delivery target: the default glue for streaming, multiband
        compression for the loud CD and club masters (club also gets a mono low end)."""
        if name not in LOUD_TARGETS:
            return cls()
        return cls(
            glue_threshold_db=-20.0,
            glue_ratio=2.5,
            glue_attack_ms=20.0,
            glue_release_ms=150.0,
            multiband=MultibandCompressor(),
            mono_below_hz=CLUB_MONO_BELOW_HZ if name == "club" else None,
        )

    def without_shelves(self) -> BusSettings:
        """The same bus with the fixed shelves off (a matching EQ takes care of tone)."""
        return replace(self, low_shelf_db=0.0, high_shelf_db=0.0)

    def process(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import pedalboard

        x = np.asarray(audio, dtype=np.float32)
        if self.mono_below_hz is not None:
            x = mono_below(x, freq_hz=self.mono_below_hz, sample_rate=sample_rate)
        if self.multiband is not None:
            x = self.multiband(x, sample_rate)
        plugins: list[Any] = []
        if self.low_shelf_db:
            plugins.append(pedalboard.LowShelfFilter(self.low_shelf_hz, self.low_shelf_db, 0.7071))
        if self.high_shelf_db and self.high_shelf_hz < 0.45 * sample_rate:
            plugins.append(
                pedalboard.HighShelfFilter(self.high_shelf_hz, self.high_shelf_db, 0.7071)
            )
        if self.glue_ratio > 1.0:
            plugins.append(
                pedalboard.Compressor(
                    threshold_db=self.glue_threshold_db,
                    ratio=self.glue_ratio,
                    attack_ms=self.glue_attack_ms,
                    release_ms=self.glue_release_ms,
                )
            )
        return pedalboard.Pedalboard(plugins)(x, sample_rate) if plugins else x

    __call__ = process

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BusSettings:
        try:
            d = dict(data)
            if isinstance(d.get("multiband"), dict):
                d["multiband"] = MultibandCompressor(
                    **{k: tuple(v) for k, v in d["multiband"].items()}
                )
            return cls(**d)
        except TypeError as exc:
            raise ProduceError(f"malformed bus settings: {exc}") from exc


@dataclass
class MasterResult:
    audio: np.ndarray  # (2, n) float32
    report: LoudnessReport
    target: MasterTarget
    limiter_reduction_max_db: float
    limiter_release_ms: float  # the release the program needed (see LIMITER_RELEASE_LADDER)
    passes: int  # exact render-and-measure rounds used
    input_lufs: float = float("nan")
    eq: MatchEq | None = None  # the tonal-matching EQ, when one was asked for
    bus: BusSettings | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: target, the meters, and what the chain did."""
        return {
            "target": self.target.name,
            "target_lufs": self.target.integrated_lufs,
            "ceiling_dbtp": self.target.true_peak_dbtp,
            **self.report.to_dict(),
            "input_lufs": round(self.input_lufs, 2) if math.isfinite(self.input_lufs) else None,
            "limiter_max_reduction_db": round(max(self.limiter_reduction_max_db, 0.0), 2),
            "limiter_release_ms": self.limiter_release_ms,
            "multiband": self.bus is not None and self.bus.multiband is not None,
            "eq": None if self.eq is None else self.eq.to_dict(),
        }


def _power_and_envelope(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """K-weighted power and per-block true peak, side by side (both release the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        power = pool.submit(k_weighted_power, audio, sample_rate=sample_rate)
        envelope = true_peak_envelope(audio, block=LIMITER_BLOCK)
        return power.result(), envelope


class _BlockModel:
    """Loudness of the limited bus output as a function of the gain into the limiter,
    estimated from per-block K-weighted energy and true peak."""

    def __init__(self, bus_out: np.ndarray, sample_rate: int) -> None:
        power, envelope = _power_and_envelope(bus_out, sample_rate)
        n_blocks = envelope.size
        power = np.pad(power, (0, n_blocks * LIMITER_BLOCK - power.size))
        self.energy = power.reshape(n_blocks, LIMITER_BLOCK).sum(axis=1, dtype=np.float64)
        self.peak_db = peak_db_of(envelope)
        self.hop_blocks = max(1, int(round(hop_length(sample_rate) / LIMITER_BLOCK)))
        self.sample_rate = sample_rate

    def loudness(self, gain_db: float, limiter_db: np.ndarray | None = None) -> float:
        total = gain_db if limiter_db is None else gain_db + limiter_db
        energy = self.energy * 10.0 ** (np.asarray(total) / 10.0)
        n_hops = energy.size // self.hop_blocks
        hop_e = energy[: n_hops * self.hop_blocks].reshape(n_hops, -1).sum(axis=1)
        return gated_loudness(hop_e, self.hop_blocks * LIMITER_BLOCK)

    def solve(
        self, target_lufs: float, limiter: TruePeakLimiter
    ) -> tuple[float, np.ndarray, float]:
        """Gain (dB) into `limiter` whose limited loudness is `target_lufs`, by a secant search
        on a monotone function (slope clamped to (0, 1]). Returns the gain, the limiter's
        per-block gain (dB) and the predicted loudness, which falls short of the target when
        this limiter cannot get there."""

        def evaluate(gain_db: float) -> tuple[np.ndarray, float]:
            reduction = limiter.gain_db(self.peak_db + gain_db, sample_rate=self.sample_rate)
            return reduction, self.loudness(gain_db, reduction)

        unlimited = target_lufs - self.loudness(0.0)
        g_prev, (_, f_prev) = unlimited - 1.0, evaluate(unlimited - 1.0)
        g = unlimited
        reduction, f = evaluate(g)
        for _ in range(_MAX_SEARCH_STEPS):
            if abs(f - target_lufs) < _SEARCH_TOLERANCE_LU:
                break
            slope = (f - f_prev) / (g - g_prev) if g != g_prev else 1.0
            g_next = min(
                g + (target_lufs - f) / min(1.0, max(0.05, slope)), unlimited + _MAX_PUSH_DB
            )
            if g_next == g:
                break
            g_prev, f_prev, g = g, f, g_next
            reduction, f = evaluate(g)
        return g, reduction, f


def _limiters(ceiling_dbtp: float) -> list[TruePeakLimiter]:
    """Gentlest first: a slow release distorts least, a fast one gets dense material louder."""
    return [
        TruePeakLimiter(ceiling_dbtp=ceiling_dbtp, release_ms=release_ms, hold_ms=hold_ms)
        for release_ms, hold_ms in LIMITER_RELEASE_LADDER
    ]


def master(
    audio: np.ndarray,
    *,
    sample_rate: int,
    target: MasterTarget | None = None,
    bus: BusSettings | None = None,
    reference: TonalBalance | None = None,
    genre: str | None = None,
) -> MasterResult:
    """Master a stereo (2, n) mix to `target` (default: spotify, -14 LUFS / -1 dBTP).

    Tone: with a `reference` balance (`TonalBalance.from_audio(ref, sample_rate=...)`) a
    linear-phase EQ matches the mix's long-term spectrum to it (within +-12 dB); with a `genre`
    (a style or family name) it nudges toward that family's curve (half strength, +-3 dB);
    with neither, the bus's fixed shelves colour it. The bus defaults to the target's
    (`BusSettings.for_target`).

    The result is within 0.5 LU of the target loudness (normally 0.1) and its 4x-oversampled
    true peak never exceeds the target ceiling. The limiter's release is program dependent:
    the slowest release that reaches the target is used. Raises ProduceError for silent, too
    short or malformed audio, or when the target cannot be reached under the ceiling.
    """
    tgt = target if target is not None else MasterTarget.named(DEFAULT_TARGET)
    bus = bus if bus is not None else BusSettings.for_target(tgt.name)
    x = as_stereo(audio, what="the mix")
    require_duration(x.shape[1], sample_rate=sample_rate, what="the mix")
    hop = hop_length(sample_rate)

    starts = select_segments(x, sample_rate=sample_rate)
    in_lufs = estimate_integrated_lufs(x, sample_rate=sample_rate, starts=starts)
    if not in_lufs >= ABSOLUTE_GATE_LUFS:
        raise ProduceError(f"the mix is silent ({in_lufs:.1f} LUFS): there is nothing to master")
    x = x * np.float32(10.0 ** ((BUS_LEVEL_LUFS - in_lufs) / 20.0))
    eq = None
    if reference is not None or genre is not None:
        current = TonalBalance.from_audio(x, sample_rate=sample_rate, source="the mix")
        eq = _tonal_eq(current, sample_rate, reference=reference, genre=genre)
        x, eq = apply_matching_eq(x, eq, sample_rate=sample_rate, before=current)
        bus = bus.without_shelves()
    bus_out = np.ascontiguousarray(bus(x, sample_rate), dtype=np.float32)

    ceiling = tgt.true_peak_dbtp
    model = _BlockModel(bus_out, sample_rate)
    limiters = _limiters(ceiling - TRUE_PEAK_MARGIN_DB)
    choice = 0
    aim = tgt.integrated_lufs
    for passes in range(1, _MAX_PASSES + 1):
        gain_db, reduction, predicted = model.solve(aim, limiters[choice])
        while predicted < aim - _SEARCH_TOLERANCE_LU and choice + 1 < len(limiters):
            choice += 1
            gain_db, reduction, predicted = model.solve(aim, limiters[choice])
        block_gain = 10.0 ** ((gain_db + reduction) / 20.0)
        y = apply_block_gain(bus_out, block_gain, block=LIMITER_BLOCK)
        power, envelope = _power_and_envelope(y, sample_rate)
        lufs = gated_loudness(hop_energies(power, hop), hop)
        peak = 20.0 * math.log10(float(envelope.max()))
        error = tgt.integrated_lufs - lufs
        logger.debug(
            "master pass %d: %.3f LUFS, %.3f dBTP, gain %.2f dB, release %.0f ms",
            passes,
            lufs,
            peak,
            gain_db,
            limiters[choice].release_ms,
        )
        trim_will_do = error <= 0.0 or peak + error <= ceiling - _TRIM_ROOM_DB
        out_of_reach = predicted < aim - _ACCEPT_LU  # even the fastest release falls short
        if trim_will_do or out_of_reach or abs(error) <= _SEARCH_TOLERANCE_LU:
            break
        aim += error  # the block model was off by this much here; ask it for more

    # Trim the residual with plain gain: down is always safe, up only within the margin.
    trim_db = min(error, ceiling - _TRIM_ROOM_DB - peak)
    if trim_db != 0.0:
        factor = 10.0 ** (trim_db / 20.0)
        y *= np.float32(factor)
        power *= np.float32(factor * factor)
        envelope *= np.float32(factor)
    report = measure(y, sample_rate=sample_rate, power=power, peak_envelope=envelope)
    if report.true_peak_dbtp > ceiling:  # cannot happen by construction; keep the promise anyway
        y *= np.float32(10.0 ** ((ceiling - _TRIM_ROOM_DB - report.true_peak_dbtp) / 20.0))
        report = measure(y, sample_rate=sample_rate)
    if abs(report.integrated_lufs - tgt.integrated_lufs) > _ACCEPT_LU:
        raise ProduceError(
            f"could not master to {tgt.integrated_lufs:.1f} LUFS under {ceiling:.1f} dBTP "
            f"(reached {report.integrated_lufs:.1f} LUFS); choose a quieter target"
        )
    if abs(report.integrated_lufs - tgt.integrated_lufs) > LOUDNESS_TOLERANCE_LU:
        logger.info(
            "master is %.2f LUFS for a %.1f target", report.integrated_lufs, tgt.integrated_lufs
        )
    return MasterResult(
        audio=y,
        report=report,
        target=tgt,
        limiter_reduction_max_db=float(-reduction.min()) if reduction.size else 0.0,
        limiter_release_ms=limiters[choice].release_ms,
        passes=passes,
        input_lufs=in_lufs,
        eq=eq,
        bus=bus,
    )


def _tonal_eq(
    current: TonalBalance, sample_rate: int, *, reference: TonalBalance | None, genre: str | None
) -> MatchEq:
    if reference is not None:
        return match_eq(
            current,
            reference,
            strength=REFERENCE_EQ_STRENGTH,
            max_db=REFERENCE_EQ_MAX_DB,
            sample_rate=sample_rate,
        )
    return match_eq(
        current,
        TonalBalance.for_genre(genre),
        strength=GENRE_EQ_STRENGTH,
        max_db=GENRE_EQ_MAX_DB,
        sample_rate=sample_rate,
    )
