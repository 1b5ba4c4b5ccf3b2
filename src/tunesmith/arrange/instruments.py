"""What the instruments can play: the General MIDI programs with a playable range each, and the
GM drum map. Style files name a program and a register; a register outside what the instrument
can play is an error when the style is loaded, and melodies are moved by octaves into range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InstrumentRange:
    """Lowest and highest MIDI note an instrument plays well (written pitch = sounding pitch)."""

    low: int
    high: int

    def contains(self, pitch: int) -> bool:
        return self.low <= pitch <= self.high


# Ranges follow the real instruments (orchestration texts); synth programs get a wide range.
_RANGES: dict[range, tuple[int, int]] = {
    range(0, 4): (21, 108),  # pianos
    range(4, 6): (28, 103),  # electric pianos (73-key Rhodes, DX)
    range(6, 8): (29, 89),  # harpsichord, clavinet
    range(8, 9): (60, 108),  # celesta
    range(9, 10): (67, 108),  # glockenspiel
    range(10, 11): (60, 96),  # music box
    range(11, 12): (53, 89),  # vibraphone
    range(12, 13): (45, 96),  # marimba
    range(13, 14): (65, 108),  # xylophone
    range(14, 15): (60, 77),  # tubular bells
    range(15, 16): (48, 96),  # dulcimer
    range(16, 19): (36, 96),  # drawbar, percussive, rock organ
    range(19, 20): (24, 103),  # church organ
    range(20, 22): (41, 89),  # reed organ, accordion
    range(22, 23): (60, 84),  # harmonica
    range(23, 24): (45, 89),  # bandoneon
    range(24, 32): (40, 86),  # guitars, E2 .. D6
    range(32, 38): (28, 67),  # basses, E1 .. G4
    range(38, 40): (24, 72),  # synth basses
    range(40, 41): (55, 100),  # violin
    range(41, 42): (48, 88),  # viola
    range(42, 43): (36, 76),  # cello
    range(43, 44): (28, 60),  # contrabass
    range(44, 46): (28, 100),  # tremolo and pizzicato strings
    range(46, 47): (24, 103),  # harp
    range(47, 48): (38, 60),  # timpani
    range(48, 52): (28, 100),  # string ensembles, synth strings
    range(52, 55): (40, 84),  # choir, voices
    range(55, 56): (36, 84),  # orchestra hit
    range(56, 57): (52, 84),  # trumpet
    range(57, 58): (40, 72),  # trombone
    range(58, 59): (28, 58),  # tuba
    range(59, 60): (52, 82),  # muted trumpet
    range(60, 61): (41, 77),  # French horn
    range(61, 62): (40, 84),  # brass section
    range(62, 64): (36, 96),  # synth brass
    range(64, 65): (56, 87),  # soprano sax
    range(65, 66): (49, 80),  # alto sax
    range(66, 67): (44, 76),  # tenor sax
    range(67, 68): (36, 68),  # baritone sax
    range(68, 69): (58, 91),  # oboe
    range(69, 70): (52, 81),  # English horn
    range(70, 71): (34, 75),  # bassoon
    range(71, 72): (50, 91),  # clarinet
    range(72, 73): (74, 108),  # piccolo
    range(73, 74): (60, 96),  # flute
    range(74, 75): (60, 96),  # recorder
    range(75, 80): (60, 96),  # pan flute, bottle, shakuhachi, whistle, ocarina
    range(80, 88): (36, 96),  # synth leads
    range(88, 96): (36, 96),  # synth pads
    range(96, 104): (36, 96),  # synth effects
    range(104, 105): (48, 77),  # sitar
    range(105, 106): (48, 84),  # banjo
    range(106, 108): (50, 84),  # shamisen, koto
    range(108, 109): (60, 84),  # kalimba
    range(109, 110): (55, 74),  # bagpipe
    range(110, 111): (55, 96),  # fiddle
    range(111, 112): (60, 84),  # shanai
    range(112, 120): (36, 96),  # tinkle bell, agogo, steel drums, percussion
    range(120, 128): (24, 108),  # sound effects
}

GM_RANGES: dict[int, InstrumentRange] = {
    program: InstrumentRange(lo, hi) for programs, (lo, hi) in _RANGES.items() for program in programs
}

# General MIDI percussion map (channel 10), by the names style files use.
DRUM_NOTES: dict[str, int] = {
    "kick": 36, "side": 37, "snare": 38, "clap": 39, "brush": 40, "tom_floor": 41, "hat": 42,
    "tom_low": 45, "hat_pedal": 44, "hat_open": 46, "tom_mid": 47, "crash": 49, "tom_high": 50,
    "ride": 51, "china": 52, "ride_bell": 53, "tambourine": 54, "splash": 55, "cowbell": 56,
    "bongo_hi": 60, "bongo_lo": 61, "conga_mute": 62, "conga_hi": 63, "conga_lo": 64,
    "timbale": 65, "shaker": 70, "guiro": 73, "claves": 75, "woodblock": 76, "triangle": 81,
}
DRUM_NAMES: dict[int, str] = {v: k for k, v in DRUM_NOTES.items()}

# GM drum kits in bank 128 of FluidR3_GM (others fall back to the standard kit).
DRUM_KITS: dict[int, str] = {0: "standard", 8: "room", 16: "power", 24: "electronic",
                             25: "TR-808", 32: "jazz", 40: "brush", 48: "orchestra"}


def instrument_range(program: int) -> InstrumentRange:
    """The playable range of a General MIDI program (0-127)."""
    return GM_RANGES[program]
