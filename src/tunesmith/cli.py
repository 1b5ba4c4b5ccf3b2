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
                  seed: int, meter: str | None = None) -> Any:
    from tunesmith.compose.meter import Meter
    from tunesmith.pipeline import SongRequest
    from tunesmith.theory import Key

    if tempo is not None and not 30 <= tempo <= 300:
        raise TunesmithError(f"tempo must be between 30 and 300 bpm, not {tempo:g}")
    if meter:
        Meter.parse(meter)  # a clear error now, before any work
    return SongRequest(style=style, tempo_bpm=tempo, key=Key.parse(key) if key else None,
                       length_s=parse_length(length) if length else None, seed=seed, meter=meter)


StyleOpt = Annotated[str, typer.Option("--style", "-s", help="Style name (see `tunesmith styles`).")]
TempoOpt = Annotated[float | None, typer.Option("--tempo", help="Song tempo in BPM (default: from the hum and style).")]
KeyOpt = Annotated[str | None, typer.Option("--key", help="Song key, e.g. C, Am, 'F# major' (default: the hum's).")]
LengthOpt = Annotated[str | None, typer.Option("--length", help=f"Song length, e.g. 3:10 (default {int(DEFAULT_LENGTH_S // 60)}:{int(DEFAULT_LENGTH_S % 60):02d}).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same input and seed, same song.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace OUT_DIR if it is not empty.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage decides.")]
ReleaseOpt = Annotated[bool, typer.Option("--release", help="Also make release/: mastered WAV/FLAC/MP3 per platform, cover, video, lead sheet, DDEX, Content Credentials (see `tunesmith release`).")]
TitleOpt = Annotated[str | None, typer.Option("--title", help="Release title (with --release).")]
ArtistOpt = Annotated[str | None, typer.Option("--artist", help="Artist name (with --release).")]
IsrcOpt = Annotated[str | None, typer.Option("--isrc", help="ISRC of the recording, CC-XXX-YY-NNNNN.")]
UpcOpt = Annotated[str | None, typer.Option("--upc", help="UPC (12 digits) or EAN (13) of the release.")]
LyricsOpt = Annotated[Path | None, typer.Option("--lyrics", help="Lyrics text file to set under the melody ([Verse]/[Chorus] labels optional).")]


def _summary(song: Any, out: Path) -> None:
    info = song.info
    m = info["master"]
    console.print(
        f"[bold green]Done:[/] {out}  ·  {info['style']}, {info['key']}, {info['tempo_bpm']:g} bpm, "
        f"{int(info['duration_s'] // 60)}:{info['duration_s'] % 60:04.1f}  ·  "
        f"{m['integrated_lufs']:.1f} LUFS, true peak {m['true_peak_dbtp']:.1f} dBTP", highlight=False)
    console.print(f"  master: short-term max {m['short_term_max_lufs']:.1f} LUFS, loudness range "
                  f"{m['loudness_range_lu']:.1f} LU, crest factor {m['crest_factor_db']:.1f} dB",
                  highlight=False)
    console.print("  sections: " + " ".join(s["label"] for s in info["sections"]), highlight=False)


def _make_song(out_dir: Path, make: Callable[[Callable[[str, str], None]], Any], *,
               inputs: dict[str, bytes], overwrite: bool, release_args: dict[str, Any] | None,
               stages: tuple[str, ...] | None = None) -> None:
    """The shared tail of every song command: run `make(progress)` under the progress bar,
    write the song folder with its inputs, print the summary, then the release if asked."""
    from tunesmith import pipeline

    with _progress(stages or pipeline.STAGES) as report:
        song = make(report)
        out = pipeline.write_song(song, out_dir, progress=report, overwrite=overwrite,
                                  extra_files=inputs)
    _summary(song, out)
    if release_args is not None:
        _make_release(out, release_args)


@app.command()
def hum(
    input_audio: Annotated[Path, typer.Argument(help="A recorded hum or sung melody (WAV/FLAC/MP3/OGG).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the finished song.")],
    style: StyleOpt = DEFAULT_STYLE,
    tempo: TempoOpt = None,
    key: KeyOpt = None,
    length: LengthOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    meter: Annotated[str | None, typer.Option("--meter", help="The hum's time signature: 4/4, 3/4, 2/4, 6/8 or 12/8 (default: heard from the hum, 4/4 when unsure).")] = None,
    overwrite: OverwriteOpt = False,
    release: ReleaseOpt = False,
    title: TitleOpt = None,
    artist: ArtistOpt = None,
    isrc: IsrcOpt = None,
    upc: UpcOpt = None,
    lyrics: LyricsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Turn a hummed or sung melody into a finished, arranged, mixed and mastered song."""
    _setup_logging(verbose)
    from tunesmith import listen, pipeline
    from tunesmith.arrange import load_style
    from tunesmith.publish import prepare_out_dir

    with _user_errors():
        request = _song_request(style, tempo, key, length, seed, meter)
        load_style(request.style)
        release_args = _release_args(release, title or input_audio.stem.replace("_", " ").title(),
                                     artist, isrc, upc, lyrics)
        prepare_out_dir(out_dir, overwrite=overwrite)
        audio, sr = listen.load_audio(input_audio, max_duration_s=listen.MAX_INPUT_DURATION_S)
        source = {"file": input_audio.name, "sha256": pipeline.file_digest(input_audio),
                  "duration_s": round(len(audio) / sr, 3)}
        # The song folder keeps the take it was made from (provenance, and a re-make later).
        _make_song(out_dir, lambda report: pipeline.song_from_audio(
            audio, sample_rate=sr, request=request, progress=report, source=source),
            inputs={f"input/{input_audio.name}": input_audio.read_bytes()},
            overwrite=overwrite, release_args=release_args)


@app.command()
def restyle(
    input_file: Annotated[Path, typer.Argument(help="The song to restyle: MIDI, MusicXML, ABC, or audio of a full recording.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the restyled song.")],
    style: StyleOpt = DEFAULT_STYLE,
    keep: Annotated[str, typer.Option("--keep", help="melody: new chords for the kept melody; melody+chords: keep the song's chords too.")] = "melody+chords",
    harmony: Annotated[str, typer.Option("--harmony", help="keep: the chords exactly as found; style: transform them by the style's rules (sevenths, ii-V, tritone subs, power-chord triads...).")] = "style",
    seed: SeedOpt = DEFAULT_SEED,
    overwrite: OverwriteOpt = False,
    release: ReleaseOpt = False,
    title: TitleOpt = None,
    artist: ArtistOpt = None,
    isrc: IsrcOpt = None,
    upc: UpcOpt = None,
    lyrics: LyricsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Play an existing song in another style: its melody kept, its harmony kept or restyled."""
    _setup_logging(verbose)
    from tunesmith import pipeline
    from tunesmith.arrange import load_style
    from tunesmith.publish import prepare_out_dir
    from tunesmith.restyle import check_modes

    with _user_errors():
        check_modes(keep, harmony)
        request = _song_request(style, None, None, None, seed)
        load_style(request.style)
        if not input_file.is_file():
            raise TunesmithError(f"{input_file} does not exist or is not a file")
        release_args = _release_args(release, title or input_file.stem.replace("_", " ").title(),
                                     artist, isrc, upc, lyrics)
        prepare_out_dir(out_dir, overwrite=overwrite)
        _make_song(out_dir, lambda report: pipeline.song_from_restyle(
            input_file, request=request, keep=keep, harmony=harmony, progress=report),
            inputs={f"input/{input_file.name}": input_file.read_bytes()},
            overwrite=overwrite, release_args=release_args)


def _show_brief(b: Any) -> None:
    """A readable summary of a SongBrief."""
    out = Console()
    m = b.mood
    rows = [
        ("style", f"{b.style.name} ({b.style.confidence:.0%}; runner-up {b.style.runner_up} "
                  f"{b.style.runner_up_confidence:.0%})"),
        ("mood", f"{', '.join(m.words)} (valence {m.valence:+.2f}, arousal {m.arousal:+.2f})"),
        ("tempo", f"{b.tempo_bpm:g} bpm, {b.tempo_class} (from {b.tempo_source})"),
        ("meter", b.time_signature),
        ("key", f"{b.key} (from {b.key_source})"),
        ("harmony", b.harmony), ("density", f"{b.density:.2f} (0 sparse .. 1 full)"),
    ]
    if b.solo:
        rows.append(("solo", b.solo))
    if b.instruments_wanted:
        rows.append(("with", ", ".join(b.instruments_wanted)))
    if b.instruments_unwanted:
        rows.append(("without", ", ".join(b.instruments_unwanted)))
    if b.length_s:
        rows.append(("length", f"{int(b.length_s // 60)}:{int(b.length_s % 60):02d}"))
    if b.structure:
        rows.append(("structure", ", ".join(b.structure)))
    if b.unused_words:
        rows.append(("not used", ", ".join(b.unused_words)))
    for note in b.notes:
        rows.append(("note", note))
    for name, value in rows:
        out.print(f"[bold]{name:<10}[/] {value}", highlight=False)


@app.command("brief")
def brief_command(
    prompt: Annotated[str, typer.Argument(help="A description of the song, e.g. \"rainy night, missing someone\".")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the brief as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show what a text prompt asks for: style, mood, tempo, meter, key, instruments, length."""
    _setup_logging(verbose)
    from tunesmith.brief import understand

    with _user_errors():
        b = understand(prompt)
    if as_json:
        typer.echo(b.to_json())
    else:
        _show_brief(b)


@app.command()
def create(
    prompt: Annotated[str, typer.Argument(help="A description of the song, e.g. \"sunday morning drive with the windows down\".")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the finished song.")],
    length: LengthOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    overwrite: OverwriteOpt = False,
    release: ReleaseOpt = False,
    title: TitleOpt = None,
    artist: ArtistOpt = None,
    isrc: IsrcOpt = None,
    upc: UpcOpt = None,
    lyrics: LyricsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a song from words alone: chords for the mood and style, a new melody with a chorus
    hook, arranged, mixed and mastered (the same song folder as `hum`)."""
    _setup_logging(verbose)
    from tunesmith import pipeline
    from tunesmith.brief import understand
    from tunesmith.publish import prepare_out_dir

    with _user_errors():
        b = understand(prompt)
        request = pipeline.brief_request(b, length_s=parse_length(length) if length else None,
                                         seed=seed)
        release_args = _release_args(release, title or prompt[:60].strip().capitalize(), artist,
                                     isrc, upc, lyrics)
        prepare_out_dir(out_dir, overwrite=overwrite)
        console.print(f"Heard: {b.style.name}, {', '.join(b.mood.words)}, {b.tempo_bpm:g} bpm, "
                      f"{b.key}, {b.time_signature}", highlight=False)
        _make_song(out_dir, lambda report: pipeline.song_from_brief(
            b, request=request, progress=report),
            inputs={"input/prompt.txt": (b.prompt + "\n").encode("utf-8"),
                    "input/brief.json": b.to_json().encode("utf-8")},
            overwrite=overwrite, release_args=release_args,
            stages=tuple(s for s in pipeline.STAGES if s != "listen"))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (localhost by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web studio.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Job worker processes.")] = 2,
    data: Annotated[Path | None, typer.Option(help="Folder for the database and everyone's songs (default: ~/.local/share/tunesmith/studio or $TUNESMITH_DATA_DIR).")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: a SQLite file in --data).")] = None,
    storage_url: Annotated[str | None, typer.Option(help="fsspec URL for the song files, e.g. s3://bucket/tunesmith (default: --data on local disk).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Start the web studio and its HTTP API (docs at /docs) with job workers."""
    _setup_logging(verbose)
    from tunesmith.service.supervisor import serve as run

    console.print(f"tunesmith studio on http://{host}:{port}/  (API docs: /docs)", highlight=False)
    run(host=host, port=port, workers=workers, data_dir=data, database_url=database_url,
        storage_url=storage_url)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo song.")] = DEMO_OUT,
    style: StyleOpt = DEFAULT_STYLE,
    seed: SeedOpt = DEFAULT_SEED,
    release: ReleaseOpt = False,
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
        _make_song(out_dir, lambda report: pipeline.song_from_audio(
            audio, sample_rate=sr, request=request, progress=report,
            source={"file": "input/hum.wav (built-in demo hum)"}),
            inputs={"input/hum.wav": buf.getvalue()}, overwrite=overwrite,
            release_args=_release_args(release, "tunesmith demo", "tunesmith demo", None, None,
                                       None))


@app.command()
def transcribe(
    input_audio: Annotated[Path, typer.Argument(help="A recorded hum or sung melody (or, with --polyphonic, a full song).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="MIDI file to write.")],
    polyphonic: Annotated[bool, typer.Option("--polyphonic", help="The recording is a full mix (band, piano, produced song): write its melody, accompaniment and chords on its beat grid.")] = False,
    chords_out: Annotated[Path | None, typer.Option("--chords-out", help="With --polyphonic: also write the chords as text (start_s, end_s, symbol per line).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write the notes exactly as sung (MIDI seconds == audio seconds, no quantisation).
    With --polyphonic: a full song's melody, accompaniment and chords, on its beat grid."""
    _setup_logging(verbose)
    from tunesmith import listen
    from tunesmith.score import sung_notes_to_midi

    with _user_errors():
        target = _writable_file(out)
        chords_target = _writable_file(chords_out) if chords_out is not None else None
        if chords_target is not None and not polyphonic:
            raise TunesmithError("--chords-out needs --polyphonic (chords come from a full recording)")
        audio, sr = listen.load_audio(input_audio, max_duration_s=listen.MAX_INPUT_DURATION_S)
        if polyphonic:
            from tunesmith.listen.poly.midi import transcription_to_midi
            from tunesmith.listen.polyphonic import chords_text, transcribe_polyphonic

            with console.status("Transcribing the full recording"):
                heard = transcribe_polyphonic(audio, sample_rate=sr)
            midi = transcription_to_midi(heard)
            what = (f"{len(heard.melody)} melody notes, {len(heard.notes)} notes in all and "
                    f"{len(heard.chords)} chords ({heard.key.name}, {heard.tempo_bpm:g} bpm)")
        else:
            with console.status("Transcribing"):
                notes = listen.transcribe(audio, sample_rate=sr)
            midi = sung_notes_to_midi(notes)
            what = f"{len(notes)} notes"
        _save_atomic(target, lambda tmp: midi.save(tmp))  # type: ignore[attr-defined]
        if polyphonic and chords_target is not None:
            text = chords_text(heard)
            _save_atomic(chords_target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        console.print(f"[bold green]Wrote[/] {what} to {out}", highlight=False)


def _writable_file(path: Path) -> Path:
    target = path.expanduser().resolve()
    if target.is_dir():
        raise TunesmithError(f"{path} is a folder; give a file name like song.mid")
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise TunesmithError(f"cannot write to {target.parent}")
    return target


def _save_atomic(target: Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file in the same folder, so nothing half-written is left."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@app.command()
def harmonize(
    melody_file: Annotated[Path, typer.Argument(help="A melody as MIDI (.mid) or MusicXML (.musicxml, .xml, .mxl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="MIDI file to write: the melody plus a chords track.")],
    harmony: Annotated[str, typer.Option("--harmony", help="simple (triads, fewer changes), rich (sevenths, sus, slash chords) or jazzy (sevenths, ninths, ii-V).")] = "rich",
    mood: Annotated[str, typer.Option("--mood", help="brighter (major chords, bright borrowed chords), darker (minor chords, borrowed iv/bVI/bVII) or neutral.")] = "neutral",
    chords_sheet: Annotated[Path | None, typer.Option("--chords-sheet", help="Chords to keep exactly: lines 'start_beat end_beat chord', e.g. '0 4 Am7'.")] = None,
    chords_out: Annotated[Path | None, typer.Option("--chords-out", help="Also write the chords as text: 'start_beat end_beat chord' per line.")] = None,
    key: KeyOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    verbose: VerboseOpt = False,
) -> None:
    """Add chords to a melody with the harmoniser learned from real pop songs."""
    _setup_logging(verbose)
    from tunesmith.compose.harmony import MOODS, check_controls
    from tunesmith.compose.harmony_io import format_chord_sheet, harmonize_file, read_chord_sheet
    from tunesmith.score import score_to_midi
    from tunesmith.theory import Key

    with _user_errors():
        if mood not in MOODS:
            raise TunesmithError(f"unknown mood '{mood}': use {', '.join(MOODS)}")
        check_controls(harmony, MOODS[mood])
        target = _writable_file(out)
        chords_target = _writable_file(chords_out) if chords_out is not None else None
        fixed = read_chord_sheet(chords_sheet) if chords_sheet is not None else []
        result = harmonize_file(melody_file, harmony=harmony, mood=MOODS[mood], fixed=fixed,
                                key=Key.parse(key) if key else None, seed=seed)
        midi = score_to_midi(result.score)
        _save_atomic(target, lambda tmp: midi.save(tmp))  # type: ignore[attr-defined]
        if chords_target is not None:
            text = format_chord_sheet(result.score.chords, key=result.key)
            _save_atomic(chords_target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        symbols = " ".join(c.chord.symbol(flats=result.key.uses_flats) for c in result.score.chords[:16])
        more = " ..." if len(result.score.chords) > 16 else ""
        console.print(f"[bold green]Wrote[/] {len(result.score.chords)} chords in {result.key.name} "
                      f"to {out}: {symbols}{more}", highlight=False)


@app.command()
def styles(
    describe: Annotated[str | None, typer.Option("--describe", help="Say what STYLE does: instruments, grooves, bass, comping, tempo, feel.", metavar="STYLE")] = None,
) -> None:
    """List the styles with a one-line description each."""
    from tunesmith.arrange import describe_style, load_style, style_names

    with _user_errors():
        out = Console()
        if describe is not None:
            out.print(describe_style(load_style(describe)), highlight=False, markup=False)
            return
        for name in style_names():
            st = load_style(name)
            lo, hi = st.tempo_range
            out.print(f"[bold]{name:<20}[/] {st.description} [dim]({lo:g}-{hi:g} bpm)[/]",
                      highlight=False)



def _parse_roles(items: list[str]) -> dict[str, str]:
    roles = {}
    for item in items:
        name, sep, role = item.partition("=")
        if not sep or not name.strip() or not role.strip():
            raise TunesmithError(f"--role takes STEM=ROLE, e.g. --role 'Gtr 1=guitar', not {item!r}")
        roles[name.strip()] = role.strip()
    return roles


@app.command("mix")
def mix_stems(
    stems_dir: Annotated[Path, typer.Argument(help="Folder of stems: WAV/FLAC/OGG/MP3/AIFF, any sample rate, mono or stereo, any lengths.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Mix to write (.wav or .flac, 24-bit); the report goes next to it as .json.")],
    style: Annotated[str | None, typer.Option("--style", "-s", help="Mix template: a style or a family (rock, jazz, hip-hop, edm, orchestral...).")] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="Fix a stem's role instead of detecting it: STEM=ROLE (repeatable).")] = None,
    bypass_bus: Annotated[bool, typer.Option("--bypass-bus", help="No mix-bus compressor: the stems and effect returns sum to the mix.")] = False,
    stems_out: Annotated[Path | None, typer.Option("--stems-out", help="Also write each processed stem and the reverb/delay returns (32-bit float WAV) here.")] = None,
    sample_rate: Annotated[int | None, typer.Option("--sample-rate", help="Mix at this rate (default: the stems' most common rate).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Mix anyone's stems: detect each stem's role, balance, carve EQ, compress, pan, add reverb and delay."""
    _setup_logging(verbose)
    from tunesmith.produce.files import mix_folder, mix_summary_lines

    with _user_errors():
        roles = _parse_roles(role or [])
        with console.status("Listening to the stems and mixing"):
            job = mix_folder(stems_dir, out, style=style, sample_rate=sample_rate, roles=roles,
                             bypass_bus=bypass_bus, stems_out=stems_out)
        for warning in [*job.skipped, *job.result.warnings]:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        screen = Console()
        for line in mix_summary_lines(job):
            screen.print(line, highlight=False, markup=False, soft_wrap=True)
        console.print(f"[bold green]Wrote[/] {job.audio_path} and {job.report_path.name}",
                      highlight=False)


@app.command("master")
def master_audio(
    input_audio: Annotated[Path, typer.Argument(help="A finished mix (WAV/FLAC/OGG/MP3/AIFF).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Master to write (.wav or .flac, 24-bit); the report goes next to it as .json.")],
    target: Annotated[str, typer.Option("--target", "-t", help="spotify, apple, youtube, soundcloud, cd or club (also tidal, amazon, ebu_r128).")] = "spotify",
    reference: Annotated[Path | None, typer.Option("--reference", "-r", help="A track whose tonal balance the master should match.")] = None,
    genre: Annotated[str | None, typer.Option("--genre", "-g", help="Nudge the tone toward a style's or family's balance (ignored with --reference).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Master a mix for a platform: tonal EQ, bus compression, true-peak limiting, loudness."""
    _setup_logging(verbose)
    from tunesmith.produce.files import master_file, master_summary_lines

    with _user_errors():
        with console.status(f"Mastering for {target}"):
            job = master_file(input_audio, out, target=target, reference=reference,
                              genre=None if reference is not None else genre)
        screen = Console()
        for line in master_summary_lines(job):
            screen.print(line, highlight=False, markup=False, soft_wrap=True)
        console.print(f"[bold green]Wrote[/] {job.audio_path} and {job.report_path.name}",
                      highlight=False)

def _release_args(release: bool, title: str | None, artist: str | None, isrc: str | None,
                  upc: str | None, lyrics: Path | None) -> dict[str, Any] | None:
    """Check --release options before the song is made (a bad ISRC fails in a second)."""
    if not release:
        if any(v is not None for v in (isrc, upc, lyrics)):
            raise TunesmithError("--isrc, --upc and --lyrics go with --release")
        return None
    if not artist:
        raise TunesmithError("--release needs --artist NAME (the name the song is released under)")
    from tunesmith.publish.identifiers import normalize_isrc, normalize_upc

    if isrc:
        normalize_isrc(isrc)
    if upc:
        normalize_upc(upc)
    if lyrics is not None and not lyrics.is_file():
        raise TunesmithError(f"lyrics file {lyrics} does not exist")
    return {"title": title or "Untitled", "artist": artist, "isrc": isrc, "upc": upc,
            "lyrics": lyrics}


def _make_release(song_dir: Path, args: dict[str, Any], **options: Any) -> None:
    from tunesmith.publish.release import make_release

    with console.status("Making the release: masters, cover, video, lead sheet, credentials") as st:
        result = make_release(song_dir, progress=lambda step: st.update(f"Release: {step}"),
                              **args, **options)
    facts = result.facts
    console.print(f"[bold green]Release:[/] {result.path}  ·  {facts['title']} by "
                  f"{facts['artist']}  ·  {facts['timings_s']['total']:.1f} s", highlight=False)
    for v in facts["loudness_versions"]:
        m = v["measured"]
        console.print(f"  {v['folder']}: {', '.join(v['platforms'])}  ·  "
                      f"{m['integrated_lufs']:.1f} LUFS, {m['true_peak_dbtp']:.1f} dBTP "
                      f"({v['made_by']})", highlight=False)
    for w in result.warnings:
        console.print(f"  [yellow]warning:[/] {w}", highlight=False, soft_wrap=True)


@app.command()
def release(
    song_dir: Annotated[Path, typer.Argument(help="A song folder made by `tunesmith hum`, `demo`, `create` or `restyle`.")],
    title: Annotated[str, typer.Option("--title", help="Release title.")],
    artist: Annotated[str, typer.Option("--artist", help="Artist name.")],
    isrc: IsrcOpt = None,
    upc: UpcOpt = None,
    lyrics: LyricsOpt = None,
    against: Annotated[list[Path] | None, typer.Option("--against", help="A reference melody (MIDI or MusicXML) to compare with in originality.json; repeat for more.")] = None,
    genre: Annotated[str | None, typer.Option("--genre", help="Genre for tags and DDEX (default: from the style).")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Release year (default: this year).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Who owns the recording (P-line); default: the artist.")] = None,
    sign_cert: Annotated[Path | None, typer.Option("--sign-cert", help="Your signing certificate chain (PEM) for Content Credentials; default: a local one made on first use.")] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help="The private key (PEM) of --sign-cert.")] = None,
    no_video: Annotated[bool, typer.Option("--no-video", help="Skip the visualizer videos (the slowest part).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing release/ folder.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Add release/ to a song folder: everything a distributor asks for, with honest provenance."""
    _setup_logging(verbose)
    with _user_errors():
        signing = None
        if (sign_cert is None) != (sign_key is None):
            raise TunesmithError("--sign-cert and --sign-key go together")
        if sign_cert is not None and sign_key is not None:
            from tunesmith.publish.provenance import SigningIdentity

            signing = SigningIdentity.from_files(sign_cert, sign_key)
        args = {"title": title, "artist": artist, "isrc": isrc, "upc": upc, "lyrics": lyrics}
        _make_release(song_dir, args, against=tuple(against or ()), genre=genre, year=year,
                      label=label, signing=signing, video=not no_video, overwrite=overwrite)


@app.command()
def verify(
    files: Annotated[list[Path], typer.Argument(help="Audio (WAV, FLAC, MP3) or other files with Content Credentials.")],
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="A CA certificate (PEM) to trust besides this machine's local one; repeat for more.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Read and check the Content Credentials (C2PA) of files: who made them, how, from what, and
    whether they were changed since. Exit code 2 when any file fails."""
    import json as json_mod

    from tunesmith.publish.provenance import verify_file

    with _user_errors():
        anchors = [p.read_bytes() for p in (trust or [])]
        results = [verify_file(f, trust_anchors=anchors) for f in files]
    out = Console()
    if as_json:
        typer.echo(json_mod.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            mark = "[bold green]OK[/]" if r.ok else "[bold red]FAILED[/]"
            out.print(f"{mark} {r.file}: {r.state}", highlight=False)
            if r.state != "Missing":
                source = r.digital_source_type.rsplit("/", 1)[-1]
                out.print(f"  made by {r.creator or '?'} with {r.tool or '?'} ({', '.join(r.actions)}; "
                          f"{source}); signed by {r.signer} ({r.issuer})", highlight=False)
                for i in r.ingredients:
                    out.print(f"  from {i['kind']} {i['title']} sha256 {i['sha256'][:16]}...",
                              highlight=False)
            for p in r.problems:
                out.print(f"  [yellow]{p}[/]", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_BAD_INPUT)


def main() -> None:  # pragma: no cover - entry for `python -m tunesmith`
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
