"""Checking uploads before they reach the store: the type is sniffed from the content (never
from the name), then the size and, for audio, the length are checked on a local copy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tunesmith.errors import TunesmithError

CHUNK = 1 << 20
HEAD_BYTES = 4096


class UploadError(TunesmithError):
    """An upload is too big, too long, of an unknown type or unreadable."""


class UnsupportedUploadError(UploadError):
    """Not a kind of file the studio takes, or one it cannot decode."""


class UploadTooLargeError(UploadError):
    """Over the size or length limit."""


@dataclass(frozen=True)
class Sniffed:
    kind: str  # audio | midi | score
    suffix: str


@dataclass(frozen=True)
class CheckedUpload:
    path: Path  # a local copy, ready to be stored
    kind: str
    suffix: str
    size_bytes: int


def sniff(head: bytes, *, filename: str = "") -> Sniffed:
    """The file type from its first bytes (never from the name alone)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio", ".wav")
    if head[:4] == b"fLaC":
        return Sniffed("audio", ".flac")
    if head[:4] == b"OggS":
        return Sniffed("audio", ".ogg")
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return Sniffed("audio", ".mp3")
    if head[:4] == b"MThd":
        return Sniffed("midi", ".mid")
    text = head[:2048].decode("utf-8", errors="ignore").lstrip("\ufeff \r\n\t")
    if text.startswith("<?xml") or text.startswith("<score-partwise") or "<score-partwise" in text:
        return Sniffed("score", ".musicxml")
    if head[:2] == b"PK" and filename.lower().endswith(".mxl"):
        return Sniffed("score", ".mxl")
    if re.match(r"^(%.*\n)*X:\s*\d+", text):
        return Sniffed("score", ".abc")
    raise UnsupportedUploadError(
        "the upload is not audio (WAV, FLAC, MP3, OGG), MIDI, MusicXML or ABC")


def check_upload(src: BinaryIO, *, filename: str, kinds: tuple[str, ...], max_bytes: int,
                 max_audio_s: float, into: Path) -> CheckedUpload:
    """Copy `src` into the local folder `into` while checking it; raises an UploadError (and
    leaves the partial copy for the caller's scratch folder to remove) when it is refused."""
    head = src.read(HEAD_BYTES)
    found = sniff(head, filename=filename)
    if found.kind not in kinds:
        raise UnsupportedUploadError(f"this needs {' or '.join(kinds)}, not {found.kind}")
    dest = into / f"upload{found.suffix}"
    size = len(head)
    with dest.open("wb") as out:
        out.write(head)
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLargeError(f"the upload is over {max_bytes // (1 << 20)} MB")
            out.write(chunk)
    if size > max_bytes:
        raise UploadTooLargeError(f"the upload is over {max_bytes // (1 << 20)} MB")
    if found.kind == "audio":
        _check_audio(dest, max_audio_s)
    return CheckedUpload(path=dest, kind=found.kind, suffix=found.suffix, size_bytes=size)


def _check_audio(path: Path, max_s: float) -> None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        raise UnsupportedUploadError("the audio file cannot be decoded") from None
    if info.duration > max_s:
        raise UploadTooLargeError(f"the recording is {info.duration / 60:.1f} min long; the "
                                  f"studio takes up to {max_s / 60:.0f} min")
