"""A text prompt becomes a song: lead sheets and arrangements from briefs (no audio), and one
short `tunesmith create` end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import needs_soundfont
from typer.testing import CliRunner

from tunesmith.arrange import arrange
from tunesmith.brief import BriefReader
from tunesmith.brief.song import BriefSong, lead_sheet_from_brief
from tunesmith.cli import app
from tunesmith.score import Score

runner = CliRunner()
SHORT_S = 30.0


@pytest.fixture(scope="module")
def reader() -> BriefReader:
    return BriefReader()


def _song(reader: BriefReader, prompt: str, seed: int = 0) -> tuple[BriefSong, Score]:
    plan = lead_sheet_from_brief(reader.understand(prompt), length_s=SHORT_S, seed=seed)
    return plan, plan.finish(arrange(plan.lead, plan.style, seed=seed))


def _minor_share(score: Score) -> float:
    """Share of the song's beats under a minor (or diminished) chord."""
    total = sum(c.duration_beats for c in score.chords)
    dark = sum(c.duration_beats for c in score.chords if c.chord.triad_quality in ("min", "dim"))
    return dark / total


def test_slow_sad_song_is_slower_and_darker_than_upbeat_happy(reader):
    sad_plan, sad = _song(reader, "slow sad")
    happy_plan, happy = _song(reader, "upbeat happy")
    assert sad.tempo_bpm < happy.tempo_bpm - 20
    assert sad.key.mode == "minor" and happy.key.mode == "major"
    assert _minor_share(sad) > _minor_share(happy) + 0.2
    # The hook is the chorus: every chorus of the lead sheet sings it (in any octave).
    hook = [(n.start_beat, n.pitch % 12) for n in sad_plan.hook.notes][:-1]
    lead = sad_plan.lead
    choruses = [s for s in lead.sections if s.kind == "chorus"]
    assert choruses
    for sec in choruses:
        sung = [(n.start_beat - sec.start_beat, n.pitch % 12) for n in lead.track("melody").notes
                if sec.start_beat <= n.start_beat < sec.end_beat]
        assert sung[: len(hook)] == hook
    # Calmer song, fewer notes per beat in the hook.
    def per_beat(p: BriefSong) -> float:
        return len(p.hook.notes) / (p.hook.bars * p.lead.beats_per_bar)
    assert per_beat(sad_plan) < per_beat(happy_plan)


def test_no_drums_gives_no_drum_track(reader):
    _, score = _song(reader, "an upbeat pop song with no drums")
    assert score.tracks and not any(t.is_drum for t in score.tracks)
    _, with_drums = _song(reader, "an upbeat pop song")
    assert any(t.is_drum for t in with_drums.tracks)


def test_solo_piano_gives_one_piano_track(reader):
    _, score = _song(reader, "solo piano, gentle")
    assert len(score.tracks) == 1
    piano = score.tracks[0]
    assert piano.name == "piano" and 0 <= piano.program <= 7 and not piano.is_drum
    pitches = [n.pitch for n in piano.notes]
    assert min(pitches) < 55 < max(pitches)  # accompaniment and tune in one part


def test_explicit_tempo_key_and_meter_reach_the_lead_sheet(reader):
    plan, score = _song(reader, "a gentle folk song in E minor at 96 bpm, in 3/4")
    assert score.tempo_bpm == 96 and score.key.name == "E minor" and score.beats_per_bar == 3
    assert plan.info["brief"]["key_source"] == "prompt"


def test_same_prompt_and_seed_same_song(reader):
    a, _ = _song(reader, "bossa nova by the sea", seed=3)
    b, _ = _song(reader, "bossa nova by the sea", seed=3)
    assert a.lead.track("melody").notes == b.lead.track("melody").notes
    assert a.lead.chords == b.lead.chords


@needs_soundfont
def test_create_end_to_end(tmp_path: Path):
    out = tmp_path / "song"
    result = runner.invoke(app, ["create", "solo piano, rainy night, missing someone",
                                 "--length", "0:25", "--seed", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("song.wav", "song.mid", "song.json", "input/prompt.txt", "input/brief.json"):
        assert (out / name).is_file(), name
    stems = sorted(p.name for p in (out / "stems").glob("*.wav"))
    assert stems == ["piano.wav"]
    info = json.loads((out / "song.json").read_text())
    assert info["input"]["brief"]["solo"] == "piano"
    assert info["input"]["brief"]["mood"]["valence"] < 0
    assert info["key"].endswith("minor")


def test_create_refuses_an_empty_prompt(tmp_path: Path):
    result = runner.invoke(app, ["create", "  ", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "empty" in result.output
    assert not (tmp_path / "x").exists()


def test_brief_command_prints_json():
    result = runner.invoke(app, ["brief", "upbeat funk with horns, 110 bpm", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tempo_bpm"] == 110 and data["tempo_source"] == "prompt"
    assert "brass" in data["instruments_wanted"]
