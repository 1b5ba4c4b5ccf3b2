"""`tunesmith release`: one short song is made and released once; every file is checked."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import HAVE_SOUNDFONT
from conftest import needs_soundfont as needs_sf
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.publish import ddex
from tunesmith.publish.identifiers import IdentifierError, normalize_isrc, normalize_upc
from tunesmith.publish.lyrics import align, parse_lyrics, syllabify
from tunesmith.score import Chord, Note, Score, Section, Track, read_score_midi
from tunesmith.theory import ChordSymbol, Key, pitch_class_name

runner = CliRunner()
TITLE, ARTIST, ISRC, UPC = "Glass River", "Ada Test", "GB-A1B-25-00042", "036000291452"
HAS_LILYPOND = shutil.which("lilypond") is not None
LYRICS = """[Verse]
Morning comes across the water slowly
Every little light is waking up again

[Chorus]
Sing it loud, sing it clear, all the world is here
Sing it loud for the ones we love tonight under open skies and stars above us
"""
# bars of C major: verse melody (the conftest hook) then a chorus a third higher
HOOK = [(0, 1, 64), (1, 1, 62), (2, 1, 60), (3, 1, 62), (4, 1, 64), (5, 1, 64), (6, 2, 64),
        (8, 1, 62), (9, 1, 62), (10, 2, 62), (12, 1, 64), (13, 1, 67), (14, 2, 67)]
CHORUS = [(16, 0.5, 67), (16.5, 0.5, 69), (17, 1, 72), (18, 1.5, 71), (19.5, 0.5, 69),
          (20, 2, 67), (22, 1, 64), (23, 1, 65), (24, 1, 67), (25, 1, 69), (26, 2, 72),
          (28, 1, 71), (29, 1, 69), (30, 2, 67)]


def _lead() -> Score:
    melody = [Note(b, d, p) for b, d, p in HOOK + CHORUS]
    prog = ["C", "G", "Am", "F", "F", "G", "C", "G"]
    chords = [Chord(4.0 * i, 4.0, ChordSymbol.parse(s)) for i, s in enumerate(prog)]
    sections = [Section("verse", "Verse 1", 0.0, 16.0, 0.5),
                Section("chorus", "Chorus 1", 16.0, 16.0, 0.85)]
    return Score(tempo_bpm=120.0, key=Key(0, "major"), beats_per_bar=4,
                 tracks=[Track("melody", program=0, notes=melody, role="melody")],
                 chords=chords, sections=sections)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("config")
        mp.setenv("TUNESMITH_CONFIG_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, config_dir):
    """A 16 s song (8 bars) made by the real pipeline, then released with lyrics and a
    reference melody. Returns (song folder, release folder, result)."""
    if not HAVE_SOUNDFONT:
        pytest.skip("no SoundFont")
    from tunesmith import pipeline
    from tunesmith.arrange import load_style
    from tunesmith.publish.release import make_release

    lead = _lead()
    # as `hum` records it: the take and how many sung notes were heard in it
    song = pipeline.song_from_lead_sheet(lead, style=load_style("pop-ballad"),
                                         request=pipeline.SongRequest(seed=5),
                                         input_info={"file": "hum.wav",
                                                     "sung_notes": len(lead.tracks[0].notes)})
    work = tmp_path_factory.mktemp("release")
    hum = io.BytesIO()
    sf.write(hum, np.sin(np.linspace(0, 900, 44100)).astype(np.float32) * 0.3, 44100,
             format="WAV")
    out = pipeline.write_song(song, work / "song", extra_files={"input/hum.wav": hum.getvalue()})
    lyrics = work / "lyrics.txt"
    lyrics.write_text(LYRICS, encoding="utf-8")
    result = make_release(out, title=TITLE, artist=ARTIST, isrc=ISRC, upc=UPC, lyrics=lyrics,
                          against=[out / "song.mid"])
    return out, out / "release", result


def _audio_files(rel: Path) -> list[Path]:
    return sorted(p for p in (rel / "audio").rglob("*") if p.suffix in (".wav", ".flac", ".mp3"))


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(2, n) float32 and the sample rate, for any of the release's audio files."""
    if path.suffix == ".mp3":
        import av

        with av.open(str(path)) as c:
            chunks = [f.to_ndarray() for f in c.decode(audio=0)]
            rate = c.streams.audio[0].rate
        return np.concatenate(chunks, axis=1).astype(np.float32), rate
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


# ---------------------------------------------------------------- identifiers

def test_isrc_is_normalised_and_checked():
    assert normalize_isrc("gb-a1b-25-00042") == "GBA1B2500042"
    with pytest.raises(IdentifierError, match="12"):
        normalize_isrc("GB-A1B-25-0004")
    with pytest.raises(IdentifierError, match="country"):
        normalize_isrc("XX-A1B-25-00042")
    with pytest.raises(IdentifierError, match="form"):
        normalize_isrc("GB-A1B-2X-00042")


def test_upc_and_ean_check_digits():
    assert normalize_upc("0 36000 29145 2") == "036000291452"
    assert normalize_upc("4006381333931") == "4006381333931"
    with pytest.raises(IdentifierError, match="check digit.*2"):
        normalize_upc("036000291453")
    with pytest.raises(IdentifierError, match="digits"):
        normalize_upc("03600029145A")
    with pytest.raises(IdentifierError, match="12"):
        normalize_upc("12345")


# ---------------------------------------------------------------- lyrics

def test_syllables_split_where_sung():
    assert syllabify("melody") == ["me", "lo", "dy"]
    assert syllabify("little") == ["lit", "tle"]
    assert syllabify("across") == ["a", "cross"]
    assert syllabify("wake") == ["wake"]
    assert syllabify("ev-er-y") == ["ev", "er", "y"]


def test_lyrics_that_do_not_fit_are_warned_about():
    notes = [Note(float(i), 1.0, 60) for i in range(8)]
    sections = [Section("verse", "Verse 1", 0.0, 8.0)]
    short = align(parse_lyrics("la la la"), notes, sections)
    assert short.syllables[:3] == tuple(s for s in short.syllables[:3] if s is not None)
    assert short.syllables[3] is None
    assert any("5 notes at the end have no words" in w for w in short.warnings)
    long = align(parse_lyrics("one two three four five six seven eight nine ten"), notes,
                 sections)
    assert any("do not fit" in w and "nine ten" in w for w in long.warnings)
    exact = align(parse_lyrics("a b c d e f g h"), notes, sections)
    assert not exact.warnings


# ---------------------------------------------------------------- the bundle

@needs_sf
def test_bundle_has_every_file(bundle):
    _, rel, result = bundle
    expected = ["cover.jpg", "stems.zip", "visualizer.mp4", "visualizer-vertical.mp4",
                "leadsheet.musicxml", "ddex-ern.xml", "release.json", "originality.json"]
    if HAS_LILYPOND:
        expected.append("leadsheet.pdf")
    for name in expected:
        assert (rel / name).is_file(), name
    names = {p.relative_to(rel).as_posix() for p in _audio_files(rel)}
    assert names == {f"audio/{v}/glass-river.{e}" for v in ("spotify-youtube", "apple")
                     for e in ("wav", "flac", "mp3")}
    assert not list(rel.parent.glob(".release.partial-*"))
    assert result.path == rel


@needs_sf
def test_audio_formats_and_durations(bundle):
    song, rel, _ = bundle
    n = sf.info(str(song / "song.wav")).frames
    for path in _audio_files(rel):
        if path.suffix == ".mp3":
            from mutagen.mp3 import MP3

            info = MP3(str(path)).info
            assert info.bitrate == 320_000 and info.sample_rate == 44100 and info.channels == 2
            x, sr = _decode(path)
            assert abs(info.length - n / 44100) < 0.1
            assert sr == 44100 and x.shape[0] == 2
        else:
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.frames) == (44100, 2, n)
            assert info.subtype == ("PCM_16" if path.suffix == ".wav" else "PCM_24")


@needs_sf
def test_wav_is_tpdf_dithered(bundle):
    song, rel, _ = bundle
    master, _ = sf.read(str(song / "song.wav"), dtype="float64", always_2d=True)
    wav, _ = sf.read(str(rel / "audio" / "spotify-youtube" / "glass-river.wav"), dtype="int16",
                     always_2d=True)
    err = wav.astype(np.float64) - master * 32767.0
    loud = np.abs(master).max(axis=1) > 0.01
    e = err[loud].ravel()
    assert abs(e.mean()) < 0.05
    assert 0.45 < e.std() < 0.85  # TPDF +-1 LSB plus rounding: ~0.65 LSB; plain rounding: 0.29


@needs_sf
def test_tags_in_every_file(bundle):
    from tunesmith.publish.tags import read_tags

    _, rel, _ = bundle
    for path in _audio_files(rel):
        tags = read_tags(path)
        assert tags["title"] == TITLE and tags["artist"] == ARTIST, path.name
        assert tags["isrc"] == "GBA1B2500042"
        assert tags["bpm"] == "120" and tags["key"] == "C"
        assert tags["genre"] == "Pop" and re.fullmatch(r"20\d\d", tags["year"])
        assert "AI-generated" in tags["disclosure"]
        assert tags.get("cover") == "yes"


@needs_sf
def test_loudness_per_platform(bundle):
    from tunesmith.produce import loudness_report

    _, rel, result = bundle
    targets = {"spotify-youtube": -14.0, "apple": -16.0}
    for path in _audio_files(rel):
        x, sr = _decode(path)
        report = loudness_report(x, sample_rate=sr)
        assert abs(report.integrated_lufs - targets[path.parent.name]) <= 0.5, path
        if path.suffix != ".mp3":
            assert report.true_peak_dbtp <= -1.0 + 0.05, path
    folders = {v["folder"] for v in result.facts["loudness_versions"]}
    assert folders == {"audio/spotify-youtube", "audio/apple"}


@needs_sf
def test_content_credentials_validate(bundle, config_dir):
    from tunesmith.publish.provenance import verify_file

    song, rel, _ = bundle
    hum_hash = __import__("hashlib").sha256((song / "input" / "hum.wav").read_bytes()).hexdigest()
    for path in _audio_files(rel):
        v = verify_file(path)
        assert v.ok and v.trusted, (path, v.problems)
        assert v.actions == ["c2pa.created"]
        assert v.digital_source_type.endswith("/trainedAlgorithmicMedia")
        assert v.creator == ARTIST and v.tool.startswith("tunesmith ")
        assert {"title": "hum.wav", "kind": "hum", "sha256": hum_hash} in v.ingredients
    key = config_dir / "signing" / "signer-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (config_dir / "signing" / "ca-key.pem").stat().st_mode & 0o777 == 0o600


def _data_chunk(raw: bytes) -> tuple[int, int]:
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if cid == b"data":
            return pos + 8, size
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


@needs_sf
def test_tampering_breaks_the_credentials(bundle, tmp_path):
    from tunesmith.publish.provenance import verify_file

    _, rel, _ = bundle
    wav = rel / "audio" / "spotify-youtube" / "glass-river.wav"
    raw = bytearray(wav.read_bytes())
    start, size = _data_chunk(bytes(raw))
    sample = start + (size // 4) * 2  # one 16-bit sample in the middle
    value = struct.unpack("<h", raw[sample:sample + 2])[0]
    raw[sample:sample + 2] = struct.pack("<h", value + (1 if value < 32767 else -1))
    bad = tmp_path / "tampered.wav"
    bad.write_bytes(bytes(raw))
    v = verify_file(bad)
    assert not v.ok and v.state == "Invalid"
    assert any("changed after it was signed" in p for p in v.problems)
    for src in (wav.with_suffix(".flac"), wav.with_suffix(".mp3")):
        data = bytearray(src.read_bytes())
        data[len(data) * 2 // 3] ^= 0x10
        out = tmp_path / f"tampered{src.suffix}"
        out.write_bytes(bytes(data))
        assert not verify_file(out).ok, src.name
    res = runner.invoke(app, ["verify", str(wav), str(bad)])
    assert res.exit_code == 2
    assert "OK" in res.output and "FAILED" in res.output
    assert runner.invoke(app, ["verify", str(wav)]).exit_code == 0


@needs_sf
def test_ddex_message(bundle):
    from tunesmith.publish.release import sha256_of

    song, rel, result = bundle
    data = (rel / "ddex-ern.xml").read_bytes()
    root = ET.fromstring(data)
    assert root.tag == f"{{{ddex.ERN_NS}}}NewReleaseMessage"
    assert [c.tag for c in root] == ["MessageHeader", "PartyList", "ResourceList", "ReleaseList"]
    sr = root.find("ResourceList/SoundRecording")
    assert sr.findtext("SoundRecordingEdition/ResourceId/ISRC") == "GBA1B2500042"
    assert sr.findtext("DisplayTitleText") == TITLE
    assert sr.findtext("DisplayArtistName") == ARTIST
    duration = ddex.parse_duration(sr.findtext("Duration"))
    assert abs(duration - sf.info(str(song / "song.wav")).duration) < 0.01
    details = sr.findall("SoundRecordingEdition/TechnicalDetails")
    assert len(details) == 6
    for td in details:
        uri = td.findtext("DeliveryFile/File/URI")
        assert td.findtext("DeliveryFile/File/HashSum/HashSumValue") == sha256_of(rel / uri)
    image = root.find("ResourceList/Image")
    assert image.findtext("TechnicalDetails/ImageWidth") == "3000"
    assert root.findtext("ReleaseList/Release/ReleaseId/ICPN") == "0" + UPC
    assert root.find("DealList") is None
    message = ddex.from_xml(data)
    ddex.check(data, message)
    other = replace(message, releases=(replace(message.releases[0], title="Another"),))
    with pytest.raises(ddex.DdexError, match="title"):
        ddex.check(data, other)
    with pytest.raises(ddex.DdexError, match="well-formed"):
        ddex.from_xml(data[:-40])
    facts = json.loads((rel / "release.json").read_text())
    assert facts["title"] == TITLE and facts["isrc"] == "GB-A1B-25-00042"
    assert abs(facts["duration_s"] - duration) < 0.01
    assert {f["path"]: f["sha256"] for f in facts["audio"]} == {
        td.findtext("DeliveryFile/File/URI"): td.findtext("DeliveryFile/File/HashSum/HashSumValue")
        for td in details}
    assert result.facts["upc"] == UPC


@needs_sf
def test_musicxml_rereads_into_the_same_notes(bundle):
    from tunesmith.publish.leadsheet import melody_track_notes, quantize_melody, read_musicxml

    song, rel, result = bundle
    score = read_score_midi(song / "song.mid")
    melody = quantize_melody(melody_track_notes(score), swing=score.swing)
    notes, chords = read_musicxml(rel / "leadsheet.musicxml")
    assert [(n.start_beat, n.duration_beats, n.pitch) for n in notes] == [
        (n.start_beat, n.duration_beats, n.pitch) for n in melody]
    # the quantised lead sheet is the song's melody without the humanised timing
    assert [n.pitch for n in melody] == [p for _, _, p in HOOK + CHORUS]
    assert [n.start_beat for n in melody] == [float(b) for b, _, _ in HOOK + CHORUS]
    kinds = {"maj": "major", "min": "minor", "7": "dominant-seventh", "maj7": "major-seventh",
             "min7": "minor-seventh", "sus4": "suspended-fourth", "sus2": "suspended-second",
             "6": "major-sixth", "9": "dominant-ninth", "dim": "diminished"}
    flats = score.key.uses_flats
    assert chords == [(c.start_beat, f"{pitch_class_name(c.chord.root, flats=flats).replace('b', '-')}"
                                     f":{kinds[c.chord.quality]}") for c in score.chords]
    sung = [n.lyric for n in notes]
    assert sung[:4] == ["Mor", "ning", "comes", "a"]
    assert any("Chorus 1" in w and "do not fit" in w for w in result.warnings)


@pytest.mark.skipif(not HAS_LILYPOND, reason="LilyPond is not installed (apt lilypond)")
@needs_sf
def test_pdf_has_pages(bundle):
    _, rel, _ = bundle
    pdf = (rel / "leadsheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1


@needs_sf
def test_cover_size_determinism_and_variety(bundle):
    from PIL import Image

    from tunesmith.publish.cover import cover_design, cover_jpeg

    song, rel, _ = bundle
    with Image.open(rel / "cover.jpg") as im:
        assert im.size == (3000, 3000) and im.mode == "RGB" and im.format == "JPEG"
    score = read_score_midi(song / "song.mid")
    info = json.loads((song / "song.json").read_text())
    design = cover_design(score, info, seed=5)
    small = dict(title=TITLE, artist=ARTIST, size_px=600)
    a = cover_jpeg(design, **small)
    assert a == cover_jpeg(cover_design(score, info, seed=5), **small)
    other_seed = cover_jpeg(cover_design(score, info, seed=6), **small)
    minor = replace(score, key=Key(9, "minor"), tempo_bpm=70.0)
    other_song = cover_jpeg(cover_design(minor, info, seed=5), **small)

    def pixels(b: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(b)) as im:
            return np.asarray(im.convert("RGB").resize((100, 100)), dtype=np.float32)

    assert np.abs(pixels(a) - pixels(other_seed)).mean() > 3.0
    assert np.abs(pixels(a) - pixels(other_song)).mean() > 10.0


@needs_sf
def test_videos(bundle):
    import av

    song, rel, result = bundle
    length = sf.info(str(song / "song.wav")).duration
    with av.open(str(rel / "visualizer.mp4")) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height) == ("h264", 1920, 1080)
        assert a.codec_context.name == "aac"
        assert abs(c.duration / 1e6 - length) < 0.1
        frames = [f.to_ndarray(format="gray").astype(np.float32)
                  for i, f in enumerate(c.decode(video=0)) if i in (30, 90)]
    assert np.abs(frames[0] - frames[1]).mean() > 1.0  # it moves
    with av.open(str(rel / "visualizer-vertical.mp4")) as c:
        v = c.streams.video[0]
        assert (v.width, v.height) == (1080, 1920)
        assert abs(c.duration / 1e6 - 8.0) < 0.1  # the 4-bar chorus at 120 bpm
    roles = [f for f in result.facts["files"] if "video" in f]
    assert {f["video"]["width"] for f in roles} == {1920, 1080}


@needs_sf
def test_originality_and_stems(bundle):
    song, rel, _ = bundle
    report = json.loads((rel / "originality.json").read_text())
    ref = report["references"][0]
    assert ref["file"] == "song.mid"
    assert ref["longest_match_notes"] == report["melody_notes"] == len(HOOK + CHORUS)
    training = report["training_songs"]
    assert training["available"] in (True, False)
    assert "longest_match_notes" in training or training["reason"]
    with zipfile.ZipFile(rel / "stems.zip") as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(f"stems/{p.name}"
                                               for p in (song / "stems").glob("*.wav"))


@needs_sf
def test_bad_requests_leave_the_song_alone(bundle, tmp_path):
    from tunesmith.errors import OutputError
    from tunesmith.publish.release import ReleaseError, make_release

    song, rel, _ = bundle
    with pytest.raises(OutputError, match="--overwrite"):
        make_release(song, title=TITLE, artist=ARTIST)
    with pytest.raises(IdentifierError, match="check digit"):
        make_release(song, title=TITLE, artist=ARTIST, upc="036000291453", overwrite=True)
    with pytest.raises(ReleaseError, match="not a tunesmith song folder"):
        make_release(tmp_path, title=TITLE, artist=ARTIST)
    assert (rel / "release.json").is_file()
    assert not list(song.glob(".release.*"))
    res = runner.invoke(app, ["release", str(song), "--title", "T", "--artist", "A",
                              "--isrc", "ZZ-123"])
    assert res.exit_code == 2 and "ISRC" in res.output
