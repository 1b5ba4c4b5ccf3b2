"""Reading a recording from disk: any of WAV/FLAC/MP3/OGG, any rate, mono or stereo."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NoReturn

import numpy as np

from tunesmith.errors import InputAudioError

log = logging.getLogger(__name__)

MAX_INPUT_DURATION_S = 600.0
"""Longest recording `load_audio` accepts (10 minutes): a hummed idea, not an album."""


def load_audio(path: Path, *, max_duration_s: float = MAX_INPUT_DURATION_S) -> tuple[np.ndarray, int]:
    """Read an audio file as a mono float32 signal and its sample rate.

    The length is checked from the file header before anything is decoded. Raises
    `InputAudioError` for a missing, unreadable, empty or too long file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InputAudioError(f"cannot find the recording {path}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InputAudioError(
            f"cannot read {path.name}: it is not a WAV, FLAC, MP3 or OGG recording ({exc})"
        ) from exc
    sample_rate = int(info.samplerate)
    # Some MP3/OGG headers do not state a length (frames == 0 or unknown): decode in blocks.
    if info.frames > 0 and info.frames / sample_rate > max_duration_s:
        raise InputAudioError(
            f"{path.name} is {_minutes(info.frames / sample_rate)} long; the limit is "
            f"{_minutes(max_duration_s)}: trim it to the melody you want to use"
        )
    try:
        audio = _read_limited(path, sample_rate=sample_rate, max_duration_s=max_duration_s)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise InputAudioError(f"cannot decode {path.name}: the file looks damaged ({exc})") from exc
    if audio.size == 0:
        raise InputAudioError(f"{path.name} holds no audio")
    if not np.all(np.isfinite(audio)):
        raise InputAudioError(f"cannot decode {path.name}: the file looks damaged (invalid samples)")
    log.debug("loaded %s: %.2f s at %d Hz", path.name, audio.size / sample_rate, sample_rate)
    return audio, sample_rate


def _read_limited(path: Path, *, sample_rate: int, max_duration_s: float) -> np.ndarray:
    """Decode block by block, stopping with an error as soon as the limit is passed."""
    import soundfile as sf

    limit = int(max_duration_s * sample_rate)
    blocks: list[np.ndarray] = []
    total = 0
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
            blocks.append(block.mean(axis=1, dtype=np.float32))
            total += block.shape[0]
            if total > limit:
                _raise_too_long(path, max_duration_s)
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)


def _raise_too_long(path: Path, max_duration_s: float) -> NoReturn:
    raise InputAudioError(
        f"{path.name} is longer than {_minutes(max_duration_s)}: trim it to the melody you want to use"
    )


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if s else f"{m} min"
