"""One data model shared by every stage, and its MIDI input/output.

Two note types, on purpose:
- `SungNote` is a note as performed, timed in seconds with a fractional MIDI pitch (what
  `listen` hears);
- `Note` is a note in a score, timed in beats with an integer MIDI pitch (what `compose` and
  `arrange` write). A `Score` holds tracks of `Note`s, the chord symbols, the sections and the
  tempo, and converts to and from a standard MIDI file with named tracks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tunesmith.errors import ScoreError
from tunesmith.theory import ChordSymbol, Key

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9


@dataclass(frozen=True, slots=True)
class SungNote:
    """A performed note: onset and offset in seconds, pitch as fractional MIDI number."""

    onset_s: float
    offset_s: float
    pitch: float
    confidence: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    @property
    def midi(self) -> int:
        return int(round(self.pitch))


@dataclass(frozen=True, slots=True)
class Note:
    """A score note: start and duration in beats, integer MIDI pitch, MIDI velocity 1-127."""

    start_beat: float
    duration_beats: float
    pitch: int
    velocity: int = 90

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.duration_beats

    def shifted(self, beats: float) -> Note:
        return replace(self, start_beat=self.start_beat + beats)


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord symbol sounding from `start_beat` for `duration_beats`."""

    start_beat: float
    duration_beats: float
    chord: ChordSymbol

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.duration_beats

    @property
    def symbol(self) -> str:
        return self.chord.symbol()


@dataclass(frozen=True, slots=True)
class Section:
    """A section of the song form, e.g. kind='chorus', label='Chorus 2'."""

    kind: str
    label: str
    start_beat: float
    duration_beats: float
    energy: float = 0.5  # 0 = sparse and quiet, 1 = full and loud

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.duration_beats


@dataclass(slots=True)
class Track:
    """One instrument part. `name` is the role shown in a DAW (melody, chords, bass, drums...)."""

    name: str
    program: int = 0
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)
    instrument: str = ""  # human name of the sound, e.g. "Acoustic Grand Piano"
    pan: float = 0.0  # -1 left .. +1 right, a mixing hint
    role: str = ""  # melody, chords, bass, drums, pad, lead, ...

    def __post_init__(self) -> None:
        if not self.role:
            self.role = self.name


@dataclass(slots=True)
class Score:
    """A whole song as music data."""

    tempo_bpm: float
    key: Key
    beats_per_bar: int = 4
    tracks: list[Track] = field(default_factory=list)
    chords: list[Chord] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    swing: float = 0.5  # eighth-note swing ratio (0.5 = straight, 0.67 = triplet swing)
    # Compound meter: eighth notes grouped in threes. Beats stay quarter notes: 6/8 is
    # beats_per_bar=3 with compound=True (two dotted-quarter pulses), 12/8 is 6.
    compound: bool = False

    @property
    def time_signature(self) -> tuple[int, int]:
        """(numerator, denominator) as written in the MIDI file: (6, 8) for compound 3."""
        return (2 * self.beats_per_bar, 8) if self.compound else (self.beats_per_bar, 4)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def length_beats(self) -> float:
        ends = [n.end_beat for t in self.tracks for n in t.notes]
        ends += [c.end_beat for c in self.chords] + [s.end_beat for s in self.sections]
        return max(ends, default=0.0)

    @property
    def duration_s(self) -> float:
        return self.length_beats * self.seconds_per_beat

    def track(self, name: str) -> Track:
        for t in self.tracks:
            if t.name == name:
                return t
        raise KeyError(name)

    def chord_at(self, beat: float) -> Chord | None:
        for c in self.chords:
            if c.start_beat <= beat < c.end_beat:
                return c
        return None


# ---------------------------------------------------------------- MIDI output

def _abs_events_to_track(name: str, events: list[tuple[int, int, object]]) -> object:
    import mido

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _order, msg in events:
        track.append(msg.copy(time=tick - now))  # type: ignore[attr-defined]
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _beat_to_tick(beat: float) -> int:
    return int(round(beat * TICKS_PER_BEAT))


def score_to_midi(score: Score) -> object:
    """Build a type-1 `mido.MidiFile`: a conductor track (tempo, meter, key, section markers,
    chord symbols as text), a `chords` reference track when the score has chords, then one named
    track per instrument. Pure: no file is written."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor: list[tuple[int, int, object]] = [
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.tempo_bpm))),
        (0, 0, mido.MetaMessage("time_signature", numerator=score.time_signature[0],
                                denominator=score.time_signature[1])),
        (0, 0, mido.MetaMessage("key_signature", key=_mido_key(score.key))),
        (0, 0, mido.MetaMessage("text", text=f"tunesmith:key={score.key.name};swing={score.swing:.3f}")),
    ]
    for s in score.sections:
        conductor.append((_beat_to_tick(s.start_beat), 1, mido.MetaMessage(
            "marker", text=f"{s.label}|{s.kind}|{s.energy:.2f}")))
    midi.tracks.append(_abs_events_to_track("conductor", conductor))

    channels = iter([c for c in range(16) if c != DRUM_CHANNEL])
    used_names = {t.name for t in score.tracks}
    if score.chords and "chords" not in used_names:
        # Chord symbols as text events on a silent reference track (no notes), so a DAW shows
        # them and they round-trip; the audible comping lives in its own instrument track.
        events = [(_beat_to_tick(c.start_beat), 0, mido.MetaMessage("text", text=c.symbol))
                  for c in score.chords]
        events.append((_beat_to_tick(score.chords[-1].end_beat), 0,
                       mido.MetaMessage("text", text="|end")))
        midi.tracks.append(_abs_events_to_track("chords", events))
    for t in score.tracks:
        if t.is_drum:
            ch = DRUM_CHANNEL
        else:
            try:
                ch = next(channels)
            except StopIteration as exc:
                raise ScoreError("more than 15 pitched tracks do not fit in one MIDI file") from exc
        events = [(0, 0, mido.Message("program_change", channel=ch, program=t.program))]
        if t.instrument:
            events.append((0, 0, mido.MetaMessage("instrument_name", name=t.instrument)))
        pan_cc = max(0, min(127, int(round(64 + t.pan * 63))))
        events.append((0, 0, mido.Message("control_change", channel=ch, control=10, value=pan_cc)))
        if t.name == "chords" and score.chords:
            for c in score.chords:
                events.append((_beat_to_tick(c.start_beat), 1, mido.MetaMessage("text", text=c.symbol)))
            events.append((_beat_to_tick(score.chords[-1].end_beat), 1,
                           mido.MetaMessage("text", text="|end")))
        for n in t.notes:
            on = _beat_to_tick(n.start_beat)
            off = max(on + 1, _beat_to_tick(n.end_beat))
            vel = max(1, min(127, int(n.velocity)))
            events.append((on, 2, mido.Message("note_on", channel=ch, note=n.pitch, velocity=vel)))
            events.append((off, 0, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
        midi.tracks.append(_abs_events_to_track(t.name, events))
    return midi


def write_score_midi(score: Score, path: Path) -> None:
    score_to_midi(score).save(str(path))  # type: ignore[attr-defined]


def _mido_key(key: Key) -> str:
    from tunesmith.theory import pitch_class_name

    name = pitch_class_name(key.tonic, flats=key.uses_flats)
    return name + ("m" if key.mode == "minor" else "")


# ---------------------------------------------------------------- MIDI input

def read_score_midi(path: Path) -> Score:
    """Read a MIDI file written by `write_score_midi` (or any type-0/1 MIDI file) into a Score.
    Tempo is the first tempo event; notes are placed in beats."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError) as exc:
        raise ScoreError(f"cannot read MIDI file {path}: {exc}") from exc
    tpb = midi.ticks_per_beat
    tempo_bpm = 120.0
    beats_per_bar = 4
    compound = False
    key = Key(0, "major")
    swing = 0.5
    sections: list[Section] = []
    chord_marks: list[tuple[float, str]] = []
    tracks: list[Track] = []
    found_tempo = False
    for mtrack in midi.tracks:
        name = ""
        program = 0
        is_drum = False
        instrument = ""
        pan = 0.0
        open_notes: dict[tuple[int, int], list[tuple[float, int]]] = {}
        notes: list[Note] = []
        tick = 0
        track_chords: list[tuple[float, str]] = []
        for msg in mtrack:
            tick += msg.time
            beat = tick / tpb
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "set_tempo" and not found_tempo:
                tempo_bpm = round(mido.tempo2bpm(msg.tempo), 3)
                found_tempo = True
            elif msg.type == "time_signature":
                beats_per_bar = msg.numerator * 4 // msg.denominator or msg.numerator
                compound = msg.denominator == 8 and msg.numerator % 6 == 0
            elif msg.type == "key_signature":
                key = Key.parse(msg.key)
            elif msg.type == "text" and msg.text.startswith("tunesmith:"):
                for item in msg.text[len("tunesmith:"):].split(";"):
                    k, _, v = item.partition("=")
                    if k == "key":
                        key = Key.parse(v)
                    elif k == "swing":
                        swing = float(v)
            elif msg.type == "text":
                track_chords.append((beat, msg.text))
            elif msg.type == "marker":
                parts = msg.text.split("|")
                label = parts[0]
                kind = parts[1] if len(parts) > 1 else label.split()[0].lower()
                energy = float(parts[2]) if len(parts) > 2 else 0.5
                sections.append(Section(kind, label, beat, 0.0, energy))
            elif msg.type == "instrument_name":
                instrument = msg.name
            elif msg.type == "program_change":
                program = msg.program
                is_drum = msg.channel == DRUM_CHANNEL
            elif msg.type == "control_change" and msg.control == 10:
                pan = round((msg.value - 64) / 63, 3)
            elif msg.type == "note_on" and msg.velocity > 0:
                is_drum = is_drum or msg.channel == DRUM_CHANNEL
                open_notes.setdefault((msg.channel, msg.note), []).append((beat, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                stack = open_notes.get((msg.channel, msg.note))
                if stack:
                    start, vel = stack.pop(0)
                    notes.append(Note(start, beat - start, msg.note, vel))
        if track_chords and not chord_marks:
            chord_marks = track_chords
        if notes or (name and name not in ("conductor", "chords")):
            notes.sort(key=lambda n: (n.start_beat, n.pitch))
            tracks.append(Track(name=name or f"track{len(tracks) + 1}", program=program,
                                is_drum=is_drum, notes=notes, instrument=instrument, pan=pan))
    chords = _chords_from_marks(chord_marks)
    score = Score(tempo_bpm=tempo_bpm, key=key, beats_per_bar=beats_per_bar, tracks=tracks,
                  chords=chords, swing=swing, compound=compound)
    end = score.length_beats
    sections.sort(key=lambda s: s.start_beat)
    score.sections = [
        replace(s, duration_beats=(sections[i + 1].start_beat if i + 1 < len(sections) else end)
                - s.start_beat)
        for i, s in enumerate(sections)
    ]
    return score


def _chords_from_marks(marks: Sequence[tuple[float, str]]) -> list[Chord]:
    chords: list[Chord] = []
    for i, (beat, text) in enumerate(marks):
        if text.startswith("|"):
            continue
        try:
            sym = ChordSymbol.parse(text)
        except Exception:  # a foreign text event, not a chord
            continue
        end = marks[i + 1][0] if i + 1 < len(marks) else beat + 4
        chords.append(Chord(beat, end - beat, sym))
    return chords


# ---------------------------------------------------------------- performed notes as MIDI

SUNG_TICKS_PER_BEAT = 1000  # at 60 bpm: one tick per millisecond


def sung_notes_to_midi(notes: Iterable[SungNote], *, program: int = 53,
                       name: str = "melody") -> object:
    """A MIDI file whose seconds equal the audio's seconds: 60 bpm, 1 tick = 1 ms, no
    quantisation to a beat grid."""
    import mido

    tempo_bpm = 60.0
    midi = mido.MidiFile(type=1, ticks_per_beat=SUNG_TICKS_PER_BEAT)
    ticks_per_s = SUNG_TICKS_PER_BEAT * tempo_bpm / 60.0
    conductor = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)))]
    midi.tracks.append(_abs_events_to_track("conductor", conductor))
    events: list[tuple[int, int, object]] = [(0, 0, mido.Message("program_change", channel=0, program=program))]
    for n in notes:
        on = int(round(n.onset_s * ticks_per_s))
        off = max(on + 1, int(round(n.offset_s * ticks_per_s)))
        events.append((on, 1, mido.Message("note_on", channel=0, note=n.midi, velocity=96)))
        events.append((off, 0, mido.Message("note_off", channel=0, note=n.midi, velocity=0)))
    midi.tracks.append(_abs_events_to_track(name, events))
    return midi
