"""`release/`: everything a distributor asks for, made from a finished song folder.

    make_release(Path("my-song"), title="Morning Light", artist="Ada")

reads song.wav, song.mid, song.json, stems/ and input/ of a folder written by
`tunesmith hum`/`demo` (or any stage that writes the same folder), and adds `release/`:

    audio/<platforms>/<slug>.wav|.flac|.mp3   one folder per loudness target, tagged and signed
    stems.zip                                  the stems as mixed
    cover.jpg                                  3000x3000, generated from the song
    visualizer.mp4, visualizer-vertical.mp4    1920x1080 and 1080x1920 (chorus), H.264 + AAC
    leadsheet.musicxml, leadsheet.pdf (.ly)    melody, chords, lyrics
    ddex-ern.xml, release.json                 ERN 4.3 NewReleaseMessage and the same facts
    originality.json                           longest melodic matches

It is written into a hidden staging folder and moved into place whole, so a failure leaves the
song folder as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith import __version__
from tunesmith.errors import OutputError, TunesmithError
from tunesmith.publish import ddex
from tunesmith.publish.bundle import staged_folder
from tunesmith.publish.identifiers import format_isrc, icpn, normalize_isrc, normalize_upc
from tunesmith.publish.masters import (
    FLAC_BITS,
    MP3_BITRATE_KBPS,
    RELEASE_SAMPLE_RATE,
    WAV_BITS,
    make_versions,
    write_flac24,
    write_mp3,
    write_wav16,
)
from tunesmith.publish.provenance import Claim, Ingredient, SigningIdentity
from tunesmith.score import Score
from tunesmith.theory import pitch_class_name

log = logging.getLogger(__name__)

RELEASE_DIR = "release"
TOOL_NAME = "tunesmith"
GENRES = {  # style -> the genre name stores list it under
    "pop": "Pop", "pop-ballad": "Pop", "rock": "Rock", "punk": "Punk", "grunge": "Alternative",
    "metal": "Metal", "jazz-swing": "Jazz", "jazz-ballad": "Jazz", "bossa-nova": "Latin",
    "lofi-hip-hop": "Hip-Hop/Rap", "hip-hop-trap": "Hip-Hop/Rap", "edm-house": "Dance",
    "synthwave": "Electronic", "country": "Country", "folk": "Folk", "funk": "R&B/Soul",
    "soul-rnb": "R&B/Soul", "gospel": "Christian & Gospel", "reggae": "Reggae",
    "cinematic-orchestral": "Soundtrack", "string-quartet": "Classical", "waltz": "Classical",
}
Progress = Callable[[str], None]


class ReleaseError(TunesmithError):
    """The song folder cannot be turned into a release."""


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """What the artist tells about the release (validated before any work)."""

    title: str
    artist: str
    isrc: str | None = None
    upc: str | None = None
    lyrics: Path | None = None
    against: tuple[Path, ...] = ()
    year: int | None = None
    genre: str | None = None
    label: str | None = None  # the P-line/C-line owner; the artist by default
    seed: int | None = None  # cover and dither seed; the song's seed by default
    video: bool = True
    sender_dpid: str | None = None  # DDEX Party ID of the sender, if the artist has one


@dataclass(slots=True)
class ReleaseResult:
    path: Path
    facts: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class SongFolder:
    path: Path
    info: dict[str, Any]
    score: Score
    master: np.ndarray  # (2, n) float32
    sample_rate: int
    stems: list[Path]
    inputs: list[Path]


def load_song_folder(song_dir: Path) -> SongFolder:
    import soundfile as sf

    from tunesmith.score import read_score_midi

    d = song_dir.expanduser().resolve()
    missing = [n for n in ("song.json", "song.wav", "song.mid") if not (d / n).is_file()]
    if missing:
        raise ReleaseError(f"{song_dir} is not a tunesmith song folder (missing "
                           f"{', '.join(missing)}); make one with `tunesmith hum` or `demo`")
    try:
        info = json.loads((d / "song.json").read_text(encoding="utf-8"))
        audio, sr = sf.read(str(d / "song.wav"), dtype="float32", always_2d=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ReleaseError(f"cannot read the song in {song_dir}: {exc}") from exc
    master = np.ascontiguousarray(audio.T)
    if master.shape[0] == 1:
        master = np.repeat(master, 2, axis=0)
    if sr != RELEASE_SAMPLE_RATE:
        import soxr

        master = np.ascontiguousarray(soxr.resample(master.T, sr, RELEASE_SAMPLE_RATE).T,
                                      dtype=np.float32)
        sr = RELEASE_SAMPLE_RATE
    inputs = sorted(p for p in (d / "input").glob("*") if p.is_file()) \
        if (d / "input").is_dir() else []
    return SongFolder(d, info, read_score_midi(d / "song.mid"), master, sr,
                      sorted((d / "stems").glob("*.wav")), inputs)


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60] or "song"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def key_tag(score: Score) -> str:
    return pitch_class_name(score.key.tonic, flats=score.key.uses_flats) + (
        "m" if score.key.mode == "minor" else "")


def ingredients_of(song: SongFolder) -> tuple[Ingredient, ...]:
    """The inputs the song was made from, for the provenance manifest."""
    from tunesmith.publish.provenance import MIME_TYPES

    source = song.info.get("input", {}) if isinstance(song.info.get("input"), dict) else {}
    sung = "sung_notes" in source
    out = []
    for p in song.inputs:
        suffix = p.suffix.lower()
        mime = MIME_TYPES.get(suffix, "application/json" if suffix == ".json"
                              else "application/octet-stream")
        if mime.startswith("audio/") and suffix != ".mid":
            kind = "hum" if sung else "recording"
        elif mime == "text/plain":
            kind = "prompt"
        elif suffix == ".json":
            kind = "brief"
        else:
            kind = "score"
        out.append(Ingredient(p.name, kind, p.read_bytes(), mime))
    prompt = source.get("prompt") or song.info.get("prompt")
    if prompt and not any(i.kind == "prompt" for i in out):
        out.append(Ingredient("prompt.txt", "prompt", str(prompt).encode("utf-8"), "text/plain"))
    return tuple(out)


def disclosure(ingredients: Sequence[Ingredient]) -> str:
    kinds = {i.kind for i in ingredients}
    source = ("the artist's hummed melody" if "hum" in kinds else
              "the artist's text prompt" if "prompt" in kinds else
              "the artist's recording" if "recording" in kinds else
              "the artist's score" if "score" in kinds else "no recorded input")
    return (f"AI-generated music: composition, arrangement, performance and mix were generated "
            f"by {TOOL_NAME} {__version__} (trained models) from {source}. "
            "Content Credentials (C2PA) are embedded.")


def _check_request(req: ReleaseRequest) -> ReleaseRequest:
    from dataclasses import replace

    if not req.title.strip():
        raise ReleaseError("the release needs a title (--title)")
    if not req.artist.strip():
        raise ReleaseError("the release needs an artist name (--artist)")
    isrc = normalize_isrc(req.isrc) if req.isrc else None
    upc = normalize_upc(req.upc) if req.upc else None
    if req.lyrics is not None and not req.lyrics.is_file():
        raise ReleaseError(f"lyrics file {req.lyrics} does not exist")
    for p in req.against:
        if not p.is_file():
            raise ReleaseError(f"reference file {p} (--against) does not exist")
    return replace(req, title=req.title.strip(), artist=req.artist.strip(), isrc=isrc, upc=upc)


def make_release(song_dir: Path, *, title: str, artist: str, isrc: str | None = None,
                 upc: str | None = None, lyrics: Path | None = None,
                 against: Sequence[Path] = (), signing: SigningIdentity | None = None,
                 overwrite: bool = False, progress: Progress | None = None,
                 **options: Any) -> ReleaseResult:
    """Add `release/` to a song folder. `options` are further ReleaseRequest fields (year,
    genre, label, seed, video, sender_dpid). Raises a TunesmithError subclass with a message
    for the artist when something is wrong; the song folder is then left as it was."""
    req = _check_request(ReleaseRequest(title=title, artist=artist, isrc=isrc, upc=upc,
                                        lyrics=lyrics, against=tuple(against), **options))
    song_path = song_dir.expanduser().resolve()
    target = song_path / RELEASE_DIR
    if target.exists() and not overwrite:
        raise OutputError(f"{song_dir} already has a release/ folder: pass --overwrite to "
                          "replace it")
    song = load_song_folder(song_path)
    if not os.access(song_path, os.W_OK):
        raise OutputError(f"cannot write to {song_dir}: permission denied")
    with staged_folder(target, what="the release", where=song_dir) as staging:
        result = _build(song, req, staging, signing=signing, progress=progress or _quiet)
    result.path = target
    return result


def _quiet(step: str) -> None:
    del step


class _Steps:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.progress(name)
        t0 = time.perf_counter()
        out = fn()
        self.timings[name] = round(time.perf_counter() - t0, 3)
        return out


def _build(song: SongFolder, req: ReleaseRequest, out: Path, *,
           signing: SigningIdentity | None, progress: Progress) -> ReleaseResult:
    from tunesmith.publish import cover as cover_mod
    from tunesmith.publish import leadsheet as ls
    from tunesmith.publish import lyrics as lyr
    from tunesmith.publish import video as vid
    from tunesmith.publish.originality import originality_report
    from tunesmith.publish.provenance import local_identity

    steps = _Steps(progress)
    t_start = time.perf_counter()
    warnings: list[str] = []
    score, info = song.score, song.info
    seed = int(req.seed if req.seed is not None else info.get("seed", 0))
    today = dt.date.today()
    year = req.year or today.year
    genre = req.genre or GENRES.get(str(info.get("style", "")), str(info.get("style", "Pop")).title())
    owner = req.label or req.artist
    name = slug(req.title)
    identity = signing or steps.run("signing identity", local_identity)
    ingredients = ingredients_of(song)
    note = disclosure(ingredients)

    # lead sheet first: LilyPond engraves in the background while the rest is made
    try:
        melody = ls.quantize_melody(ls.melody_track_notes(score), swing=score.swing)
    except ls.LeadsheetError as exc:  # e.g. an instrumental without a melody part
        melody = []
        warnings.append(f"no lead sheet: {exc}")
    engraving = None
    if melody:
        syllables = None
        if req.lyrics is not None:
            stanzas = lyr.read_lyrics(req.lyrics)
            aligned = lyr.align(stanzas, melody, score.sections)
            syllables = aligned.syllables
            warnings.extend(f"lyrics: {w}" for w in aligned.warnings)
        sheet = ls.lead_sheet(
            score, title=req.title, artist=req.artist, lyrics=syllables,
            subtitle=f"{score.key.name}, {score.tempo_bpm:g} bpm",
            footer=f"Lead sheet by {TOOL_NAME} {__version__} (AI-generated music)")
        steps.run("lead sheet", lambda: ls.write_musicxml(sheet, out / "leadsheet.musicxml"))
        engraving = ls.start_engraving(ls.lilypond_source(sheet), out / "leadsheet.pdf")

    design = cover_mod.cover_design(score, info, seed=seed)
    cover_bytes = steps.run("cover", lambda: cover_mod.cover_jpeg(
        design, title=req.title, artist=req.artist))
    (out / "cover.jpg").write_bytes(cover_bytes)

    versions = steps.run("loudness versions", lambda: make_versions(
        song.master, sample_rate=song.sample_rate))

    # the visualizer encodes on its own thread while the audio is written and signed
    video_song = vid.VideoSong.from_score(
        melody, seconds_per_beat=score.seconds_per_beat, length_beats=score.length_beats,
        beats_per_bar=score.beats_per_bar, sections=score.sections)
    spb = score.seconds_per_beat
    sections = [(s.start_beat * spb, s.end_beat * spb, s.label, s.kind, s.energy)
                for s in score.sections]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visualizer")
    video_job = None
    if req.video:
        def videos() -> list[dict[str, Any]]:
            t0 = time.perf_counter()
            main = vid.render_video(out / "visualizer.mp4", audio=versions[0].audio,
                                    sample_rate=song.sample_rate, song=video_song,
                                    palette=design.palette, title=req.title, artist=req.artist)
            start, end, label = vid.chorus_window(sections)
            short = vid.render_video(out / "visualizer-vertical.mp4", audio=versions[0].audio,
                                     sample_rate=song.sample_rate, song=video_song,
                                     palette=design.palette, title=req.title, artist=req.artist,
                                     size=vid.PORTRAIT, start_s=start, end_s=end)
            steps.timings["visualizer"] = round(time.perf_counter() - t0, 3)
            return [dict(vid.describe(main), role="visualizer"),
                    dict(vid.describe(short), role=f"vertical cut: {label}")]
        video_job = pool.submit(videos)
    try:
        claim = Claim(title=req.title, creator=req.artist, tool=TOOL_NAME,
                      tool_version=__version__, ingredients=ingredients,
                      isrc=format_isrc(req.isrc) if req.isrc else None, description=note)
        from tunesmith.publish.tags import ReleaseTags

        tags = ReleaseTags(title=req.title, artist=req.artist, year=year, genre=genre,
                           bpm=int(round(score.tempo_bpm)), key=key_tag(score), disclosure=note,
                           isrc=req.isrc, copyright=f"℗ {year} {owner}",
                           encoder=f"{TOOL_NAME} {__version__}")
        audio_files = steps.run("audio", lambda: _write_audio(
            versions, out, name=name, seed=seed, tags=tags, cover=cover_bytes, claim=claim,
            identity=identity, sample_rate=song.sample_rate))
        steps.run("stems", lambda: _zip_stems(song.stems, out / "stems.zip"))
        originality = steps.run("originality", lambda: originality_report(
            melody, references=req.against, beats_per_bar=score.beats_per_bar))
        (out / "originality.json").write_text(json.dumps(originality, indent=2) + "\n",
                                              encoding="utf-8")
        videos_made = video_job.result() if video_job is not None else []
    finally:
        pool.shutdown(wait=True)
    if engraving is not None:
        pdf = steps.run("engraving", engraving.wait)
        if pdf is None:
            warnings.append(f"leadsheet.pdf was not made: {engraving.reason}")

    facts = _facts(song, req, out, versions=versions, audio_files=audio_files, genre=genre,
                   year=year, owner=owner, note=note, ingredients=ingredients,
                   identity=identity, videos=videos_made, originality=originality,
                   warnings=warnings, today=today)
    message = _ddex_message(facts, req)
    xml = ddex.to_xml(message)
    ddex.check(xml, message)
    (out / "ddex-ern.xml").write_bytes(xml)
    facts["files"].append(_file_entry(out, out / "ddex-ern.xml", "DDEX ERN 4.3 NewReleaseMessage"))
    facts["timings_s"] = dict(steps.timings, total=round(time.perf_counter() - t_start, 3))
    (out / "release.json").write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for w in warnings:
        log.info("warning: %s", w)
    return ReleaseResult(path=out, facts=facts, warnings=warnings, timings_s=facts["timings_s"])


def _write_audio(versions: Sequence[Any], out: Path, *, name: str, seed: int, tags: Any,
                 cover: bytes, claim: Claim, identity: SigningIdentity,
                 sample_rate: int) -> list[dict[str, Any]]:
    from tunesmith.publish.provenance import sign_file, verify_file
    from tunesmith.publish.tags import tag_file

    anchors = [identity.trust_anchor_pem] if identity.trust_anchor_pem else []
    files = []
    for v in versions:
        folder = out / "audio" / v.name
        folder.mkdir(parents=True)
        made = [
            (folder / f"{name}.wav", "WAV", lambda p, a=v.audio: write_wav16(
                p, a, sample_rate=sample_rate, seed=seed)),
            (folder / f"{name}.flac", "FLAC", lambda p, a=v.audio: write_flac24(
                p, a, sample_rate=sample_rate)),
            (folder / f"{name}.mp3", "MP3", lambda p, a=v.audio: write_mp3(
                p, a, sample_rate=sample_rate)),
        ]
        for path, fmt, write in made:
            write(path)
            tag_file(path, tags, cover_jpeg=cover)
            sign_file(path, claim, identity)
            check = verify_file(path, trust_anchors=anchors)
            if not check.ok:
                raise ReleaseError(f"the Content Credentials in {path.name} did not verify: "
                                   + "; ".join(check.problems))
            files.append({
                "path": str(path.relative_to(out)), "format": fmt, "version": v.name,
                "platforms": list(v.platforms),
                "sample_rate_hz": sample_rate, "channels": 2,
                "bits_per_sample": {"WAV": WAV_BITS, "FLAC": FLAC_BITS}.get(fmt),
                "bitrate_kbps": MP3_BITRATE_KBPS if fmt == "MP3" else None,
                "dither": "TPDF" if fmt == "WAV" else None,
                "target_lufs": v.target.integrated_lufs,
                "true_peak_ceiling_dbtp": v.target.true_peak_dbtp,
                "loudness": v.loudness, "made_by": v.method,
                "c2pa": check.state,
                "sha256": sha256_of(path), "size_bytes": path.stat().st_size,
            })
    return files


def _zip_stems(stems: Sequence[Path], path: Path) -> None:
    # WAV barely deflates and deflating hundreds of MB costs seconds: store the files
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for s in stems:
            zf.write(s, arcname=f"stems/{s.name}")


def _file_entry(out: Path, path: Path, what: str) -> dict[str, Any]:
    return {"path": str(path.relative_to(out)), "what": what, "sha256": sha256_of(path),
            "size_bytes": path.stat().st_size}


def _facts(song: SongFolder, req: ReleaseRequest, out: Path, *, versions: Sequence[Any],
           audio_files: list[dict[str, Any]], genre: str, year: int, owner: str, note: str,
           ingredients: Sequence[Ingredient], identity: SigningIdentity,
           videos: list[dict[str, Any]], originality: dict[str, Any], warnings: list[str],
           today: dt.date) -> dict[str, Any]:
    score = song.score
    duration = song.master.shape[1] / song.sample_rate
    files = [_file_entry(out, out / "cover.jpg", "cover 3000x3000 JPEG"),
             _file_entry(out, out / "stems.zip", "stems as mixed (24-bit WAV)"),
             _file_entry(out, out / "originality.json", "originality report")]
    if (out / "leadsheet.musicxml").is_file():
        files.append(_file_entry(out, out / "leadsheet.musicxml", "lead sheet (MusicXML)"))
    if (out / "leadsheet.pdf").is_file():
        files.append(_file_entry(out, out / "leadsheet.pdf", "lead sheet (PDF, LilyPond)"))
    for v in videos:
        files.append(dict(_file_entry(out, out / v["file"], v["role"]), video=v))
    return {
        "title": req.title, "artist": req.artist, "label": owner,
        "isrc": format_isrc(req.isrc) if req.isrc else None,
        "upc": req.upc, "genre": genre, "year": year, "created": today.isoformat(),
        "p_line": f"℗ {year} {owner}", "c_line": f"© {year} {owner}",
        "duration_s": round(duration, 3), "tempo_bpm": round(score.tempo_bpm, 3),
        "key": score.key.name, "key_tag": key_tag(score), "style": song.info.get("style"),
        "ai_disclosure": note,
        "provenance": {
            "standard": "C2PA", "action": "c2pa.created",
            "digital_source_type": "trainedAlgorithmicMedia",
            "signer": identity.subject,
            "certificate": ("local CA made on this machine (not a public trust list)"
                            if identity.source == "local" else identity.source),
            "ingredients": [{"title": i.title, "kind": i.kind, "sha256": i.sha256}
                            for i in ingredients],
        },
        "loudness_versions": [
            {"folder": f"audio/{v.name}", "platforms": list(v.platforms),
             "target_lufs": v.target.integrated_lufs,
             "true_peak_ceiling_dbtp": v.target.true_peak_dbtp, "made_by": v.method,
             "measured": v.loudness} for v in versions],
        "audio": audio_files,
        "files": files,
        "originality": {"training_songs": originality["training_songs"].get(
            "longest_match_notes", "unavailable"),
            "references": {r["file"]: r["longest_match_notes"] for r in originality["references"]}},
        "warnings": warnings,
        "tool": {"name": TOOL_NAME, "version": __version__},
    }


def _ddex_message(facts: dict[str, Any], req: ReleaseRequest) -> ddex.NewReleaseMessage:
    dpid = req.sender_dpid or ddex.PLACEHOLDER_DPID
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    files = []
    codecs = {"WAV": "PCM", "FLAC": "FLAC", "MP3": "MP3"}
    for i, f in enumerate(facts["audio"], start=1):
        files.append(ddex.DeliveryFile(
            reference=f"T{i}", uri=f["path"], sha256=f["sha256"], size_bytes=f["size_bytes"],
            codec=codecs[f["format"]], channels=f["channels"], sample_rate_hz=f["sample_rate_hz"],
            bits_per_sample=f["bits_per_sample"], bitrate_kbps=f["bitrate_kbps"],
            description=f"{f['target_lufs']:g} LUFS for {', '.join(f['platforms'])}"))
    cover = next(f for f in facts["files"] if f["path"] == "cover.jpg")
    image_file = ddex.DeliveryFile(reference=f"T{len(files) + 1}", uri="cover.jpg",
                                   sha256=cover["sha256"], size_bytes=cover["size_bytes"],
                                   codec="JPEG", width_px=3000, height_px=3000)
    pid = hashlib.sha256(f"{facts['artist']}|{facts['title']}".encode()).hexdigest()[:12].upper()
    year = facts["year"]
    return ddex.NewReleaseMessage(
        header=ddex.MessageHeader(
            message_id=str(uuid.uuid4()), thread_id=f"TS-{pid}",
            sender=ddex.MessageParty(dpid, facts["label"]),
            recipient=ddex.MessageParty(ddex.PLACEHOLDER_DPID, "Distributor (to be filled in)"),
            created=now, control_type="LiveMessage" if req.sender_dpid else "TestMessage"),
        parties=(ddex.Party("PArtist1", facts["artist"]),),
        recordings=(ddex.SoundRecording(
            reference="A1", title=facts["title"], artist_reference="PArtist1",
            artist_name=facts["artist"], duration_s=facts["duration_s"], pline_year=year,
            pline_text=facts["p_line"], isrc=req.isrc, proprietary_id=f"TS-REC-{pid}",
            files=tuple(files)),),
        images=(ddex.Image("A2", f"TS-IMG-{pid}", image_file),),
        releases=(ddex.Release(
            reference="R0", title=facts["title"], artist_reference="PArtist1",
            artist_name=facts["artist"], genre=facts["genre"], duration_s=facts["duration_s"],
            pline_year=year, pline_text=facts["p_line"], cline_year=year,
            cline_text=facts["c_line"], release_date=facts["created"], track_reference="A1",
            image_reference="A2", icpn=icpn(req.upc) if req.upc else None,
            proprietary_id=f"TS-REL-{pid}"),),
    )
