"""A short audio preview of each style (the built-in demo tune, 12 s), made by idle workers so
that no request ever waits on rendering."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PREVIEW_S = 12.0


def preview_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "previews" / f"{name}.wav"


def missing_previews(data_dir: Path) -> list[str]:
    from tunesmith.arrange.style import style_names

    return [n for n in style_names() if not preview_path(data_dir, n).is_file()]


def make_preview(data_dir: Path, name: str) -> Path:
    import numpy as np
    import soundfile as sf

    from tunesmith import humsynth, pipeline
    from tunesmith.theory import Key

    request = pipeline.SongRequest(style=name, length_s=24.0, seed=1)
    song = pipeline.song_from_melody(humsynth.demo_melody_truth(), key=Key.parse("D"),
                                     tempo_bpm=humsynth.DEMO_TEMPO_BPM, request=request)
    sr = pipeline.SAMPLE_RATE
    audio = song.master[: int(PREVIEW_S * sr)].copy()
    fade = int(1.5 * sr)
    audio[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None] if audio.ndim == 2 else np.linspace(1, 0, fade)
    out = preview_path(data_dir, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=out.parent)
    os.close(fd)
    sf.write(tmp, audio, sr, subtype="PCM_16")
    os.replace(tmp, out)
    log.info("made the %s preview", name)
    return out
