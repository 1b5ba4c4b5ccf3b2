"""Files of the studio: one folder per user, uploads checked by content, no path escapes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError


class UploadError(TunesmithError):
    """An upload is too big, too long, of an unknown type or unreadable."""


_SAFE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Sniffed:
    kind: str  # audio | midi | score
    suffix: str


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
    raise UploadError("the upload is not audio (WAV, FLAC, MP3, OGG), MIDI, MusicXML or ABC")


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def user_dir(self, user_id: str) -> Path:
        if not _SAFE_ID.match(user_id):
            raise UploadError("bad user id")
        d = self.root / "users" / user_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def resolve(self, user_id: str, relative: str) -> Path:
        """A path inside the user's folder; anything that escapes it is refused."""
        base = self.user_dir(user_id).resolve()
        p = (base / relative).resolve()
        if base != p and base not in p.parents:
            raise UploadError("that path is outside your folder")
        return p

    def version_dir(self, user_id: str, song_id: str, number: int) -> Path:
        return self.user_dir(user_id) / "songs" / song_id / f"v{number}"
