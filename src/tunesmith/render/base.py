"""What every renderer shares: the stem type, the backend interface, SoundFont lookup, song
length and which tracks of a score get rendered."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Score, Track

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
    """A backend: renders one track at a time. `out`, when given, is a C-contiguous float32
    (2, n_samples) array the stem is written into (every sample of it) and returned."""

    def render_track(self, track: Track, score: Score, *, sample_rate: int, n_samples: int,
                     out: np.ndarray | None = None) -> np.ndarray: ...

    def close(self) -> None: ...


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


def song_length_samples(score: Score, *, sample_rate: int) -> int:
    return int(np.ceil((score.duration_s + RELEASE_TAIL_S) * sample_rate))


def tracks_to_render(score: Score, names: Sequence[str] | None = None) -> list[int]:
    """Indices of the tracks that have notes (and, if `names` is given, are named in it)."""
    chosen = [i for i, t in enumerate(score.tracks) if (names is None or t.name in names) and t.notes]
    if not chosen:
        raise RenderError("the score has no notes to render")
    return chosen


def stems_from(score: Score, chosen: Sequence[int], audio: dict[int, np.ndarray]
               ) -> list[RenderedStem]:
    return [RenderedStem(name=score.tracks[i].name, role=score.tracks[i].role, audio=audio[i],
                         pan=score.tracks[i].pan, instrument=score.tracks[i].instrument)
            for i in chosen]


def output_buffer(out: np.ndarray | None, n_samples: int) -> np.ndarray:
    """`out` checked for shape, type and layout, or a new (2, n_samples) float32 array."""
    if out is None:
        return np.empty((2, n_samples), dtype=np.float32)
    if out.shape != (2, n_samples) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise RenderError(f"the output buffer must be C-contiguous float32 (2, {n_samples}), "
                          f"not {out.dtype} {out.shape}")
    return out
