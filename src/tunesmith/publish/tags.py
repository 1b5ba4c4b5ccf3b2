"""Tags in the release audio (mutagen): ID3v2.4 in MP3 and WAV, Vorbis comments in FLAC.

Written before the C2PA manifest is signed in, because the manifest hashes the file's bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError


class TagError(TunesmithError):
    """A release file could not be tagged."""


@dataclass(frozen=True, slots=True)
class ReleaseTags:
    title: str
    artist: str
    year: int
    genre: str
    bpm: int
    key: str  # initial key as tagging software writes it: "D", "F#m", "Bbm"
    disclosure: str  # the AI-generation disclosure, written as a comment
    isrc: str | None = None
    album: str | None = None  # singles: the title
    copyright: str | None = None
    encoder: str = ""


DISCLOSURE_KEY = "AI_DISCLOSURE"


def tag_file(path: Path, tags: ReleaseTags, *, cover_jpeg: bytes | None) -> None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".flac":
            _tag_flac(path, tags, cover_jpeg)
        elif suffix in (".mp3", ".wav"):
            _tag_id3(path, tags, cover_jpeg)
        else:
            raise TagError(f"cannot tag {path.name}: unknown format")
    except (OSError, ValueError) as exc:  # mutagen errors derive from these
        raise TagError(f"could not write tags to {path.name}: {exc}") from exc


def _tag_id3(path: Path, tags: ReleaseTags, cover: bytes | None) -> None:
    from mutagen.id3 import (
        APIC,
        COMM,
        TALB,
        TBPM,
        TCON,
        TCOP,
        TDRC,
        TIT2,
        TKEY,
        TPE1,
        TSRC,
        TSSE,
        TXXX,
        PictureType,
    )
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    audio = WAVE(str(path)) if path.suffix.lower() == ".wav" else MP3(str(path))
    if audio.tags is None:
        audio.add_tags()
    t = audio.tags
    t.delall("TSSE")
    t.add(TIT2(encoding=3, text=tags.title))
    t.add(TPE1(encoding=3, text=tags.artist))
    t.add(TALB(encoding=3, text=tags.album or tags.title))
    t.add(TCON(encoding=3, text=tags.genre))
    t.add(TDRC(encoding=3, text=str(tags.year)))
    t.add(TBPM(encoding=3, text=str(tags.bpm)))
    t.add(TKEY(encoding=3, text=tags.key))
    if tags.isrc:
        t.add(TSRC(encoding=3, text=tags.isrc))
    if tags.copyright:
        t.add(TCOP(encoding=3, text=tags.copyright))
    if tags.encoder:
        t.add(TSSE(encoding=3, text=tags.encoder))
    t.add(COMM(encoding=3, lang="eng", desc="", text=tags.disclosure))
    t.add(TXXX(encoding=3, desc=DISCLOSURE_KEY, text=tags.disclosure))
    if cover:
        t.add(APIC(encoding=3, mime="image/jpeg", type=PictureType.COVER_FRONT,
                   desc="Cover", data=cover))
    audio.save(v2_version=4)


def _tag_flac(path: Path, tags: ReleaseTags, cover: bytes | None) -> None:
    from mutagen.flac import FLAC, Picture

    audio = FLAC(str(path))
    values = {
        "TITLE": tags.title, "ARTIST": tags.artist, "ALBUM": tags.album or tags.title,
        "GENRE": tags.genre, "DATE": str(tags.year), "BPM": str(tags.bpm),
        "INITIALKEY": tags.key, "COMMENT": tags.disclosure, DISCLOSURE_KEY: tags.disclosure,
    }
    if tags.isrc:
        values["ISRC"] = tags.isrc
    if tags.copyright:
        values["COPYRIGHT"] = tags.copyright
    if tags.encoder:
        values["ENCODER"] = tags.encoder
    for k, v in values.items():
        audio[k] = v
    if cover:
        from PIL import Image

        pic = Picture()
        pic.type = 3  # front cover
        pic.mime = "image/jpeg"
        pic.desc = "Cover"
        with Image.open(io.BytesIO(cover)) as im:
            pic.width, pic.height = im.size
        pic.depth = 24
        pic.data = cover
        audio.clear_pictures()
        audio.add_picture(pic)
    audio.save()


def read_tags(path: Path) -> dict[str, str]:
    """The tags this module writes, read back under one set of names (for checks and tests)."""
    import mutagen

    f = mutagen.File(str(path))
    if f is None or f.tags is None:
        return {}
    if path.suffix.lower() == ".flac":
        names = {"title": "TITLE", "artist": "ARTIST", "genre": "GENRE", "year": "DATE",
                 "bpm": "BPM", "key": "INITIALKEY", "isrc": "ISRC", "disclosure": "COMMENT"}
        out = {k: f.tags[v][0] for k, v in names.items() if v in f.tags}
        out["cover"] = "yes" if f.pictures else ""
        return {k: v for k, v in out.items() if v}
    frames = {"title": "TIT2", "artist": "TPE1", "genre": "TCON", "year": "TDRC", "bpm": "TBPM",
              "key": "TKEY", "isrc": "TSRC"}
    out = {k: str(f.tags[v].text[0]) for k, v in frames.items() if v in f.tags}
    comments = f.tags.getall("COMM")
    if comments:
        out["disclosure"] = str(comments[0].text[0])
    if f.tags.getall("APIC"):
        out["cover"] = "yes"
    return out
