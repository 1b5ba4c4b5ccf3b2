"""A short audio preview of each style (the built-in demo tune, 12 s), made by idle workers so
that no request ever waits on rendering. Previews live in the store's `previews/` folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunesmith.service.storage import Folder

log = logging.getLogger(__name__)

PREVIEW_S = 12.0
FADE_S = 1.5


def preview_name(style: str) -> str:
    return f"{style}.wav"


def missing_previews(folder: Folder) -> list[str]:
    """Styles without a preview in `folder`."""
    from tunesmith.arrange.style import style_names

    return [n for n in style_names() if not folder.exists(preview_name(n))]


def make_preview(folder: Folder, style: str, *, scratch: Path) -> None:
    """Render the preview of `style` in the local folder `scratch`, then store it."""
    import numpy as np
    import soundfile as sf

    from tunesmith import humsynth, pipeline
    from tunesmith.theory import Key

    request = pipeline.SongRequest(style=style, length_s=24.0, seed=1)
    song = pipeline.song_from_melody(humsynth.demo_melody_truth(), key=Key.parse("D"),
                                     tempo_bpm=humsynth.DEMO_TEMPO_BPM, request=request)
    sr = pipeline.SAMPLE_RATE
    audio = np.atleast_2d(song.master)[:, : int(PREVIEW_S * sr)].copy()  # (channels, n)
    fade = np.linspace(1.0, 0.0, min(int(FADE_S * sr), audio.shape[1]))
    audio[:, audio.shape[1] - len(fade):] *= fade
    local = scratch / preview_name(style)
    sf.write(local, audio.T, sr, subtype="PCM_16")
    folder.put_file(preview_name(style), local)
    log.info("made the %s preview", style)
