"""render: Score -> one stereo stem per instrument track, by SoundFont synthesis.

Backends sit behind the small `Renderer` interface and a registry (DESIGN.md practice 7);
FluidSynth with the General MIDI SoundFont FluidR3_GM is the default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Score, Track

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100
RELEASE_TAIL_S = 2.0
SOUNDFONT_SEARCH_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)


class RenderError(TunesmithError):
    """The synthesiser or its SoundFont is missing or failed."""


@dataclass(frozen=True, slots=True)
class RenderedStem:
    """One rendered track: audio is float32 (2, n_samples)."""

    name: str
    role: str
    audio: np.ndarray
    pan: float
    instrument: str


class Renderer(Protocol):
    def render_track(self, track: Track, score: Score, *, sample_rate: int,
                     n_samples: int) -> np.ndarray: ...


def find_soundfont() -> Path:
    """The SoundFont to use: $TUNESMITH_SOUNDFONT, else the first GM SoundFont installed."""
    env = os.environ.get("TUNESMITH_SOUNDFONT")
    candidates = [env] if env else list(SOUNDFONT_SEARCH_PATHS)
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise RenderError(
        "no General MIDI SoundFont found: install Debian's fluid-soundfont-gm "
        "(apt-get install fluid-soundfont-gm) or set TUNESMITH_SOUNDFONT")


class FluidSynthRenderer:
    """Renders tracks with FluidSynth into float buffers (no 16-bit clipping)."""

    def __init__(self, soundfont: Path | None = None, *, sample_rate: int = DEFAULT_SAMPLE_RATE):
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:  # pyfluidsynth raises ImportError if lib is missing
            raise RenderError(
                "FluidSynth is not installed: apt-get install fluidsynth, pip install pyfluidsynth"
            ) from exc
        self._fl = fluidsynth
        self.sample_rate = sample_rate
        self.soundfont = soundfont or find_soundfont()
        self._synth = fluidsynth.Synth(gain=0.6, samplerate=float(sample_rate))
        for opt, val in (("synth.reverb.active", 0), ("synth.chorus.active", 0),
                         ("synth.polyphony", 256), ("synth.cpu-cores", 1)):
            self._synth.setting(opt, val)
        # Settings only apply to a synth created after them: rebuild with them in place.
        self._synth.synth = fluidsynth.new_fluid_synth(self._synth.settings)
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise RenderError(f"FluidSynth could not load the SoundFont {self.soundfont}")
        import ctypes

        self._write_float = self._fl._fl.fluid_synth_write_float
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._write_float.restype = ctypes.c_int
        self._written = 0

    def close(self) -> None:
        self._synth.delete()

    def _write(self, out: np.ndarray, start: int, end: int) -> None:
        if end <= start:
            return
        left = out[0].ctypes.data
        right = out[1].ctypes.data
        self._write_float(self._synth.synth, end - start, left, start, 1, right, start, 1)
        self._written += end - start

    def render_track(self, track: Track, score: Score, *, sample_rate: int,
                     n_samples: int) -> np.ndarray:
        if sample_rate != self.sample_rate:
            raise RenderError("renderer sample rate does not match the request")
        synth = self._synth
        # Silence every voice of the previous track (release tails would leak into this stem),
        # reset controllers, and flush one block so this stem starts from a clean synth.
        for c in range(16):
            synth.all_sounds_off(c)
        synth.system_reset()
        # FluidSynth applies events at its 64-sample block boundaries: realign the block clock so
        # a stem is identical whatever was rendered before it (serial or parallel).
        flush = 4096 + (-self._written) % 64
        scratch = np.zeros((2, flush), dtype=np.float32)
        self._write(scratch, 0, flush)
        ch = 9 if track.is_drum else 0
        bank = 128 if track.is_drum else 0
        if synth.program_select(ch, self._sfid, bank, track.program) != 0 and track.is_drum:
            synth.program_select(ch, self._sfid, bank, 0)  # kit missing: standard kit
        synth.cc(ch, 7, 100)
        synth.cc(ch, 10, 64)  # pan is applied in the mix, stems are rendered centred
        spb = score.seconds_per_beat * sample_rate
        events: list[tuple[int, int, int, int]] = []  # (sample, order, pitch, velocity)
        for n in track.notes:
            on = int(round(n.start_beat * spb))
            off = int(round(n.end_beat * spb))
            if on < 0 or on >= n_samples:
                continue
            off = max(on + 32, min(off, n_samples - 1))
            vel = max(1, min(127, int(n.velocity)))
            events.append((on, 1, n.pitch, vel))
            events.append((off, 0, n.pitch, 0))
        events.sort()
        out = np.zeros((2, n_samples), dtype=np.float32)
        now = 0
        for t, _order, pitch, vel in events:
            self._write(out, now, t)
            now = max(now, t)
            if vel:
                synth.noteon(ch, pitch, vel)
            else:
                synth.noteoff(ch, pitch)
        self._write(out, now, n_samples)
        return out


RENDERERS: dict[str, Callable[..., Renderer]] = {"fluidsynth": FluidSynthRenderer}


def song_length_samples(score: Score, *, sample_rate: int) -> int:
    return int(np.ceil((score.duration_s + RELEASE_TAIL_S) * sample_rate))


def _render_tracks_worker(args: tuple[str, str | None, Score, list[int], int]) -> list[np.ndarray]:
    backend, soundfont, score, indices, sample_rate = args
    renderer = RENDERERS[backend](Path(soundfont) if soundfont else None, sample_rate=sample_rate)
    n = song_length_samples(score, sample_rate=sample_rate)
    try:
        return [renderer.render_track(score.tracks[i], score, sample_rate=sample_rate, n_samples=n)
                for i in indices]
    finally:
        close = getattr(renderer, "close", None)
        if close:
            close()


def render(score: Score, *, sample_rate: int = DEFAULT_SAMPLE_RATE, backend: str = "fluidsynth",
           soundfont: Path | None = None, workers: int | None = None,
           tracks: Sequence[str] | None = None) -> list[RenderedStem]:
    """Render every (or the named) track of `score` to a stereo stem of the same length.
    Tracks are shared out over `workers` processes (default: the number of CPUs, at most 4)."""
    if backend not in RENDERERS:
        raise RenderError(f"unknown renderer '{backend}' (have: {', '.join(RENDERERS)})")
    chosen = [i for i, t in enumerate(score.tracks) if (tracks is None or t.name in tracks) and t.notes]
    if not chosen:
        raise RenderError("the score has no notes to render")
    sf = str(soundfont) if soundfont else str(find_soundfont()) if backend == "fluidsynth" else None
    n_workers = max(1, min(workers or min(os.cpu_count() or 1, 4), len(chosen)))
    # Balance by note count: heavy tracks (drums) spread across workers.
    order = sorted(chosen, key=lambda i: -len(score.tracks[i].notes))
    buckets: list[list[int]] = [[] for _ in range(n_workers)]
    loads = [0] * n_workers
    for i in order:
        k = loads.index(min(loads))
        buckets[k].append(i)
        loads[k] += len(score.tracks[i].notes) + 200
    jobs = [(backend, sf, score, b, sample_rate) for b in buckets if b]
    if n_workers == 1:
        results = [_render_tracks_worker(jobs[0])]
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # FluidSynth holds threads and locks: never fork after it was used, spawn fresh workers.
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(jobs), mp_context=ctx) as pool:
            results = list(pool.map(_render_tracks_worker, jobs))
    audio_by_index: dict[int, np.ndarray] = {}
    for bucket, audios in zip([b for b in buckets if b], results, strict=True):
        audio_by_index.update(zip(bucket, audios, strict=True))
    stems = []
    for i in chosen:
        t = score.tracks[i]
        stems.append(RenderedStem(name=t.name, role=t.role, audio=audio_by_index[i], pan=t.pan,
                                  instrument=t.instrument))
    log.info("rendered %d stems (%.1f s)", len(stems), score.duration_s)
    return stems
