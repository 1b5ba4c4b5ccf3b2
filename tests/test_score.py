import mido

from tunesmith.score import (
    Chord,
    Note,
    Score,
    Section,
    SungNote,
    Track,
    read_score_midi,
    sung_notes_to_midi,
    write_score_midi,
)
from tunesmith.theory import ChordSymbol, Key


def _score() -> Score:
    return Score(
        tempo_bpm=96.0, key=Key(9, "minor"), swing=0.66,
        tracks=[Track("melody", 73, notes=[Note(0, 1, 69, 90), Note(1.5, 0.5, 72, 80)], instrument="Flute"),
                Track("bass", 33, notes=[Note(0, 4, 45, 100)], pan=-0.2),
                Track("drums", 0, is_drum=True, notes=[Note(0, 0.25, 36, 110), Note(1, 0.25, 38, 90)])],
        chords=[Chord(0, 4, ChordSymbol(9, "min7")), Chord(4, 4, ChordSymbol(2, "min", 9))],
        sections=[Section("intro", "Intro", 0, 4, 0.3), Section("chorus", "Chorus", 4, 4, 0.85)])


def test_score_midi_round_trip(tmp_path):
    s = _score()
    path = tmp_path / "s.mid"
    write_score_midi(s, path)
    back = read_score_midi(path)
    assert back.tempo_bpm == 96.0
    assert back.key == s.key and abs(back.swing - 0.66) < 1e-3
    assert [t.name for t in back.tracks] == ["melody", "bass", "drums"]
    for a, b in zip(s.tracks, back.tracks, strict=True):
        assert (a.program, a.is_drum) == (b.program, b.is_drum)
        assert [(n.start_beat, n.duration_beats, n.pitch, n.velocity) for n in a.notes] == \
               [(n.start_beat, n.duration_beats, n.pitch, n.velocity) for n in b.notes]
    assert [c.symbol for c in back.chords] == ["Am7", "Dm/A"]
    assert [(c.start_beat, c.duration_beats) for c in back.chords] == [(0, 4), (4, 4)]
    assert [(x.kind, x.label, x.start_beat, x.duration_beats) for x in back.sections] == \
           [("intro", "Intro", 0, 4), ("chorus", "Chorus", 4, 4)]


def test_midi_has_named_tracks_and_drum_channel(tmp_path):
    path = tmp_path / "s.mid"
    write_score_midi(_score(), path)
    mf = mido.MidiFile(str(path))
    names = [next(m.name for m in t if m.type == "track_name") for t in mf.tracks]
    assert names == ["conductor", "chords", "melody", "bass", "drums"]
    drum_channels = {m.channel for m in mf.tracks[-1] if m.type == "note_on"}
    assert drum_channels == {9}


def test_sung_notes_keep_seconds(tmp_path):
    notes = [SungNote(0.137, 0.612, 60.3), SungNote(0.75, 1.9, 64.8)]
    path = tmp_path / "m.mid"
    sung_notes_to_midi(notes).save(str(path))
    mf = mido.MidiFile(str(path))
    t, ons = 0.0, []
    for msg in mf:
        t += msg.time
        if msg.type == "note_on" and msg.velocity:
            ons.append((round(t, 3), msg.note))
    assert ons == [(0.137, 60), (0.75, 65)]
