"""MixTemplate: the mix engineer's settings per role, as data that round-trips to JSON.

The dict form is keyed by setting, then by role, so a style file can override a few values:
`{"reverb_send": {"melody": 0.25}, "reverb_room_size": 0.6}`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from tunesmith.produce.common import MIX_HEADROOM_DBFS, ROLES, ProduceError, canonical_role

EQ_KINDS = ("peak", "low_shelf", "high_shelf")

# The one place the default mix lives. Levels are integrated loudness in LU relative to the
# melody/lead; compressor thresholds are dBFS for a stem staged at STAGING_LUFS (-18 LUFS).
DEFAULT_TEMPLATE: dict[str, Any] = {
    "level_lu": {
        "melody": 0.0,
        "lead": 0.0,
        "vocal": 0.0,
        "chords": -7.0,
        "keys": -7.0,
        "guitar": -6.0,
        "pad": -10.0,
        "strings": -8.0,
        "brass": -6.0,
        "bass": -4.0,
        "drums": -2.0,
        "other": -8.0,
    },
    "highpass_hz": {
        "melody": 120.0,
        "lead": 120.0,
        "vocal": 90.0,
        "chords": 100.0,
        "keys": 100.0,
        "guitar": 90.0,
        "pad": 150.0,
        "strings": 80.0,
        "brass": 100.0,
        "bass": None,
        "drums": None,
        "other": 80.0,
    },
    "eq": {
        "melody": [{"kind": "peak", "freq_hz": 3000.0, "gain_db": 2.0, "q": 0.9}],
        "lead": [{"kind": "peak", "freq_hz": 3000.0, "gain_db": 2.0, "q": 0.9}],
        "vocal": [
            {"kind": "peak", "freq_hz": 300.0, "gain_db": -2.0, "q": 1.0},
            {"kind": "peak", "freq_hz": 3500.0, "gain_db": 2.0, "q": 0.9},
            {"kind": "high_shelf", "freq_hz": 10000.0, "gain_db": 1.5, "q": 0.7071},
        ],
        "chords": [{"kind": "peak", "freq_hz": 300.0, "gain_db": -3.0, "q": 1.0}],
        "keys": [{"kind": "peak", "freq_hz": 300.0, "gain_db": -3.0, "q": 1.0}],
        "guitar": [{"kind": "peak", "freq_hz": 250.0, "gain_db": -2.0, "q": 1.0}],
        "pad": [{"kind": "peak", "freq_hz": 280.0, "gain_db": -4.0, "q": 0.8}],
        "strings": [{"kind": "peak", "freq_hz": 300.0, "gain_db": -2.0, "q": 1.0}],
        "brass": [{"kind": "peak", "freq_hz": 400.0, "gain_db": -2.0, "q": 1.0}],
        "bass": [{"kind": "peak", "freq_hz": 2800.0, "gain_db": -4.0, "q": 0.8}],
        "drums": [],
        "other": [],
    },
    "compressor": {
        "melody": {"threshold_db": -24.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 120.0},
        "lead": {"threshold_db": -24.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 120.0},
        "vocal": {"threshold_db": -24.0, "ratio": 3.5, "attack_ms": 5.0, "release_ms": 100.0},
        "chords": {"threshold_db": -24.0, "ratio": 2.0, "attack_ms": 20.0, "release_ms": 200.0},
        "keys": {"threshold_db": -24.0, "ratio": 2.0, "attack_ms": 20.0, "release_ms": 200.0},
        "guitar": {"threshold_db": -22.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 150.0},
        "pad": {"threshold_db": -26.0, "ratio": 2.0, "attack_ms": 40.0, "release_ms": 300.0},
        "strings": {"threshold_db": -24.0, "ratio": 2.0, "attack_ms": 30.0, "release_ms": 250.0},
        "brass": {"threshold_db": -22.0, "ratio": 2.5, "attack_ms": 15.0, "release_ms": 150.0},
        "bass": {"threshold_db": -24.0, "ratio": 4.0, "attack_ms": 15.0, "release_ms": 150.0},
        "drums": {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 100.0},
        "other": {"threshold_db": -22.0, "ratio": 2.0, "attack_ms": 20.0, "release_ms": 200.0},
    },
    "reverb_send": {
        "melody": 0.18,
        "lead": 0.18,
        "vocal": 0.2,
        "chords": 0.12,
        "keys": 0.15,
        "guitar": 0.12,
        "pad": 0.25,
        "strings": 0.25,
        "brass": 0.18,
        "bass": 0.0,
        "drums": 0.06,
        "other": 0.1,
    },
    # A tempo-synced stereo echo (delay_beats, or delay_ms when the tempo is unknown).
    "delay_send": {
        "melody": 0.08,
        "lead": 0.1,
        "vocal": 0.1,
        "chords": 0.0,
        "keys": 0.0,
        "guitar": 0.05,
        "pad": 0.0,
        "strings": 0.0,
        "brass": 0.0,
        "bass": 0.0,
        "drums": 0.0,
        "other": 0.0,
    },
    "centred_roles": ["bass", "drums"],
    "reverb_room_size": 0.45,
    "reverb_damping": 0.5,
    "reverb_wet_level": 0.7,
    "reverb_width": 1.0,
    "sidechain_duck_db": 0.0,
    "sidechain_roles": ["bass", "pad"],
    "sidechain_release_ms": 120.0,
    "delay_beats": 0.75,
    "delay_ms": 375.0,
    "delay_feedback": 0.3,
    "delay_wet_level": 0.6,
    # Mix bus glue; its threshold is dBFS for the sum staged at STAGING_LUFS (the detector
    # follows the smoothed level, so -19 gives about 1 dB of gain reduction on music). None:
    # no bus compressor (then the stems always sum to the mix).
    "bus_compressor": {"threshold_db": -19.0, "ratio": 1.5, "attack_ms": 30.0, "release_ms": 200.0},
    "headroom_dbfs": MIX_HEADROOM_DBFS,
}

_PER_ROLE = ("level_lu", "highpass_hz", "eq", "compressor", "reverb_send", "delay_send")
_ROLE_LISTS = ("centred_roles", "sidechain_roles")
_UNIT_RANGE = (
    "reverb_room_size",
    "reverb_damping",
    "reverb_wet_level",
    "reverb_width",
    "delay_wet_level",
)


@dataclass(frozen=True)
class EqMove:
    """One EQ band: `kind` is peak, low_shelf or high_shelf."""

    kind: str
    freq_hz: float
    gain_db: float
    q: float = 0.7071

    def __post_init__(self) -> None:
        if self.kind not in EQ_KINDS:
            raise ProduceError(f"unknown EQ kind {self.kind!r}; use one of {', '.join(EQ_KINDS)}")
        if self.freq_hz <= 0 or self.q <= 0:
            raise ProduceError(f"EQ frequency and Q must be positive, got {self.freq_hz}, {self.q}")

    def plugin(self) -> Any:
        import pedalboard

        cls = {
            "peak": pedalboard.PeakFilter,
            "low_shelf": pedalboard.LowShelfFilter,
            "high_shelf": pedalboard.HighShelfFilter,
        }[self.kind]
        return cls(cutoff_frequency_hz=self.freq_hz, gain_db=self.gain_db, q=self.q)


@dataclass(frozen=True)
class CompressorSettings:
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float

    def __post_init__(self) -> None:
        if self.ratio < 1.0 or self.attack_ms < 0 or self.release_ms < 0:
            raise ProduceError("compressor ratio must be >= 1 and times >= 0 ms")

    def plugin(self) -> Any:
        import pedalboard

        return pedalboard.Compressor(
            threshold_db=self.threshold_db,
            ratio=self.ratio,
            attack_ms=self.attack_ms,
            release_ms=self.release_ms,
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "threshold_db": self.threshold_db,
            "ratio": self.ratio,
            "attack_ms": self.attack_ms,
            "release_ms": self.release_ms,
        }


@dataclass(frozen=True)
class MixTemplate:
    """Per-role channel-strip settings and the shared buses. Build with `default()` or
    `from_dict()`; every role in ROLES has a value in every per-role map."""

    level_lu: dict[str, float]
    highpass_hz: dict[str, float | None]
    eq: dict[str, tuple[EqMove, ...]]
    compressor: dict[str, CompressorSettings | None]
    reverb_send: dict[str, float]
    delay_send: dict[str, float]
    centred_roles: tuple[str, ...]
    reverb_room_size: float
    reverb_damping: float
    reverb_wet_level: float
    reverb_width: float
    sidechain_duck_db: float
    sidechain_roles: tuple[str, ...]
    sidechain_release_ms: float
    delay_beats: float
    delay_ms: float
    delay_feedback: float
    delay_wet_level: float
    bus_compressor: CompressorSettings | None
    headroom_dbfs: float

    @classmethod
    def default(cls) -> MixTemplate:
        return cls.from_dict({})

    @classmethod
    def for_style(cls, style: str | None, overrides: dict[str, Any] | None = None) -> MixTemplate:
        """The template for a style: its family's (see `families`), then the style file's own
        `[mix]` table on top. Unknown or missing styles get the general-purpose template."""
        from tunesmith.produce.families import family_for_style

        family = family_for_style(style)
        template = cls.from_dict(family.mix)
        return cls.from_dict(overrides, base=template) if overrides else template

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base: MixTemplate | None = None) -> MixTemplate:
        """Overlay a (possibly partial) dict on `base` (default: the default template).
        Per-role maps merge role by role; other keys replace."""
        if not isinstance(data, dict):
            raise ProduceError(f"a mix template must be a mapping, got {type(data).__name__}")
        merged = base.to_dict() if base is not None else copy.deepcopy(DEFAULT_TEMPLATE)
        for key, value in data.items():
            if key not in DEFAULT_TEMPLATE:
                raise ProduceError(f"unknown mix template setting {key!r}")
            if key in _PER_ROLE:
                if not isinstance(value, dict):
                    raise ProduceError(f"mix template {key!r} must map roles to values")
                _check_roles(value, key)
                merged[key].update({canonical_role(r): copy.deepcopy(v) for r, v in value.items()})
            elif key in _ROLE_LISTS:
                _check_roles(value, key)
                merged[key] = [canonical_role(r) for r in value]
            else:
                merged[key] = copy.deepcopy(value)
        return cls._build(merged)

    @classmethod
    def _build(cls, d: dict[str, Any]) -> MixTemplate:
        for key in _ROLE_LISTS:
            _check_roles(d[key], key)
        for key in _UNIT_RANGE:
            if not 0.0 <= float(d[key]) <= 1.0:
                raise ProduceError(f"mix template {key} must be between 0 and 1, got {d[key]}")
        if any(not 0.0 <= float(v) <= 1.0 for v in d["reverb_send"].values()):
            raise ProduceError("reverb sends must be between 0 and 1")
        if any(not 0.0 <= float(v) <= 1.0 for v in d["delay_send"].values()):
            raise ProduceError("delay sends must be between 0 and 1")
        if float(d["sidechain_duck_db"]) < 0.0 or float(d["headroom_dbfs"]) > 0.0:
            raise ProduceError("sidechain_duck_db must be >= 0 and headroom_dbfs <= 0")
        if not 0.0 <= float(d["delay_feedback"]) < 0.95:
            raise ProduceError("delay_feedback must be between 0 and 0.95")
        if float(d["delay_beats"]) <= 0.0 or float(d["delay_ms"]) <= 0.0:
            raise ProduceError("delay_beats and delay_ms must be positive")
        try:
            return cls(
                level_lu={r: float(d["level_lu"][r]) for r in ROLES},
                highpass_hz={
                    r: None if d["highpass_hz"][r] in (None, 0) else float(d["highpass_hz"][r])
                    for r in ROLES
                },
                eq={r: tuple(EqMove(**m) for m in d["eq"][r]) for r in ROLES},
                compressor={
                    r: None
                    if d["compressor"][r] is None
                    else CompressorSettings(**d["compressor"][r])
                    for r in ROLES
                },
                reverb_send={r: float(d["reverb_send"][r]) for r in ROLES},
                delay_send={r: float(d["delay_send"][r]) for r in ROLES},
                centred_roles=tuple(canonical_role(r) or r for r in d["centred_roles"]),
                reverb_room_size=float(d["reverb_room_size"]),
                reverb_damping=float(d["reverb_damping"]),
                reverb_wet_level=float(d["reverb_wet_level"]),
                reverb_width=float(d["reverb_width"]),
                sidechain_duck_db=float(d["sidechain_duck_db"]),
                sidechain_roles=tuple(canonical_role(r) or r for r in d["sidechain_roles"]),
                sidechain_release_ms=float(d["sidechain_release_ms"]),
                delay_beats=float(d["delay_beats"]),
                delay_ms=float(d["delay_ms"]),
                delay_feedback=float(d["delay_feedback"]),
                delay_wet_level=float(d["delay_wet_level"]),
                bus_compressor=None
                if d["bus_compressor"] is None
                else CompressorSettings(**d["bus_compressor"]),
                headroom_dbfs=float(d["headroom_dbfs"]),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise ProduceError(f"malformed mix template: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict in the same shape `from_dict` reads."""
        return {
            "level_lu": dict(self.level_lu),
            "highpass_hz": dict(self.highpass_hz),
            "eq": {
                r: [
                    {"kind": m.kind, "freq_hz": m.freq_hz, "gain_db": m.gain_db, "q": m.q}
                    for m in moves
                ]
                for r, moves in self.eq.items()
            },
            "compressor": {
                r: None if c is None else c.to_dict() for r, c in self.compressor.items()
            },
            "reverb_send": dict(self.reverb_send),
            "delay_send": dict(self.delay_send),
            "centred_roles": list(self.centred_roles),
            "reverb_room_size": self.reverb_room_size,
            "reverb_damping": self.reverb_damping,
            "reverb_wet_level": self.reverb_wet_level,
            "reverb_width": self.reverb_width,
            "sidechain_duck_db": self.sidechain_duck_db,
            "sidechain_roles": list(self.sidechain_roles),
            "sidechain_release_ms": self.sidechain_release_ms,
            "delay_beats": self.delay_beats,
            "delay_ms": self.delay_ms,
            "delay_feedback": self.delay_feedback,
            "delay_wet_level": self.delay_wet_level,
            "bus_compressor": None
            if self.bus_compressor is None
            else self.bus_compressor.to_dict(),
            "headroom_dbfs": self.headroom_dbfs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> MixTemplate:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProduceError(f"mix template is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _check_roles(roles: Any, key: str) -> None:
    unknown = sorted(r for r in roles if canonical_role(str(r)) is None)
    if unknown:
        raise ProduceError(
            f"mix template {key!r} names unknown roles {unknown}; roles are {', '.join(ROLES)}"
        )
