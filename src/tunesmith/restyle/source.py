"""Read a piece to restyle: General MIDI, MusicXML/ABC (music21) or audio of a full recording.

Every reader returns a `SourcePiece`: named parts of notes in quarter-note beats with the first
bar line at beat 0, the tempo map, the meter and, where the file says it, the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Chord, Note
from tunesmith.theory import Key

log = logging.getLogger(__name__)

MIDI_SUFFIXES = {".mid", ".midi", ".smf"}
SCORE_SUFFIXES = {".musicxml", ".xml", ".mxl", ".abc", ".krn"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".aiff", ".aif", ".m4a"}
MAX_NOTES = 200_000
MAX_BEATS = 4_000  # about 30 minutes at 130 bpm
DRUM_CHANNEL = 9


class RestyleInputError(TunesmithError):
    """The piece to restyle cannot be read or holds nothing to restyle."""


@dataclass(frozen=True, slots=True)
class TempoChange:
    beat: float
    bpm: float


@dataclass
class SourcePart:
    """One instrument of the source: a MIDI track/channel or a score part."""

    name: str
    notes: list[Note]
    program: int = 0
    is_drum: bool = False


@dataclass
class SourcePiece:
    parts: list[SourcePart]
    tempo_map: list[TempoChange]
    beats_per_bar: int = 4
    meter: str = "4/4"
    key: Key | None = None
    kind: str = "midi"  # midi | score | audio
    title: str = ""
    chords: list[Chord] = field(default_factory=list)  # given by the audio path
    melody: list[Note] | None = None  # given by the audio path

    @property
    def tempo_bpm(self) -> float:
        """The tempo that holds for most of the piece (beat-weighted median of the map)."""
        if not self.tempo_map:
            return 120.0
        end = self.length_beats
        spans = [(c.bpm, max((self.tempo_map[i + 1].beat if i + 1 < len(self.tempo_map) else end)
                             - c.beat, 0.0)) for i, c in enumerate(self.tempo_map)]
        spans.sort()
        total = sum(w for _, w in spans)
        if total <= 0:
            return self.tempo_map[0].bpm
        acc = 0.0
        for bpm, w in spans:
            acc += w
            if acc >= total / 2:
                return bpm
        return spans[-1][0]

    @property
    def length_beats(self) -> float:
        ends = [n.end_beat for p in self.parts for n in p.notes]
        return max(ends) if ends else 0.0


def read_source(path: Path) -> SourcePiece:
    """Read MIDI, MusicXML/ABC or audio; raise RestyleInputError with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise RestyleInputError(f"{path} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        piece = read_midi(path)
    elif suffix in SCORE_SUFFIXES:
        piece = read_music21(path)
    elif suffix in AUDIO_SUFFIXES:
        piece = read_audio(path)
    else:
        raise RestyleInputError(
            f"{path.name}: restyle reads MIDI (.mid), MusicXML (.musicxml/.xml/.mxl), ABC (.abc) "
            f"or audio (.wav/.flac/.mp3/.ogg), not '{suffix or 'no extension'}'")
    pitched = [p for p in piece.parts if not p.is_drum and p.notes]
    if not pitched and not piece.melody:
        raise RestyleInputError(f"{path.name} holds no pitched notes to restyle")
    if piece.length_beats > MAX_BEATS:
        raise RestyleInputError(f"{path.name} is {piece.length_beats:.0f} beats long; restyle "
                                f"takes pieces up to {MAX_BEATS} beats")
    piece.title = piece.title or path.stem
    return align_to_grid(piece)


GRIDS = (0.25, 1 / 3)  # beats: sixteenths, or eighth-note triplets (12/8 feel)


def grid_offset(notes: list[Note]) -> float:
    """How far (in beats) the notes sit after their grid: the circular mean of their onset
    phases on the sixteenth or the triplet grid, whichever they cluster on more tightly. MIDI
    exported from a performance aligned to audio often starts late by a fraction of a beat
    (POP909 does): found here and removed before reading beats and bars."""
    if not notes:
        return 0.0
    starts = np.array([n.start_beat for n in notes])
    best = (0.0, 0.0)
    for grid in GRIDS:
        resultant = np.mean(np.exp(2j * np.pi * (starts % grid) / grid))
        if abs(resultant) > best[0]:
            best = (abs(resultant), float(np.angle(resultant) / (2 * np.pi) * grid))
    return best[1]


def align_to_grid(piece: SourcePiece) -> SourcePiece:
    """Shift every note so onsets sit on the grid (only when they sit off it consistently)."""
    pitched = [n for p in piece.parts if not p.is_drum for n in p.notes] or \
        [n for p in piece.parts for n in p.notes]
    offset = grid_offset(pitched)
    if abs(offset) < 0.02:
        return piece
    log.info("notes sit %.3f beats off the grid: moved onto it", offset)
    for p in piece.parts:
        p.notes = [Note(max(n.start_beat - offset, 0.0), n.duration_beats, n.pitch, n.velocity)
                   for n in p.notes]
    return piece


# ------------------------------------------------------------------------------------- MIDI

def read_midi(path: Path) -> SourcePiece:
    """Any type-0/1 General MIDI file: one part per (track, channel), drums on channel 10,
    the tempo map and first meter/key, and a pickup bar handled by the meter's bar lines."""
    import mido

    try:
        midi = mido.MidiFile(str(path), clip=True)
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise RestyleInputError(f"cannot read MIDI file {path.name}: {exc}") from exc
    if midi.type == 2:
        raise RestyleInputError(f"{path.name} is a type-2 MIDI file (independent patterns); "
                                "save it as type 0 or 1")
    tpb = midi.ticks_per_beat or 480
    tempo: list[TempoChange] = []
    meter: tuple[int, int] | None = None
    key: Key | None = None
    parts: dict[tuple[int, int], SourcePart] = {}
    total = 0
    for t_index, track in enumerate(midi.tracks):
        name = ""
        programs: dict[int, int] = {}
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name.strip()
            elif msg.type == "set_tempo":
                tempo.append(TempoChange(tick / tpb, round(mido.tempo2bpm(msg.tempo), 3)))
            elif msg.type == "time_signature" and meter is None:
                meter = (msg.numerator, msg.denominator)
            elif msg.type == "key_signature" and key is None:
                try:
                    key = Key.parse(msg.key)
                except TunesmithError:
                    key = None
            elif msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                stack = open_notes.get((msg.channel, msg.note))
                if not stack:
                    continue
                start, vel = stack.pop(0)
                part = parts.get((t_index, msg.channel))
                if part is None:
                    part = parts[(t_index, msg.channel)] = SourcePart(
                        name="", notes=[], is_drum=msg.channel == DRUM_CHANNEL)
                part.notes.append(Note(start / tpb, max(tick - start, 1) / tpb, msg.note, vel))
                total += 1
                if total > MAX_NOTES:
                    raise RestyleInputError(f"{path.name} holds more than {MAX_NOTES:,} notes; "
                                            "restyle takes songs, not whole MIDI collections")
        for (t, ch), part in parts.items():
            if t == t_index:
                part.program = programs.get(ch, part.program)
                channels = sum(1 for (tt, _) in parts if tt == t_index)
                label = name or f"track {t_index + 1}"
                part.name = label if channels == 1 else f"{label} (ch {ch + 1})"
    num, den = meter or (4, 4)
    out = [p for p in parts.values() if p.notes]
    for p in out:
        p.notes.sort(key=lambda n: (n.start_beat, n.pitch))
    tempo.sort(key=lambda c: c.beat)
    return SourcePiece(parts=out, tempo_map=tempo or [TempoChange(0.0, 120.0)],
                       beats_per_bar=beats_per_bar_of(num, den), meter=f"{num}/{den}", key=key,
                       kind="midi")


def beats_per_bar_of(numerator: int, denominator: int) -> int:
    """Quarter-note beats per bar: 4/4 -> 4, 3/4 -> 3, 6/8 -> 3, 12/8 -> 6, 2/2 -> 4. Bars of
    one or two beats (1/4, 2/4: what many pop MIDI exports write when the meter is unknown)
    are counted in bars of four."""
    beats = int(round(numerator * 4 / max(denominator, 1)))
    return 4 if beats <= 2 else beats


# ---------------------------------------------------------------------- MusicXML, ABC...

def read_music21(path: Path) -> SourcePiece:
    """MusicXML, ABC or Humdrum through music21: one part per score part, chords split into
    notes, ties joined, the pickup measure shifted so bar lines fall on multiples of the bar."""
    try:
        from music21 import converter
    except ImportError as exc:  # pragma: no cover - music21 is a dependency
        raise RestyleInputError("reading MusicXML/ABC needs the music21 package") from exc
    try:
        parsed = converter.parse(str(path))
    except Exception as exc:  # music21 raises many kinds
        raise RestyleInputError(f"cannot read {path.name}: {exc}") from exc
    return piece_from_music21(parsed, title=path.stem)


def piece_from_music21(parsed: object, *, title: str = "") -> SourcePiece:
    from music21 import chord as m21chord
    from music21 import meter as m21meter
    from music21 import note as m21note
    from music21 import tempo as m21tempo

    s = parsed.stripTies() if hasattr(parsed, "stripTies") else parsed  # type: ignore[attr-defined]
    ts = next(iter(s.recurse().getElementsByClass(m21meter.TimeSignature)), None)
    num, den = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    bpb = beats_per_bar_of(num, den)
    tempo = [TempoChange(float(mm.getOffsetInHierarchy(s)), float(mm.getQuarterBPM()))
             for mm in s.recurse().getElementsByClass(m21tempo.MetronomeMark)
             if mm.getQuarterBPM()] or [TempoChange(0.0, 100.0)]
    key = None
    try:
        k = s.analyze("key")
        key = Key.parse(f"{k.tonic.name.replace('-', 'b')}{'m' if k.mode == 'minor' else ''}")
    except Exception:  # analysis can fail on empty or unpitched scores
        key = None
    parts_src = list(getattr(s, "parts", [])) or [s]
    shift = _pickup_shift(parts_src[0], bpb)
    parts: list[SourcePart] = []
    for i, part in enumerate(parts_src):
        notes: list[Note] = []
        for el in part.recurse().notes:
            start = float(el.getOffsetInHierarchy(part)) + shift
            dur = float(el.duration.quarterLength)
            if dur <= 0:
                continue  # grace notes
            vel = int(el.volume.velocity or 80) if el.volume is not None else 80
            if isinstance(el, m21chord.Chord):
                notes += [Note(start, dur, int(p.midi), vel) for p in el.pitches]
            elif isinstance(el, m21note.Note):
                notes.append(Note(start, dur, int(el.pitch.midi), vel))
        name = (getattr(part, "partName", None) or getattr(part, "id", None) or f"part {i + 1}")
        notes.sort(key=lambda n: (n.start_beat, n.pitch))
        if notes:
            parts.append(SourcePart(name=str(name), notes=notes))
    tempo = [TempoChange(c.beat + shift, c.bpm) for c in tempo]
    return SourcePiece(parts=parts, tempo_map=tempo, beats_per_bar=bpb, meter=f"{num}/{den}",
                       key=key, kind="score", title=title)


def _pickup_shift(part: object, bpb: int) -> float:
    """Beats to add so that the first full measure starts on a bar line (0 without a pickup)."""
    measures = list(part.getElementsByClass("Measure"))  # type: ignore[attr-defined]
    if len(measures) < 2:
        return 0.0
    first_full = float(measures[1].offset)
    pickup = first_full % bpb
    return float((bpb - pickup) % bpb) if pickup > 1e-6 else 0.0


# ---------------------------------------------------------------------------------- audio

def read_audio(path: Path) -> SourcePiece:
    """A full recording through listen's polyphonic path: melody, chords and beats, with
    seconds mapped to beats on the detected beat grid (first bar line at beat 0)."""
    from tunesmith.listen import MAX_INPUT_DURATION_S, load_audio
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    audio, sr = load_audio(path, max_duration_s=MAX_INPUT_DURATION_S)
    heard = transcribe_polyphonic(audio, sr)
    beats = np.asarray(heard.beat_times_s, dtype=np.float64)
    if beats.size < 4:
        raise RestyleInputError(f"{path.name}: no steady beat was found in the recording")
    first = int(np.argmin(np.abs(beats - heard.downbeat_s)))

    def to_beat(t: float) -> float:
        return float(np.interp(t, beats, np.arange(beats.size), left=None, right=None)) - first

    def span(a: float, b: float) -> tuple[float, float]:
        sa, sb = to_beat(a), to_beat(b)
        return round(sa * 4) / 4, max(round(sb * 4) / 4 - round(sa * 4) / 4, 0.25)

    melody = []
    for n, vel in zip(heard.melody, heard.melody_velocities or [90] * len(heard.melody),
                      strict=False):
        s, d = span(n.onset_s, n.offset_s)
        melody.append(Note(s, d, n.midi, int(vel)))
    accomp = [Note(*span(n.onset_s, n.offset_s), n.midi, n.velocity)
              for n in heard.accompaniment]
    chords = []
    for c in heard.chords:
        if c.chord is None:
            continue
        s, d = span(c.start_s, c.end_s)
        chords.append(Chord(s, d, c.chord))
    parts = [SourcePart("melody", [n for n in melody if n.start_beat >= 0], program=0),
             SourcePart("accompaniment", [n for n in accomp if n.start_beat >= 0], program=0)]
    return SourcePiece(parts=[p for p in parts if p.notes],
                       tempo_map=[TempoChange(0.0, float(heard.tempo_bpm))],
                       beats_per_bar=heard.beats_per_bar, meter=f"{heard.beats_per_bar}/4",
                       key=heard.key, kind="audio",
                       chords=[c for c in chords if c.start_beat >= 0],
                       melody=[n for n in melody if n.start_beat >= 0])
