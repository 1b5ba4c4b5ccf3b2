"""`tunesmith serve`: the web app in this process, job workers in child processes that are
restarted when they die (their jobs are picked up again through the queue's leases)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from tunesmith.service.settings import Settings

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, settings: Settings, n: int) -> None:
        self.settings = settings
        self.n = n
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "tunesmith.service.worker", "--data",
               str(self.settings.data_dir), "--parent-pid", str(os.getpid())]
        if self.settings.database_url:
            cmd += ["--database-url", self.settings.database_url]
        if self.settings.storage_url:
            cmd += ["--storage-url", self.settings.storage_url]
        return subprocess.Popen(cmd)

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.n)]
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    log.warning("worker %d exited (%s); starting another", p.pid, p.returncode)
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self._stop.set()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def serve(*, host: str, port: int, workers: int, data_dir: Path | None,
          database_url: str | None, storage_url: str | None = None) -> None:
    import uvicorn

    from tunesmith.service.app import create_app
    from tunesmith.service.db import init_db, make_engine

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url,
                                 storage_url=storage_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.open_storage()  # a bad URL, or a missing fsspec backend, stops us here
    init_db(make_engine(settings.db_url))  # before the workers race to create tables
    pool = WorkerPool(settings, workers)
    pool.start()
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    finally:
        pool.stop()
