"""File edges of the harmoniser: read a melody (MIDI or MusicXML), read and write chord sheets,
write the harmonised MIDI. Used by `tunesmith harmonize`.

Chord sheet format (what `--chords-out` writes and `--chords-sheet` reads): one chord per line,
`start_beat end_beat symbol`, beats counted in quarter notes from the start of the file, e.g.

    # verse
    0 4 C
    4 6 Am7
    6 8 G/B

Blank lines and `#` comments are ignored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import ScoreError, TunesmithError
from tunesmith.score import Chord, Note, Score, Track
from tunesmith.theory import ChordSymbol, Key, TheoryError, voice_chord

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi", ".smf")
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
CHORD_PROGRAM = 0  # acoustic grand piano
CHORD_VELOCITY = 70
CHORD_LOW, CHORD_HIGH = 48, 67  # comping register, below a typical melody


class ChordSheetError(TunesmithError):
    """A chord sheet line cannot be read."""


@dataclass(frozen=True)
class MelodyFile:
    """A melody read from a file: notes in quarter-note beats from the start of the file."""

    notes: list[Note]
    tempo_bpm: float
    beats_per_bar: int
    key: Key | None  # from the file's key signature, None when it has none
    track_name: str


def _has_key_signature(path: Path) -> bool:
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError):
        return False
    return any(msg.type == "key_signature" or (msg.type == "text" and msg.text.startswith("tunesmith:key"))
               for t in midi.tracks for msg in t)


def pick_melody_track(tracks: Sequence[Track], *, beats_per_bar: int = 4) -> Track:
    """The melody of a multi-track file, found as `restyle` finds a piece's lead: the part's
    name (melody, vocal, lead... up; bass, pad, strings, bridge... down), one note at a time, a
    singable register, presence through the piece, a lively rhythm, phrases that come back."""
    from tunesmith.restyle.lead import find_lead
    from tunesmith.restyle.source import SourcePart

    pitched = [t for t in tracks if t.notes and not t.is_drum and t.name != "chords"]
    if not pitched:
        raise ScoreError("the file has no pitched notes to harmonise")
    parts = [SourcePart(t.name, list(t.notes), t.program, t.is_drum) for t in pitched]
    index, _ = find_lead(parts, beats_per_bar=beats_per_bar)
    return pitched[max(index, 0)]


def monophonic(notes: Sequence[Note]) -> list[Note]:
    """One note at a time: the top note of each onset, cut where the next one starts."""
    from tunesmith.restyle.lead import skyline

    return skyline(notes)


def read_melody(path: Path) -> MelodyFile:
    """Read the melody of a MIDI or MusicXML file."""
    if not path.is_file():
        raise ScoreError(f"cannot find {path}")
    suffix = path.suffix.lower()
    if suffix in MUSICXML_SUFFIXES:
        return _read_musicxml(path)
    if suffix not in MIDI_SUFFIXES:
        raise ScoreError(f"{path.name}: give a MIDI (.mid) or MusicXML (.musicxml, .xml, .mxl) file")
    from tunesmith.score import read_score_midi

    score = read_score_midi(path)
    track = pick_melody_track(score.tracks, beats_per_bar=score.beats_per_bar)
    key = score.key if _has_key_signature(path) else None
    return MelodyFile(monophonic(track.notes), score.tempo_bpm, score.beats_per_bar, key, track.name)


def _read_musicxml(path: Path) -> MelodyFile:
    try:
        from music21 import converter, key, meter, tempo
    except ImportError as exc:  # pragma: no cover - music21 is a dependency
        raise ScoreError("reading MusicXML needs music21: pip install music21") from exc
    try:
        parsed = converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for a bad file
        raise ScoreError(f"cannot read MusicXML file {path.name}: {exc}") from exc
    parts = list(getattr(parsed, "parts", [])) or [parsed]
    tracks = []
    for i, part in enumerate(parts):
        flat = part.stripTies().flatten()
        notes = []
        for el in flat.notes:
            pitches = [p.midi for p in getattr(el, "pitches", [])]
            if not pitches:
                continue
            notes.append(Note(float(el.offset), float(el.duration.quarterLength), max(pitches)))
        name = str(part.partName or f"part{i + 1}")
        tracks.append(Track(name=name, notes=notes))
    flat_all = parsed.flatten()
    ts = next(iter(flat_all.getElementsByClass(meter.TimeSignature)), None)
    beats_per_bar = max(1, int(round(ts.numerator * 4 / ts.denominator))) if ts is not None else 4
    track = pick_melody_track(tracks, beats_per_bar=beats_per_bar)
    mm = next(iter(flat_all.getElementsByClass(tempo.MetronomeMark)), None)
    bpm = float(mm.getQuarterBPM()) if mm is not None and mm.getQuarterBPM() else 120.0
    file_key = None
    ks = next(iter(flat_all.getElementsByClass(key.KeySignature)), None)
    if ks is not None:
        k = ks if isinstance(ks, key.Key) else ks.asKey("major")
        file_key = Key(k.tonic.pitchClass, "minor" if k.mode == "minor" else "major")
    return MelodyFile(monophonic(track.notes), bpm, beats_per_bar, file_key, track.name)


def estimate_melody_key(notes: Sequence[Note], hint: Key | None) -> Key:
    """The melody's key: the file's key signature decides between a major key and its relative
    minor by the melody (its last note, then the estimator); without one, the estimator."""
    from tunesmith.listen import estimate_key
    from tunesmith.score import SungNote

    sung = [SungNote(n.start_beat, n.end_beat, float(n.pitch)) for n in notes]
    est = estimate_key(sung).key
    if hint is None:
        return est
    major = hint if hint.mode == "major" else Key((hint.tonic + 3) % 12, "major")
    minor = Key((major.tonic + 9) % 12, "minor")
    if est in (major, minor):
        return est
    last = max(notes, key=lambda n: n.start_beat).pitch % 12 if notes else major.tonic
    return minor if last == minor.tonic else hint


def parse_chord_sheet(text: str) -> list[Chord]:
    """Chords from `start_beat end_beat symbol` lines."""
    chords = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ChordSheetError(f"chord sheet line {i}: write 'start_beat end_beat chord', e.g. '0 4 Am7'")
        try:
            start, end = float(parts[0]), float(parts[1])
        except ValueError:
            raise ChordSheetError(f"chord sheet line {i}: beats must be numbers, not '{parts[0]} {parts[1]}'") from None
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start or start < 0:
            raise ChordSheetError(f"chord sheet line {i}: the chord must end after it starts, at beat 0 or later")
        try:
            symbol = ChordSymbol.parse(parts[2])
        except TheoryError as exc:
            raise ChordSheetError(f"chord sheet line {i}: {exc}") from None
        chords.append(Chord(start, end - start, symbol))
    chords.sort(key=lambda c: c.start_beat)
    for a, b in zip(chords[:-1], chords[1:], strict=True):
        if b.start_beat < a.end_beat - 1e-9:
            raise ChordSheetError(f"chord sheet: {a.symbol} and {b.symbol} overlap at beat {b.start_beat:g}")
    return chords


def read_chord_sheet(path: Path) -> list[Chord]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ChordSheetError(f"cannot read chord sheet {path}: {exc}") from exc
    return parse_chord_sheet(text)


def format_chord_sheet(chords: Sequence[Chord], *, key: Key | None = None) -> str:
    flats = key.uses_flats if key is not None else False
    return "".join(f"{c.start_beat:g} {c.end_beat:g} {c.chord.symbol(flats=flats)}\n" for c in chords)


def chord_track(chords: Sequence[Chord]) -> Track:
    """The chords as a playable piano part (close voicings with smooth voice leading)."""
    notes: list[Note] = []
    previous: list[int] | None = None
    for c in chords:
        voicing = voice_chord(c.chord, low=CHORD_LOW, high=CHORD_HIGH, previous=previous)
        previous = voicing
        bass = c.chord.bass_pc
        notes.append(Note(c.start_beat, c.duration_beats, 36 + (bass - 36) % 12, CHORD_VELOCITY))
        notes += [Note(c.start_beat, c.duration_beats, p, CHORD_VELOCITY) for p in voicing]
    return Track(name="chords", program=CHORD_PROGRAM, notes=notes, instrument="Acoustic Grand Piano",
                 role="chords")


def harmonised_score(melody: MelodyFile, chords: Sequence[Chord], key: Key) -> Score:
    mel = Track(name="melody", program=0, notes=list(melody.notes), role="melody")
    return Score(tempo_bpm=melody.tempo_bpm, key=key, beats_per_bar=melody.beats_per_bar,
                 tracks=[mel, chord_track(chords)], chords=list(chords))


@dataclass(frozen=True)
class HarmonisedMelody:
    score: Score  # melody + chords tracks, chord symbols
    key: Key
    melody_track: str  # the input track taken as the melody


def harmonize_file(path: Path, *, harmony: str, mood: float, fixed: Sequence[Chord] = (),
                   key: Key | None = None, seed: int = 0) -> HarmonisedMelody:
    """Read a melody file and harmonise all of it. The key is `key`, else the file's key
    signature checked against the melody, else estimated from the melody. The last chord is the
    tonic when the melody ends on a note of the tonic triad; elsewhere the model decides."""
    from tunesmith.compose.harmony import harmonize

    mel = read_melody(path)
    if not mel.notes:
        raise ScoreError(f"{path.name} has no melody notes")
    song_key = key or estimate_melody_key(mel.notes, mel.key)
    bpb = mel.beats_per_bar
    end = max([n.end_beat for n in mel.notes] + [c.end_beat for c in fixed])
    n_bars = max(1, math.ceil(end / bpb - 1e-6))
    last = max(mel.notes, key=lambda n: n.start_beat).pitch
    tonic_triad = {(song_key.tonic + i) % 12 for i in ((0, 4, 7) if song_key.mode == "major" else (0, 3, 7))}
    chords = harmonize(mel.notes, key=song_key, start_beat=0.0, n_bars=n_bars, beats_per_bar=bpb,
                       final_cadence=last % 12 in tonic_triad, start_on_tonic=False, seed=seed,
                       harmony=harmony, mood=mood, fixed=list(fixed))
    log.info("melody track '%s', key %s, %d bars, %d chords", mel.track_name, song_key.name,
             n_bars, len(chords))
    return HarmonisedMelody(harmonised_score(mel, chords, song_key), song_key, mel.track_name)
