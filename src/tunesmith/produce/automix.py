"""Mix anyone's stems: decide what each stem is and how to treat it, then `mix` them.

    result = automix([SourceStem("Kick", kick, 48000), SourceStem("vox", vox, 44100)], style="rock")
    result.mix.audio       # (2, n) float32 at result.sample_rate
    result.to_dict()       # every decision, for the JSON report

Decisions, all from the audio (file names are only a weak hint for the role):
- role per stem (`analysis.detect_role`), unless the caller fixes it;
- the tempo (from the drums, for the delay time);
- high-pass per stem: the role's cutoff, lowered for a stem whose own low end reaches
  further down (a cello is not thinned like a flute);
- EQ carving where spectra overlap, measured on 1/3-octave long-term spectra at the level
  each stem will have in the mix: the bass is cut where the kick peaks (and the drums where
  the bass's fundamentals sit, if that is elsewhere); each accompaniment stem is cut in the
  band where it covers the lead's strongest region the most;
- panning: lead, bass and drums centred, the rest spread left and right by role;
- gain staging, compression, sends and sidechain come from the style's mix template.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.produce.analysis import (
    RoleGuess,
    StemFeatures,
    band_levels_db,
    detect_role,
    estimate_tempo_bpm,
    long_term_spectrum,
    stem_features,
)
from tunesmith.produce.common import (
    ROLES,
    STAGING_LUFS,
    ProduceError,
    canonical_role,
)
from tunesmith.produce.families import family_for_style
from tunesmith.produce.loudness import estimate_integrated_lufs, select_segments
from tunesmith.produce.mixing import MixResult, Stem, mix
from tunesmith.produce.templates import EqMove, MixTemplate

logger = logging.getLogger(__name__)

MAX_STEMS = 64
#: 1/3-octave band centres (ISO 266, 25 Hz - 16 kHz) the carving looks at.
BAND_CENTRES_HZ = 1000.0 * 2.0 ** (np.arange(-16, 13) / 3.0)

LEAD_ROLES = ("vocal", "lead", "melody")
ACCOMPANIMENT_ROLES = ("keys", "chords", "guitar", "pad", "strings", "brass", "other")
# Pan position by role for stems that are not centred; signs alternate per stem.
PAN_WIDTH = {
    "guitar": 0.6,
    "keys": 0.35,
    "chords": 0.35,
    "pad": 0.25,
    "strings": 0.3,
    "brass": 0.4,
    "other": 0.45,
    "lead": 0.3,
    "melody": 0.3,
    "vocal": 0.2,
}

_KICK_BAND_HZ = (40.0, 130.0)
_BASS_BAND_HZ = (35.0, 260.0)
_KICK_CUT_DB = 4.0  # on the bass, where the kick peaks, when both are at their strongest
_POCKET_CUT_DB = 2.5  # on the drums, where the bass's fundamentals sit
_LOW_Q = 1.4
_LEAD_BAND_HZ = (200.0, 5000.0)
_LEAD_IMPORTANT_DB = 12.0  # lead bands within this of its strongest matter
_MASK_RANGE_DB = (-15.0, 3.0)  # accompaniment minus lead: where masking starts and is full
_MAX_CARVE_DB = 4.0
_MIN_CARVE_DB = 1.0  # smaller cuts are not worth making
_CARVE_Q = 1.2
_HIGHPASS_ENERGY_SHARE = 0.02  # the high-pass sits under the band holding 2 % of the energy
_HIGHPASS_MARGIN = 0.7
_HIGHPASS_MIN_HZ = 30.0


@dataclass
class SourceStem:
    """A stem as it came: float audio (channels, n) or (n,) at its own sample rate."""

    name: str
    audio: np.ndarray
    sample_rate: int
    path: str | None = None


@dataclass(frozen=True)
class CarvingCut:
    """An EQ cut made to reduce masking: on `stem`, for `other`."""

    stem: str
    freq_hz: float
    gain_db: float
    q: float
    reason: str

    def to_eq(self) -> EqMove:
        return EqMove("peak", self.freq_hz, self.gain_db, self.q)

    def to_dict(self) -> dict[str, object]:
        return {
            "freq_hz": round(self.freq_hz, 1),
            "gain_db": round(self.gain_db, 2),
            "q": self.q,
            "reason": self.reason,
        }


@dataclass
class StemDecision:
    """What the engineer decided for one stem."""

    name: str
    role: str
    guess: RoleGuess | None  # None when the caller fixed the role
    features: StemFeatures
    source_sample_rate: int
    channels: int
    pan: float = 0.0
    highpass_hz: float | None = None
    cuts: list[CarvingCut] = field(default_factory=list)
    silent: bool = False
    path: str | None = None


@dataclass
class AutoMixResult:
    mix: MixResult
    decisions: list[StemDecision]
    family: str
    style: str | None
    tempo_bpm: float | None
    sample_rate: int
    warnings: list[str]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready report of every decision and what the strips did."""
        stems = []
        for d in self.decisions:
            entry: dict[str, object] = {
                "name": d.name,
                "file": d.path,
                "role": d.role,
                "role_source": "silent" if d.silent else "given" if d.guess is None else "detected",
                "silent": d.silent,
                "source_sample_rate": d.source_sample_rate,
                "channels": d.channels,
                "features": d.features.to_dict(),
            }
            if d.guess is not None:
                entry["detection"] = d.guess.to_dict()
            strip = self.mix.report.get(d.name)
            if strip is not None:
                entry["mix"] = strip.to_dict()
            entry["carving"] = [c.to_dict() for c in d.cuts]
            stems.append(entry)
        return {
            "style": self.style,
            "family": self.family,
            "sample_rate": self.sample_rate,
            "duration_s": round(self.mix.audio.shape[1] / self.sample_rate, 3),
            "tempo_bpm": None if self.tempo_bpm is None else round(self.tempo_bpm, 2),
            "delay_ms": round(self.mix.delay_s * 1000.0, 1),
            "bus_bypassed": self.mix.bus_bypassed,
            "bus_change_lu": round(self.mix.bus_change_lu, 2),
            "headroom_gain_db": round(self.mix.headroom_gain_db, 2),
            "warnings": list(self.warnings),
            "stems": stems,
        }


def choose_sample_rate(rates: Sequence[int]) -> int:
    """The most common rate among the stems; ties go to the higher one."""
    counts = Counter(rates)
    return max(counts, key=lambda r: (counts[r], r))


def automix(
    sources: Sequence[SourceStem],
    *,
    style: str | None = None,
    sample_rate: int | None = None,
    roles: dict[str, str] | None = None,
    bypass_bus: bool = False,
    template: MixTemplate | None = None,
) -> AutoMixResult:
    """Mix stems of any rate, length and channel count. `roles` fixes the role of named stems
    (the rest are detected); `style` picks the mix template (see `families`)."""
    import soxr

    if not sources:
        raise ProduceError("there are no stems to mix")
    if len(sources) > MAX_STEMS:
        raise ProduceError(f"{len(sources)} stems is more than the {MAX_STEMS} a mix can take")
    fixed = _check_roles(roles or {}, [s.name for s in sources])
    rate = sample_rate or choose_sample_rate([s.sample_rate for s in sources])
    if rate < 8000:
        raise ProduceError(f"a sample rate of {rate} Hz is too low to mix")
    tpl = template if template is not None else MixTemplate.for_style(style)
    family = family_for_style(style).name
    warnings: list[str] = []

    audios, decisions = [], []
    for src in sources:
        x = _channels_first(src)
        if src.sample_rate != rate:
            x = np.ascontiguousarray(soxr.resample(x.T, src.sample_rate, rate, quality="HQ").T)
        feats = stem_features(x, sample_rate=rate)
        if src.name in fixed:
            role, guess = fixed[src.name], None
        elif feats.silent:
            role, guess = "other", None
        else:
            guess = detect_role(feats, name=src.name)
            role = guess.role
        decision = StemDecision(
            name=src.name,
            role=role,
            guess=guess,
            features=feats,
            source_sample_rate=src.sample_rate,
            channels=x.shape[0],
            silent=feats.silent,
            path=src.path,
        )
        if feats.silent:
            warnings.append(f"stem {src.name!r} is silent: it is left out of the mix")
        audios.append(x)
        decisions.append(decision)
        logger.info("stem %s: %s", src.name, role)

    playing = [i for i, d in enumerate(decisions) if not d.silent]
    if not playing:
        raise ProduceError("every stem is silent: there is nothing to mix")
    drums = [audios[i] for i in playing if decisions[i].role == "drums"]
    tempo = _tempo(drums, rate)

    levels = {i: _mix_spectrum(audios[i], decisions[i].role, tpl, rate) for i in playing}
    for i in playing:
        decisions[i].highpass_hz = _highpass(levels[i], decisions[i].role, tpl)
    _carve(decisions, levels)
    _pan(decisions)

    stems = [
        Stem(
            name=decisions[i].name,
            role=decisions[i].role,
            audio=audios[i],
            pan=decisions[i].pan,
            eq=tuple(c.to_eq() for c in decisions[i].cuts),
            highpass_hz=decisions[i].highpass_hz if decisions[i].highpass_hz else 0.0,
        )
        for i in playing
    ]
    result = mix(stems, sample_rate=rate, template=tpl, tempo_bpm=tempo, bypass_bus=bypass_bus)
    return AutoMixResult(
        mix=result,
        decisions=decisions,
        family=family,
        style=style,
        tempo_bpm=tempo,
        sample_rate=rate,
        warnings=warnings,
    )


def _check_roles(roles: dict[str, str], names: list[str]) -> dict[str, str]:
    out = {}
    for name, role in roles.items():
        if name not in names:
            raise ProduceError(f"there is no stem called {name!r} (stems: {', '.join(names)})")
        canonical = canonical_role(role)
        if canonical is None:
            raise ProduceError(f"unknown role {role!r} for {name!r}; use one of {', '.join(ROLES)}")
        out[name] = canonical
    return out


def _channels_first(src: SourceStem) -> np.ndarray:
    x = np.asarray(src.audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] > 2 or x.shape[1] == 0:
        raise ProduceError(
            f"stem {src.name!r} must be mono or stereo audio (channels, samples), got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ProduceError(f"stem {src.name!r} contains NaN or infinite samples")
    if src.sample_rate <= 0:
        raise ProduceError(f"stem {src.name!r} has no valid sample rate")
    return x


def _tempo(drums: list[np.ndarray], sample_rate: int) -> float | None:
    if not drums:
        return None
    n = max(d.shape[1] for d in drums)
    total = np.zeros(n, dtype=np.float32)
    for d in drums:
        total[: d.shape[1]] += d.mean(axis=0)
    return estimate_tempo_bpm(total, sample_rate=sample_rate)


def _mix_spectrum(x: np.ndarray, role: str, tpl: MixTemplate, sample_rate: int) -> np.ndarray:
    """1/3-octave band levels (dB) of a stem at the loudness it will have in the mix."""
    starts = select_segments(x, sample_rate=sample_rate)
    lufs = estimate_integrated_lufs(x, sample_rate=sample_rate, starts=starts)
    levels = band_levels_db(long_term_spectrum(x, sample_rate=sample_rate), BAND_CENTRES_HZ)
    if not math.isfinite(lufs):
        return levels
    return levels + (STAGING_LUFS + tpl.level_lu[role] - lufs)


def _highpass(levels: np.ndarray, role: str, tpl: MixTemplate) -> float | None:
    """The role's high-pass, moved down for a stem with real content below it."""
    default = tpl.highpass_hz[role]
    if default is None:
        return None
    energy = 10.0 ** (levels / 10.0)
    cumulative = np.cumsum(energy) / energy.sum()
    band = int(np.searchsorted(cumulative, _HIGHPASS_ENERGY_SHARE))
    lowest = BAND_CENTRES_HZ[min(band, BAND_CENTRES_HZ.size - 1)]
    return float(round(min(default, max(_HIGHPASS_MIN_HZ, _HIGHPASS_MARGIN * lowest)), 1))


def _band_range(lo: float, hi: float) -> np.ndarray:
    centres = BAND_CENTRES_HZ
    return np.nonzero((centres >= lo) & (centres <= hi))[0]


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _carve(decisions: list[StemDecision], levels: dict[int, np.ndarray]) -> None:
    """Add masking cuts to the decisions (in place)."""
    by_role: dict[str, list[int]] = {}
    for i in levels:
        by_role.setdefault(decisions[i].role, []).append(i)

    # Kick vs bass: each gets out of the other's way in the low end.
    drums, basses = by_role.get("drums", []), by_role.get("bass", [])
    if drums and basses:
        kick = 10.0 * np.log10(sum(10.0 ** (levels[i] / 10.0) for i in drums))
        kb = _band_range(*_KICK_BAND_HZ)
        k_band = int(kb[np.argmax(kick[kb])])
        bb = _band_range(*_BASS_BAND_HZ)
        for b in basses:
            bass = levels[b]
            overlap = min(bass[k_band] - bass[bb].max(), kick[k_band] - kick[kb].max())
            amount = _KICK_CUT_DB * _ramp(overlap, -12.0, 0.0)
            if amount >= _MIN_CARVE_DB:
                decisions[b].cuts.append(
                    CarvingCut(
                        decisions[b].name,
                        float(BAND_CENTRES_HZ[k_band]),
                        -amount,
                        _LOW_Q,
                        f"room for the kick in {_names(decisions, drums)}",
                    )
                )
            b_band = int(bb[np.argmax(bass[bb])])
            if abs(b_band - k_band) >= 2:  # >= 2/3 octave apart: a pocket in the drums too
                for d in drums:
                    over = min(levels[d][b_band] - kick[kb].max(), 0.0)
                    amount = _POCKET_CUT_DB * _ramp(over, -12.0, 0.0)
                    if amount >= _MIN_CARVE_DB:
                        decisions[d].cuts.append(
                            CarvingCut(
                                decisions[d].name,
                                float(BAND_CENTRES_HZ[b_band]),
                                -amount,
                                _LOW_Q,
                                f"room for the bass {decisions[b].name!r}",
                            )
                        )

    # Lead vs accompaniment: cut each accompaniment where it covers the lead's core the most.
    leads = [i for r in LEAD_ROLES for i in by_role.get(r, [])]
    accompaniment = [i for r in ACCOMPANIMENT_ROLES for i in by_role.get(r, [])]
    lb = _band_range(*_LEAD_BAND_HZ)
    for lead in leads:
        lead_db = levels[lead][lb]
        importance = np.clip(1.0 + (lead_db - lead_db.max()) / _LEAD_IMPORTANT_DB, 0.0, 1.0)
        for a in accompaniment:
            if a == lead:
                continue
            masking = levels[a][lb] - lead_db
            lo, hi = _MASK_RANGE_DB
            score = importance * np.clip((masking - lo) / (hi - lo), 0.0, 1.0)
            best = int(np.argmax(score))
            amount = _MAX_CARVE_DB * float(score[best])
            if amount >= _MIN_CARVE_DB:
                decisions[a].cuts.append(
                    CarvingCut(
                        decisions[a].name,
                        float(BAND_CENTRES_HZ[lb[best]]),
                        -round(amount, 2),
                        _CARVE_Q,
                        f"room for the {decisions[lead].role} {decisions[lead].name!r}",
                    )
                )


def _names(decisions: list[StemDecision], idx: list[int]) -> str:
    return ", ".join(repr(decisions[i].name) for i in idx)


def _pan(decisions: list[StemDecision]) -> None:
    """Centre drums, bass and the first lead; spread the rest, alternating sides."""
    side = -1.0
    first_lead = True
    for d in sorted(decisions, key=lambda d: (ROLES.index(d.role), d.name)):
        if d.silent or d.role in ("drums", "bass"):
            continue
        if d.role in LEAD_ROLES and first_lead:
            first_lead = False
            continue
        d.pan = side * PAN_WIDTH.get(d.role, 0.4)
        side = -side
