"""The harmoniser's chord vocabulary: 12 roots x 26 chord types, key-relative.

A chord type is a quality (see `tunesmith.theory.CHORD_QUALITIES`) with an optional bass note
given as an interval above the root. Root position types cover every quality tunesmith knows
(maj, min, dim, aug, sus2, sus4, 7, maj7, min7, m7b5, dim7, 6, min6, 9); the slash types are the
inversions and stepwise-bass chords that POP909's annotators write: triads with the 3rd or the
5th in the bass (C/E, C/G, Am/C, Am/E), sevenths with the 3rd, 5th or 7th in the bass (C7/Bb,
Cmaj7/B, Am7/G: the descending bass lines of pop ballads).

The model works in a key-relative frame: every song is transposed so that the tonic of its
(relative) major key is 0, i.e. C major and A minor both become "C". A class index is
`root * N_TYPES + type`, the root counted in that frame.

POP909 writes chords as `Root:quality[/bass degree]`, e.g. `B:maj7`, `F#:maj7/5`, `Bb:min/b3`,
`A:sus4(b7)`, `C:hdim7`; `N` is no chord. `parse_pop909_label` maps each onto a `ChordSymbol`:
hdim7 -> m7b5, maj6 -> 6, sus4(b7) -> sus4 (the 7sus4 keeps its suspended triad), minmaj7 ->
min; an unknown quality falls back to its triad (a minor third makes it minor, else major), and
a bass note outside the vocabulary's slash types is dropped (the chord stays in root position).
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.theory import CHORD_QUALITIES, ChordSymbol, Key, TheoryError, parse_pitch_class

ROOT_QUALITIES: tuple[str, ...] = (
    "maj", "min", "dim", "aug", "sus2", "sus4", "7", "maj7", "min7", "m7b5", "dim7", "6", "min6", "9",
)
# (quality, bass interval above the root)
SLASH_TYPES: tuple[tuple[str, int], ...] = (
    ("maj", 4), ("maj", 7), ("min", 3), ("min", 7),
    ("7", 4), ("7", 7), ("7", 10), ("maj7", 4), ("maj7", 7), ("maj7", 11), ("min7", 7), ("min7", 10),
)
CHORD_TYPES: tuple[tuple[str, int | None], ...] = tuple((q, None) for q in ROOT_QUALITIES) + SLASH_TYPES
N_TYPES = len(CHORD_TYPES)
N_CLASSES = 12 * N_TYPES

# Qualities grouped for the controls.
MAJOR_LIKE = frozenset({"maj", "7", "maj7", "6", "9", "aug"})
MINOR_LIKE = frozenset({"min", "min7", "min6", "dim", "m7b5", "dim7"})
SEVENTH_LIKE = frozenset({"7", "maj7", "min7", "m7b5", "dim7", "6", "min6", "9"})

_POP909_QUALITY = {
    "maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "sus2": "sus2", "sus4": "sus4",
    "7": "7", "maj7": "maj7", "min7": "min7", "hdim7": "m7b5", "dim7": "dim7", "maj6": "6",
    "min6": "min6", "9": "9", "sus4(b7)": "sus4", "minmaj7": "min", "maj9": "maj7", "min9": "min7",
    "sus2(b7)": "sus2", "7(b9)": "7", "aug7": "7", "6": "6",
}
_DEGREE_SEMITONES = {
    "1": 0, "b2": 1, "2": 2, "#2": 3, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7, "#5": 8,
    "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11, "9": 2, "b9": 1,
}
_TYPE_INDEX = {t: i for i, t in enumerate(CHORD_TYPES)}


@dataclass(frozen=True, slots=True)
class ChordClass:
    """One vocabulary entry in the key-relative frame."""

    root: int  # 0-11, relative to the tonic of the (relative) major key
    quality: str
    bass_interval: int | None = None  # bass note above the root, None for root position

    @property
    def index(self) -> int:
        return self.root * N_TYPES + _TYPE_INDEX[(self.quality, self.bass_interval)]

    def to_symbol(self, frame_tonic: int) -> ChordSymbol:
        """The absolute chord, `frame_tonic` being the pitch class that the frame's 0 stands for."""
        root = (self.root + frame_tonic) % 12
        bass = None if self.bass_interval is None else (root + self.bass_interval) % 12
        return ChordSymbol(root, self.quality, bass)


def chord_class(index: int) -> ChordClass:
    root, t = divmod(int(index), N_TYPES)
    q, b = CHORD_TYPES[t]
    return ChordClass(root, q, b)


ALL_CLASSES: tuple[ChordClass, ...] = tuple(chord_class(i) for i in range(N_CLASSES))


def frame_tonic(key: Key) -> int:
    """The pitch class the model's 0 stands for: the tonic of `key`'s (relative) major."""
    return key.tonic if key.mode == "major" else (key.tonic + 3) % 12


def class_of(chord: ChordSymbol, tonic: int) -> ChordClass:
    """The vocabulary entry for an absolute chord, `tonic` being the frame's 0. A bass note that
    is not one of the slash types is dropped."""
    root = (chord.root - tonic) % 12
    bass = None if chord.bass is None or chord.bass == chord.root else (chord.bass - chord.root) % 12
    if (chord.quality, bass) not in _TYPE_INDEX:
        bass = None
    return ChordClass(root, chord.quality, bass)


def parse_pop909_label(label: str) -> ChordSymbol | None:
    """`B:maj7`, `F#:maj7/5`, `Bb:min/b3`, `A:sus4(b7)` -> ChordSymbol; `N` (no chord) -> None."""
    text = label.strip()
    if text in ("N", "X", ""):
        return None
    root_txt, _, rest = text.partition(":")
    try:
        root = parse_pitch_class(root_txt)[0]
    except TheoryError:
        return None
    quality_txt, _, bass_txt = (rest or "maj").partition("/")
    quality = _POP909_QUALITY.get(quality_txt)
    if quality is None:
        quality = _fallback_quality(quality_txt)
    bass = None
    if bass_txt in _DEGREE_SEMITONES:
        interval = _DEGREE_SEMITONES[bass_txt]
        if interval and (quality, interval) in _TYPE_INDEX:
            bass = (root + interval) % 12
    return ChordSymbol(root, quality, bass)


def _fallback_quality(text: str) -> str:
    for prefix, quality in (("min", "min"), ("hdim", "m7b5"), ("dim", "dim"), ("aug", "aug"),
                            ("sus2", "sus2"), ("sus", "sus4")):
        if text.startswith(prefix):
            return quality
    return "maj"


def class_pitch_classes(c: ChordClass) -> tuple[int, ...]:
    return tuple((c.root + i) % 12 for i in CHORD_QUALITIES[c.quality])
