"""`hum --meter`: a hummed phrase in 3/4 or 6/8 gives a song in that meter, given or heard."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf
from conftest import needs_soundfont
from typer.testing import CliRunner

from tunesmith import humsynth
from tunesmith.cli import app
from tunesmith.score import SungNote

WALTZ = [[62, 66, 69], [71, 69, 66], [67, 69, 71], [69, 0, 0],
         [62, 66, 69], [74, 73, 71], [69, 66, 64], [62, 0, 0]]


def _waltz_hum(path: Path, bpm: float = 90.0) -> Path:
    spb = 60.0 / bpm
    notes, t = [], 0.5
    for pitches in WALTZ:
        for i, p in enumerate(pitches):
            if p:
                dur = 3 if i == 0 and pitches[1] == 0 else 1
                notes.append(SungNote(t + i * spb, t + (i + dur) * spb - 0.06, float(p)))
        t += 3 * spb
    sf.write(path, humsynth.synthesize_hum(notes, sample_rate=44100, seed=1), 44100)
    return path


def test_unknown_meter_is_refused_before_any_work(tmp_path: Path) -> None:
    hum = _waltz_hum(tmp_path / "w.wav")
    result = CliRunner().invoke(app, ["hum", str(hum), "--meter", "7/9", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not supported" in result.output
    assert not (tmp_path / "o").exists()


@needs_soundfont
def test_a_three_four_hum_makes_a_three_four_song(tmp_path: Path) -> None:
    hum = _waltz_hum(tmp_path / "w.wav")
    out = tmp_path / "song"
    result = CliRunner().invoke(app, ["hum", str(hum), "--meter", "3/4", "--length", "0:40",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "song.json").read_text())
    assert info["time_signature"] == "3/4"
    assert all(s["start_bar"] >= 1 for s in info["sections"])
    spb = 60.0 / info["tempo_bpm"]
    for s in info["sections"]:  # sections start on bar lines of three beats
        beats = s["start_s"] / spb
        assert abs(beats / 3 - round(beats / 3)) < 1e-3


@needs_soundfont
def test_a_waltz_hummed_without_meter_makes_a_three_four_song(tmp_path: Path) -> None:
    """No --meter: the meter is heard from the hum, used for the song and recorded."""
    hum = _waltz_hum(tmp_path / "w.wav", bpm=112.0)
    out = tmp_path / "song"
    result = CliRunner().invoke(app, ["hum", str(hum), "--length", "0:30", "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "song.json").read_text())
    assert info["time_signature"] == "3/4"
    assert info["input"]["meter"] == "3/4"
    assert info["input"]["meter_source"] == "detected"
    assert info["input"]["meter_confidence"] >= 0.5
    assert set(info["input"]["meter_probabilities"]) == {"4/4", "3/4", "6/8"}
    spb = 60.0 / info["tempo_bpm"]
    for s in info["sections"]:  # sections start on bar lines of three beats
        beats = s["start_s"] / spb
        assert abs(beats / 3 - round(beats / 3)) < 1e-3
