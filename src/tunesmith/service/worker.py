"""Worker processes: claim a job, run it with a live lease and progress events, finish it.

    python -m tunesmith.service.worker [--data DIR] [--database-url URL] [--storage-url URL]

A job renders into a local scratch folder; the finished version folder is then published to
the store (renamed into place on local disk, uploaded with its manifest last elsewhere). Kill a
worker at any moment: its job's lease runs out and another worker makes the song again from
the start and publishes it over whatever the first one left, so nothing is lost and no version
is made twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tunesmith.errors import TunesmithError
from tunesmith.service.db import init_db, make_engine, versions
from tunesmith.service.queue import ClaimedJob, JobQueue
from tunesmith.service.runner import run_job
from tunesmith.service.settings import Settings
from tunesmith.service.storage import SCRATCH_MAX_AGE_S, Folder, clean_path, version_info

if TYPE_CHECKING:
    from tunesmith.render import RenderPool

log = logging.getLogger(__name__)

Runner = Callable[..., None]


class JobCancelledError(Exception):
    """Raised inside the pipeline's progress callback when the job was cancelled."""


class LeaseLostError(Exception):
    """Another worker owns the job now."""


class Worker:
    def __init__(self, settings: Settings, *, worker_id: str | None = None,
                 runner: Runner = run_job, engine: sa.Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.db_url)
        init_db(self.engine)
        self.queue = JobQueue(self.engine, lease_s=settings.lease_s,
                              max_attempts=settings.max_attempts)
        self.storage = settings.open_storage()
        self.storage.clear_scratch(older_than_s=SCRATCH_MAX_AGE_S)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.runner = runner
        self._failed: set[str] = set()  # styles whose preview could not be made
        self._previews: set[str] = set()  # styles whose preview is known to be stored
        self._render_pool: RenderPool | None = None

    def render_pool(self) -> RenderPool:
        """Render processes kept for the worker's life (SoundFont loaded once, not per song);
        started on first use."""
        if self._render_pool is None:
            from tunesmith.render import RenderPool

            self._render_pool = RenderPool()
        return self._render_pool

    def close(self) -> None:
        if self._render_pool is not None:
            self._render_pool.close()
            self._render_pool = None

    def run_once(self) -> bool:
        """Claim and run one job; False when the queue is empty."""
        job = self.queue.claim(self.worker_id)
        if job is None:
            return False
        self._run(job)
        return True

    def run_forever(self, stop: threading.Event | None = None, *,
                    parent_pid: int | None = None) -> None:
        """Work until `stop` is set, or until the process that started us (`parent_pid`) is
        gone: a worker never outlives `tunesmith serve`, however that was stopped."""
        stop = stop or threading.Event()
        log.info("worker %s started", self.worker_id)
        self.render_pool()  # start loading the SoundFont while the queue is read
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("worker %s: the studio stopped; exiting", self.worker_id)
                break
            if not self.run_once() and not self._make_a_preview():
                stop.wait(self.settings.poll_s)

    def _make_a_preview(self) -> bool:
        """When idle, make one missing style preview (the page plays them). Previews found in
        the store are remembered, so an idle worker does not ask the store again and again."""
        if not self.settings.make_previews:
            return False
        from tunesmith.arrange.style import style_names
        from tunesmith.service.previews import make_preview, preview_name

        folder = self.storage.previews()
        for name in style_names():
            if name in self._previews or name in self._failed:
                continue
            if folder.exists(preview_name(name)):
                self._previews.add(name)
                continue
            try:
                with self.storage.scratch(f"preview-{uuid.uuid4().hex}") as scratch:
                    make_preview(folder, name, scratch=scratch)
                self._previews.add(name)
            except Exception:  # a broken style must not stop the worker
                log.exception("preview of %s failed", name)
                self._failed.add(name)
            return True
        return False

    def _run(self, job: ClaimedJob) -> None:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(versions).where(versions.c.id == job.version_id)).one()
        params = dict(v.params)
        state: dict[str, Any] = {"ok": True}
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.settings.lease_s / 3):
                if not self.queue.heartbeat(job):
                    state["ok"] = False

        def still_ours() -> None:
            if not state["ok"]:
                raise JobCancelledError if self._cancel_requested(job) else LeaseLostError

        def progress(stage: str, event: str) -> None:
            if not self.queue.stage(job, stage, event):
                state["ok"] = False
            still_ours()
        heart = threading.Thread(target=beat, daemon=True)
        heart.start()
        self.storage.clear_scratch(prefix=f"{job.id}.")  # an earlier, killed try's leftovers
        try:
            with self.storage.scratch(f"{job.id}.{job.attempt}") as scratch:
                user = self.storage.user(job.user_id)
                user_dir = user.local_path() or self._fetch_inputs(user, params, scratch / "in")
                out_dir = scratch / "version"
                extra = {"render_pool": self.render_pool()} if self.runner is run_job else {}
                self.runner(params, user_dir=user_dir, out_dir=out_dir, progress=progress,
                            **extra)
                if not self.queue.heartbeat(job):  # publish only while the job is ours
                    state["ok"] = False
                still_ours()
                info = version_info(out_dir / "song.json")  # read before publish moves it
                manifest = user.publish(v.folder, out_dir)
                summary = {"files": sorted(manifest.files), "info": info}
        except JobCancelledError:
            self.queue.finish(job, "cancelled")
        except LeaseLostError:
            log.warning("job %s: lease lost, leaving it to its new worker", job.id)
        except TunesmithError as exc:  # the input is at fault: trying again will not help
            self.queue.finish(job, "failed", error=str(exc))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self.queue.finish(job, "failed", error=f"internal error: {exc}", retry=True)
        else:
            self.queue.finish(job, "done", summary=summary)
        finally:
            done.set()
            heart.join(timeout=5)

    @staticmethod
    def _fetch_inputs(user: Folder, params: dict[str, Any], into: Path) -> Path:
        """A local folder holding the job's input file (from a store that is not local disk),
        at the same relative path as in the user's folder."""
        into.mkdir(parents=True, exist_ok=True)
        if params.get("input"):
            rel = clean_path(params["input"])
            user.download(rel, into / rel)
        return into

    def _cancel_requested(self, job: ClaimedJob) -> bool:
        from tunesmith.service.db import jobs

        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(jobs.c.cancel_requested)
                                     .where(jobs.c.id == job.id)).scalar())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tunesmith studio worker")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--storage-url", default=None,
                        help="fsspec URL of the song files (default: the data folder)")
    parser.add_argument("--once", action="store_true", help="run one job (if any) and exit")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process (the studio) is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env(data_dir=args.data, database_url=args.database_url,
                                 storage_url=args.storage_url)
    worker = Worker(settings)
    try:
        if args.once:
            worker.run_once()
            return
        worker.run_forever(parent_pid=args.parent_pid)
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()


if __name__ == "__main__":
    main()
