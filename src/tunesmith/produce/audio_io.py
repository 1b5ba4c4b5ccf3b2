"""Reading stems and mixes from disk and writing results: the I/O edge of the produce stage.

Decoding is libsndfile's (soundfile): WAV, FLAC, OGG/Vorbis, MP3, AIFF at any sample rate.
Audio comes back float32, channels first: (channels, n).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.produce.automix import SourceStem
from tunesmith.produce.common import ProduceError

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc")
MAX_DURATION_S = 20 * 60.0
MAX_CHANNELS = 2


@dataclass
class StemFolder:
    stems: list[SourceStem]
    skipped: list[str] = field(default_factory=list)  # "name: why", one per file left out


def read_audio(path: Path, *, max_duration_s: float = MAX_DURATION_S) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 (channels, n) and its sample rate. Raises ProduceError
    with the file name for a missing, unreadable, empty, over-long or multichannel file."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise ProduceError(f"cannot find the audio file {path}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ProduceError(
            f"cannot read {path.name}: it is not a WAV, FLAC, OGG, MP3 or AIFF file"
        ) from exc
    if info.channels > MAX_CHANNELS:
        raise ProduceError(f"{path.name} has {info.channels} channels; export it as mono or stereo")
    if info.frames > max_duration_s * info.samplerate:
        raise ProduceError(
            f"{path.name} is {info.frames / info.samplerate / 60:.1f} minutes long; "
            f"the limit is {max_duration_s / 60:.0f}"
        )
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise ProduceError(f"cannot decode {path.name}: the file looks damaged ({exc})") from exc
    if audio.shape[0] == 0:
        raise ProduceError(f"{path.name} holds no audio")
    if not np.isfinite(audio).all():
        raise ProduceError(f"{path.name} holds invalid (NaN or infinite) samples")
    return np.ascontiguousarray(audio.T), int(rate)


def read_stem_folder(folder: Path) -> StemFolder:
    """Every audio file directly in `folder`, sorted by name. Files that are not audio (by
    their extension) are skipped and listed; hidden files are ignored."""
    folder = Path(folder)
    if not folder.exists():
        raise ProduceError(f"cannot find the stems folder {folder}")
    if not folder.is_dir():
        raise ProduceError(f"{folder} is not a folder: give the folder that holds the stems")
    stems, skipped = [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            skipped.append(f"{path.name}: a folder (only files directly in {folder.name} are read)")
            continue
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            skipped.append(f"{path.name}: not an audio file")
            continue
        audio, rate = read_audio(path)
        stems.append(SourceStem(name=path.stem, audio=audio, sample_rate=rate, path=path.name))
    if not stems:
        listed = f" ({len(skipped)} other files)" if skipped else ""
        raise ProduceError(
            f"there are no audio stems in {folder}{listed}: put WAV or FLAC stems there"
        )
    names = [s.name for s in stems]
    for name in set(names):
        if names.count(name) > 1:
            raise ProduceError(
                f"two stems are called {name!r} (e.g. {name}.wav and {name}.flac): rename one"
            )
    for reason in skipped:
        logger.info("skipped %s", reason)
    return StemFolder(stems=stems, skipped=skipped)


def write_audio(
    path: Path, audio: np.ndarray, *, sample_rate: int, subtype: str | None = None
) -> None:
    """Write (channels, n) float audio; the format follows the suffix (.wav: 24-bit PCM,
    .flac: 24-bit, others: libsndfile's default). The file appears whole or not at all."""
    import os
    import tempfile

    import soundfile as sf

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aif": "AIFF", ".aiff": "AIFF"}.get(
        path.suffix.lower()
    )
    if fmt is None:
        raise ProduceError(f"cannot write {path.name}: use a .wav or .flac file name")
    if subtype is None:
        subtype = "PCM_24" if fmt in ("WAV", "FLAC", "AIFF") else None
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ProduceError(f"cannot write {path}: the folder {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=parent)
    os.close(fd)
    try:
        sf.write(
            tmp, np.asarray(audio, dtype=np.float32).T, sample_rate, format=fmt, subtype=subtype
        )
        os.replace(tmp, path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ProduceError(f"cannot write {path}: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
