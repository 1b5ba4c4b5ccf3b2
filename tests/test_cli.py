"""End to end through the command line, on synthesised hums."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from conftest import HAVE_SOUNDFONT
from conftest import needs_soundfont as needs_sf
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.humsynth import synthesize_hum
from tunesmith.score import SungNote

runner = CliRunner()
SR = 44100

# A 4-bar phrase in G major at 100 bpm, with a pickup: (beat, beats, midi)
PHRASE = [(-1, 0.5, 62), (-0.5, 0.5, 64), (0, 1, 67), (1, 1, 67), (2, 1.5, 71), (3.5, 0.5, 69),
          (4, 1, 67), (5, 1, 64), (6, 2, 62), (8, 1, 64), (9, 1, 67), (10, 1, 69), (11, 1, 71),
          (12, 1.5, 72), (13.5, 0.5, 71), (14, 2, 67)]


def _hum(path: Path, *, tempo: float = 100.0, offset_s: float = 0.8) -> Path:
    spb = 60 / tempo
    notes = [SungNote(offset_s + (b + 1) * spb, offset_s + (b + 1 + d) * spb - 0.06, float(p - 12))
             for b, d, p in PHRASE]
    audio = synthesize_hum(notes, sample_rate=SR, seed=5)
    sf.write(path, audio, SR)
    return path


@pytest.fixture(scope="module")
def hum_file(tmp_path_factory) -> Path:
    return _hum(tmp_path_factory.mktemp("hum") / "hum.wav")


@pytest.fixture(scope="module")
def song_dir(tmp_path_factory, hum_file) -> Path:
    if not HAVE_SOUNDFONT:
        pytest.skip("no SoundFont")
    out = tmp_path_factory.mktemp("songs") / "song"
    res = runner.invoke(app, ["hum", str(hum_file), "--style", "rock", "--length", "0:45",
                              "--seed", "3", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


@needs_sf
def test_song_folder_is_complete(song_dir):
    for name in ("song.wav", "song.mid", "song.json", "pianoroll.png"):
        assert (song_dir / name).is_file(), name
    info = json.loads((song_dir / "song.json").read_text())
    stems = sorted(p.stem for p in (song_dir / "stems").glob("*.wav"))
    assert stems == sorted(t["name"] for t in info["tracks"])
    assert {"melody", "bass", "drums"} <= set(stems)
    assert info["style"] == "rock" and info["seed"] == 3
    assert info["key"] == "G major"
    assert 104 <= info["tempo_bpm"] <= 152
    kinds = [s["kind"] for s in info["sections"]]
    assert kinds[0] == "intro" and kinds[-1] == "outro" and "chorus" in kinds
    assert all(b["chords"] for b in info["chords_per_bar"])
    assert info["tunesmith_version"]
    assert (song_dir / "pianoroll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (song_dir / "input" / "hum.wav").is_file()  # the take it was made from
    assert not list(song_dir.parent.glob(".song.partial-*"))


@needs_sf
def test_master_meets_loudness_target(song_dir):
    import pyloudnorm
    from scipy.signal import resample_poly

    audio, sr = sf.read(song_dir / "song.wav")
    assert sr == 44100 and audio.shape[1] == 2
    lufs = pyloudnorm.Meter(sr).integrated_loudness(audio)
    assert abs(lufs - (-14.0)) <= 0.5
    tp = 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
    assert tp <= -1.0
    info = json.loads((song_dir / "song.json").read_text())
    assert abs(info["master"]["integrated_lufs"] - lufs) < 0.2


@needs_sf
def test_midi_has_named_tracks(song_dir):
    mf = mido.MidiFile(str(song_dir / "song.mid"))
    names = {next((m.name for m in t if m.type == "track_name"), "") for t in mf.tracks}
    assert {"melody", "bass", "drums", "chords"} <= names


@needs_sf
def test_same_input_and_seed_give_identical_midi(tmp_path, hum_file, song_dir):
    out = tmp_path / "again"
    res = runner.invoke(app, ["hum", str(hum_file), "--style", "rock", "--length", "0:45",
                              "--seed", "3", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "song.mid").read_bytes() == (song_dir / "song.mid").read_bytes()


def _assert_clean_failure(res, tmp_path: Path, out: Path, pattern: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert pattern in res.output.lower()
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(tmp_path / "nope.wav"), "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "cannot find")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 10)
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(bad), "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "")


def test_silence(tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(SR * 3), SR)
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(quiet), "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "silent")


def test_noise_without_melody(tmp_path):
    noisy = tmp_path / "noise.wav"
    sf.write(noisy, np.random.default_rng(0).normal(0, 0.2, SR * 4), SR)
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(noisy), "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "no sung or hummed notes")


def test_too_long_audio(tmp_path, monkeypatch):
    from tunesmith import listen

    monkeypatch.setattr(listen, "MAX_INPUT_DURATION_S", 2.0, raising=False)
    long_file = tmp_path / "long.flac"
    sf.write(long_file, np.zeros(SR * 3), SR)
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(long_file), "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "long")


def test_unknown_style(tmp_path, hum_file):
    out = tmp_path / "out"
    res = runner.invoke(app, ["hum", str(hum_file), "--style", "polka", "-o", str(out)])
    _assert_clean_failure(res, tmp_path, out, "unknown style")


def test_unwritable_out_dir(tmp_path, hum_file):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    out = blocker / "song"
    res = runner.invoke(app, ["hum", str(hum_file), "-o", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_existing_folder_is_never_clobbered(tmp_path, hum_file):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    res = runner.invoke(app, ["hum", str(hum_file), "-o", str(out)])
    assert res.exit_code == 2 and "not empty" in res.output
    assert (out / "precious.txt").read_text() == "keep me"


def test_bad_options_are_one_line(tmp_path, hum_file):
    for args, word in ((["--key", "H#"], "note name"), (["--length", "long"], "length"),
                       (["--tempo", "900"], "tempo")):
        res = runner.invoke(app, ["hum", str(hum_file), "-o", str(tmp_path / "o"), *args])
        assert res.exit_code == 2 and word in res.output, res.output


@needs_sf
def test_transcribe_writes_timed_notes(tmp_path, hum_file):
    out = tmp_path / "melody.mid"
    res = runner.invoke(app, ["transcribe", str(hum_file), "-o", str(out)])
    assert res.exit_code == 0, res.output
    mf = mido.MidiFile(str(out))
    t, onsets = 0.0, []
    for msg in mf:
        t += msg.time
        if msg.type == "note_on" and msg.velocity:
            onsets.append(t)
    spb = 60 / 100
    expected = [0.8 + (b + 1) * spb for b, _, _ in PHRASE]
    assert len(onsets) == len(expected)
    assert max(abs(a - b) for a, b in zip(onsets, expected, strict=True)) < 0.06


def test_styles_lists_four_with_descriptions():
    res = runner.invoke(app, ["styles"])
    assert res.exit_code == 0
    for name in ("pop-ballad", "rock", "jazz-swing", "lofi-hip-hop"):
        assert name in res.output


@needs_sf
def test_demo_makes_a_full_length_song(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads((out / "song.json").read_text())
    assert 120 <= info["duration_s"] <= 180
    assert (out / "input" / "hum.wav").is_file()
    # running the demo again replaces the earlier demo song
    res = runner.invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 0, res.output
