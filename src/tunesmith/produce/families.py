"""Style families: what a mix engineer and a mastering engineer change between genres.

A style name (kebab-case, e.g. `jazz-ballad`, `hip-hop`, `string-quartet`) maps to a family by
the words in it; each family holds a mix-template overlay (applied on the default template)
and a target tonal balance for mastering. A style nobody planned for gets the `general`
family, so a new style file never breaks the mix. The tonal-balance curves are hand-set
rules of thumb (a pink-like tilt, more low end for beat-driven music, darker acoustic
music); they are documented in docs/mastering.md and are not measured from any catalogue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    """`mix` overlays MixTemplate.default(); `tonal_balance` is a list of (Hz, dB) breakpoints
    of the target long-term spectrum in 1/3-octave band power, joined linearly on a log
    frequency axis (levels are relative: only the shape matters)."""

    name: str
    description: str
    mix: dict[str, Any] = field(default_factory=dict)
    tonal_balance: tuple[tuple[float, float], ...] = ()


# Band power in dB per 1/3 octave: flat 60-200 Hz, then falling. Pink noise would be flat.
_GENERAL_CURVE = (
    (25.0, -9.0),
    (40.0, -3.0),
    (60.0, 0.0),
    (200.0, 0.0),
    (1000.0, -7.0),
    (4000.0, -14.0),
    (10000.0, -21.0),
    (16000.0, -28.0),
    (20000.0, -36.0),
)


def _curve(*moves: tuple[float, float, float]) -> tuple[tuple[float, float], ...]:
    """The general curve with (from_hz, to_hz, dB) offsets added over a range (tapered by an
    octave at each end)."""
    import math

    out = []
    for hz, db in _GENERAL_CURVE:
        for lo, hi, delta in moves:
            if lo <= hz <= hi:
                db += delta
            elif hz < lo:
                db += delta * max(0.0, 1.0 - math.log2(lo / hz))
            else:
                db += delta * max(0.0, 1.0 - math.log2(hz / hi))
        out.append((hz, round(db, 2)))
    return tuple(out)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "general",
            "pop-balanced: lead on top, drums and bass just under it",
            {},
            _GENERAL_CURVE,
        ),
        Family(
            "rock",
            "guitars and drums forward, tighter room, punchier drum compression",
            {
                "level_lu": {"guitar": -3.0, "drums": -1.0, "bass": -3.5, "keys": -8.0},
                "compressor": {
                    "drums": {
                        "threshold_db": -22.0,
                        "ratio": 4.0,
                        "attack_ms": 15.0,
                        "release_ms": 120.0,
                    },
                    "bass": {
                        "threshold_db": -24.0,
                        "ratio": 5.0,
                        "attack_ms": 10.0,
                        "release_ms": 120.0,
                    },
                },
                "highpass_hz": {"guitar": 100.0},
                "reverb_send": {"guitar": 0.06, "drums": 0.08},
                "reverb_room_size": 0.4,
                "bus_compressor": {
                    "threshold_db": -21.0,
                    "ratio": 2.0,
                    "attack_ms": 30.0,
                    "release_ms": 150.0,
                },
            },
            _curve((700.0, 4000.0, 1.5)),
        ),
        Family(
            "jazz",
            "acoustic balance: light compression, round bass, drums behind the band, a warm room",
            {
                "level_lu": {"drums": -6.0, "bass": -4.0, "chords": -5.0, "keys": -5.0},
                "compressor": {
                    "drums": {
                        "threshold_db": -16.0,
                        "ratio": 1.5,
                        "attack_ms": 30.0,
                        "release_ms": 200.0,
                    },
                    "bass": {
                        "threshold_db": -22.0,
                        "ratio": 2.0,
                        "attack_ms": 30.0,
                        "release_ms": 200.0,
                    },
                },
                "eq": {"bass": [{"kind": "peak", "freq_hz": 2500.0, "gain_db": -2.0, "q": 0.8}]},
                "reverb_send": {"drums": 0.1, "chords": 0.15, "keys": 0.18},
                "delay_send": {"melody": 0.0, "lead": 0.0},
                "reverb_room_size": 0.55,
                "bus_compressor": None,
            },
            _curve((20.0, 80.0, -2.0), (5000.0, 20000.0, -1.5)),
        ),
        Family(
            "groove",
            "funk, soul, R&B, gospel, reggae: bass and drums lead the groove",
            {
                "level_lu": {"bass": -2.0, "drums": -1.5, "guitar": -7.0, "keys": -6.0},
                "compressor": {
                    "bass": {
                        "threshold_db": -24.0,
                        "ratio": 4.0,
                        "attack_ms": 20.0,
                        "release_ms": 120.0,
                    },
                },
                "reverb_send": {"drums": 0.05},
                "reverb_room_size": 0.5,
            },
            _curve((40.0, 150.0, 1.5)),
        ),
        Family(
            "acoustic",
            "folk, country, waltz: natural dynamics, guitars and voice up front",
            {
                "level_lu": {"guitar": -4.0, "drums": -5.0, "bass": -5.0},
                "compressor": {
                    "guitar": {
                        "threshold_db": -22.0,
                        "ratio": 2.0,
                        "attack_ms": 20.0,
                        "release_ms": 200.0,
                    },
                },
                "reverb_send": {"guitar": 0.15},
                "reverb_room_size": 0.55,
                "bus_compressor": {
                    "threshold_db": -17.0,
                    "ratio": 1.3,
                    "attack_ms": 30.0,
                    "release_ms": 250.0,
                },
            },
            _curve((20.0, 80.0, -2.0), (2000.0, 8000.0, 0.5)),
        ),
        Family(
            "beats",
            "hip hop and lo-fi: heavy kick and bass, dry drums, voice or lead on top",
            {
                "level_lu": {"drums": 0.0, "bass": -1.0, "keys": -8.0, "chords": -8.0},
                "highpass_hz": {"keys": 150.0, "chords": 150.0},
                "compressor": {
                    "drums": {
                        "threshold_db": -22.0,
                        "ratio": 4.0,
                        "attack_ms": 20.0,
                        "release_ms": 100.0,
                    },
                },
                "reverb_send": {"drums": 0.02},
                "sidechain_duck_db": 2.0,
                "sidechain_roles": ["bass"],
            },
            _curve((30.0, 120.0, 3.0), (8000.0, 20000.0, -1.5)),
        ),
        Family(
            "electronic",
            "EDM, house, synthwave: pumping sidechain on bass and pads, big low end, bright top",
            {
                "level_lu": {"drums": 0.0, "bass": -2.0, "pad": -7.0, "keys": -6.0},
                "highpass_hz": {"pad": 200.0, "keys": 150.0},
                "reverb_send": {"drums": 0.03, "pad": 0.3},
                "delay_send": {"keys": 0.06, "lead": 0.12, "melody": 0.12},
                "sidechain_duck_db": 6.0,
                "sidechain_roles": ["bass", "pad", "keys", "chords"],
                "sidechain_release_ms": 150.0,
                "bus_compressor": {
                    "threshold_db": -21.0,
                    "ratio": 2.0,
                    "attack_ms": 10.0,
                    "release_ms": 120.0,
                },
            },
            _curve((30.0, 120.0, 3.0), (8000.0, 16000.0, 1.0)),
        ),
        Family(
            "orchestral",
            "cinematic and chamber music: wide dynamics, full low strings, a large hall",
            {
                "level_lu": {"strings": -3.0, "brass": -4.0, "pad": -6.0, "drums": -6.0},
                "highpass_hz": {"strings": 30.0, "pad": 60.0, "chords": 50.0, "keys": 50.0},
                "compressor": {
                    "strings": None,
                    "pad": None,
                    "brass": {
                        "threshold_db": -16.0,
                        "ratio": 1.5,
                        "attack_ms": 30.0,
                        "release_ms": 250.0,
                    },
                },
                "reverb_send": {"strings": 0.35, "brass": 0.3, "melody": 0.28, "lead": 0.28},
                "delay_send": {"melody": 0.0, "lead": 0.0},
                "reverb_room_size": 0.8,
                "reverb_damping": 0.4,
                "bus_compressor": None,
            },
            _curve((20.0, 60.0, -1.0), (6000.0, 20000.0, -2.0)),
        ),
    )
}

# First match wins: the words of a kebab-case style name, looked up in this order.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("lofi", "beats"),
    ("lo-fi", "beats"),
    ("hip-hop", "beats"),
    ("hiphop", "beats"),
    ("trap", "beats"),
    ("rap", "beats"),
    ("boom-bap", "beats"),
    ("string-quartet", "orchestral"),
    ("cinematic", "orchestral"),
    ("orchestral", "orchestral"),
    ("classical", "orchestral"),
    ("chamber", "orchestral"),
    ("film", "orchestral"),
    ("quartet", "orchestral"),
    ("jazz", "jazz"),
    ("swing", "jazz"),
    ("bossa", "jazz"),
    ("bebop", "jazz"),
    ("latin", "jazz"),
    ("edm", "electronic"),
    ("house", "electronic"),
    ("techno", "electronic"),
    ("trance", "electronic"),
    ("synthwave", "electronic"),
    ("electro", "electronic"),
    ("dance", "electronic"),
    ("dubstep", "electronic"),
    ("disco", "electronic"),
    ("rock", "rock"),
    ("grunge", "rock"),
    ("metal", "rock"),
    ("punk", "rock"),
    ("indie", "rock"),
    ("funk", "groove"),
    ("soul", "groove"),
    ("rnb", "groove"),
    ("r-and-b", "groove"),
    ("r-b", "groove"),
    ("gospel", "groove"),
    ("reggae", "groove"),
    ("motown", "groove"),
    ("folk", "acoustic"),
    ("country", "acoustic"),
    ("bluegrass", "acoustic"),
    ("acoustic", "acoustic"),
    ("waltz", "acoustic"),
    ("singer-songwriter", "acoustic"),
    ("pop", "general"),
    ("ballad", "general"),
)


def family_for_style(style: str | None) -> Family:
    """The family of a style name (case and `_`/space insensitive); `general` when no word of
    the name is known, or for None."""
    if not style:
        return FAMILIES["general"]
    if style in FAMILIES:
        return FAMILIES[style]
    key = style.strip().lower().replace("_", "-").replace(" ", "-")
    words = key.split("-")
    for keyword, family in _KEYWORDS:
        if ("-" in keyword and keyword in key) or keyword in words:
            return FAMILIES[family]
    logger.info("no mix family for style %r; using the general one", style)
    return FAMILIES["general"]
