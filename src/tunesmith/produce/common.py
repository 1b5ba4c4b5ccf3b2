"""Named defaults, the stage's error type and small audio helpers shared by mix and master."""

from __future__ import annotations

import math

import numpy as np

from tunesmith.errors import TunesmithError

DEFAULT_SAMPLE_RATE = 44100

#: Roles a stem can play; the mix template has one channel-strip setting per role.
ROLES: tuple[str, ...] = (
    "melody",
    "lead",
    "vocal",
    "chords",
    "keys",
    "guitar",
    "pad",
    "strings",
    "brass",
    "bass",
    "drums",
    "other",
)

#: Other names a style file or a stem may give a role (matched after lower-casing).
ROLE_ALIASES: dict[str, str] = {
    **{a: "drums" for a in ("drum", "kit", "percussion", "perc", "beat", "beats", "loop")},
    **{a: "bass" for a in ("sub", "808", "bassline", "double-bass", "upright-bass")},
    **{a: "vocal" for a in ("vocals", "vox", "voice", "singer", "choir-lead")},
    **{a: "lead" for a in ("solo", "hook", "counter", "countermelody", "counter-melody")},
    **{
        a: "keys"
        for a in (
            "piano",
            "organ",
            "rhodes",
            "epiano",
            "synth",
            "arp",
            "arpeggio",
            "clav",
            "harpsichord",
            "vibes",
            "mallets",
            "comp",
            "comping",
        )
    },
    **{a: "chords" for a in ("chord", "harmony")},
    **{a: "pad" for a in ("pads", "choir", "atmos", "atmosphere", "drone")},
    **{a: "guitar" for a in ("guitars", "gtr", "skank", "strum")},
    **{a: "strings" for a in ("string", "violin", "viola", "cello", "orchestra", "ensemble")},
    **{
        a: "brass"
        for a in (
            "horns",
            "horn",
            "trumpet",
            "trombone",
            "sax",
            "saxophone",
            "woodwinds",
            "winds",
            "flute",
            "clarinet",
        )
    },
    **{a: "other" for a in ("fx", "sfx", "misc")},
}

# ITU-R BS.1770 / EBU R128 measurement constants.
GATE_BLOCK_S = 0.4  # momentary gating block; also the shortest audio we can measure
GATE_HOP_S = 0.1  # 75 % overlap
SHORT_TERM_S = 3.0
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_LOW_PERCENTILE = 10.0
LRA_HIGH_PERCENTILE = 95.0
LUFS_OFFSET = -0.691
TRUE_PEAK_OVERSAMPLE = 4

# Mixing.
STAGING_LUFS = -18.0  # every stem enters its channel strip at this loudness
MAX_STAGING_GAIN_DB = 30.0  # a near-silent stem is never boosted by more than this
MIX_HEADROOM_DBFS = -6.0  # the mix bus peaks here before mastering

# Mastering.
BUS_LEVEL_LUFS = -20.0  # the master bus compressor sees the mix at this loudness
TRUE_PEAK_MARGIN_DB = 0.2  # the limiter aims this far under the target ceiling
LOUDNESS_TOLERANCE_LU = 0.1  # what master() aims for (the promise is +-0.5 LU)
LIMITER_BLOCK = 32  # samples per gain-computer step (0.73 ms at 44.1 kHz)
LIMITER_LOOKAHEAD_MS = 5.0
LIMITER_HOLD_MS = 10.0
LIMITER_RELEASE_MS = 80.0
# (release_ms, hold_ms), gentlest first; master() steps down until the target is reachable.
LIMITER_RELEASE_LADDER = (
    (LIMITER_RELEASE_MS, LIMITER_HOLD_MS),
    (40.0, 5.0),
    (15.0, 2.0),
    (5.0, 1.0),
)


def canonical_role(role: str) -> str | None:
    """The role in ROLES that `role` names (itself, or through ROLE_ALIASES); None if unknown."""
    key = role.strip().lower().replace("_", "-").replace(" ", "-")
    if key in ROLES:
        return key
    return ROLE_ALIASES.get(key)


class ProduceError(TunesmithError):
    """The mix or master cannot be made: silent, too short or malformed audio, or bad settings."""


def as_stereo(audio: np.ndarray, *, what: str = "audio") -> np.ndarray:
    """Return `audio` as contiguous float32 of shape (2, n), channels first.

    Mono input (n,) or (1, n) is copied to both channels. Raises ProduceError for anything
    else, including non-finite samples.
    """
    x = np.asarray(audio)
    if x.ndim == 1:
        x = np.stack([x, x])
    elif x.ndim == 2 and x.shape[0] == 1:
        x = np.concatenate([x, x])
    if x.ndim != 2 or x.shape[0] != 2:
        hint = " (it looks channels-last: pass audio.T)" if x.ndim == 2 and x.shape[1] == 2 else ""
        raise ProduceError(f"{what} must be stereo with shape (2, samples), got {x.shape}{hint}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ProduceError(f"{what} must hold floating-point samples, got {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ProduceError(f"{what} contains NaN or infinite samples")
    return x


def require_duration(n_samples: int, *, sample_rate: int, what: str = "audio") -> None:
    """Raise ProduceError when the audio is too short to measure loudness (BS.1770 needs 0.4 s)."""
    if sample_rate <= 0:
        raise ProduceError(f"sample_rate must be positive, got {sample_rate}")
    if n_samples < math.ceil(GATE_BLOCK_S * sample_rate):
        raise ProduceError(
            f"{what} is {n_samples / sample_rate:.2f} s long; loudness needs at least "
            f"{GATE_BLOCK_S:.1f} s"
        )
