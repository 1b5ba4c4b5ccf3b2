"""Music theory shared by every stage: pitch classes, keys, scales and chord symbols."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunesmith.errors import TunesmithError

PITCH_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PITCH_NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# Keys conventionally spelled with flats (major tonics; minor tonics are checked via relative major).
_FLAT_MAJOR_TONICS = {5, 10, 3, 8, 1, 6}  # F Bb Eb Ab Db Gb

_NOTE_RE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)

# Chord qualities: intervals above the root. Names are the canonical quality ids.
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "9": (0, 4, 7, 10, 14),
}
# Suffix used when writing a symbol, e.g. Am7, Cmaj7, Bm7b5.
_QUALITY_SUFFIX = {
    "maj": "",
    "min": "m",
    "dim": "dim",
    "aug": "aug",
    "sus2": "sus2",
    "sus4": "sus4",
    "7": "7",
    "maj7": "maj7",
    "min7": "m7",
    "m7b5": "m7b5",
    "dim7": "dim7",
    "6": "6",
    "min6": "m6",
    "9": "9",
}
_SUFFIX_QUALITY = {v: k for k, v in _QUALITY_SUFFIX.items()}
_SUFFIX_QUALITY.update({"M7": "maj7", "min": "min", "-": "min", "-7": "min7", "ø": "m7b5", "o": "dim", "o7": "dim7", "+": "aug", "sus": "sus4"})


class TheoryError(TunesmithError):
    """A key or chord symbol could not be understood."""


def parse_pitch_class(text: str) -> tuple[int, int]:
    """Parse a note name at the start of `text`; return (pitch class, characters consumed)."""
    m = _NOTE_RE.match(text)
    if not m:
        raise TheoryError(f"'{text}' does not start with a note name (A-G)")
    pc = _LETTER_PC[m.group(1).upper()]
    acc = m.group(2)
    if acc in ("#", "♯"):
        pc += 1
    elif acc in ("b", "♭"):
        pc -= 1
    return pc % 12, m.end()


def pitch_class_name(pc: int, *, flats: bool = False) -> str:
    return (PITCH_NAMES_FLAT if flats else PITCH_NAMES_SHARP)[pc % 12]


def midi_to_name(pitch: int) -> str:
    return f"{PITCH_NAMES_SHARP[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True, slots=True)
class Key:
    """A key: tonic pitch class (0 = C) and mode ('major' or 'minor')."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in ("major", "minor"):
            raise TheoryError(f"mode must be major or minor, not {self.mode!r}")
        if not 0 <= self.tonic < 12:
            raise TheoryError(f"tonic must be a pitch class 0-11, not {self.tonic}")

    @property
    def uses_flats(self) -> bool:
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        return major_tonic in _FLAT_MAJOR_TONICS

    @property
    def name(self) -> str:
        return f"{pitch_class_name(self.tonic, flats=self.uses_flats)} {self.mode}"

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the scale (natural minor for minor keys)."""
        steps = MAJOR_SCALE if self.mode == "major" else NATURAL_MINOR_SCALE
        return tuple((self.tonic + s) % 12 for s in steps)

    def degree_pc(self, degree: int) -> int:
        """Pitch class of scale degree 1-7."""
        return self.scale[(degree - 1) % 7]

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse 'C', 'Am', 'A minor', 'F# major', 'Bbm', 'eb min'."""
        t = text.strip()
        pc, n = parse_pitch_class(t)
        rest = t[n:].strip().lower()
        if rest in ("", "maj", "major", "dur"):
            return cls(pc, "major")
        if rest in ("m", "min", "minor", "moll"):
            return cls(pc, "minor")
        raise TheoryError(f"cannot read key '{text}': use e.g. C, Am, 'F# major', 'Bb minor'")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """A chord: root pitch class, quality id (see CHORD_QUALITIES), optional bass pitch class."""

    root: int
    quality: str = "maj"
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality not in CHORD_QUALITIES:
            raise TheoryError(f"unknown chord quality {self.quality!r}")

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in CHORD_QUALITIES[self.quality])

    @property
    def bass_pc(self) -> int:
        return self.root if self.bass is None else self.bass

    def symbol(self, *, flats: bool = False) -> str:
        s = pitch_class_name(self.root, flats=flats) + _QUALITY_SUFFIX[self.quality]
        if self.bass is not None and self.bass != self.root:
            s += "/" + pitch_class_name(self.bass, flats=flats)
        return s

    @property
    def triad_quality(self) -> str:
        """Quality reduced to its triad (maj/min/dim/aug/sus2/sus4)."""
        return {
            "7": "maj", "maj7": "maj", "6": "maj", "9": "maj",
            "min7": "min", "min6": "min", "m7b5": "dim", "dim7": "dim",
        }.get(self.quality, self.quality)

    @classmethod
    def parse(cls, text: str) -> ChordSymbol:
        """Parse 'Am7', 'F#m7b5', 'Bb/D', 'Csus4', 'G7'."""
        body, _, bass_txt = text.strip().partition("/")
        root, n = parse_pitch_class(body)
        suffix = body[n:]
        if suffix not in _SUFFIX_QUALITY:
            raise TheoryError(f"unknown chord symbol '{text}'")
        bass = parse_pitch_class(bass_txt)[0] if bass_txt else None
        return cls(root, _SUFFIX_QUALITY[suffix], bass)

    def __str__(self) -> str:
        return self.symbol()


def voice_chord(chord: ChordSymbol, *, low: int, high: int, previous: list[int] | None = None,
                max_notes: int = 4) -> list[int]:
    """Close-position voicing of `chord` within [low, high], moving as little as possible from
    `previous` (smallest total motion). Returns sorted MIDI pitches."""
    pcs = list(CHORD_QUALITIES[chord.quality])
    if len(pcs) > max_notes:  # drop the fifth first, it adds least colour
        pcs = [i for i in pcs if i != 7][:max_notes]
    pcs = [(chord.root + i) % 12 for i in pcs]
    candidates: list[list[int]] = []
    for base in range(low, high - 6):
        if base % 12 not in pcs:
            continue
        voicing = [base]
        for pc in pcs:
            if pc == base % 12:
                continue
            p = base + ((pc - base) % 12)
            voicing.append(p)
        voicing.sort()
        if voicing[-1] <= high:
            candidates.append(voicing)
    if not candidates:
        root = low + ((chord.root - low) % 12)
        return sorted(root + i for i in CHORD_QUALITIES[chord.quality][:max_notes])
    if not previous:
        centre = (low + high) / 2
        return min(candidates, key=lambda v: abs(sum(v) / len(v) - centre))

    def motion(v: list[int]) -> float:
        return sum(min(abs(p - q) for q in previous) for p in v) + 0.5 * abs(
            sum(v) / len(v) - sum(previous) / len(previous))

    return min(candidates, key=motion)
