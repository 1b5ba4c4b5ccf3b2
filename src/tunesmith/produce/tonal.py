"""Tonal balance: the long-term spectrum of a mix, a target for it (a reference track or a
genre curve) and the linear-phase EQ that moves one toward the other.

Spectra are compared as band power in 1/3-octave bands, sampled every 1/6 octave from 20 Hz
to 20 kHz, on the mid (L+R) signal; only their shape matters, so every comparison first
removes the level difference (the mean difference over 100 Hz-8 kHz). The matching EQ is the
smoothed, limited difference, realised as a linear-phase FIR (scipy `firwin2`) applied with
FFT convolution, delay-compensated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.produce.analysis import band_levels_db, long_term_spectrum
from tunesmith.produce.common import ProduceError

#: Analysis grid: 1/6 octave from 20 Hz to 20 kHz (61 points).
GRID_HZ = 20.0 * 2.0 ** (np.arange(0, 61) / 6.0)
_LEVEL_BAND_HZ = (100.0, 8000.0)  # where the level offset is taken
DISTANCE_BAND_HZ = (40.0, 16000.0)  # where spectral distance is averaged
MATCH_BAND_HZ = (30.0, 18000.0)  # the EQ acts inside this range and fades to 0 dB outside
_SMOOTH_POINTS = 2  # 1/3-octave smoothing of the EQ curve (2 points at 1/6 octave)
_FIR_TAPS = 4095  # ~10.8 Hz resolution at 44.1 kHz: enough to shape 30-60 Hz


@dataclass(frozen=True)
class TonalBalance:
    """Band power (dB, 1/3-octave bands) at GRID_HZ; only the shape is meaningful."""

    level_db: tuple[float, ...]
    source: str = ""

    @classmethod
    def from_audio(
        cls, audio: np.ndarray, *, sample_rate: int, source: str = "audio"
    ) -> TonalBalance:
        """The long-term spectrum of (channels, n) audio."""
        spectrum = long_term_spectrum(audio, sample_rate=sample_rate)
        levels = band_levels_db(spectrum, GRID_HZ)
        nyquist_ok = 0.45 * sample_rate > GRID_HZ
        if not nyquist_ok.any() or not np.isfinite(levels[nyquist_ok]).any():
            raise ProduceError(f"the {source} is silent: it has no tonal balance to match")
        # Above the file's Nyquist there is nothing: hold the last value (the EQ ignores it).
        last = int(np.nonzero(nyquist_ok)[0][-1])
        levels[last + 1 :] = levels[last]
        return cls(level_db=tuple(float(v) for v in levels), source=source)

    @classmethod
    def from_curve(
        cls, points: tuple[tuple[float, float], ...], *, source: str = "curve"
    ) -> TonalBalance:
        """Breakpoints (Hz, dB) joined linearly in log frequency, held flat past the ends."""
        if len(points) < 2:
            raise ProduceError("a tonal-balance curve needs at least two points")
        hz = np.log2([p[0] for p in points])
        db = [p[1] for p in points]
        return cls(
            level_db=tuple(float(v) for v in np.interp(np.log2(GRID_HZ), hz, db)), source=source
        )

    @classmethod
    def for_genre(cls, style: str | None) -> TonalBalance:
        """The target curve of a style's family (see `families`)."""
        from tunesmith.produce.families import family_for_style

        family = family_for_style(style)
        return cls.from_curve(family.tonal_balance, source=f"genre:{family.name}")

    def array(self) -> np.ndarray:
        return np.asarray(self.level_db, dtype=np.float64)


def _mask(lo: float, hi: float) -> np.ndarray:
    return (lo <= GRID_HZ) & (hi >= GRID_HZ)


def aligned_difference(target: TonalBalance, current: TonalBalance) -> np.ndarray:
    """target - current (dB per grid point) with the level difference removed."""
    diff = target.array() - current.array()
    level = _mask(*_LEVEL_BAND_HZ)
    return diff - float(np.mean(diff[level]))


def spectral_distance_db(
    a: TonalBalance, b: TonalBalance, *, sample_rate: int | None = None
) -> float:
    """Mean absolute difference (dB) of two level-aligned tonal balances over 40 Hz-16 kHz
    (below `0.45 * sample_rate` when given): 0 for the same shape."""
    diff = aligned_difference(a, b)
    band = _mask(*DISTANCE_BAND_HZ)
    if sample_rate is not None:
        band &= 0.45 * sample_rate > GRID_HZ
    return float(np.mean(np.abs(diff[band])))


@dataclass(frozen=True)
class MatchEq:
    """The EQ curve (dB at GRID_HZ) chosen to move a mix toward a target balance."""

    gain_db: tuple[float, ...]
    target: str
    strength: float
    max_db: float

    def to_dict(self) -> dict[str, object]:
        """Coarse summary for reports: the gain every octave from 31 Hz to 16 kHz."""
        octaves = 31.25 * 2.0 ** np.arange(10)
        gains = np.interp(np.log2(octaves), np.log2(GRID_HZ), self.gain_db)
        return {
            "target": self.target,
            "strength": self.strength,
            "max_db": self.max_db,
            "octave_gains_db": {
                f"{hz:g}": round(float(g), 2) for hz, g in zip(octaves, gains, strict=True)
            },
        }

    @property
    def is_flat(self) -> bool:
        return max(abs(g) for g in self.gain_db) < 0.05


def match_eq(
    current: TonalBalance,
    target: TonalBalance,
    *,
    strength: float = 1.0,
    max_db: float = 6.0,
    sample_rate: int = 44100,
) -> MatchEq:
    """EQ curve that moves `current` toward `target`: the level-aligned difference, smoothed
    over half an octave, scaled by `strength` (0..1), limited to +-`max_db` and faded to
    0 dB outside MATCH_BAND_HZ (and above 0.45 * sample_rate)."""
    if not 0.0 <= strength <= 1.0:
        raise ProduceError(f"EQ strength must be between 0 and 1, got {strength}")
    if max_db < 0.0:
        raise ProduceError(f"EQ limit must be positive, got {max_db}")
    smooth = _smooth(aligned_difference(target, current))
    inside = _mask(MATCH_BAND_HZ[0], min(MATCH_BAND_HZ[1], 0.45 * sample_rate))
    # fade over one octave outside the band
    lo_idx, hi_idx = np.nonzero(inside)[0][[0, -1]]
    fade = np.ones_like(smooth)
    steps = np.arange(GRID_HZ.size)
    fade[steps < lo_idx] = np.clip(1.0 - (lo_idx - steps[steps < lo_idx]) / 6.0, 0.0, 1.0)
    fade[steps > hi_idx] = np.clip(1.0 - (steps[steps > hi_idx] - hi_idx) / 6.0, 0.0, 1.0)
    gain = np.clip(strength * smooth, -max_db, max_db) * fade
    return MatchEq(
        gain_db=tuple(float(g) for g in gain),
        target=target.source,
        strength=strength,
        max_db=max_db,
    )


def _smooth(curve: np.ndarray) -> np.ndarray:
    kernel = np.hanning(2 * _SMOOTH_POINTS + 1)[1:-1]
    kernel /= kernel.sum()
    return np.convolve(np.pad(curve, _SMOOTH_POINTS - 1, mode="edge"), kernel, mode="valid")


def apply_matching_eq(
    audio: np.ndarray, eq: MatchEq, *, sample_rate: int, before: TonalBalance
) -> tuple[np.ndarray, MatchEq]:
    """Apply `eq`, measure what it really did to the long-term spectrum (a FIR cannot follow
    a curve exactly in the low octaves, and the program interacts with it), and apply once
    more with the shortfall added to the curve (still within the limit). Returns the audio
    filtered once by the corrected curve, and that curve."""
    first = apply_eq(audio, eq, sample_rate=sample_rate)
    if eq.is_flat:
        return first, eq
    after = TonalBalance.from_audio(first, sample_rate=sample_rate, source="the equalised mix")
    realised = _smooth(aligned_difference(after, before))
    wanted = np.asarray(eq.gain_db)
    active = np.abs(wanted) > 0.0  # the faded-out ends stay at 0 dB
    corrected = np.where(active, np.clip(2.0 * wanted - realised, -eq.max_db, eq.max_db), 0.0)
    final = MatchEq(
        gain_db=tuple(float(g) for g in corrected),
        target=eq.target,
        strength=eq.strength,
        max_db=eq.max_db,
    )
    return apply_eq(audio, final, sample_rate=sample_rate), final


def apply_eq(audio: np.ndarray, eq: MatchEq, *, sample_rate: int) -> np.ndarray:
    """Filter (channels, n) audio with the linear-phase FIR of `eq`; same length, no delay."""
    from scipy.signal import firwin2, oaconvolve

    x = np.asarray(audio, dtype=np.float32)
    if eq.is_flat:
        return x.copy()
    nyquist = sample_rate / 2.0
    taps = _FIR_TAPS if sample_rate <= 48000 else int(_FIR_TAPS * sample_rate / 48000) | 1
    inside = nyquist > GRID_HZ
    freqs = np.concatenate([[0.0], GRID_HZ[inside], [nyquist]])
    g = np.asarray(eq.gain_db)[inside]
    gains = 10.0 ** (np.concatenate([[g[0]], g, [g[-1]]]) / 20.0)
    fir = firwin2(taps, freqs / nyquist, gains).astype(np.float32)
    delay = (taps - 1) // 2
    out = oaconvolve(x, fir[None, :], mode="full", axes=-1)[:, delay : delay + x.shape[-1]]
    return np.ascontiguousarray(out, dtype=np.float32)


def eq_response_db(eq: MatchEq, freqs_hz: np.ndarray) -> np.ndarray:
    """The EQ curve interpolated at arbitrary frequencies (for reports and tests)."""
    return np.interp(np.log2(np.maximum(freqs_hz, 1e-3)), np.log2(GRID_HZ), eq.gain_db)
