"""What a job does: the same pipeline functions as the CLI, writing one local version folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.errors import TunesmithError

if TYPE_CHECKING:
    from tunesmith.render import RenderPool

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
JOB_KINDS = ("hum", "create", "restyle")


def song_request(params: dict[str, Any]) -> Any:
    from tunesmith.config import DEFAULT_SEED, DEFAULT_STYLE
    from tunesmith.pipeline import SongRequest
    from tunesmith.theory import Key

    key = params.get("key")
    return SongRequest(style=params.get("style") or DEFAULT_STYLE,
                       tempo_bpm=params.get("tempo_bpm"),
                       key=Key.parse(key) if key else None,
                       length_s=params.get("length_s"),
                       seed=int(params.get("seed", DEFAULT_SEED)))


def run_job(params: dict[str, Any], *, user_dir: Path, out_dir: Path, progress: Progress,
            render_pool: RenderPool | None = None) -> None:
    """Make the song `params` describe and write its bundle to the local folder `out_dir`
    (the worker then publishes it to the store). `user_dir`: a local folder holding the input
    file `params["input"]` names. `render_pool`: the worker's long-lived renderers (None:
    start them for this song)."""
    from tunesmith import pipeline
    from tunesmith.listen import MAX_INPUT_DURATION_S, load_audio

    kind = params.get("kind")
    request = song_request(params)
    extra: dict[str, bytes] = {}
    if kind == "hum":
        src = user_dir / params["input"]
        audio, sr = load_audio(src, max_duration_s=MAX_INPUT_DURATION_S)
        song = pipeline.song_from_audio(audio, sample_rate=sr, request=request, progress=progress,
                                        source={"file": src.name}, render_pool=render_pool)
        extra[f"input/{src.name}"] = src.read_bytes()
    elif kind == "restyle":
        src = user_dir / params["input"]
        song = pipeline.song_from_restyle(src, request=request,
                                          keep=params.get("keep", "melody+chords"),
                                          harmony=params.get("harmony", "style"),
                                          progress=progress, render_pool=render_pool)
        extra[f"input/{src.name}"] = src.read_bytes()
    elif kind == "create":
        from tunesmith.brief import understand

        brief = understand(params["prompt"])
        request = pipeline.brief_request(brief, length_s=params.get("length_s"),
                                         seed=int(params.get("seed", 1)))
        song = pipeline.song_from_brief(brief, request=request, progress=progress,
                                        render_pool=render_pool)
        extra = {"input/prompt.txt": (brief.prompt + "\n").encode("utf-8"),
                 "input/brief.json": brief.to_json().encode("utf-8")}
    else:
        raise TunesmithError(f"unknown job kind {kind!r}")
    pipeline.write_song(song, out_dir, progress=progress, overwrite=True, extra_files=extra)
