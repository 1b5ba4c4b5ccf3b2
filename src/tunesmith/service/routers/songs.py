from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from tunesmith.service.db import job_events, jobs, now, songs, versions
from tunesmith.service.deps import RateLimitedUser, Services, ServicesDep, UserDep
from tunesmith.service.queue import new_id
from tunesmith.service.responses import file_response, zip_response
from tunesmith.service.storage import (
    Folder,
    Manifest,
    UnsafePathError,
    clean_path,
    version_info,
)
from tunesmith.service.uploads import UploadError, UploadTooLargeError, check_upload

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/songs", tags=["songs"])


class Created(BaseModel):
    song_id: str
    version: int
    job_id: str


class VersionOut(BaseModel):
    number: int
    kind: str
    status: str
    params: dict[str, Any]
    job_id: str | None
    created_at: float
    files: list[str] = Field(default_factory=list)
    info: dict[str, Any] | None = None


class SongOut(BaseModel):
    id: str
    title: str
    created_at: float
    versions: list[VersionOut]


class CreateBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)
    seed: int = 1
    length_s: float | None = Field(default=None, ge=20, le=600)
    title: str | None = Field(default=None, max_length=200)


class RestyleBody(BaseModel):
    style: str
    keep: str = "melody+chords"
    harmony: str = "style"
    seed: int | None = None


class RegenerateBody(BaseModel):
    seed: int | None = None


# ------------------------------------------------------------------------------- helpers

def _check_style(style: str | None) -> None:
    if style is None:
        return
    from tunesmith.arrange.style import style_names

    if style not in style_names():
        raise HTTPException(422, f"unknown style '{style}'")


def _save_upload(services: Services, user_id: str, upload: UploadFile, *, kinds: tuple[str, ...]
                 ) -> str:
    """Store an upload in the user's folder once its type, size and length are checked (on a
    local scratch copy: a refused upload never reaches the store)."""
    with services.storage.scratch(f"upload-{new_id()}") as tmp:
        try:
            checked = check_upload(upload.file, filename=upload.filename or "", kinds=kinds,
                                   max_bytes=services.settings.max_upload_bytes,
                                   max_audio_s=services.settings.max_audio_s, into=tmp)
        except UploadTooLargeError as exc:
            raise HTTPException(413, str(exc)) from None
        except UploadError as exc:
            raise HTTPException(415, str(exc)) from None
        rel = f"uploads/{new_id()}{checked.suffix}"
        services.storage.user(user_id).put_file(rel, checked.path)
    return rel


def _new_song(conn: sa.Connection, user_id: str, title: str) -> str:
    sid = new_id()
    conn.execute(songs.insert().values(id=sid, user_id=user_id, title=title[:200] or "Untitled",
                                       created_at=now()))
    return sid


def _new_version(services: Services, conn: sa.Connection, *, user_id: str, song_id: str,
                 kind: str, params: dict[str, Any]) -> Created:
    number = (conn.execute(sa.select(sa.func.max(versions.c.number))
                           .where(versions.c.song_id == song_id)).scalar() or 0) + 1
    vid = new_id()
    conn.execute(versions.insert().values(
        id=vid, song_id=song_id, user_id=user_id, number=number, kind=kind,
        params={**params, "kind": kind}, status="pending",
        folder=services.storage.version_folder(song_id, number), created_at=now()))
    job_id = services.queue.submit(conn, user_id=user_id, version_id=vid)
    return Created(song_id=song_id, version=number, job_id=job_id)


def _own_song(conn: sa.Connection, user_id: str, song_id: str) -> Any:
    row = conn.execute(sa.select(songs).where(songs.c.id == song_id,
                                              songs.c.user_id == user_id)).first()
    if row is None:
        raise HTTPException(404, "no such song")
    return row


def _ready_version(services: Services, user_id: str, song_id: str, number: int
                   ) -> tuple[Folder, str, Manifest]:
    """The user's folder, the version's folder in it and its manifest; 404 for others' songs,
    409 until the version is published."""
    with services.engine.connect() as conn:
        _own_song(conn, user_id, song_id)
        v = conn.execute(sa.select(versions).where(versions.c.song_id == song_id,
                                                   versions.c.number == number)).first()
    if v is None:
        raise HTTPException(404, "no such version")
    if v.status != "ready":
        raise HTTPException(409, f"version {number} is {v.status}, not ready")
    folder = services.storage.user(user_id)
    manifest = folder.manifest(v.folder)
    if manifest is None:
        raise HTTPException(409, f"version {number} is being stored; try again in a moment",
                            headers={"Retry-After": "2"})
    return folder, v.folder, manifest




def _song_out(services: Services, user_id: str, row: Any) -> SongOut:
    with services.engine.connect() as conn:
        vs = conn.execute(sa.select(versions, jobs.c.id.label("job_id"))
                          .join(jobs, jobs.c.version_id == versions.c.id, isouter=True)
                          .where(versions.c.song_id == row.id)
                          .order_by(versions.c.number)).all()
    folder = services.storage.user(user_id)
    out = []
    for v in vs:
        files: list[str] = []
        info = None
        if v.status == "ready" and v.summary is not None:  # stored when it was published
            files, info = list(v.summary["files"]), v.summary.get("info")
        elif v.status == "ready" and (manifest := folder.manifest(v.folder)) is not None:
            files = sorted(manifest.files)  # a version from before summaries: read the store
            if "song.json" in manifest.files:
                info = version_info(folder.read_bytes(f"{v.folder}/song.json"))
        params = {k: v2 for k, v2 in dict(v.params).items() if k != "input"}
        out.append(VersionOut(number=v.number, kind=v.kind, status=v.status, params=params,
                              job_id=v.job_id, created_at=v.created_at, files=files, info=info))
    return SongOut(id=row.id, title=row.title, created_at=row.created_at, versions=out)


# -------------------------------------------------------------------------------- routes

@router.post("/hum", status_code=202)
def hum(user: RateLimitedUser, services: ServicesDep,
        file: Annotated[UploadFile, File(description="The recorded hum (WAV, FLAC, MP3, OGG).")],
        style: Annotated[str | None, Form()] = None, seed: Annotated[int, Form()] = 1,
        length_s: Annotated[float | None, Form(ge=20, le=600)] = None,
        tempo_bpm: Annotated[float | None, Form(gt=20, lt=300)] = None,
        key: Annotated[str | None, Form(max_length=12)] = None,
        title: Annotated[str, Form(max_length=200)] = "") -> Created:
    _check_style(style)
    rel = _save_upload(services, user.id, file, kinds=("audio",))
    params = {"input": rel, "style": style, "seed": seed, "length_s": length_s,
              "tempo_bpm": tempo_bpm, "key": key, "source_name": file.filename}
    with services.engine.begin() as conn:
        sid = _new_song(conn, user.id, title or Path(file.filename or "hum").stem)
        return _new_version(services, conn, user_id=user.id, song_id=sid, kind="hum",
                            params=params)


@router.post("/restyle", status_code=202)
def restyle_upload(user: RateLimitedUser, services: ServicesDep,
                   file: Annotated[UploadFile, File(description="MIDI, MusicXML, ABC or audio.")],
                   style: Annotated[str, Form()], keep: Annotated[str, Form()] = "melody+chords",
                   harmony: Annotated[str, Form()] = "style", seed: Annotated[int, Form()] = 1,
                   title: Annotated[str, Form(max_length=200)] = "") -> Created:
    _check_style(style)
    _check_modes(keep, harmony)
    rel = _save_upload(services, user.id, file, kinds=("midi", "score", "audio"))
    params = {"input": rel, "style": style, "keep": keep, "harmony": harmony, "seed": seed,
              "source_name": file.filename}
    with services.engine.begin() as conn:
        sid = _new_song(conn, user.id, title or Path(file.filename or "song").stem)
        return _new_version(services, conn, user_id=user.id, song_id=sid, kind="restyle",
                            params=params)


@router.post("/create", status_code=202)
def create(body: CreateBody, user: RateLimitedUser, services: ServicesDep) -> Created:
    """Words become a song; the style, tempo and key come from the words."""
    params = {"prompt": body.prompt, "seed": body.seed, "length_s": body.length_s}
    with services.engine.begin() as conn:
        sid = _new_song(conn, user.id, body.title or body.prompt[:60])
        return _new_version(services, conn, user_id=user.id, song_id=sid, kind="create",
                            params=params)


@router.post("/{song_id}/restyle", status_code=202)
def restyle_version(song_id: str, body: RestyleBody, user: RateLimitedUser,
                    services: ServicesDep) -> Created:
    """A new version of a finished song in another style (its latest ready version's MIDI)."""
    _check_style(body.style)
    _check_modes(body.keep, body.harmony)
    with services.engine.begin() as conn:
        _own_song(conn, user.id, song_id)
        latest = conn.execute(sa.select(versions).where(
            versions.c.song_id == song_id, versions.c.status == "ready")
            .order_by(versions.c.number.desc())).first()
        if latest is None:
            raise HTTPException(409, "the song has no finished version to restyle yet")
        params = {"input": f"{latest.folder}/song.mid", "style": body.style, "keep": body.keep,
                  "harmony": body.harmony, "seed": body.seed or dict(latest.params).get("seed", 1),
                  "from_version": latest.number}
        return _new_version(services, conn, user_id=user.id, song_id=song_id, kind="restyle",
                            params=params)


@router.post("/{song_id}/regenerate", status_code=202)
def regenerate(song_id: str, body: RegenerateBody, user: RateLimitedUser,
               services: ServicesDep) -> Created:
    """Make the latest version again with another seed (a new version; the old one stays)."""
    with services.engine.begin() as conn:
        _own_song(conn, user.id, song_id)
        latest = conn.execute(sa.select(versions).where(versions.c.song_id == song_id)
                              .order_by(versions.c.number.desc())).first()
        if latest is None:
            raise HTTPException(409, "the song has no version to make again")
        params = dict(latest.params)
        kind = params.pop("kind", latest.kind)
        params["seed"] = body.seed if body.seed is not None else int(params.get("seed", 1)) + 1
        return _new_version(services, conn, user_id=user.id, song_id=song_id, kind=kind,
                            params=params)


@router.get("")
def list_songs(user: UserDep, services: ServicesDep) -> list[SongOut]:
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(songs).where(songs.c.user_id == user.id)
                            .order_by(songs.c.created_at.desc()).limit(100)).all()
    return [_song_out(services, user.id, r) for r in rows]


@router.get("/{song_id}")
def get_song(song_id: str, user: UserDep, services: ServicesDep) -> SongOut:
    with services.engine.connect() as conn:
        row = _own_song(conn, user.id, song_id)
    return _song_out(services, user.id, row)


UNFINISHED = ("queued", "running")


@router.delete("/{song_id}", status_code=204, responses={
    409: {"description": "a version is still being stopped; try again after Retry-After"}})
def delete_song(song_id: str, user: UserDep, services: ServicesDep) -> Response:
    """Delete a song for good: every version, its files, the uploaded input and the jobs'
    records. Versions still being made are cancelled first; while a worker is still stopping
    one the answer is 409 with Retry-After (nothing is deleted yet), so no worker ever
    publishes into a deleted song."""
    with services.engine.connect() as conn:
        _own_song(conn, user.id, song_id)
        pending = conn.execute(sa.select(jobs.c.id).join(versions, jobs.c.version_id == versions.c.id)
                               .where(versions.c.song_id == song_id,
                                      jobs.c.status.in_(UNFINISHED))).scalars().all()
    for job_id in pending:
        services.queue.cancel(job_id)
    with services.engine.begin() as conn:
        _own_song(conn, user.id, song_id)
        vs = conn.execute(sa.select(versions.c.id, versions.c.folder, versions.c.params)
                          .where(versions.c.song_id == song_id)).all()
        vids = [v.id for v in vs]
        busy = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.version_id.in_(vids), jobs.c.status.in_(UNFINISHED))).scalar()
        if busy:
            raise HTTPException(409, "a version of this song is still being stopped; try again "
                                "in a moment", headers={"Retry-After": "2"})
        job_ids = sa.select(jobs.c.id).where(jobs.c.version_id.in_(vids))
        conn.execute(job_events.delete().where(job_events.c.job_id.in_(job_ids)))
        conn.execute(jobs.delete().where(jobs.c.version_id.in_(vids)))
        conn.execute(versions.delete().where(versions.c.song_id == song_id))
        conn.execute(songs.delete().where(songs.c.id == song_id))
    # The records are gone (the song can no longer be reached); now its files. A failure here
    # leaves unreachable files behind, never a record pointing at missing ones.
    folder = services.storage.user(user.id)
    inputs = {str(dict(v.params).get("input") or "") for v in vs}
    for rel in [*sorted(i for i in inputs if i.startswith("uploads/")),
                services.storage.song_folder(song_id)]:
        try:
            folder.delete(rel)
        except Exception:  # the store is unreachable: the song is deleted all the same
            log.exception("song %s: could not delete %s", song_id, rel)
    return Response(status_code=204)


@router.get("/{song_id}/versions/{number}/files/{path:path}", response_class=FileResponse,
            responses={206: {"description": "the requested byte range"}})
def get_file(song_id: str, number: int, path: str, request: Request, user: UserDep,
             services: ServicesDep) -> Response:
    """One file of a version; audio players' Range requests are answered."""
    folder, rel, manifest = _ready_version(services, user.id, song_id, number)
    try:
        path = clean_path(path)
    except UnsafePathError:
        raise HTTPException(404, "no such file") from None
    if path not in manifest.files:
        raise HTTPException(404, "no such file")
    return file_response(folder, f"{rel}/{path}", request, size=manifest.files[path])


@router.get("/{song_id}/versions/{number}/bundle.zip", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}})
def bundle(song_id: str, number: int, user: UserDep, services: ServicesDep) -> Response:
    """The whole version as a zip, made while it is sent."""
    folder, rel, manifest = _ready_version(services, user.id, song_id, number)
    return zip_response(folder, rel, manifest, arcroot=f"v{number}",
                        filename=f"song-v{number}.zip")


def _check_modes(keep: str, harmony: str) -> None:
    from tunesmith.errors import TunesmithError
    from tunesmith.restyle import check_modes

    try:
        check_modes(keep, harmony)
    except TunesmithError as exc:
        raise HTTPException(422, str(exc)) from None



