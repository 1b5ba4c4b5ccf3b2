import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_soundfont

from tunesmith.render import FluidSynthRenderer, RenderError, RenderPool, render
from tunesmith.render.fluid import MIN_NOTE_SAMPLES, note_events
from tunesmith.score import Note, Score, Track
from tunesmith.theory import Key

SR = 44100


def _score() -> Score:
    return Score(tempo_bpm=120, key=Key(0), tracks=[
        Track("bass", 33, notes=[Note(b, 1, 36 + (b % 4) * 2, 100) for b in range(8)]),
        Track("drums", 0, is_drum=True, notes=[Note(b / 2, 0.25, 42, 90) for b in range(16)]),
        Track("melody", 73, notes=[Note(2, 2, 69, 100)]),
    ])


def _songs() -> list[Score]:
    """Three different little songs (tempo, instruments, lengths)."""
    rng = np.random.default_rng(7)
    songs = []
    for k, (tempo, lead) in enumerate(((96, 80), (132, 25), (70, 48))):
        lead_notes = [Note(b * 0.5, float(rng.choice([0.5, 0.75, 1.5])), int(rng.integers(60, 80)),
                           int(rng.integers(60, 120))) for b in range(12 + 4 * k)]
        songs.append(Score(tempo_bpm=tempo, key=Key(k), tracks=[
            Track("pad", 89, notes=[Note(b * 2, 3, 48 + (b * 5) % 12, 80) for b in range(4 + k)]),
            Track("lead", lead, notes=lead_notes),
            Track("drums", 0, is_drum=True,
                  notes=[Note(b / 2, 0.25, 36 if b % 4 == 0 else 42, 100) for b in range(16)]),
        ]))
    return songs


def _audio(stems) -> dict[str, np.ndarray]:
    return {s.name: s.audio for s in stems}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    """Until `pid` is no longer running (a reaped or zombie child counts as gone)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] in ("Z", "X"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still running")


def test_note_events_order_and_limits():
    track = Track("t", 0, notes=[Note(1, 1, 60, 100), Note(0, 1, 62, 300), Note(2, 0.0001, 64, 0),
                                 Note(-1, 1, 65, 90), Note(50, 1, 67, 90)])
    times, pitches, vels = note_events(track, seconds_per_beat=0.5, sample_rate=100,
                                       n_samples=1000)
    # the note ending at sample 50 is released before the next one starts there
    assert list(zip(times, pitches, vels, strict=True))[:3] == [(0, 62, 127), (50, 62, 0),
                                                                 (50, 60, 100)]
    assert (100, 64, 1) in zip(times, pitches, vels, strict=True)  # velocity at least 1
    assert (100 + MIN_NOTE_SAMPLES, 64, 0) in zip(times, pitches, vels, strict=True)
    assert 65 not in pitches and 67 not in pitches  # before the start, after the end
    assert times == sorted(times)


@needs_soundfont
def test_one_stereo_stem_per_track_at_44k():
    stems = render(_score(), sample_rate=SR, workers=1)
    assert [s.name for s in stems] == ["bass", "drums", "melody"]
    n = stems[0].audio.shape[1]
    for s in stems:
        assert s.audio.shape == (2, n) and s.audio.dtype == np.float32
        assert np.isfinite(s.audio).all()
        assert np.abs(s.audio).max() > 0.01
    assert abs(n / SR - (4.0 + 2.0)) < 0.05  # 8 beats at 120 bpm + release tail


@needs_soundfont
def test_notes_sound_where_they_are():
    mel = render(_score(), sample_rate=SR, workers=1, tracks=["melody"])[0].audio
    before = np.sqrt(np.mean(mel[:, : int(0.9 * SR)] ** 2))
    during = np.sqrt(np.mean(mel[:, int(1.1 * SR): int(1.9 * SR)] ** 2))
    assert during > 30 * max(before, 1e-6)
    # pitch: the flute plays A4 = 440 Hz
    seg = mel[0, int(1.2 * SR): int(1.8 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    f0 = np.fft.rfftfreq(len(seg), 1 / SR)[np.argmax(spec)]
    assert abs(f0 - 440) < 8


@needs_soundfont
def test_every_sample_of_a_given_buffer_is_written():
    score = _score()
    renderer = FluidSynthRenderer(sample_rate=SR)
    try:
        n = 6 * SR
        out = np.full((2, n), np.nan, dtype=np.float32)
        got = renderer.render_track(score.tracks[0], score, sample_rate=SR, n_samples=n, out=out)
        assert got is out and np.isfinite(out).all()
        with pytest.raises(RenderError, match="float32"):
            renderer.render_track(score.tracks[0], score, sample_rate=SR, n_samples=n,
                                  out=np.zeros((2, n)))
    finally:
        renderer.close()


@needs_soundfont
def test_a_stem_does_not_depend_on_what_was_rendered_before():
    score = _songs()[0]
    n = 5 * SR
    alone = FluidSynthRenderer(sample_rate=SR)
    after = FluidSynthRenderer(sample_rate=SR)
    try:
        lead_alone = alone.render_track(score.tracks[1], score, sample_rate=SR, n_samples=n)
        after.render_track(score.tracks[0], score, sample_rate=SR, n_samples=n)  # pad first
        after.render_track(score.tracks[2], score, sample_rate=SR, n_samples=n)  # then drums
        lead_after = after.render_track(score.tracks[1], score, sample_rate=SR, n_samples=n)
    finally:
        alone.close()
        after.close()
    np.testing.assert_array_equal(lead_alone, lead_after)


@needs_soundfont
def test_parallel_render_matches_serial():
    _assert_same(_audio(render(_score(), sample_rate=SR, workers=1)),
                 _audio(render(_score(), sample_rate=SR, workers=2)))


@needs_soundfont
def test_pool_renders_what_one_shot_renders_and_loads_the_soundfont_once():
    songs = _songs()
    expected = [_audio(render(s, sample_rate=SR, workers=1)) for s in songs]
    with RenderPool(2, sample_rate=SR) as pool:
        first = pool.stats()
        for song, want in zip(songs, expected, strict=True):
            _assert_same(_audio(pool.render(song)), want)
        _assert_same(_audio(pool.render(songs[0], tracks=["drums"])), {"drums": expected[0]["drums"]})
        last = pool.stats()
    assert [w.pid for w in last] == [w.pid for w in first]  # the same processes all along
    assert all(w.soundfont_loads == 1 for w in last)
    assert sum(w.stems for w in last) == 3 * 3 + 1
    assert all(w.songs >= 3 for w in last)  # both workers worked on every 3-track song


@needs_soundfont
def test_a_dead_worker_is_replaced_and_its_stem_rendered_again():
    song = _songs()[1]
    want = _audio(render(song, sample_rate=SR, workers=1))
    with RenderPool(2, sample_rate=SR) as pool:
        pids = [w.pid for w in pool.stats()]
        os.kill(pids[0], signal.SIGKILL)
        _wait_gone(pids[0])
        _assert_same(_audio(pool.render(song)), want)
        after = pool.stats()
    assert pids[0] not in [w.pid for w in after] and pids[1] in [w.pid for w in after]
    assert all(w.soundfont_loads == 1 for w in after)


@needs_soundfont
def test_a_dead_worker_gives_a_clear_error_without_retries():
    song = _songs()[2]
    with RenderPool(1, sample_rate=SR, retries=0) as pool:
        pid = pool.stats()[0].pid
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        with pytest.raises(RenderError, match="killed by SIGKILL with the track"):
            pool.render(song)
        assert len(pool.render(song)) == 3  # replaced: the pool still works
        assert pool.stats()[0].pid != pid


class _InterruptedError(Exception):
    pass


@needs_soundfont
def test_a_song_interrupted_halfway_leaves_the_pool_in_step(monkeypatch: pytest.MonkeyPatch):
    songs = _songs()
    want = _audio(render(songs[1], sample_rate=SR, workers=1))
    with RenderPool(2, sample_rate=SR) as pool:
        def interrupt(*args: object) -> None:
            raise _InterruptedError

        monkeypatch.setattr(pool, "_learn", interrupt)  # fails once the first stem is back
        with pytest.raises(_InterruptedError):
            pool.render(songs[0])
        monkeypatch.undo()
        # the other worker was mid-stem: its late answer must not end up in this song
        _assert_same(_audio(pool.render(songs[1])), want)


@needs_soundfont
def test_pool_closes_cleanly():
    pool = RenderPool(2, sample_rate=SR)
    pool.render(_score())
    pids = [w.pid for w in pool.stats()]
    procs = [w.proc for w in pool._workers]
    pool.close()
    pool.close()  # twice is fine
    assert all(p.exitcode == 0 for p in procs)  # they stopped on request, not killed
    for pid in pids:
        _wait_gone(pid, timeout_s=1.0)
    with pytest.raises(RenderError, match="closed"):
        pool.render(_score())


@needs_soundfont
def test_a_broken_soundfont_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00sfbk" + bytes(64))
    with pytest.raises(RenderError, match="could not load the SoundFont"):
        FluidSynthRenderer(bad, sample_rate=SR)
    with RenderPool(1, sample_rate=SR, soundfont=bad) as pool:
        for _ in range(2):  # the same message every time, the pool does not hang
            with pytest.raises(RenderError, match="could not load the SoundFont"):
                pool.render(_score())


def test_pool_rejects_nonsense():
    with pytest.raises(RenderError, match="unknown renderer"):
        RenderPool(1, backend="nope")
    with pytest.raises(RenderError, match="at least one worker"):
        RenderPool(0)
