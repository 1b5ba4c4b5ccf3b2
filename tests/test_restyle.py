"""restyle: reading pieces, finding the lead and the chords, sections, harmony rules, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest
from conftest import needs_soundfont

from tunesmith.errors import StyleError
from tunesmith.restyle import (
    RestyleInputError,
    RestyleOptionError,
    analyze,
    read_source,
    restyle_lead_sheet,
    style_rules,
)
from tunesmith.restyle import source as source_mod
from tunesmith.restyle.analyze import straighten, swing_ratio
from tunesmith.restyle.lead import find_lead, skyline
from tunesmith.restyle.rules import RULES, apply_rules
from tunesmith.score import Chord, Note
from tunesmith.theory import ChordSymbol, Key

C = Key(0, "major")
PROGRESSION = ["C", "Am", "F", "G"]  # one chord per bar
TUNE_A = [(0, 1, 64), (1, 1, 67), (2, 2, 72), (4, 1, 69), (5, 1, 67), (6, 2, 64),
          (8, 1, 65), (9, 1, 69), (10, 2, 72), (12, 1, 71), (13, 1, 67), (14, 2, 62)]
TUNE_B = [(0, 0.5, 76), (0.5, 0.5, 74), (1, 1, 72), (2, 1, 76), (3, 1, 77), (4, 2, 76),
          (6, 2, 72), (8, 1, 74), (9, 1, 72), (10, 2, 69), (12, 2, 71), (14, 2, 67)]


def _tune(form: str) -> list[tuple[float, float, int]]:
    out = []
    for i, letter in enumerate(form):
        phrase = TUNE_A if letter == "A" else TUNE_B
        out += [(s + 16 * i, d, p) for s, d, p in phrase]
    return out


def _write_midi(path: Path, *, form: str = "ABAB", melody_name: str = "Track 1",
                type0: bool = False, tempo_bpm: float = 100.0) -> Path:
    """A melody (named plainly), block chords voiced ABOVE the melody, a bass and drums."""
    tpb = 480
    melody = _tune(form)
    bars = 4 * len(form)
    chords = [PROGRESSION[b % 4] for b in range(bars)]
    chord_notes = []
    for b, name in enumerate(chords):
        sym = ChordSymbol.parse(name)
        tones = sorted({(pc - 0) % 12 for pc in sym.pitch_classes})
        for beat in range(4):
            for pc in tones:
                chord_notes.append((b * 4 + beat, 0.9, 72 + 12 + pc if pc < 4 else 72 + pc))
    bass = [(b * 4, 4, 36 + ChordSymbol.parse(c).root) for b, c in enumerate(chords)]
    drums = [(b, 0.25, 36 if b % 2 == 0 else 38) for b in range(bars * 4)]
    parts = [(melody_name, 0, 73, melody), ("Keys", 1, 0, chord_notes), ("Bass", 2, 33, bass),
             ("Drums", 9, 0, drums)]
    midi = mido.MidiFile(type=0 if type0 else 1, ticks_per_beat=tpb)
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))),
                 (0, mido.MetaMessage("time_signature", numerator=4, denominator=4))]
    tracks = []
    for name, ch, program, notes in parts:
        ev = [(0, mido.Message("program_change", channel=ch, program=program))]
        for s, d, p in notes:
            ev.append((int(s * tpb), mido.Message("note_on", channel=ch, note=p, velocity=90)))
            ev.append((int((s + d) * tpb) - 1, mido.Message("note_off", channel=ch, note=p)))
        tracks.append((name, ev))
    if type0:
        allev = conductor + [e for _, ev in tracks for e in ev]
        midi.tracks.append(_track("song", allev))
    else:
        midi.tracks.append(_track("conductor", conductor))
        for name, ev in tracks:
            midi.tracks.append(_track(name, ev))
    midi.save(str(path))
    return path


def _track(name: str, events: list) -> mido.MidiTrack:
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type != "note_off")):
        t.append(msg.copy(time=tick - now))
        now = tick
    return t


@pytest.fixture
def song_mid(tmp_path: Path) -> Path:
    return _write_midi(tmp_path / "song.mid")


def test_reads_general_midi_parts_with_drums_and_tempo(song_mid: Path) -> None:
    piece = read_source(song_mid)
    names = [p.name for p in piece.parts]
    assert names == ["Track 1", "Keys", "Bass", "Drums"]
    assert [p.is_drum for p in piece.parts] == [False, False, False, True]
    assert piece.parts[2].program == 33
    assert piece.tempo_bpm == pytest.approx(100.0, abs=0.01)
    assert piece.beats_per_bar == 4


def test_type0_midi_is_split_by_channel(tmp_path: Path) -> None:
    piece = read_source(_write_midi(tmp_path / "t0.mid", type0=True))
    assert len(piece.parts) == 4
    assert sum(p.is_drum for p in piece.parts) == 1
    assert {len(p.notes) for p in piece.parts} == {len(_tune("ABAB")), 16 * 4 * 3, 16, 64}


def test_lead_is_the_singable_line_not_the_highest_part(song_mid: Path) -> None:
    piece = read_source(song_mid)
    keys = next(p for p in piece.parts if p.name == "Keys")
    tune = next(p for p in piece.parts if p.name == "Track 1")
    assert min(n.pitch for n in keys.notes) > 71 > sum(n.pitch for n in tune.notes) / len(tune.notes)
    index, ratings = find_lead(piece.parts, beats_per_bar=4)
    assert piece.parts[index].name == "Track 1"
    assert ratings[index].polyphony == 0.0


def test_a_melody_name_outweighs_a_plain_name(tmp_path: Path) -> None:
    piece = read_source(_write_midi(tmp_path / "n.mid", melody_name="Lead Vocal"))
    index, ratings = find_lead(piece.parts, beats_per_bar=4)
    assert piece.parts[index].name == "Lead Vocal" and ratings[index].name_hint > 0


def test_chords_per_beat_come_from_the_accompaniment(song_mid: Path) -> None:
    found = analyze(read_source(song_mid))
    assert found.key == C
    hits = total = 0
    for beat in range(64):
        want = ChordSymbol.parse(PROGRESSION[(beat // 4) % 4])
        got = next(c for c in found.chords if c.start_beat <= beat + 0.5 < c.end_beat)
        total += 1
        hits += (got.chord.root, got.chord.triad_quality) == (want.root, want.triad_quality)
    assert hits / total >= 0.9


def test_repeated_material_becomes_verse_and_chorus(tmp_path: Path) -> None:
    found = analyze(read_source(_write_midi(tmp_path / "f.mid", form="ABABBB")))
    assert found.phrase_labels == list("ABABBB")
    kinds = [s.kind for s in found.sections]
    assert kinds[0] == "verse" and "chorus" in kinds
    chorus = [s for s in found.sections if s.kind == "chorus"]
    assert chorus[0].start_beat == 16 and chorus[-1].end_beat == 96


def test_swing_is_measured_and_straightened() -> None:
    swung = []
    for beat in range(16):
        swung += [Note(beat, 2 / 3, 60), Note(beat + 2 / 3, 1 / 3, 62)]
    assert swing_ratio(swung) == pytest.approx(0.667, abs=0.01)
    straight = straighten(swung, swing=swing_ratio(swung))
    assert {round(n.start_beat % 1, 3) for n in straight} == {0.0, 0.5}
    assert swing_ratio(straight) == 0.5


def test_skyline_keeps_one_note_at_a_time() -> None:
    line = skyline([Note(0, 2, 60), Note(0, 2, 67), Note(1, 1, 64), Note(2, 1, 62)])
    assert [(n.start_beat, n.pitch) for n in line] == [(0, 67), (1, 64), (2, 62)]
    assert all(a.end_beat <= b.start_beat + 1e-9 for a, b in zip(line, line[1:], strict=False))


# ---------------------------------------------------------------------------- rules

def _sheet(*names: str, bar: int = 4) -> list[Chord]:
    return [Chord(i * bar, bar, ChordSymbol.parse(n)) for i, n in enumerate(names)]


def _names(chords: list[Chord]) -> list[str]:
    return [c.chord.symbol() for c in chords]


def test_rule_triads() -> None:
    out = apply_rules(_sheet("Cmaj7", "Am7", "G7", "Bm7b5"), ["triads"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "Am", "G", "Bdim"]


def test_rule_dominant_sevenths() -> None:
    out = apply_rules(_sheet("C", "D", "G", "C"), ["dominant-sevenths"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "D7", "G7", "C"]


def test_rule_ii_v_approaches_new_harmony() -> None:
    out = apply_rules(_sheet("C", "Am", "Dm", "G"), ["ii-v"], key=C, beats_per_bar=4)
    # C -> Am gets the (minor) ii-V of Am; Am -> Dm and Dm -> G already move by fifths.
    assert _names(out) == ["C", "Bm7b5", "E7", "Am", "Dm", "G"]
    assert [c.start_beat for c in out] == [0, 2, 3, 4, 8, 12]
    out = apply_rules(_sheet("C", "F", "G"), ["ii-v"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "F", "Am7", "D7", "G"]
    assert sum(c.duration_beats for c in out) == 12  # beats unchanged


def test_rule_ii_v_on_short_chords_and_only_where_the_tune_allows() -> None:
    # two-beat chords: IV before I does the ii's job (F shares F and A with Dm7): it becomes ii-V
    out = apply_rules(_sheet("C", "F", "C", bar=2), ["ii-v"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "Dm7", "G7", "C"]
    assert [c.start_beat for c in out] == [0, 2, 3, 4]
    # ... a two-beat chord that has nothing in common with the ii is left alone
    out = apply_rules(_sheet("C", "E", "F", bar=2), ["ii-v"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "E", "F"]
    # a tune holding G (the avoid 11th of D7) over the last beat of F -> G: no ii-V there
    sheet = _sheet("C", "F", "G")
    held_g = [Note(4, 2, 69), Note(6, 2, 67)]
    out = apply_rules(sheet, ["ii-v"], key=C, beats_per_bar=4, melody=held_g)
    assert _names(out) == ["C", "F", "G"]
    fits = [Note(4, 2, 69), Note(6, 1, 69), Note(7, 1, 66)]  # A over Am7, F# over D7
    out = apply_rules(sheet, ["ii-v"], key=C, beats_per_bar=4, melody=fits)
    assert _names(out) == ["C", "F", "Am7", "D7", "G"]


def test_rule_ii_before_v() -> None:
    out = apply_rules(_sheet("C", "F", "G7", "C"), ["ii-before-v"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "Dm7", "G7", "C"]  # IV shares F and A with ii7: substituted
    out = apply_rules(_sheet("C", "Bb", "A7", "Dm"), ["ii-before-v"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "A#", "Em7", "A7", "Dm"]  # Bb shares only D: its 2nd half
    assert [c.start_beat for c in out] == [0, 4, 6, 8, 12]


def test_rule_tritone_substitution() -> None:
    out = apply_rules(_sheet("G7", "C", "G7", "C"), ["tritone-sub"], key=C, beats_per_bar=4)
    assert _names(out) == ["G7", "C", "C#7", "C"]


def test_rule_blues_dominants_and_sus() -> None:
    out = apply_rules(_sheet("C", "F", "G", "Am"), ["blues-dominants"], key=C, beats_per_bar=4)
    assert _names(out) == ["C7", "F7", "G7", "Am"]
    out = apply_rules(_sheet("C", "G", "C"), ["sus-resolutions"], key=C, beats_per_bar=4)
    assert _names(out) == ["C", "Gsus4", "G", "C"]


def test_unknown_rule_is_a_style_error() -> None:
    with pytest.raises(StyleError, match="known rules"):
        apply_rules(_sheet("C"), ["no-such-rule"], key=C, beats_per_bar=4)
    assert set(RULES) >= {"triads", "ii-v", "tritone-sub"}


# ---------------------------------------------------------------------- lead sheet

def test_harmony_keep_keeps_chords_and_melody(song_mid: Path) -> None:
    from tunesmith.arrange import load_style

    piece = read_source(song_mid)
    found = analyze(piece)
    sheet = restyle_lead_sheet(piece, load_style("jazz-swing"), harmony="keep")
    scale = sheet.beat_scale
    assert [(c.start_beat, c.chord) for c in sheet.lead.chords] == \
        [(c.start_beat * scale, c.chord) for c in found.chords]
    assert sheet.style.extensions == {}
    mel = sheet.lead.track("melody").notes
    assert [(n.start_beat, n.pitch) for n in mel] == \
        [(n.start_beat * scale, n.pitch) for n in found.melody]


def test_harmony_style_applies_the_style_rules(song_mid: Path) -> None:
    from tunesmith.arrange import load_style

    style = load_style("jazz-swing")
    rules = style_rules(style)
    assert "ii-v" in rules
    piece = read_source(song_mid)
    kept = restyle_lead_sheet(piece, style, harmony="keep")
    styled = restyle_lead_sheet(piece, style, harmony="style")
    assert len(styled.lead.chords) > len(kept.lead.chords)
    assert styled.rules == rules


def test_keep_melody_writes_new_chords(song_mid: Path) -> None:
    from tunesmith.arrange import load_style

    piece = read_source(song_mid)
    sheet = restyle_lead_sheet(piece, load_style("pop-ballad"), keep="melody", harmony="keep")
    assert sheet.lead.chords and sheet.lead.chords[0].start_beat == 0
    with pytest.raises(RestyleOptionError):
        restyle_lead_sheet(piece, load_style("pop-ballad"), keep="drums")


def test_musicxml_and_abc_are_read(tmp_path: Path) -> None:
    from music21 import meter, note, stream

    score = stream.Score()
    for name, pitches in (("Soprano", [72, 74, 76, 77] * 4), ("Bass", [48, 43, 45, 41] * 4)):
        part = stream.Part()
        part.partName = name
        part.append(meter.TimeSignature("3/4"))
        for p in pitches:
            part.append(note.Note(p, quarterLength=1.0))
        score.append(part)
    xml = Path(score.write("musicxml", fp=str(tmp_path / "t.musicxml")))
    piece = read_source(xml)
    assert [p.name for p in piece.parts] == ["Soprano", "Bass"] and piece.beats_per_bar == 3
    assert analyze(piece).lead_part == "Soprano"
    abc = tmp_path / "tune.abc"
    abc.write_text("X:1\nT:Test\nM:6/8\nL:1/8\nK:G\nGAB c2d|e2d c2B|A3 G3|]\n", encoding="utf-8")
    piece = read_source(abc)
    assert piece.meter == "6/8" and piece.beats_per_bar == 3
    assert [n.pitch for n in piece.parts[0].notes][:3] == [67, 69, 71]


def test_bach_chorale_soprano_is_the_lead() -> None:
    from music21 import corpus

    from tunesmith.restyle.source import piece_from_music21

    piece = piece_from_music21(corpus.parse("bach/bwv66.6"))
    found = analyze(piece)
    assert found.lead_part == "Soprano"
    assert found.key.mode == "minor"
    assert len(found.chords) >= 16


def test_bad_inputs_are_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RestyleInputError, match="does not exist"):
        read_source(tmp_path / "missing.mid")
    (tmp_path / "x.doc").write_text("hello")
    with pytest.raises(RestyleInputError, match="restyle reads MIDI"):
        read_source(tmp_path / "x.doc")
    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    with pytest.raises(RestyleInputError, match="cannot read MIDI"):
        read_source(tmp_path / "bad.mid")
    drums_only = mido.MidiFile()
    drums_only.tracks.append(_track("d", [(0, mido.Message("note_on", channel=9, note=36)),
                                          (100, mido.Message("note_off", channel=9, note=36))]))
    drums_only.save(str(tmp_path / "drums.mid"))
    with pytest.raises(RestyleInputError, match="no pitched notes"):
        read_source(tmp_path / "drums.mid")
    monkeypatch.setattr(source_mod, "MAX_NOTES", 50)
    with pytest.raises(RestyleInputError, match="more than 50 notes"):
        read_source(_write_midi(tmp_path / "big.mid"))


@needs_soundfont
def test_cli_restyle_writes_a_song(song_mid: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tunesmith.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["restyle", str(song_mid), "--style", "rock", "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "song.json").read_text())
    assert info["style"] == "rock"
    assert info["input"]["restyle"]["lead_part"] == "Track 1"
    assert (out / "input" / "song.mid").is_file() and (out / "song.wav").is_file()
    bad = CliRunner().invoke(app, ["restyle", str(song_mid), "--harmony", "wild", "-o",
                                   str(tmp_path / "o2")])
    assert bad.exit_code == 2 and not (tmp_path / "o2").exists()


def test_audio_recording_is_restyled_with_its_melody_and_chords(tmp_path: Path) -> None:
    """The audio path (issue 7): a synthetic band recording (lead, block chords, bass) is read
    as beats, and restyling it with `--harmony keep` keeps its tune and its chords."""
    import soundfile as sf
    from test_listen_polyphonic import MELODY, SR, needs_engine, synth_band
    from test_listen_polyphonic import PROGRESSION as BAND_CHORDS

    from tunesmith.arrange import load_style

    if needs_engine.args[0]:
        pytest.skip(needs_engine.kwargs["reason"])
    audio, _ = synth_band()
    wav = tmp_path / "band.wav"
    sf.write(wav, audio, SR)
    piece = read_source(wav)
    assert piece.kind == "audio" and piece.beats_per_bar == 4
    assert piece.tempo_bpm == pytest.approx(96.0, rel=0.04)
    found = analyze(piece)
    assert found.lead_part == "melody" and found.key == C
    # the tune on the beat grid: (start beat, pitch) pairs, the first bar line at beat 0
    heard = {(round(n.start_beat * 2) / 2, n.pitch) for n in found.melody}
    truth = {(float(s), p) for s, _, p in MELODY}
    assert len(heard & truth) >= 0.85 * len(truth)
    assert len(found.melody) <= 1.2 * len(truth)
    # chords per beat against the band's one chord per bar
    right = sum(any(c.start_beat <= b + 0.5 < c.end_beat
                    and c.chord == ChordSymbol.parse(BAND_CHORDS[b // 4]) for c in found.chords)
                for b in range(4 * len(BAND_CHORDS)))
    assert right >= 0.75 * 4 * len(BAND_CHORDS)
    sheet = restyle_lead_sheet(piece, load_style("jazz-swing"), harmony="keep")
    scale = sheet.beat_scale
    mel = sheet.lead.track("melody").notes
    assert [(n.start_beat, n.pitch) for n in mel] == \
        [(n.start_beat * scale, n.pitch) for n in found.melody]
