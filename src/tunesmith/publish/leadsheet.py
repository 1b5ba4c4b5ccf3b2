"""The lead sheet: melody, chord symbols, section marks and lyrics, as MusicXML (music21) and as
an engraved PDF (LilyPond).

The melody comes from the song's `melody` track, put back on the grid (the arrangement
humanises its timing): onsets and ends to the nearest sixteenth, a swung off-beat eighth to
the straight one it is written as. Both files are written from the same `LeadSheet`, so the
MusicXML and the PDF show the same notes. LilyPond source is generated directly (rather than
through musicxml2ly, which spells major triads as power chords and misplaces chord symbols).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.publish.lyrics import Syllable
from tunesmith.score import Chord, Note, Score, Section
from tunesmith.theory import Key, pitch_class_name

log = logging.getLogger(__name__)

STEPS_PER_BEAT = 4  # sixteenth-note grid
LILYPOND_TIMEOUT_S = 180.0
_M21_KIND = {
    "maj": "major", "min": "minor", "dim": "diminished", "aug": "augmented",
    "sus2": "suspended-second", "sus4": "suspended-fourth", "7": "dominant-seventh",
    "maj7": "major-seventh", "min7": "minor-seventh", "m7b5": "half-diminished-seventh",
    "dim7": "diminished-seventh", "6": "major-sixth", "min6": "minor-sixth", "9": "dominant-ninth",
}
_LY_SUFFIX = {
    "maj": "", "min": ":m", "dim": ":dim", "aug": ":aug", "sus2": ":sus2", "sus4": ":sus4",
    "7": ":7", "maj7": ":maj7", "min7": ":m7", "m7b5": ":m7.5-", "dim7": ":dim7", "6": ":6",
    "min6": ":m6", "9": ":9",
}
_LY_SHARP = ("c", "cis", "d", "dis", "e", "f", "fis", "g", "gis", "a", "ais", "b")
_LY_FLAT = ("c", "des", "d", "ees", "e", "f", "ges", "g", "aes", "a", "bes", "b")
_LY_DURATIONS = ((16, "1"), (14, "2.."), (12, "2."), (8, "2"), (7, "4.."), (6, "4."), (4, "4"),
                 (3, "8."), (2, "8"), (1, "16"))


class LeadsheetError(TunesmithError):
    """The lead sheet could not be written or engraved."""


@dataclass(frozen=True, slots=True)
class LeadNote:
    start_beat: float
    duration_beats: float
    pitch: int
    lyric: Syllable | None = None

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.duration_beats


@dataclass(slots=True)
class LeadSheet:
    title: str
    artist: str
    key: Key
    tempo_bpm: float
    beats_per_bar: int
    notes: list[LeadNote]
    chords: list[Chord] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    swing: float = 0.5
    subtitle: str = ""
    footer: str = ""

    @property
    def length_beats(self) -> float:
        ends = [n.end_beat for n in self.notes] + [c.end_beat for c in self.chords]
        ends += [s.end_beat for s in self.sections]
        bar = self.beats_per_bar
        end = max(ends, default=float(bar))
        return -(-end // bar) * bar


def melody_track_notes(score: Score) -> list[Note]:
    for t in score.tracks:
        if t.role == "melody" or t.name == "melody":
            return list(t.notes)
    raise LeadsheetError("the song has no melody track, so there is no lead sheet to write")


def _snap(beat: float, swing: float) -> float:
    """Nearest sixteenth; with swing, the late off-beat eighth goes to the straight one."""
    whole = float(int(beat // 1))
    frac = beat - whole
    grid = [(0.0, 0.0), (0.25, 0.25), (0.5, 0.5), (0.75, 0.75), (1.0, 1.0)]
    if swing > 0.52:
        grid = [(0.0, 0.0), (0.25, 0.25), (swing, 0.5), (1.0, 1.0)]
    return whole + min(grid, key=lambda g: abs(g[0] - frac))[1]


def quantize_melody(notes: Sequence[Note], *, swing: float = 0.5) -> list[Note]:
    """The melody on a sixteenth grid, one note at a time (the higher of two simultaneous)."""
    snapped: dict[float, Note] = {}
    for n in sorted(notes, key=lambda n: (n.start_beat, -n.pitch)):
        start = _snap(n.start_beat, swing)
        end = max(_snap(n.end_beat, swing), start + 1 / STEPS_PER_BEAT)
        if start not in snapped:
            snapped[start] = Note(start, end - start, n.pitch, n.velocity)
    out = sorted(snapped.values(), key=lambda n: n.start_beat)
    result = []
    for i, n in enumerate(out):
        end = n.end_beat if i + 1 == len(out) else min(n.end_beat, out[i + 1].start_beat)
        result.append(Note(n.start_beat, round(end - n.start_beat, 6), n.pitch, n.velocity))
    return result


def lead_sheet(score: Score, *, title: str, artist: str,
               lyrics: Sequence[Syllable | None] | None = None, subtitle: str = "",
               footer: str = "") -> LeadSheet:
    melody = quantize_melody(melody_track_notes(score), swing=score.swing)
    words = list(lyrics) if lyrics is not None else [None] * len(melody)
    if len(words) != len(melody):
        raise LeadsheetError("internal: one lyric slot per melody note expected")
    chords = [Chord(_snap(c.start_beat, 0.5), max(0.25, _snap(c.end_beat, 0.5) - _snap(c.start_beat, 0.5)),
                    c.chord) for c in score.chords]
    return LeadSheet(title=title, artist=artist, key=score.key, tempo_bpm=score.tempo_bpm,
                     beats_per_bar=score.beats_per_bar,
                     notes=[LeadNote(n.start_beat, n.duration_beats, n.pitch, w)
                            for n, w in zip(melody, words, strict=True)],
                     chords=chords, sections=list(score.sections), swing=score.swing,
                     subtitle=subtitle, footer=footer)


# ---------------------------------------------------------------- MusicXML (music21)

def _clef_name(sheet: LeadSheet) -> str:
    pitches = sorted(n.pitch for n in sheet.notes) or [67]
    return "treble" if pitches[len(pitches) // 2] >= 57 else "treble_8"


def write_musicxml(sheet: LeadSheet, path: Path) -> None:
    from music21 import clef, expressions, metadata, meter, note, stream, tempo
    from music21 import key as m21key

    part = stream.Part()
    part.partName = "Melody"
    part.insert(0, clef.TrebleClef() if _clef_name(sheet) == "treble" else clef.Treble8vbClef())
    part.insert(0, m21key.Key(pitch_class_name(sheet.key.tonic, flats=sheet.key.uses_flats),
                              sheet.key.mode))
    part.insert(0, meter.TimeSignature(f"{sheet.beats_per_bar}/4"))
    part.insert(0, tempo.MetronomeMark(number=round(sheet.tempo_bpm, 2)))
    if sheet.swing > 0.52:
        part.insert(0, expressions.TextExpression("Swing"))
    for n in sheet.notes:
        m = note.Note(n.pitch, quarterLength=n.duration_beats)
        if sheet.key.uses_flats and m.pitch.accidental is not None and m.pitch.accidental.alter > 0:
            m.pitch = m.pitch.getEnharmonic()
        if n.lyric is not None:
            m.lyrics = [note.Lyric(text=n.lyric.text, syllabic=n.lyric.syllabic)]
        part.insert(n.start_beat, m)
    for c in sheet.chords:
        part.insert(c.start_beat, _m21_chord(c, flats=sheet.key.uses_flats))
    for s in sheet.sections:
        part.insert(s.start_beat, expressions.RehearsalMark(s.label))
    notated = part.makeNotation()
    doc = stream.Score()
    doc.insert(0, metadata.Metadata(title=sheet.title, composer=sheet.artist))
    doc.insert(0, notated)
    try:
        doc.write("musicxml", fp=str(path))
    except Exception as exc:  # music21 raises its own exception types
        raise LeadsheetError(f"could not write the MusicXML lead sheet: {exc}") from exc


def _m21_chord(c: Chord, *, flats: bool) -> object:
    from music21 import harmony

    root = pitch_class_name(c.chord.root, flats=flats).replace("b", "-")
    kind = _M21_KIND.get(c.chord.quality)
    if kind is None:
        return harmony.ChordSymbol(c.chord.symbol(flats=flats).replace("b", "-"))
    cs = harmony.ChordSymbol(root=root, kind=kind)
    if c.chord.bass is not None and c.chord.bass != c.chord.root:
        cs.bass(pitch_class_name(c.chord.bass, flats=flats).replace("b", "-"))
    return cs


@dataclass(frozen=True, slots=True)
class ReadNote:
    start_beat: float
    duration_beats: float
    pitch: int
    lyric: str


def read_musicxml(path: Path) -> tuple[list[ReadNote], list[tuple[float, str]]]:
    """The melody (ties merged) and the chord symbols (beat, root+kind) of a MusicXML file."""
    from music21 import converter, harmony

    doc = converter.parse(str(path))
    part = doc.parts[0].stripTies()
    notes, chords = [], []
    for el in part.flatten().notesAndRests:
        if isinstance(el, harmony.ChordSymbol):
            chords.append((float(el.offset), f"{el.root().name}:{el.chordKind}"))
        elif el.isNote:
            notes.append(ReadNote(float(el.offset), float(el.quarterLength), el.pitch.midi,
                                  el.lyric or ""))
    return notes, chords


# ---------------------------------------------------------------- LilyPond

def _ly_pitch(pitch: int, flats: bool) -> str:
    name = (_LY_FLAT if flats else _LY_SHARP)[pitch % 12]
    octave = pitch // 12 - 4
    return name + ("'" * octave if octave > 0 else "," * -octave)


def _ly_lengths(steps: int) -> list[str]:
    out = []
    while steps > 0:
        for size, text in _LY_DURATIONS:
            if size <= steps:
                out.append(text)
                steps -= size
                break
    return out


def _ly_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lilypond_source(sheet: LeadSheet, *, version: str = "2.24.0") -> str:
    flats = sheet.key.uses_flats
    spb = STEPS_PER_BEAT
    bar = sheet.beats_per_bar * spb
    total = int(round(sheet.length_beats * spb))
    marks = {int(round(s.start_beat * spb)): s.label for s in sheet.sections}
    # melody: rests and notes, split at bar lines, notes tied across them
    events: list[tuple[int, int, int | None]] = []  # (start step, length, pitch or rest)
    pos = 0
    for n in sheet.notes:
        s, e = int(round(n.start_beat * spb)), int(round(n.end_beat * spb))
        if s > pos:
            events.append((pos, s - pos, None))
        events.append((s, e - s, n.pitch))
        pos = e
    if total > pos:
        events.append((pos, total - pos, None))
    music: list[str] = []
    for start, length, pitch in events:
        cut = start
        pieces = []
        while cut < start + length:
            nxt = min(start + length, (cut // bar + 1) * bar)
            for m in sorted(k for k in marks if cut <= k < nxt and k != cut):
                pieces.append((cut, m - cut))
                cut = m
            pieces.append((cut, nxt - cut))
            cut = nxt
        for i, (p_start, p_len) in enumerate(pieces):
            if p_start in marks:
                if p_start:
                    music.append('\\bar "||"')
                music.append(f"\\mark \\markup \\box {_ly_quote(marks.pop(p_start))}")
            lengths = _ly_lengths(p_len)
            for j, d in enumerate(lengths):
                if pitch is None:
                    music.append(f"r{d}")
                else:
                    last = i == len(pieces) - 1 and j == len(lengths) - 1
                    music.append(f"{_ly_pitch(pitch, flats)}{d}" + ("" if last else "~"))
    chords: list[str] = []
    pos = 0
    for c in sheet.chords:
        s, e = int(round(c.start_beat * spb)), int(round(c.end_beat * spb))
        if s < pos or e <= s:
            continue
        if s > pos:
            chords.append(f"s1*{s - pos}/16")
        name = _LY_SHARP[c.chord.root] if not flats else _LY_FLAT[c.chord.root]
        suffix = _LY_SUFFIX.get(c.chord.quality, "")
        bass = ""
        if c.chord.bass is not None and c.chord.bass != c.chord.root:
            bass = "/" + (_LY_FLAT if flats else _LY_SHARP)[c.chord.bass]
        chords.append(f"{name}1*{e - s}/16{suffix}{bass}")
        pos = e
    words = []
    for n in sheet.notes:
        if n.lyric is None:
            words.append("_")
        else:
            words.append(_ly_quote(n.lyric.text)
                         + (" --" if n.lyric.syllabic in ("begin", "middle") else ""))
    has_lyrics = any(n.lyric is not None for n in sheet.notes)
    tonic = (_LY_FLAT if flats else _LY_SHARP)[sheet.key.tonic]
    lines = [
        f'\\version "{version}"',
        '#(set-default-paper-size "a4")',
        "\\header {",
        f"  title = {_ly_quote(sheet.title)}",
        f"  composer = {_ly_quote(sheet.artist)}",
        f"  subtitle = {_ly_quote(sheet.subtitle)}" if sheet.subtitle else "",
        f"  tagline = {_ly_quote(sheet.footer)}",
        "}",
        "\\paper { ragged-last-bottom = ##t }",
        "melody = {",
        f'  \\clef "{_clef_name(sheet)}" \\key {tonic} \\{sheet.key.mode} '
        f"\\time {sheet.beats_per_bar}/4 \\tempo 4 = {int(round(sheet.tempo_bpm))}",
        "  " + " ".join(music),
        '  \\bar "|."',
        "}",
        "harmonies = \\chordmode {",
        "  \\set chordChanges = ##t",
        "  \\set majorSevenSymbol = \\markup { maj7 }",
        "  " + " ".join(chords),
        "}",
        "words = \\lyricmode {",
        "  " + " ".join(words),
        "}",
        "\\score {",
        "  <<",
        "    \\new ChordNames \\harmonies",
        '    \\new Staff { \\new Voice = "melody" \\melody }',
        '    \\new Lyrics \\lyricsto "melody" \\words' if has_lyrics else "",
        "  >>",
        "  \\layout { }",
        "}",
    ]
    return "\n".join(ln for ln in lines if ln) + "\n"


@dataclass
class Engraving:
    """A LilyPond run in the background; `wait()` returns the PDF (None without LilyPond)."""

    pdf: Path
    process: subprocess.Popen[bytes] | None
    reason: str = ""

    def wait(self, timeout_s: float = LILYPOND_TIMEOUT_S) -> Path | None:
        if self.process is None:
            return None
        try:
            _, err = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.process.kill()
            self.process.communicate()
            raise LeadsheetError(f"LilyPond took over {timeout_s:.0f} s to engrave the lead sheet") from exc
        if self.process.returncode != 0 or not self.pdf.is_file():
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise LeadsheetError("LilyPond could not engrave the lead sheet: " + " / ".join(tail))
        return self.pdf


def start_engraving(source: str, pdf: Path) -> Engraving:
    """Start LilyPond on `source`, writing `pdf`; returns at once (it runs in the background)."""
    exe = shutil.which("lilypond")
    if exe is None:
        return Engraving(pdf, None, reason="LilyPond is not installed (apt-get install lilypond)")
    ly = pdf.with_suffix(".ly")
    ly.write_text(source, encoding="utf-8")
    proc = subprocess.Popen(
        [exe, "-dno-point-and-click", "--loglevel=ERROR", "--pdf", "-o", str(pdf.with_suffix("")),
         str(ly)], cwd=str(pdf.parent), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Engraving(pdf, proc)
