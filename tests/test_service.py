"""The studio service: accounts, uploads, the durable job queue, workers, isolation, SSE."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import sqlalchemy as sa
from conftest import needs_soundfont
from fastapi.testclient import TestClient

from tunesmith import humsynth
from tunesmith.errors import TunesmithError
from tunesmith.service import Settings, create_app
from tunesmith.service.db import init_db, jobs, make_engine, users, versions
from tunesmith.service.queue import JobQueue
from tunesmith.service.storage import Storage, UnsafePathError
from tunesmith.service.uploads import UploadError, sniff
from tunesmith.service.worker import Worker


def _settings(tmp_path: Path, **kw: object) -> Settings:
    base = Settings(data_dir=tmp_path / "studio", make_previews=False, jobs_per_hour=3600,
                    job_burst=100, lease_s=5.0, poll_s=0.05)
    return replace(base, **kw)


def _hum_wav() -> bytes:
    audio = humsynth.synthesize_hum(humsynth.demo_melody(seed=1), sample_rate=22050, seed=1)
    buf = io.BytesIO()
    sf.write(buf, audio, 22050, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class Studio:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = TestClient(create_app(settings))

    def user(self, name: str = "ann") -> dict[str, str]:
        r = self.client.post("/api/users", json={"name": name})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def hum(self, auth: dict[str, str], **form: object) -> dict:
        data = {"style": "pop-ballad", "seed": "1", "length_s": "20", **{k: str(v) for k, v in form.items()}}
        r = self.client.post("/api/songs/hum", headers=auth, data=data,
                             files={"file": ("hum.wav", _hum_wav(), "audio/wav")})
        assert r.status_code == 202, r.text
        return r.json()


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    s = Studio(_settings(tmp_path))
    with s.client:
        yield s


def test_accounts_tokens_are_hashed_and_required(studio: Studio) -> None:
    r = studio.client.post("/api/users", json={"name": "ann"})
    token = r.json()["token"]
    assert token.startswith("ts_") and len(token) > 30
    auth = {"Authorization": f"Bearer {token}"}
    assert studio.client.get("/api/users/me", headers=auth).json()["name"] == "ann"
    assert studio.client.get("/api/users/me").status_code == 401
    assert studio.client.get("/api/users/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    engine = make_engine(studio.settings.db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.token_hash)).scalar_one()
    assert stored != token and len(stored) == 64
    assert studio.client.get("/openapi.json").json()["info"]["title"] == "tunesmith studio"


def test_page_and_styles(studio: Studio) -> None:
    page = studio.client.get("/")
    assert page.status_code == 200 and "studio.js" in page.text
    assert studio.client.get("/static/studio.js").status_code == 200
    styles = studio.client.get("/api/styles").json()
    assert "pop-ballad" in {s["name"] for s in styles}
    r = studio.client.get("/api/styles/pop-ballad/preview.wav")
    assert r.status_code == 503 and "Retry-After" in r.headers
    assert studio.client.get("/api/styles/nope/preview.wav").status_code == 404


@needs_soundfont
def test_hum_job_runs_to_a_song_with_progress_events_and_a_bundle(studio: Studio) -> None:
    auth = studio.user()
    created = studio.hum(auth)
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "queued"
    assert Worker(studio.settings).run_once()
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "done" and job["progress"] == 1.0 and job["attempts"] == 1, job
    song = studio.client.get(f"/api/songs/{created['song_id']}", headers=auth).json()
    v = song["versions"][0]
    assert v["status"] == "ready" and "song.wav" in v["files"] and "song.mid" in v["files"]
    assert any(f.startswith("stems/") for f in v["files"])
    assert v["info"]["style"] == "pop-ballad"
    wav = studio.client.get(f"/api/songs/{song['id']}/versions/1/files/song.wav", headers=auth)
    audio, sr = sf.read(io.BytesIO(wav.content))
    tail = len(audio) / sr - v["info"]["duration_s"]  # the last notes ring out
    assert sr == 44100 and 0.0 <= tail < 4.0
    z = studio.client.get(f"/api/songs/{song['id']}/versions/1/bundle.zip", headers=auth)
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "v1/song.wav" in names and "v1/song.json" in names
    with studio.client.stream("GET", f"/api/jobs/{created['job_id']}/events", headers=auth) as r:
        text = "".join(r.iter_text())
    stages = [json.loads(line[6:])["stage"] for line in text.splitlines()
              if line.startswith("data: ") and '"stage"' in line]
    assert stages[:2] == ["listen", "listen"] and "publish" in stages
    assert "event: end" in text

    # regenerate (another seed) and restyle make new versions of the same song
    again = studio.client.post(f"/api/songs/{song['id']}/regenerate", headers=auth, json={}).json()
    restyled = studio.client.post(f"/api/songs/{song['id']}/restyle", headers=auth,
                                  json={"style": "rock"}).json()
    assert (again["version"], restyled["version"]) == (2, 3)
    worker = Worker(studio.settings)
    assert worker.run_once() and worker.run_once()
    song = studio.client.get(f"/api/songs/{song['id']}", headers=auth).json()
    assert [v["status"] for v in song["versions"]] == ["ready"] * 3
    assert song["versions"][1]["params"]["seed"] == 2
    assert song["versions"][2]["kind"] == "restyle" and song["versions"][2]["info"]["style"] == "rock"


def test_users_never_see_each_others_work(studio: Studio) -> None:
    ann, bob = studio.user("ann"), studio.user("bob")
    created = studio.hum(ann)
    sid, jid = created["song_id"], created["job_id"]
    c = studio.client
    assert c.get(f"/api/songs/{sid}", headers=bob).status_code == 404
    assert c.get(f"/api/jobs/{jid}", headers=bob).status_code == 404
    assert c.post(f"/api/jobs/{jid}/cancel", headers=bob).status_code == 404
    assert c.get(f"/api/jobs/{jid}/events", headers=bob).status_code == 404
    assert c.get(f"/api/songs/{sid}/versions/1/files/song.wav", headers=bob).status_code == 404
    assert c.get(f"/api/songs/{sid}/versions/1/bundle.zip", headers=bob).status_code == 404
    assert c.post(f"/api/songs/{sid}/regenerate", headers=bob, json={}).status_code == 404
    assert c.get("/api/songs", headers=bob).json() == []
    assert c.get("/api/jobs", headers=bob).json() == []
    assert len(c.get("/api/songs", headers=ann).json()) == 1
    # ann's own job is still there, untouched by bob's attempts
    assert c.get(f"/api/jobs/{jid}", headers=ann).json()["status"] == "queued"


def test_uploads_are_checked(tmp_path: Path) -> None:
    s = Studio(_settings(tmp_path, max_upload_bytes=200_000, max_audio_s=5.0))
    with s.client:
        auth = s.user()
        c = s.client
        r = c.post("/api/songs/hum", headers=auth, files={"file": ("x.wav", b"hello world" * 10, "audio/wav")})
        assert r.status_code == 415 and "not audio" in r.json()["detail"]
        midi = b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
        r = c.post("/api/songs/hum", headers=auth, files={"file": ("a.mid", midi, "audio/midi")})
        assert r.status_code == 415 and "audio" in r.json()["detail"]
        r = c.post("/api/songs/hum", headers=auth, files={"file": ("big.wav", _hum_wav(), "audio/wav")})
        assert r.status_code == 413  # over 200 kB
        buf = io.BytesIO()
        sf.write(buf, np.zeros(8000 * 8, dtype=np.float32), 8000, format="WAV")
        r = c.post("/api/songs/hum", headers=auth, files={"file": ("long.wav", buf.getvalue(), "audio/wav")})
        assert r.status_code == 413 and "min" in r.json()["detail"]
        r = c.post("/api/songs/hum", headers=auth, data={"style": "no-such"},
                   files={"file": ("x.wav", b"RIFF", "audio/wav")})
        assert r.status_code == 422
        uploads = list((s.settings.data_dir / "users").rglob("uploads/*"))
        assert uploads == []  # refused uploads leave nothing behind


def test_sniffing_uses_content_not_names() -> None:
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ").suffix == ".wav"
    assert sniff(b"fLaC\x00").suffix == ".flac"
    assert sniff(b"MThd\x00\x00").kind == "midi"
    assert sniff(b'<?xml version="1.0"?><score-partwise>').kind == "score"
    assert sniff(b"X:1\nT:t\nK:C\nCDE|").suffix == ".abc"
    with pytest.raises(UploadError):
        sniff(b"#!/bin/sh\nrm -rf /", filename="song.wav")


def test_file_paths_cannot_escape_the_user_folder(studio: Studio) -> None:
    store = Storage.open("", data_dir=studio.settings.data_dir)
    uid = "a" * 32
    user = store.user(uid)
    for bad in ("../../etc/passwd", "uploads/../../" + "b" * 32, "/etc/passwd", "a\\..\\b",
                "songs/*", "x/[ab]", "~root", "c:/x", "a\x00b"):
        with pytest.raises(UnsafePathError):
            user.key(bad)
    with pytest.raises(UnsafePathError):
        store.user("../x")
    with pytest.raises(UnsafePathError):
        store.user("B" * 32)
    assert user.key("uploads/./x.wav") == f"{studio.settings.data_dir}/users/{uid}/uploads/x.wav"
    assert user.local_path("uploads//x.wav") == studio.settings.data_dir / "users" / uid / "uploads" / "x.wav"


def test_rate_limit_per_user(tmp_path: Path) -> None:
    s = Studio(_settings(tmp_path, jobs_per_hour=1, job_burst=2))
    with s.client:
        ann, bob = s.user("ann"), s.user("bob")
        s.hum(ann)
        s.hum(ann)
        r = s.client.post("/api/songs/hum", headers=ann, data={"style": "pop-ballad"},
                          files={"file": ("hum.wav", _hum_wav(), "audio/wav")})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        s.hum(bob)  # another user's budget is their own


def test_cancel_a_queued_job(studio: Studio) -> None:
    auth = studio.user()
    created = studio.hum(auth)
    r = studio.client.post(f"/api/jobs/{created['job_id']}/cancel", headers=auth)
    assert r.json()["status"] == "cancelled"
    assert not Worker(studio.settings).run_once()  # nothing left to do
    song = studio.client.get(f"/api/songs/{created['song_id']}", headers=auth).json()
    assert song["versions"][0]["status"] == "failed"


def _until_cancelled(started: threading.Event, release: threading.Event | None = None):
    """A runner that reports progress (where a cancel is noticed) until it is cancelled; it
    sets `started` once running and, given `release`, waits for it before its first tick."""

    def slow(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
        progress("listen", "start")
        started.set()
        if release is not None:
            release.wait(10)
        for _ in range(200):
            time.sleep(0.02)
            progress("listen", "tick")
        raise AssertionError("the job should have been cancelled")

    return slow


def test_cancel_a_running_job_stops_it(studio: Studio) -> None:
    auth = studio.user()
    created = studio.hum(auth)
    started = threading.Event()
    t = threading.Thread(target=Worker(studio.settings, runner=_until_cancelled(started)).run_once)
    t.start()
    assert started.wait(10)
    studio.client.post(f"/api/jobs/{created['job_id']}/cancel", headers=auth)
    t.join(20)
    assert studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()["status"] == "cancelled"


def test_failures_retry_up_to_the_limit_and_bad_input_does_not(studio: Studio) -> None:
    auth = studio.user()
    flaky_calls: list[int] = []

    def flaky(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
        flaky_calls.append(1)
        if len(flaky_calls) == 1:
            raise RuntimeError("disk hiccup")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "song.json").write_text("{}")

    created = studio.hum(auth)
    w = Worker(studio.settings, runner=flaky)
    assert w.run_once() and w.run_once()
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "done" and job["attempts"] == 2

    def bad(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
        raise TunesmithError("no sung or hummed notes were found")

    created = studio.hum(auth)
    assert Worker(studio.settings, runner=bad).run_once()
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "failed" and job["attempts"] == 1 and "hummed" in job["error"]

    def broken(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
        raise RuntimeError("always")

    created = studio.hum(auth)
    w = Worker(studio.settings, runner=broken)
    while w.run_once():
        pass
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "failed" and job["attempts"] == studio.settings.max_attempts


def _claim_race(engine: sa.Engine) -> None:
    """Two threads claiming concurrently never get the same job; every job is claimed once."""
    init_db(engine)
    q = JobQueue(engine, lease_s=60)
    with engine.begin() as conn:
        conn.execute(users.insert().values(id="u" * 32, name="u", token_hash="h" * 64, created_at=0))
        from tunesmith.service.db import songs

        conn.execute(songs.insert().values(id="s" * 32, user_id="u" * 32, title="t", created_at=0))
        for i in range(40):
            vid = f"{i:032d}"
            conn.execute(versions.insert().values(id=vid, song_id="s" * 32, user_id="u" * 32,
                                                  number=i + 1, kind="hum", params={},
                                                  status="pending", folder="x", created_at=0))
            q.submit(conn, user_id="u" * 32, version_id=vid)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def grab(name: str) -> None:
        while (job := q.claim(name)) is not None:
            got[name].append(job.id)

    threads = [threading.Thread(target=grab, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got["a"]) + len(got["b"]) == 40
    assert not set(got["a"]) & set(got["b"])


def test_claims_never_collide_on_sqlite(tmp_path: Path) -> None:
    _claim_race(make_engine(f"sqlite:///{tmp_path / 'q.db'}"))


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).is_file():
            return str(d / name)
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server in a temporary folder (skipped without the binaries)."""
    import tempfile

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="tunesmith-pg-"))
    data = root / "data"
    sock = root / "sock"
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running PostgreSQL as root needs runuser")
        for d in (root, sock):
            d.chmod(0o777)
        run_as = ["runuser", "-u", "nobody", "--"]
    port = 54000 + os.getpid() % 1000
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "tunesmith", "--auth=trust"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                        f"-p {port} -k {sock} -c listen_addresses=''", "start"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, _pg_bin("createdb") or "createdb", "-h", str(sock), "-p",
                        str(port), "-U", "tunesmith", "studio"], check=True, capture_output=True)
        yield f"postgresql+psycopg://tunesmith@/studio?host={sock}&port={port}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_claims_never_collide_on_postgresql(postgres_url: str) -> None:
    _claim_race(make_engine(postgres_url))


@needs_soundfont
def test_service_on_postgresql_runs_a_job(postgres_url: str, tmp_path: Path) -> None:
    s = Studio(_settings(tmp_path, database_url=postgres_url))
    with s.client:
        auth = s.user()
        created = s.hum(auth)
        assert Worker(s.settings).run_once()
        job = s.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
        assert job["status"] == "done"


@needs_soundfont
def test_a_killed_worker_loses_nothing_and_duplicates_nothing(studio: Studio, tmp_path: Path) -> None:
    auth = studio.user()
    created = studio.hum(auth)
    env = {**os.environ, "TUNESMITH_LEASE_S": "2", "TUNESMITH_PREVIEWS": "0"}
    cmd = [sys.executable, "-m", "tunesmith.service.worker", "--data", str(studio.settings.data_dir)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = make_engine(studio.settings.db_url)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until it is rendering, then kill it hard
            with engine.connect() as conn:
                stage = conn.execute(sa.select(jobs.c.stage)).scalar()
            if stage in ("arrange", "render", "produce"):
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with engine.connect() as conn:
            assert conn.execute(sa.select(jobs.c.status)).scalar() == "running"
        second = subprocess.run([*cmd, "--once"], env=env, timeout=300, capture_output=True)
        assert second.returncode == 0, second.stderr[-2000:]
        # the lease may not have run out when --once looked: keep trying until it is picked up
        for _ in range(20):
            with engine.connect() as conn:
                status = conn.execute(sa.select(jobs.c.status)).scalar()
            if status == "done":
                break
            time.sleep(0.5)
            subprocess.run([*cmd, "--once"], env=env, timeout=300, capture_output=True)
    finally:
        if first.poll() is None:
            first.kill()
    job = studio.client.get(f"/api/jobs/{created['job_id']}", headers=auth).json()
    assert job["status"] == "done" and job["attempts"] == 2
    song = studio.client.get(f"/api/songs/{created['song_id']}", headers=auth).json()
    assert len(song["versions"]) == 1 and song["versions"][0]["status"] == "ready"
    folder = studio.settings.data_dir / "users"
    versions_made = [p for p in folder.rglob("v*") if p.is_dir() and p.parent.parent.name == "songs"]
    assert len(versions_made) == 1
    leftovers = [p for p in versions_made[0].parent.iterdir() if p.name != "v1"]
    assert leftovers == []  # no half-written staging folder survives
    assert list((studio.settings.data_dir / ".scratch").iterdir()) == []  # nor scratch
    assert sf.info(str(versions_made[0] / "song.wav")).duration > 15


@needs_soundfont
def test_create_from_words_through_the_api(studio: Studio) -> None:
    auth = studio.user()
    r = studio.client.post("/api/songs/create", headers=auth,
                           json={"prompt": "slow sad piano ballad, no drums", "length_s": 30})
    assert r.status_code == 202, r.text
    created = r.json()
    assert Worker(studio.settings).run_once()
    song = studio.client.get(f"/api/songs/{created['song_id']}", headers=auth).json()
    v = song["versions"][0]
    assert v["status"] == "ready", v
    assert "input/prompt.txt" in v["files"] and not any("drum" in f for f in v["files"])


def _quick_runner(params: dict, *, user_dir: Path, out_dir: Path, progress) -> None:
    """Stands in for the real pipeline: a version of two small files."""
    progress("listen", "start")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "song.json").write_text(json.dumps({"style": params.get("style")}))
    (out_dir / "song.wav").write_bytes(b"RIFF" + bytes(64))


def test_delete_a_song_removes_its_versions_files_and_upload(studio: Studio) -> None:
    ann, bob = studio.user("ann"), studio.user("bob")
    mine, kept, bobs = studio.hum(ann), studio.hum(ann), studio.hum(bob)
    worker = Worker(studio.settings, runner=_quick_runner)
    assert worker.run_once() and worker.run_once() and worker.run_once()
    c, sid = studio.client, mine["song_id"]
    again = c.post(f"/api/songs/{sid}/regenerate", headers=ann, json={}).json()
    assert worker.run_once()
    assert c.get(f"/api/songs/{sid}/versions/{again['version']}/files/song.wav",
                 headers=ann).status_code == 200
    users_dir = studio.settings.data_dir / "users"
    assert len(list(users_dir.glob("*/uploads/*"))) == 3 and len(list(users_dir.glob("*/songs/*"))) == 3

    assert c.delete(f"/api/songs/{sid}", headers=bob).status_code == 404  # not bob's
    assert c.delete(f"/api/songs/{sid}", headers=ann).status_code == 204
    assert c.get(f"/api/songs/{sid}", headers=ann).status_code == 404
    assert c.get(f"/api/songs/{sid}/versions/1/files/song.wav", headers=ann).status_code == 404
    assert c.get(f"/api/jobs/{mine['job_id']}", headers=ann).status_code == 404
    assert c.delete(f"/api/songs/{sid}", headers=ann).status_code == 404  # gone already
    assert [s["id"] for s in c.get("/api/songs", headers=ann).json()] == [kept["song_id"]]
    assert [s["id"] for s in c.get("/api/songs", headers=bob).json()] == [bobs["song_id"]]
    # the song's folder and its upload are gone; the other songs' files (ann's, bob's) are kept
    assert not list(users_dir.glob(f"*/songs/{sid}"))
    assert len(list(users_dir.glob("*/uploads/*"))) == 2 and len(list(users_dir.glob("*/songs/*"))) == 2
    assert c.get(f"/api/songs/{kept['song_id']}/versions/1/files/song.wav",
                 headers=ann).status_code == 200


def test_delete_cancels_queued_work_and_waits_for_running_work(studio: Studio) -> None:
    auth = studio.user()
    queued = studio.hum(auth)
    assert studio.client.delete(f"/api/songs/{queued['song_id']}", headers=auth).status_code == 204
    assert not Worker(studio.settings).run_once()  # its job went with it

    running = studio.hum(auth)
    started, release = threading.Event(), threading.Event()
    t = threading.Thread(target=Worker(studio.settings, runner=_until_cancelled(started, release)).run_once)
    t.start()
    assert started.wait(10)
    r = studio.client.delete(f"/api/songs/{running['song_id']}", headers=auth)
    assert r.status_code == 409 and r.headers["Retry-After"] == "2"  # asked to stop, not gone
    assert studio.client.get(f"/api/songs/{running['song_id']}", headers=auth).status_code == 200
    release.set()
    t.join(20)
    assert studio.client.get(f"/api/jobs/{running['job_id']}", headers=auth).json()["status"] == "cancelled"
    assert studio.client.delete(f"/api/songs/{running['song_id']}", headers=auth).status_code == 204
    assert studio.client.get("/api/songs", headers=auth).json() == []


def test_a_job_whose_worker_died_is_cancelled_and_deleted_at_once(studio: Studio) -> None:
    auth = studio.user()
    first, second = studio.hum(auth), studio.hum(auth)
    engine = make_engine(studio.settings.db_url)
    queue = JobQueue(engine, lease_s=5.0)
    claimed = [queue.claim("dead-worker"), queue.claim("dead-worker")]
    assert {c.id for c in claimed if c} == {first["job_id"], second["job_id"]}
    with engine.begin() as conn:  # the worker died: its leases ran out
        conn.execute(jobs.update().values(lease_until=time.time() - 1.0))
    r = studio.client.post(f"/api/jobs/{first['job_id']}/cancel", headers=auth)
    assert r.json()["status"] == "cancelled"  # not "cancelling": nobody is left to stop it
    assert studio.client.delete(f"/api/songs/{second['song_id']}", headers=auth).status_code == 204
    assert not queue.heartbeat(claimed[0])  # were it alive after all, it may not publish
    assert not Worker(studio.settings).run_once()  # nothing is taken over
