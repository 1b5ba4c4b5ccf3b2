"""render: Score -> one stereo stem per instrument track, by SoundFont synthesis.

Backends sit behind the small `Renderer` interface and a registry (DESIGN.md practice 7);
FluidSynth with the General MIDI SoundFont FluidR3_GM is the default.

Two ways in:
- `render(score)`: one song; with more than one worker it starts a `RenderPool` for the call
  (process start-up and SoundFont load paid by this song). Right for the CLI.
- `RenderPool`: worker processes that keep their SoundFont loaded across songs, for anything
  that makes many songs (the service worker, benches). `with RenderPool(workers=2) as pool:
  pool.render(score)`.
Either way a stem is rendered by a fresh synth, so it is the same whichever worker renders it
and whatever was rendered before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from tunesmith.render.base import (
    DEFAULT_SAMPLE_RATE,
    RELEASE_TAIL_S,
    SOUNDFONT_SEARCH_PATHS,
    RenderedStem,
    Renderer,
    RenderError,
    find_soundfont,
    song_length_samples,
    stems_from,
    tracks_to_render,
)
from tunesmith.render.fluid import FluidSynthRenderer
from tunesmith.render.pool import RenderPool, WorkerStats, default_workers
from tunesmith.score import Score

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SAMPLE_RATE", "RELEASE_TAIL_S", "RENDERERS", "SOUNDFONT_SEARCH_PATHS",
    "FluidSynthRenderer", "RenderError", "RenderPool", "RenderedStem", "Renderer", "WorkerStats",
    "find_soundfont", "render", "song_length_samples",
]

RENDERERS: dict[str, Callable[..., Renderer]] = {"fluidsynth": FluidSynthRenderer}


def render(score: Score, *, sample_rate: int = DEFAULT_SAMPLE_RATE, backend: str = "fluidsynth",
           soundfont: Path | None = None, workers: int | None = None,
           tracks: Sequence[str] | None = None) -> list[RenderedStem]:
    """Render every (or the named) track of `score` to a stereo stem of the same length.
    `workers=1` renders in this process; more share the tracks out over that many spawned
    processes (default: the number of CPUs, at most 4, at most one per track). To render many
    songs, keep a `RenderPool` instead: it loads the SoundFont once per process, not per song."""
    if backend not in RENDERERS:
        raise RenderError(f"unknown renderer '{backend}' (have: {', '.join(RENDERERS)})")
    chosen = tracks_to_render(score, tracks)
    n_workers = min(workers, len(chosen)) if workers else default_workers(len(chosen))
    if n_workers > 1:
        with RenderPool(n_workers, sample_rate=sample_rate, backend=backend, soundfont=soundfont,
                        ) as pool:
            return pool.render(score, tracks=tracks)
    renderer = RENDERERS[backend](soundfont, sample_rate=sample_rate)
    try:
        n = song_length_samples(score, sample_rate=sample_rate)
        audio = {i: renderer.render_track(score.tracks[i], score, sample_rate=sample_rate,
                                          n_samples=n) for i in chosen}
    finally:
        renderer.close()
    log.info("rendered %d stems (%.1f s)", len(chosen), score.duration_s)
    return stems_from(score, chosen, audio)
