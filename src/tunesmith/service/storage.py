"""The studio's files, in any fsspec filesystem: local disk (the default), S3, GCS, memory...

    <root>/users/<user id>/uploads/<id>.<ext>             checked uploads
    <root>/users/<user id>/songs/<song id>/v<N>/...       one folder per version (a bundle)
    <root>/users/<user id>/songs/<song id>/v<N>/.published.json   its manifest, written last
    <root>/previews/<style>.wav                           style previews

Code reaches files only through a `Folder` (one user's, or the previews'): every path given to
it is normalised and anything that could leave it (`..`, absolute paths, backslashes, glob
characters) is refused, so one user never reaches another's files. A version is published
from a local folder the worker rendered into: on local disk by renaming it into place whole; on
any other filesystem by uploading its files and then the manifest, last. Readers trust only
the manifest, so a half-uploaded version is never served.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tunesmith.errors import TunesmithError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

MARKER = ".published.json"  # a version's manifest: which files it has, written last
CHUNK = 1 << 20
SCRATCH_MAX_AGE_S = 24 * 3600.0  # a worker sweeps older scratch folders (left by killed ones)

_SAFE_ID = re.compile(r"^[0-9a-f]{32}$")
_FORBIDDEN = re.compile(r"[\\:*?\[\]\x00-\x1f\x7f]")  # glob characters: fsspec would expand them


class StorageError(TunesmithError):
    """A file cannot be stored or read."""


class UnsafePathError(StorageError):
    """A path that could leave its folder, or a malformed id."""


def clean_path(rel: str, *, allow_empty: bool = False) -> str:
    """`rel` as a normalised relative path ("a/b.wav"); refuses anything that could escape."""
    if not isinstance(rel, str) or _FORBIDDEN.search(rel) or rel.startswith(("/", "~")):
        raise UnsafePathError(f"unsafe path {rel!r}")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(f"that path is outside your folder: {rel!r}")
    if not parts and not allow_empty:
        raise UnsafePathError("empty path")
    return "/".join(parts)


def check_id(value: str) -> str:
    if not isinstance(value, str) or not _SAFE_ID.match(value):
        raise UnsafePathError("bad id")
    return value


@dataclass(frozen=True)
class Manifest:
    """A published version: its files (relative path -> bytes) and when it was published."""

    files: dict[str, int]
    published_at: float

    def to_json(self) -> str:
        return json.dumps({"format": 1, "published_at": self.published_at, "files": self.files},
                          indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = json.loads(text)
        return cls(files={clean_path(k): int(v) for k, v in data["files"].items()},
                   published_at=float(data["published_at"]))

    @classmethod
    def of_folder(cls, folder: Path) -> Manifest:
        files = {p.relative_to(folder).as_posix(): p.stat().st_size
                 for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MARKER}
        return cls(files={clean_path(k): v for k, v in files.items()}, published_at=time.time())


INFO_KEYS = ("style", "key", "tempo_bpm", "duration_s", "sections", "chords", "master",
             "time_signature")  # what a song listing shows of a version's song.json


def version_info(song_json: Path | bytes | None) -> dict[str, Any] | None:
    """The listing's facts from a version's song.json (a local file or its bytes; None when
    the version has none)."""
    if song_json is None:
        return None
    if isinstance(song_json, Path):
        if not song_json.is_file():
            return None
        song_json = song_json.read_bytes()
    full = json.loads(song_json)
    return {k: full.get(k) for k in INFO_KEYS}


class Storage:
    """One filesystem and a root in it; hands out `Folder`s. `scratch_dir` is local disk where
    workers render and uploads are checked (on the store's own disk when it is local, so that
    publishing is a rename)."""

    def __init__(self, fs: AbstractFileSystem, root: str, *, scratch_dir: Path) -> None:
        from fsspec.implementations.local import LocalFileSystem

        self.fs = fs
        self.root = root.rstrip("/") or ("/" if root.startswith("/") else "")
        self.scratch_dir = Path(scratch_dir)
        self.local_root = Path(self.root) if isinstance(fs, LocalFileSystem) else None

    @classmethod
    def open(cls, url: str, *, data_dir: Path) -> Storage:
        """The store at `url` (any fsspec URL; empty: `data_dir` on local disk)."""
        import fsspec
        from fsspec.implementations.dirfs import DirFileSystem

        if not url:
            return cls(fsspec.filesystem("file"), str(Path(data_dir).resolve()),
                       scratch_dir=Path(data_dir) / ".scratch")
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs installed
            raise StorageError(f"cannot open the storage {url!r}: {exc}") from exc
        if isinstance(fs, DirFileSystem):
            root = ""  # its folder is already its root
        store = cls(fs, root, scratch_dir=Path(data_dir) / "scratch")
        if store.local_root is not None:
            store.scratch_dir = store.local_root / ".scratch"
        return store

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    def user(self, user_id: str) -> Folder:
        return Folder(self, f"users/{check_id(user_id)}")

    def previews(self) -> Folder:
        return Folder(self, "previews")

    @staticmethod
    def version_folder(song_id: str, number: int) -> str:
        """A version's folder inside its user's folder."""
        return f"{Storage.song_folder(song_id)}/v{int(number)}"

    @staticmethod
    def song_folder(song_id: str) -> str:
        """The folder of all a song's versions inside its user's folder."""
        return f"songs/{check_id(song_id)}"

    # ------------------------------------------------------------------ local scratch
    @contextmanager
    def scratch(self, name: str) -> Iterator[Path]:
        """A fresh local folder, removed afterwards (whatever an earlier run left there too)."""
        path = self.scratch_dir / clean_path(name)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clear_scratch(self, *, prefix: str = "", older_than_s: float = 0.0) -> None:
        """Remove scratch folders starting with `prefix` (last modified over `older_than_s`
        ago): what killed workers left behind."""
        if not self.scratch_dir.is_dir():
            return
        cutoff = time.time() - older_than_s
        for p in self.scratch_dir.iterdir():
            with suppress(OSError):
                if p.name.startswith(prefix) and p.stat().st_mtime <= cutoff:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()


class Folder:
    """A part of the store that paths cannot leave: one user's files, or the previews."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.fs = storage.fs
        self.prefix = clean_path(prefix)

    def key(self, rel: str) -> str:
        """The filesystem path of `rel` (checked)."""
        inside = "/".join(p for p in (self.prefix, clean_path(rel, allow_empty=True)) if p)
        root = self.storage.root
        return f"{root.rstrip('/')}/{inside}" if root else inside

    def local_path(self, rel: str = "") -> Path | None:
        """Where `rel` is on local disk, when the store is local disk; None otherwise."""
        if self.storage.local_root is None:
            return None
        return Path(self.key(rel))

    # ------------------------------------------------------------------ single files
    def exists(self, rel: str) -> bool:
        return bool(self.fs.isfile(self.key(rel)))

    def size(self, rel: str) -> int:
        return int(self.fs.size(self.key(rel)))

    def read_bytes(self, rel: str) -> bytes:
        return bytes(self.fs.cat_file(self.key(rel)))

    def open(self, rel: str) -> BinaryIO:
        return self.fs.open(self.key(rel), "rb")

    def iter_bytes(self, rel: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of `rel` from `start` up to `end` (exclusive), a chunk at a time."""
        with self.open(rel) as f:
            if start:
                f.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def put_file(self, rel: str, local: Path) -> None:
        """Store a local file at `rel` whole (readers see the old file or the new one); the
        local file is moved, not copied, where it can be."""
        target = self.local_path(rel)
        if target is not None:
            _replace_local(Path(local), target)
            return
        key = self.key(rel)
        self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(local), key)

    def download(self, rel: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self.key(rel), str(dest))
        return dest

    def delete(self, rel: str) -> None:
        """Remove a file or a whole folder; a missing one is not an error."""
        key = self.key(clean_path(rel))  # never the folder itself
        with suppress(FileNotFoundError):
            if self.fs.exists(key):
                self.fs.rm(key, recursive=True)

    # ------------------------------------------------------------------ versions
    def publish(self, rel: str, local_dir: Path) -> Manifest:
        """Make the local folder `local_dir` the version folder `rel` (replacing an earlier,
        maybe half-published, one); its manifest goes last, so readers see all or nothing."""
        manifest = Manifest.of_folder(local_dir)
        target = self.local_path(clean_path(rel))
        if target is not None:  # local disk: the folder, manifest included, is renamed in
            (local_dir / MARKER).write_text(manifest.to_json(), encoding="utf-8")
            _replace_local(local_dir, target)
            return manifest
        dest = self.key(clean_path(rel))
        with suppress(FileNotFoundError):
            self.fs.rm(f"{dest}/{MARKER}")  # from here on readers see no version
        self.delete(rel)
        made: set[str] = set()
        for name in manifest.files:
            parent = f"{dest}/{name}".rsplit("/", 1)[0]
            if parent not in made:
                self.fs.makedirs(parent, exist_ok=True)
                made.add(parent)
            self.fs.put_file(str(local_dir / name), f"{dest}/{name}")
        self.fs.pipe_file(f"{dest}/{MARKER}", manifest.to_json().encode("utf-8"))
        return manifest

    def manifest(self, rel: str) -> Manifest | None:
        """The published version at `rel`; None while it is not (completely) there."""
        try:
            text = self.fs.cat_file(self.key(f"{clean_path(rel)}/{MARKER}"))
        except FileNotFoundError:
            return self._adopt_legacy(rel)
        return Manifest.from_json(text)

    def _adopt_legacy(self, rel: str) -> Manifest | None:
        """Versions written by studios before manifests existed (local disk only, where a
        version folder was always renamed into place whole) get their manifest now."""
        folder = self.local_path(rel)
        if folder is None or not (folder / "song.json").is_file():
            return None
        manifest = Manifest.of_folder(folder)
        fd, tmp = tempfile.mkstemp(prefix=f".{MARKER}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(manifest.to_json())
        os.replace(tmp, folder / MARKER)
        return manifest

    def zip_chunks(self, rel: str, manifest: Manifest, *, arcroot: str) -> Iterator[bytes]:
        """A zip of the version at `rel` (each file under `arcroot/`), made while it is sent:
        files are read from the store a chunk at a time, nothing is written to disk."""
        sink = _Sink()
        stamp = time.localtime(manifest.published_at)[:6]
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as z:  # type: ignore[arg-type]
            for name, size in sorted(manifest.files.items()):
                info = zipfile.ZipInfo(f"{arcroot}/{name}", date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.file_size = size  # lets zipfile pick ZIP64 ahead for huge files
                with z.open(info, "w") as out:
                    for chunk in self.iter_bytes(f"{rel}/{name}"):
                        out.write(chunk)
                        if sink.pending():
                            yield sink.take()
                yield sink.take()
        yield sink.take()


class _Sink:
    """A write-only, unseekable stream that a zipfile writes into while we send its bytes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def pending(self) -> bool:
        return self._size >= CHUNK

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts, self._size = [], 0
        return out


def _replace_local(src: Path, target: Path) -> None:
    """Move `src` (file or folder) to `target` on local disk, replacing it whole: a rename when
    both are on one disk (the scratch folder is on the store's disk), a copy otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        staged, old = staging / "new", staging / "old"
        shutil.move(str(src), staged)
        if target.is_dir():
            os.replace(target, old)  # os.replace cannot overwrite a folder
        try:
            os.replace(staged, target)
        except OSError:
            if old.exists():
                os.replace(old, target)  # put the earlier version back
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["MARKER", "Folder", "Manifest", "Storage", "StorageError", "UnsafePathError",
           "check_id", "clean_path"]
