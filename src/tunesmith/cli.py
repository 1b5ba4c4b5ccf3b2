"""Command line: `tunesmith hum|transcribe|styles|demo`. Thin I/O wrapper over the pipeline."""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tunesmith.config import DEFAULT_LENGTH_S, DEFAULT_SEED, DEFAULT_STYLE
from tunesmith.errors import TunesmithError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="tunesmith: hum a melody, get a finished song.")
console = Console(stderr=True)
EXIT_BAD_INPUT = 2
DEMO_OUT = Path("demo-song")

_STAGE_TEXT = {
    "listen": "Listening to the hum", "compose": "Composing chords and form",
    "arrange": "Arranging", "render": "Rendering instruments", "produce": "Mixing and mastering",
    "publish": "Writing the song folder",
}


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except TunesmithError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; nothing was written") from None


@contextmanager
def _progress(stages: tuple[str, ...]) -> Iterator[Callable[[str, str], None]]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("Starting", total=len(stages))

        def report(stage: str, event: str) -> None:
            if event == "start":
                bar.update(task, description=_STAGE_TEXT.get(stage, stage))
            elif stage in stages:
                bar.advance(task)

        yield report
        bar.update(task, description="Done")


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)], force=True)


def parse_length(text: str) -> float:
    """'2:30' -> 150.0, '150' or '150s' -> 150.0, '3m' -> 180.0."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+):([0-5]?\d)", t)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min)?", t)
    if m:
        value = float(m.group(1))
        return value * 60 if m.group(2) in ("m", "min") else value
    raise TunesmithError(f"cannot read length '{text}': use e.g. 2:30, 150 or 150s")


def _song_request(style: str, tempo: float | None, key: str | None, length: str | None,
                  seed: int) -> Any:
    from tunesmith.pipeline import SongRequest
    from tunesmith.theory import Key

    if tempo is not None and not 30 <= tempo <= 300:
        raise TunesmithError(f"tempo must be between 30 and 300 bpm, not {tempo:g}")
    return SongRequest(style=style, tempo_bpm=tempo, key=Key.parse(key) if key else None,
                       length_s=parse_length(length) if length else None, seed=seed)


StyleOpt = Annotated[str, typer.Option("--style", "-s", help="Style name (see `tunesmith styles`).")]
TempoOpt = Annotated[float | None, typer.Option("--tempo", help="Song tempo in BPM (default: from the hum and style).")]
KeyOpt = Annotated[str | None, typer.Option("--key", help="Song key, e.g. C, Am, 'F# major' (default: the hum's).")]
LengthOpt = Annotated[str | None, typer.Option("--length", help=f"Song length, e.g. 3:10 (default {int(DEFAULT_LENGTH_S // 60)}:{int(DEFAULT_LENGTH_S % 60):02d}).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same input and seed, same song.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace OUT_DIR if it is not empty.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage decides.")]


def _summary(song: Any, out: Path) -> None:
    info = song.info
    m = info["master"]
    console.print(
        f"[bold green]Done:[/] {out}  ·  {info['style']}, {info['key']}, {info['tempo_bpm']:g} bpm, "
        f"{int(info['duration_s'] // 60)}:{info['duration_s'] % 60:04.1f}  ·  "
        f"{m['integrated_lufs']:.1f} LUFS, true peak {m['true_peak_dbtp']:.1f} dBTP", highlight=False)
    console.print("  sections: " + " ".join(s["label"] for s in info["sections"]), highlight=False)


@app.command()
def hum(
    input_audio: Annotated[Path, typer.Argument(help="A recorded hum or sung melody (WAV/FLAC/MP3/OGG).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the finished song.")],
    style: StyleOpt = DEFAULT_STYLE,
    tempo: TempoOpt = None,
    key: KeyOpt = None,
    length: LengthOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    overwrite: OverwriteOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Turn a hummed or sung melody into a finished, arranged, mixed and mastered song."""
    _setup_logging(verbose)
    from tunesmith import listen, pipeline
    from tunesmith.arrange import load_style
    from tunesmith.publish import prepare_out_dir

    with _user_errors():
        request = _song_request(style, tempo, key, length, seed)
        load_style(request.style)
        prepare_out_dir(out_dir, overwrite=overwrite)
        audio, sr = listen.load_audio(input_audio, max_duration_s=listen.MAX_INPUT_DURATION_S)
        source = {"file": input_audio.name, "sha256": pipeline.file_digest(input_audio),
                  "duration_s": round(len(audio) / sr, 3)}
        with _progress(pipeline.STAGES) as report:
            song = pipeline.song_from_audio(audio, sample_rate=sr, request=request,
                                            progress=report, source=source)
            # The song folder keeps the take it was made from (provenance, and a re-make later).
            take = {f"input/{input_audio.name}": input_audio.read_bytes()}
            out = pipeline.write_song(song, out_dir, progress=report, overwrite=overwrite,
                                      extra_files=take)
        _summary(song, out)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo song.")] = DEMO_OUT,
    style: StyleOpt = DEFAULT_STYLE,
    seed: SeedOpt = DEFAULT_SEED,
    verbose: VerboseOpt = False,
) -> None:
    """Make a song from the built-in hum (synthesised, no input file needed)."""
    _setup_logging(verbose)
    import soundfile as sf

    from tunesmith import humsynth, pipeline
    from tunesmith.publish import prepare_out_dir

    with _user_errors():
        # Re-running the demo replaces an earlier demo song, never anything else.
        overwrite = (out_dir / "song.json").is_file()
        prepare_out_dir(out_dir, overwrite=overwrite)
        request = _song_request(style, None, None, None, seed)
        sr = pipeline.SAMPLE_RATE
        audio = humsynth.synthesize_hum(humsynth.demo_melody(seed=seed), sample_rate=sr, seed=seed)
        buf = io.BytesIO()
        sf.write(buf, audio, sr, format="WAV", subtype="PCM_16")
        console.print(f"Built-in hum: {len(audio) / sr:.1f} s synthesised voice", highlight=False)
        with _progress(pipeline.STAGES) as report:
            song = pipeline.song_from_audio(audio, sample_rate=sr, request=request, progress=report,
                                            source={"file": "input/hum.wav (built-in demo hum)"})
            out = pipeline.write_song(song, out_dir, progress=report, overwrite=overwrite,
                                      extra_files={"input/hum.wav": buf.getvalue()})
        _summary(song, out)


@app.command()
def transcribe(
    input_audio: Annotated[Path, typer.Argument(help="A recorded hum or sung melody.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="MIDI file to write.")],
    verbose: VerboseOpt = False,
) -> None:
    """Write the notes exactly as sung (MIDI seconds == audio seconds, no quantisation)."""
    _setup_logging(verbose)
    from tunesmith import listen
    from tunesmith.score import sung_notes_to_midi

    with _user_errors():
        target = out.expanduser().resolve()
        if target.is_dir():
            raise TunesmithError(f"{out} is a folder; give a file name like melody.mid")
        if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
            raise TunesmithError(f"cannot write to {target.parent}")
        audio, sr = listen.load_audio(input_audio, max_duration_s=listen.MAX_INPUT_DURATION_S)
        with console.status("Transcribing"):
            notes = listen.transcribe(audio, sample_rate=sr)
        midi = sung_notes_to_midi(notes)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            midi.save(tmp)  # type: ignore[attr-defined]
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        console.print(f"[bold green]Wrote[/] {len(notes)} notes to {out}", highlight=False)


@app.command()
def styles() -> None:
    """List the styles with a one-line description each."""
    from tunesmith.arrange import load_style, style_names

    with _user_errors():
        out = Console()
        for name in style_names():
            st = load_style(name)
            lo, hi = st.tempo_range
            out.print(f"[bold]{name:<14}[/] {st.description} [dim]({lo:g}-{hi:g} bpm)[/]",
                      highlight=False)


def main() -> None:  # pragma: no cover - entry for `python -m tunesmith`
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
