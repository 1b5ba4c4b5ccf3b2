from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from tunesmith.service.db import jobs
from tunesmith.service.deps import ServicesDep, UserDep
from tunesmith.service.queue import TERMINAL

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

STAGES = ("listen", "compose", "arrange", "render", "produce", "publish")


class JobOut(BaseModel):
    id: str
    version_id: str
    status: str
    stage: str | None
    progress: float
    attempts: int
    error: str | None
    created_at: float
    finished_at: float | None


def job_out(row: Any) -> JobOut:
    done = STAGES.index(row.stage) + 1 if row.stage in STAGES else 0
    progress = 1.0 if row.status == "done" else done / len(STAGES)
    return JobOut(id=row.id, version_id=row.version_id, status=row.status, stage=row.stage,
                  progress=round(progress, 3), attempts=row.attempts, error=row.error,
                  created_at=row.created_at, finished_at=row.finished_at)


def own_job(services: Any, user_id: str, job_id: str) -> Any:
    """The job if it is this user's; 404 otherwise (never 403: others' ids stay unknown)."""
    with services.engine.connect() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id,
                                                 jobs.c.user_id == user_id)).first()
    if row is None:
        raise HTTPException(404, "no such job")
    return row


@router.get("")
def list_jobs(user: UserDep, services: ServicesDep) -> list[JobOut]:
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(jobs).where(jobs.c.user_id == user.id)
                            .order_by(jobs.c.created_at.desc()).limit(200)).all()
    return [job_out(r) for r in rows]


@router.get("/{job_id}")
def get_job(job_id: str, user: UserDep, services: ServicesDep) -> JobOut:
    return job_out(own_job(services, user.id, job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, user: UserDep, services: ServicesDep) -> JobOut:
    own_job(services, user.id, job_id)
    services.queue.cancel(job_id)
    return job_out(own_job(services, user.id, job_id))


@router.get("/{job_id}/events")
async def job_events(job_id: str, user: UserDep, services: ServicesDep) -> StreamingResponse:
    """Server-Sent Events: one `progress` event per stage start/end and status change, until
    the job ends."""
    await asyncio.to_thread(own_job, services, user.id, job_id)

    async def stream() -> AsyncIterator[str]:
        last = 0
        while True:
            events = await asyncio.to_thread(services.queue.events_after, job_id, last)
            for e in events:
                last = e["id"]
                yield f"id: {e['id']}\nevent: {e['kind']}\ndata: {json.dumps(e)}\n\n"
            row = await asyncio.to_thread(own_job, services, user.id, job_id)
            if row.status in TERMINAL and not events:
                yield f"event: end\ndata: {json.dumps(job_out(row).model_dump())}\n\n"
                return
            await asyncio.sleep(services.settings.poll_s)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
