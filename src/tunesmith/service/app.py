"""The studio's web app: `create_app()` builds it; `tunesmith serve` runs it with workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tunesmith import __version__
from tunesmith.service.auth import RateLimiter
from tunesmith.service.db import init_db, make_engine
from tunesmith.service.deps import Services
from tunesmith.service.queue import JobQueue
from tunesmith.service.routers import jobs, songs, styles, users
from tunesmith.service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.db_url)
        init_db(engine)
        app.state.services = Services(
            settings=settings, engine=engine,
            queue=JobQueue(engine, lease_s=settings.lease_s, max_attempts=settings.max_attempts),
            storage=settings.open_storage(),
            limiter=RateLimiter(per_hour=settings.jobs_per_hour, burst=settings.job_burst))
        yield
        engine.dispose()

    app = FastAPI(title="tunesmith studio", version=__version__, lifespan=lifespan,
                  description="Hum, describe or upload a song; get it arranged, mixed and "
                              "mastered. Authenticate with `Authorization: Bearer <token>` "
                              "(POST /api/users makes an account and its token).")
    for r in (users.router, styles.router, songs.router, jobs.router):
        app.include_router(r)
    static = resources.files("tunesmith.service") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return (static / "index.html").read_text(encoding="utf-8")

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
