"""Chorus progressions for a mood and a harmony flavour: the chords the hook is written over.

Progressions are data (roman numerals, one chord per bar, with their harmonic colour): the
familiar pop loops (I-V-vi-IV, vi-IV-I-V...), minor-mode loops for darker moods (i-bVI-bIII-bVII,
the Andalusian i-bVII-bVI-V), blues/rock loops with the flat seventh, and jazz turnarounds built
on ii-V motion for the "jazzy" flavour. A seeded draw picks one, weighted by how well its colour
fits the mood (valence: brighter or darker; arousal: more or less motion)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunesmith.score import Chord
from tunesmith.theory import ChordSymbol, Key

# roman numeral -> (semitones above the tonic, quality)
ROMAN: dict[str, tuple[int, str]] = {
    "I": (0, "maj"), "ii": (2, "min"), "iii": (4, "min"), "IV": (5, "maj"), "V": (7, "maj"),
    "vi": (9, "min"), "vii°": (11, "dim"), "bVII": (10, "maj"), "bVI": (8, "maj"),
    "bIII": (3, "maj"), "iv": (5, "min"), "v": (7, "min"), "i": (0, "min"), "ii°": (2, "dim"),
    "II": (2, "maj"), "III": (4, "maj"), "VI": (9, "maj"),
    # sevenths (the jazzy flavour)
    "Imaj7": (0, "maj7"), "ii7": (2, "min7"), "iii7": (4, "min7"), "IVmaj7": (5, "maj7"),
    "V7": (7, "7"), "vi7": (9, "min7"), "VI7": (9, "7"), "II7": (2, "7"), "III7": (4, "7"),
    "i7": (0, "min7"), "iv7": (5, "min7"), "iiø7": (2, "m7b5"), "bVImaj7": (8, "maj7"),
    "bIIImaj7": (3, "maj7"), "bVII7": (10, "7"), "I7": (0, "7"), "IV7": (5, "7"),
    "i6": (0, "min6"), "I6": (0, "6"),
}


@dataclass(frozen=True, slots=True)
class Loop:
    """A 4-bar progression; `valence` and `arousal` place its colour (-1..1)."""

    romans: tuple[str, ...]
    mode: str
    flavour: str  # simple, rich or jazzy
    valence: float
    arousal: float


LOOPS: tuple[Loop, ...] = (
    # major, pop and rock
    Loop(("I", "V", "vi", "IV"), "major", "simple", 0.7, 0.5),
    Loop(("I", "vi", "IV", "V"), "major", "simple", 0.8, 0.2),
    Loop(("vi", "IV", "I", "V"), "major", "simple", 0.2, 0.5),
    Loop(("I", "IV", "vi", "V"), "major", "simple", 0.6, 0.4),
    Loop(("IV", "I", "V", "vi"), "major", "simple", 0.4, 0.3),
    Loop(("I", "IV", "I", "V"), "major", "simple", 0.8, 0.3),
    Loop(("I", "bVII", "IV", "I"), "major", "simple", 0.5, 0.8),
    Loop(("I", "V", "IV", "IV"), "major", "simple", 0.6, 0.7),
    Loop(("I", "iii", "IV", "V"), "major", "rich", 0.5, 0.0),
    Loop(("I", "V", "vi", "iii"), "major", "rich", 0.3, -0.2),
    Loop(("IV", "V", "iii", "vi"), "major", "rich", 0.1, 0.2),
    Loop(("I", "IV", "iv", "I"), "major", "rich", 0.1, -0.5),
    Loop(("I", "III", "vi", "IV"), "major", "rich", 0.3, 0.3),
    Loop(("ii", "V", "I", "vi"), "major", "rich", 0.5, 0.0),
    # minor
    Loop(("i", "bVI", "bIII", "bVII"), "minor", "simple", -0.4, 0.4),
    Loop(("i", "bVII", "bVI", "V"), "minor", "simple", -0.6, 0.3),
    Loop(("i", "iv", "bVI", "V"), "minor", "simple", -0.7, 0.0),
    Loop(("i", "iv", "i", "V"), "minor", "simple", -0.8, -0.2),
    Loop(("i", "bVI", "iv", "V"), "minor", "rich", -0.8, -0.3),
    Loop(("i", "bIII", "bVII", "iv"), "minor", "rich", -0.3, 0.0),
    Loop(("bVI", "bVII", "i", "i"), "minor", "simple", -0.3, 0.8),
    Loop(("i", "i", "bVI", "bVII"), "minor", "simple", -0.5, 0.9),
    Loop(("i", "v", "bVI", "bIII"), "minor", "rich", -0.6, -0.4),
    # jazzy: ii-V motion and sevenths
    Loop(("Imaj7", "vi7", "ii7", "V7"), "major", "jazzy", 0.6, 0.1),
    Loop(("iii7", "vi7", "ii7", "V7"), "major", "jazzy", 0.3, 0.2),
    Loop(("Imaj7", "VI7", "ii7", "V7"), "major", "jazzy", 0.5, 0.4),
    Loop(("ii7", "V7", "Imaj7", "Imaj7"), "major", "jazzy", 0.6, -0.2),
    Loop(("IVmaj7", "iii7", "ii7", "Imaj7"), "major", "jazzy", 0.3, -0.5),
    Loop(("Imaj7", "IVmaj7", "iii7", "VI7"), "major", "jazzy", 0.4, 0.0),
    Loop(("i7", "iv7", "iiø7", "V7"), "minor", "jazzy", -0.5, 0.0),
    Loop(("iiø7", "V7", "i7", "i7"), "minor", "jazzy", -0.6, -0.3),
    Loop(("i7", "bVImaj7", "iiø7", "V7"), "minor", "jazzy", -0.7, -0.2),
    Loop(("i6", "iv7", "bVII7", "bIIImaj7"), "minor", "jazzy", -0.3, 0.1),
)

# Cadential endings for the second half of an 8-bar chorus (replacing the loop's last 2 bars):
# dominant, then home.
_CADENCE = {"major": ("V", "I"), "minor": ("V", "i")}
_CADENCE_JAZZY = {"major": ("V7", "Imaj7"), "minor": ("V7", "i7")}
_TONIC = {"major": "I", "minor": "i"}
_TONIC_JAZZY = {"major": "Imaj7", "minor": "i7"}


def chord_of(roman: str, key: Key) -> ChordSymbol:
    offset, quality = ROMAN[roman]
    return ChordSymbol((key.tonic + offset) % 12, quality)


def choose_loop(*, key: Key, flavour: str, valence: float, arousal: float,
                rng: np.random.Generator) -> Loop:
    """A loop in the key's mode, drawn with weights that favour the mood's colour and the
    flavour ("jazzy" asks for ii-V loops; "simple" avoids them)."""
    pool = [lp for lp in LOOPS if lp.mode == key.mode]
    scores = []
    for lp in pool:
        d = np.hypot(lp.valence - valence, 0.6 * (lp.arousal - arousal))
        flavour_fit = 0.0 if lp.flavour == flavour else (
            -2.5 if "jazzy" in (lp.flavour, flavour) else -0.6)
        scores.append(-2.0 * d + flavour_fit)
    w = np.exp(np.array(scores) - max(scores))
    return pool[int(rng.choice(len(pool), p=w / w.sum()))]


def chorus_progression(*, key: Key, flavour: str, valence: float, arousal: float, bars: int,
                       beats_per_bar: int, seed: int) -> list[Chord]:
    """One chord per bar for a `bars`-bar chorus (4 or 8): the loop, played twice for 8 bars,
    the second time closing with a cadence (V - I) onto the tonic."""
    rng = np.random.default_rng(seed)
    loop = choose_loop(key=key, flavour=flavour, valence=valence, arousal=arousal, rng=rng)
    romans = list(loop.romans)
    jazzy = loop.flavour == "jazzy"
    if bars >= 8:
        second = list(loop.romans[:2]) + list((_CADENCE_JAZZY if jazzy else _CADENCE)[key.mode])
        romans = romans + second
        romans += [(_TONIC_JAZZY if jazzy else _TONIC)[key.mode]] * (bars - 8)
    romans = romans[:bars]
    return [Chord(i * beats_per_bar, beats_per_bar, chord_of(r, key)) for i, r in enumerate(romans)]
