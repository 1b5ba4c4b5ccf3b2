"""A durable job queue in the database: jobs survive restarts and dead workers.

A worker claims a job by leasing it (`lease_until`) and keeps the lease alive while it works;
a job whose lease ran out (its worker was killed) is claimed again by another worker, up to
`max_attempts` tries. Every write a worker makes about a job is fenced by its worker id, so a
worker that lost its lease can no longer change the job. Events (status changes, stages) are
rows, which the web page follows as Server-Sent Events.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunesmith.service.db import job_events, jobs, now, versions

log = logging.getLogger(__name__)

TERMINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    user_id: str
    version_id: str
    attempt: int
    worker_id: str


def new_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, engine: sa.Engine, *, lease_s: float = 30.0, max_attempts: int = 3) -> None:
        self.engine = engine
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ producer side
    def submit(self, conn: sa.Connection, *, user_id: str, version_id: str) -> str:
        job_id = new_id()
        conn.execute(jobs.insert().values(
            id=job_id, user_id=user_id, version_id=version_id, status="queued", attempts=0,
            max_attempts=self.max_attempts, cancel_requested=False, created_at=now()))
        _event(conn, job_id, "status", {"status": "queued"})
        return job_id

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job at once; ask a running one to stop. A running job whose worker
        stopped renewing its lease is cancelled at once too (that worker can no longer publish:
        it checks the lease first). Returns the new status."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(jobs.c.status, jobs.c.lease_until)
                               .where(jobs.c.id == job_id)).first()
            if row is None or row.status in TERMINAL:
                return row.status if row else "missing"
            orphaned = row.status == "running" and (row.lease_until or 0.0) < now()
            if row.status == "queued" or orphaned:
                conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                    status="cancelled", finished_at=now()))
                _mark_version(conn, job_id, "failed")
                _event(conn, job_id, "status", {"status": "cancelled"})
                return "cancelled"
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(cancel_requested=True))
            _event(conn, job_id, "status", {"status": "cancelling"})
            return "cancelling"

    # ------------------------------------------------------------------ worker side
    def claim(self, worker_id: str) -> ClaimedJob | None:
        """Lease the oldest queued job, or a running one whose worker stopped renewing."""
        t = now()
        with self.engine.begin() as conn:
            candidates = (sa.select(jobs.c.id)
                          .where(sa.or_(jobs.c.status == "queued",
                                        sa.and_(jobs.c.status == "running", jobs.c.lease_until < t)))
                          .order_by(jobs.c.created_at).limit(1))
            if conn.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            row = conn.execute(candidates).first()
            if row is None:
                return None
            job = conn.execute(sa.select(jobs).where(jobs.c.id == row.id)).one()
            if job.attempts >= job.max_attempts:
                # Its last worker died on the final try: the job fails, it is not retried forever.
                conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                    status="failed", finished_at=t,
                    error=job.error or "the worker stopped while making this song, too often"))
                _mark_version(conn, job.id, "failed")
                _event(conn, job.id, "status", {"status": "failed"})
                return None
            if job.status == "running":
                log.warning("job %s: worker %s stopped; %s takes over", job.id, job.worker_id,
                            worker_id)
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                status="running", worker_id=worker_id, lease_until=t + self.lease_s,
                attempts=job.attempts + 1, started_at=job.started_at or t))
            _event(conn, job.id, "status", {"status": "running", "attempt": job.attempts + 1})
            return ClaimedJob(job.id, job.user_id, job.version_id, job.attempts + 1, worker_id)

    def heartbeat(self, job: ClaimedJob) -> bool:
        """Renew the lease; False when the job is no longer ours or a cancel was asked for."""
        with self.engine.begin() as conn:
            res = conn.execute(jobs.update().where(
                jobs.c.id == job.id, jobs.c.worker_id == job.worker_id,
                jobs.c.status == "running").values(lease_until=now() + self.lease_s))
            if res.rowcount != 1:
                return False
            row = conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job.id)).one()
            return not row.cancel_requested

    def stage(self, job: ClaimedJob, stage: str, event: str) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(jobs.update().where(
                jobs.c.id == job.id, jobs.c.worker_id == job.worker_id,
                jobs.c.status == "running").values(stage=stage, lease_until=now() + self.lease_s))
            if res.rowcount != 1:
                return False
            _event(conn, job.id, "stage", {"stage": stage, "event": event})
            row = conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == job.id)).one()
            return not row.cancel_requested

    def finish(self, job: ClaimedJob, status: str, *, error: str | None = None,
               retry: bool = False, summary: dict[str, Any] | None = None) -> bool:
        """done / failed / cancelled, fenced by worker id. A failure with `retry` and tries
        left goes back to the queue."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job.id)).one()
            if row.worker_id != job.worker_id or row.status != "running":
                return False
            if status == "failed" and retry and row.attempts < row.max_attempts:
                conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                    status="queued", worker_id=None, lease_until=None, error=error))
                _event(conn, job.id, "status", {"status": "queued", "retry": True,
                                                "error": error})
                return True
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                status=status, finished_at=now(), error=error, lease_until=None))
            _mark_version(conn, job.id, "ready" if status == "done" else "failed", summary)
            _event(conn, job.id, "status", {"status": status, **({"error": error} if error else {})})
            return True

    # ------------------------------------------------------------------ readers
    def events_after(self, job_id: str, after: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(job_events).where(
                job_events.c.job_id == job_id, job_events.c.id > after)
                .order_by(job_events.c.id)).all()
        return [{"id": r.id, "at": r.at, "kind": r.kind, **r.data} for r in rows]


def _event(conn: sa.Connection, job_id: str, kind: str, data: dict[str, Any]) -> None:
    conn.execute(job_events.insert().values(job_id=job_id, at=now(), kind=kind, data=data))


def _mark_version(conn: sa.Connection, job_id: str, status: str,
                  summary: dict[str, Any] | None = None) -> None:
    vid = conn.execute(sa.select(jobs.c.version_id).where(jobs.c.id == job_id)).scalar_one()
    conn.execute(versions.update().where(versions.c.id == vid).values(
        status=status, summary=summary if status == "ready" else None))
