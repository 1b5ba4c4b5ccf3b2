import numpy as np
from conftest import needs_soundfont

from tunesmith.render import render
from tunesmith.score import Note, Score, Track
from tunesmith.theory import Key

pytestmark = needs_soundfont


def _score() -> Score:
    return Score(tempo_bpm=120, key=Key(0), tracks=[
        Track("bass", 33, notes=[Note(b, 1, 36 + (b % 4) * 2, 100) for b in range(8)]),
        Track("drums", 0, is_drum=True, notes=[Note(b / 2, 0.25, 42, 90) for b in range(16)]),
        Track("melody", 73, notes=[Note(2, 2, 69, 100)]),
    ])


def test_one_stereo_stem_per_track_at_44k():
    stems = render(_score(), sample_rate=44100, workers=1)
    assert [s.name for s in stems] == ["bass", "drums", "melody"]
    n = stems[0].audio.shape[1]
    for s in stems:
        assert s.audio.shape == (2, n) and s.audio.dtype == np.float32
        assert np.isfinite(s.audio).all()
        assert np.abs(s.audio).max() > 0.01
    assert abs(n / 44100 - (4.0 + 2.0)) < 0.05  # 8 beats at 120 bpm + release tail


def test_notes_sound_where_they_are():
    mel = render(_score(), sample_rate=44100, workers=1, tracks=["melody"])[0].audio
    sr = 44100
    before = np.sqrt(np.mean(mel[:, : int(0.9 * sr)] ** 2))
    during = np.sqrt(np.mean(mel[:, int(1.1 * sr): int(1.9 * sr)] ** 2))
    assert during > 30 * max(before, 1e-6)
    # pitch: the flute plays A4 = 440 Hz
    seg = mel[0, int(1.2 * sr): int(1.8 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    f0 = np.fft.rfftfreq(len(seg), 1 / sr)[np.argmax(spec)]
    assert abs(f0 - 440) < 8


def test_parallel_render_matches_serial():
    a = render(_score(), sample_rate=44100, workers=1)
    b = render(_score(), sample_rate=44100, workers=2)
    for x, y in zip(a, b, strict=True):
        assert np.abs(x.audio - y.audio).max() < 1e-3  # -60 dBFS: same notes, same timing
