"""The studio's files in any fsspec store: the same API flow on local disk (the default), on an
in-memory filesystem and on a directory filesystem that a worker process shares."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
import soundfile as sf
from conftest import needs_soundfont
from fastapi.testclient import TestClient

from tunesmith.service import Settings, create_app
from tunesmith.service.storage import MARKER, Storage, StorageError, UnsafePathError
from tunesmith.service.worker import Worker


def _wav(seconds: float = 1.0, *, sample_rate: int = 8000, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    sf.write(buf, 0.1 * rng.standard_normal(int(seconds * sample_rate)).astype(np.float32),
             sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def fake_song(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
    """A stand-in for the pipeline: reads the job's input where the worker put it and writes
    a small bundle (the storage is under test here, not the music)."""
    progress("publish", "start")
    source = (user_dir / params["input"]).read_bytes()
    (out_dir / "stems").mkdir(parents=True)
    (out_dir / "song.wav").write_bytes(source)
    (out_dir / "stems" / "bass.wav").write_bytes(source[: len(source) // 2])
    (out_dir / "song.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0")
    (out_dir / "song.json").write_text('{"style": "pop-ballad", "duration_s": 1.0}')
    progress("publish", "done")


STORES = ("local", "memory", "dirfs")


@pytest.fixture(params=STORES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    url = {"local": "",
           "memory": f"memory://tunesmith-{uuid.uuid4().hex}",
           "dirfs": f"dir::file://{tmp_path / 'store'}"}[request.param]
    if request.param == "dirfs":
        (tmp_path / "store").mkdir()
    yield Settings(data_dir=tmp_path / "studio", storage_url=url, make_previews=False,
                   jobs_per_hour=3600, job_burst=100, lease_s=5.0, poll_s=0.05)
    if request.param == "memory":
        fs, root = fsspec.core.url_to_fs(url)
        if fs.exists(root):
            fs.rm(root, recursive=True)


def _user(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/users", json={"name": name})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_the_same_flow_on_every_store(settings: Settings) -> None:
    hum = _wav(seed=1)
    with TestClient(create_app(settings)) as c:
        ann, bob = _user(c, "ann"), _user(c, "bob")
        r = c.post("/api/songs/hum", headers=ann, data={"style": "pop-ballad"},
                   files={"file": ("take 1.wav", hum, "audio/wav")})
        assert r.status_code == 202, r.text
        sid, jid = r.json()["song_id"], r.json()["job_id"]
        # refused uploads leave nothing in the store
        r = c.post("/api/songs/hum", headers=ann, files={"file": ("x.wav", b"not audio", "audio/wav")})
        assert r.status_code == 415
        # before the job ran, nothing can be downloaded
        assert c.get(f"/api/songs/{sid}/versions/1/bundle.zip", headers=ann).status_code == 409

        assert Worker(settings, runner=fake_song).run_once()
        assert c.get(f"/api/jobs/{jid}", headers=ann).json()["status"] == "done"
        songs = c.get("/api/songs", headers=ann).json()
        v = songs[0]["versions"][0]
        assert v["status"] == "ready" and v["info"]["style"] == "pop-ballad"
        assert v["files"] == ["song.json", "song.mid", "song.wav", "stems/bass.wav"]  # no marker

        base = f"/api/songs/{sid}/versions/1"
        wav = c.get(f"{base}/files/song.wav", headers=ann)
        assert wav.status_code == 200 and wav.content == hum
        assert int(wav.headers["content-length"]) == len(hum)
        assert wav.headers["content-type"].startswith("audio/")
        part = c.get(f"{base}/files/song.wav", headers={**ann, "Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == hum[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(hum)}"
        tail = c.get(f"{base}/files/song.wav", headers={**ann, "Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == hum[-10:]
        past = c.get(f"{base}/files/song.wav", headers={**ann, "Range": f"bytes={len(hum)}-"})
        assert past.status_code == 416
        assert c.get(f"{base}/files/stems/bass.wav", headers=ann).content == hum[: len(hum) // 2]

        z = c.get(f"{base}/bundle.zip", headers=ann)
        assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
            assert sorted(zf.namelist()) == ["v1/song.json", "v1/song.mid", "v1/song.wav",
                                             "v1/stems/bass.wav"]
            assert zf.read("v1/song.wav") == hum and zf.testzip() is None

        # another user: 404 everywhere; paths that leave the version folder: 404
        for url in (f"/api/songs/{sid}", f"{base}/files/song.wav", f"{base}/bundle.zip"):
            assert c.get(url, headers=bob).status_code == 404
        for path in ("..%2F..%2F..%2Ftunesmith.db", "%2E%2E/v1/song.wav", f"..%2F..%2F..%2F..%2F{MARKER}",
                     MARKER, "stems%5C..%5Csong.wav", "song.*", "/etc/passwd"):
            assert c.get(f"{base}/files/{path}", headers=ann).status_code == 404, path

        # a new version made from the stored one reads its input back from the store
        r = c.post(f"/api/songs/{sid}/restyle", headers=ann, json={"style": "rock"})
        assert r.status_code == 202
        assert Worker(settings, runner=fake_song).run_once()
        v2 = c.get(f"{base[:-1]}2/files/song.wav", headers=ann)
        assert v2.status_code == 200 and v2.content.startswith(b"MThd")  # v1's song.mid

        ann_id = c.get("/api/users/me", headers=ann).json()["id"]

    store = settings.open_storage()
    uploads = store.fs.ls(store.user(ann_id).key("uploads"), detail=False)
    assert len(uploads) == 1  # the refused upload never reached the store
    if settings.storage_url:  # nothing of the songs lands in the data folder
        assert not (settings.data_dir / "users").exists()
    assert not store.scratch_dir.exists() or not any(store.scratch_dir.iterdir())

    # deleting the song removes its versions and its upload from the store
    with TestClient(create_app(settings)) as c:
        assert c.delete(f"/api/songs/{sid}", headers=ann).status_code == 204
        assert c.get(f"/api/songs/{sid}", headers=ann).status_code == 404
    folder = store.user(ann_id)
    assert not store.fs.exists(folder.key(store.song_folder(sid)))
    assert not store.fs.exists(folder.key("uploads")) or not store.fs.ls(folder.key("uploads"))


def test_a_half_published_version_is_never_served(settings: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = settings.open_storage()
    user = store.user("c" * 32)
    rel = Storage.version_folder("d" * 32, 1)
    src = tmp_path / "render"
    (src / "stems").mkdir(parents=True)
    (src / "song.wav").write_bytes(b"one")
    (src / "stems" / "x.wav").write_bytes(b"two")
    first = user.publish(rel, src)
    assert user.manifest(rel) == first and first.files == {"song.wav": 3, "stems/x.wav": 3}

    def render_again() -> Path:  # publishing moves the folder away: each try renders anew
        again = tmp_path / f"again-{uuid.uuid4().hex}"
        again.mkdir()
        (again / "song.wav").write_bytes(b"three")
        (again / "song.json").write_bytes(b"{}")
        return again

    if store.is_local:  # the folder is renamed into place whole: a failed rename changes nothing
        monkeypatch.setattr(os, "replace", _boom)
        with pytest.raises(OSError):
            user.publish(rel, render_again())
        monkeypatch.undo()
        assert user.manifest(rel) == first and user.read_bytes(f"{rel}/song.wav") == b"one"
    else:  # an upload that stops half-way leaves a version without its manifest
        calls: list[str] = []

        def flaky(lpath: str, rpath: str, **kw: object) -> None:
            calls.append(rpath)
            if len(calls) == 2:
                raise OSError("network down")
            type(store.fs).put_file(store.fs, lpath, rpath, **kw)

        monkeypatch.setattr(store.fs, "put_file", flaky)
        with pytest.raises(OSError):
            user.publish(rel, render_again())
        monkeypatch.undo()
        assert user.manifest(rel) is None  # not served
    second = user.publish(rel, render_again())  # the job's next try publishes over the remains
    assert user.manifest(rel) == second and sorted(second.files) == ["song.json", "song.wav"]
    assert not user.exists(f"{rel}/stems/x.wav") and user.read_bytes(f"{rel}/song.wav") == b"three"
    with pytest.raises(UnsafePathError):
        user.publish("../" + "e" * 32, render_again())


def _boom(*args: object) -> None:
    raise OSError("disk full")


def test_storage_url_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUNESMITH_STORAGE_URL", "memory://tunesmith-env")
    s = Settings.from_env(data_dir=tmp_path)
    assert s.storage_url == "memory://tunesmith-env"
    assert not s.open_storage().is_local
    assert Settings.from_env(data_dir=tmp_path, storage_url="file:///srv/x").open_storage().is_local
    monkeypatch.delenv("TUNESMITH_STORAGE_URL")
    local = Settings.from_env(data_dir=tmp_path).open_storage()
    assert local.is_local and local.root == str(tmp_path.resolve())
    with pytest.raises(StorageError):
        Storage.open("nosuchprotocol://bucket/x", data_dir=tmp_path)


@needs_soundfont
def test_a_worker_process_makes_a_song_into_a_shared_store(tmp_path: Path) -> None:
    """The worker is another process: both see the store through its URL, not the data folder."""
    from test_service import _hum_wav

    (tmp_path / "store").mkdir()
    settings = Settings(data_dir=tmp_path / "studio", storage_url=f"dir::file://{tmp_path / 'store'}",
                        make_previews=False, lease_s=5.0, poll_s=0.05)
    with TestClient(create_app(settings)) as c:
        auth = _user(c, "ann")
        r = c.post("/api/songs/hum", headers=auth, data={"style": "pop-ballad", "length_s": "20"},
                   files={"file": ("hum.wav", _hum_wav(), "audio/wav")})
        assert r.status_code == 202, r.text
        sid = r.json()["song_id"]
        env = {**os.environ, "TUNESMITH_PREVIEWS": "0"}
        env.pop("TUNESMITH_STORAGE_URL", None)
        done = subprocess.run([sys.executable, "-m", "tunesmith.service.worker", "--once",
                               "--data", str(settings.data_dir), "--storage-url",
                               settings.storage_url], env=env, timeout=300, capture_output=True)
        assert done.returncode == 0, done.stderr[-2000:]
        v = c.get(f"/api/songs/{sid}", headers=auth).json()["versions"][0]
        assert v["status"] == "ready", v
        wav = c.get(f"/api/songs/{sid}/versions/1/files/song.wav", headers=auth)
        audio, sr = sf.read(io.BytesIO(wav.content))
        assert sr == 44100 and len(audio) / sr > 15
        assert any(f.startswith("input/") for f in v["files"])  # the hum, read from the store
    assert not (settings.data_dir / "users").exists()
    assert (tmp_path / "store" / "users").is_dir()


def test_previews_live_in_the_store(settings: Settings) -> None:
    store = settings.open_storage()
    folder = store.previews()
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/styles/pop-ballad/preview.wav").status_code == 503
        with store.scratch("t") as tmp:
            (tmp / "p.wav").write_bytes(_wav(seconds=0.5))
            folder.put_file("pop-ballad.wav", tmp / "p.wav")
        r = c.get("/api/styles/pop-ballad/preview.wav")
        assert r.status_code == 200 and r.content == _wav(seconds=0.5)
        assert r.headers["content-type"] == "audio/wav"


@needs_soundfont
def test_a_real_style_preview_is_rendered_and_stored(tmp_path: Path) -> None:
    """What an idle worker makes: 12 s of the style's demo, stereo, audible, fading out."""
    from tunesmith.service.previews import PREVIEW_S, make_preview

    store = Storage.open("", data_dir=tmp_path)
    folder = store.previews()
    with store.scratch("preview") as tmp:
        make_preview(folder, "bossa-nova", scratch=tmp)
    audio, sr = sf.read(io.BytesIO(folder.read_bytes("bossa-nova.wav")), always_2d=True)
    assert audio.shape[1] == 2 and audio.shape[0] == pytest.approx(PREVIEW_S * sr, abs=1)
    second = int(sr)
    rms = [float(np.sqrt(np.mean(audio[i * second:(i + 1) * second] ** 2))) for i in range(12)]
    assert min(rms[1:10]) > 0.01  # music all the way, not one channel's worth of samples
    assert np.max(np.abs(audio[-100:])) < 0.01  # faded out


def test_versions_from_before_manifests_are_served_from_local_disk(tmp_path: Path) -> None:
    """Studios before the store wrote no manifest; on local disk their folders were renamed
    into place whole, so such a folder is complete and gets its manifest when first read."""
    store = Storage.open("", data_dir=tmp_path)
    user = store.user("f" * 32)
    rel = Storage.version_folder("a" * 32, 1)
    folder = user.local_path(rel)
    folder.mkdir(parents=True)
    (folder / "song.json").write_text("{}")
    (folder / "song.wav").write_bytes(b"abc")
    manifest = user.manifest(rel)
    assert manifest is not None and manifest.files == {"song.json": 2, "song.wav": 3}
    assert (folder / MARKER).is_file()
    assert user.manifest(Storage.version_folder("a" * 32, 2)) is None


def test_listing_songs_reads_nothing_from_the_store(settings: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A ready version's files and facts are kept with it when it is published: a song list
    costs no store reads (a remote store would pay two per version)."""
    from tunesmith.service.storage import Folder

    with TestClient(create_app(settings)) as c:
        ann = _user(c, "ann")
        r = c.post("/api/songs/hum", headers=ann, data={"style": "pop-ballad"},
                   files={"file": ("take.wav", _wav(seed=2), "audio/wav")})
        assert Worker(settings, runner=fake_song).run_once()

        def no_reads(*args: object, **kwargs: object) -> None:
            raise AssertionError("the song list read the store")

        monkeypatch.setattr(Folder, "manifest", no_reads)
        monkeypatch.setattr(Folder, "read_bytes", no_reads)
        v = c.get("/api/songs", headers=ann).json()[0]["versions"][0]
        assert v["files"] == ["song.json", "song.mid", "song.wav", "stems/bass.wav"]
        assert v["info"]["style"] == "pop-ballad" and v["info"]["duration_s"] == 1.0
        assert c.get(f"/api/songs/{r.json()['song_id']}", headers=ann).json()["versions"] == [v]


def test_a_database_from_before_summaries_is_upgraded(tmp_path: Path) -> None:
    """A studio database made before versions had a summary column gets it on start; its old
    ready versions are still listed (from the store)."""
    import sqlalchemy as sa

    from tunesmith.service.db import init_db, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:  # the versions table as it was
        conn.exec_driver_sql(
            "CREATE TABLE versions (id VARCHAR(32) PRIMARY KEY, song_id VARCHAR(32) NOT NULL, "
            "user_id VARCHAR(32) NOT NULL, number INTEGER NOT NULL, kind VARCHAR(20) NOT NULL, "
            "params JSON NOT NULL, status VARCHAR(20) NOT NULL, folder VARCHAR(500) NOT NULL, "
            "created_at FLOAT NOT NULL, UNIQUE (song_id, number))")
        conn.exec_driver_sql(
            "INSERT INTO versions VALUES ('v1', 's1', 'u1', 1, 'hum', '{}', 'ready', "
            "'songs/s1/v1', 1.0)")
    init_db(engine)
    init_db(engine)  # a second start finds nothing to add
    with engine.connect() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("versions")}
        row = conn.exec_driver_sql("SELECT status, summary FROM versions").one()
    assert "summary" in cols and tuple(row) == ("ready", None)
