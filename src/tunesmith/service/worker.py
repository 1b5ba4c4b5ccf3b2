"""Worker processes: claim a job, run it with a live lease and progress events, finish it.

    python -m tunesmith.service.worker [--data DIR] [--database-url URL]

Kill a worker at any moment: its job's lease runs out and another worker makes the song again
from the start into the same version folder (written atomically), so nothing is lost and no
version is made twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tunesmith.errors import TunesmithError
from tunesmith.service.db import init_db, make_engine, versions
from tunesmith.service.queue import ClaimedJob, JobQueue
from tunesmith.service.runner import run_job
from tunesmith.service.settings import Settings
from tunesmith.service.storage import Storage

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
        self.storage = Storage(settings.data_dir)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.runner = runner
        self._failed: set[str] = set()  # styles whose preview could not be made
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
        """When idle, make one missing style preview (the page plays them)."""
        if not self.settings.make_previews:
            return False
        from tunesmith.service.previews import make_preview, missing_previews

        todo = [n for n in missing_previews(self.settings.data_dir) if n not in self._failed]
        if not todo:
            return False
        try:
            make_preview(self.settings.data_dir, todo[0])
        except Exception:  # a broken style must not stop the worker
            log.exception("preview of %s failed", todo[0])
            self._failed.add(todo[0])
        return True

    def _run(self, job: ClaimedJob) -> None:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(versions).where(versions.c.id == job.version_id)).one()
        out_dir = self.storage.version_dir(job.user_id, v.song_id, v.number)
        user_dir = self.storage.user_dir(job.user_id)
        state: dict[str, Any] = {"ok": True}
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.settings.lease_s / 3):
                if not self.queue.heartbeat(job):
                    state["ok"] = False

        def progress(stage: str, event: str) -> None:
            if not self.queue.stage(job, stage, event) or not state["ok"]:
                raise JobCancelledError if self._cancel_requested(job) else LeaseLostError
        heart = threading.Thread(target=beat, daemon=True)
        heart.start()
        try:
            extra = {"render_pool": self.render_pool()} if self.runner is run_job else {}
            self.runner(dict(v.params), user_dir=user_dir, out_dir=out_dir, progress=progress,
                        **extra)
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
            self.queue.finish(job, "done")
        finally:
            done.set()
            heart.join(timeout=5)

    def _cancel_requested(self, job: ClaimedJob) -> bool:
        from tunesmith.service.db import jobs

        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(jobs.c.cancel_requested)
                                     .where(jobs.c.id == job.id)).scalar())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tunesmith studio worker")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--once", action="store_true", help="run one job (if any) and exit")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process (the studio) is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env(data_dir=args.data, database_url=args.database_url)
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
