"""The song folder: song.wav, stems/*.wav, song.mid, song.json, pianoroll.png.

Everything is written into a hidden staging folder beside OUT_DIR and moved into place only when
complete, so a failure never leaves something that looks like a finished song."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import OutputError
from tunesmith.publish.pianoroll import draw_pianoroll
from tunesmith.score import Score, write_score_midi

log = logging.getLogger(__name__)

BundleError = OutputError
SUBTYPE = "PCM_24"


def prepare_out_dir(out_dir: Path, *, overwrite: bool = False) -> Path:
    """Check early (before any long work) that OUT_DIR can be written. Returns it resolved."""
    out = out_dir.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out_dir} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"{out_dir} is not empty: choose a new folder or pass --overwrite")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to {parent}: permission denied")
    return out


@contextmanager
def staged_folder(target: Path, *, what: str, where: Path) -> Iterator[Path]:
    """Yield a hidden staging folder beside `target`; when the block completes, it replaces
    `target` whole (an older one is moved aside first); when it fails, it is removed and
    nothing that looks finished is left. OS errors become an OutputError naming `what`."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "previous")
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"could not write {what} to {where}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    sf.write(str(path), np.ascontiguousarray(audio.T), sample_rate, subtype=SUBTYPE)


def write_bundle(out_dir: Path, *, score: Score, master: np.ndarray,
                 stems: Mapping[str, np.ndarray], sample_rate: int, info: dict[str, Any],
                 extra_files: Mapping[str, bytes] | None = None, overwrite: bool = False) -> Path:
    """Write the song folder atomically. `master` and stems are float (2, n) arrays."""
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    with staged_folder(out, what="the song", where=out_dir) as staging:
        (staging / "stems").mkdir()
        _write_wav(staging / "song.wav", master, sample_rate)
        for name, audio in stems.items():
            _write_wav(staging / "stems" / f"{_safe(name)}.wav", audio, sample_rate)
        write_score_midi(score, staging / "song.mid")
        draw_pianoroll(score, staging / "pianoroll.png", title=info.get("title", ""))
        for rel, data in (extra_files or {}).items():
            target = staging / _safe_rel(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (staging / "song.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    log.info("wrote %s", out)
    return out


def _safe(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name).strip("_")
    return cleaned or "track"


def _safe_rel(rel: str) -> Path:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise OutputError(f"refusing to write outside the song folder: {rel}")
    return p
