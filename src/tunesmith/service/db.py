"""The service's tables (SQLAlchemy Core): users, songs, jobs and job events.

One schema for SQLite (the default, a file in the data folder) and PostgreSQL (a URL).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

songs = sa.Table(
    "songs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# One row per made version of a song; a job makes exactly one version.
versions = sa.Table(
    "versions", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("song_id", sa.String(32), sa.ForeignKey("songs.id"), nullable=False, index=True),
    sa.Column("user_id", sa.String(32), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # hum, create, restyle, regenerate
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, ready, failed
    sa.Column("folder", sa.String(500), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # once ready: {"files": [...], "info": {...}} as published, so that listing songs reads no
    # file from the store (None for versions made before this column existed)
    sa.Column("summary", sa.JSON),
    sa.UniqueConstraint("song_id", "number"),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), nullable=False, index=True),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("versions.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    # queued -> running -> done | failed | cancelled (running -> queued again on a retry)
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("worker_id", sa.String(64)),
    sa.Column("lease_until", sa.Float),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("stage", sa.String(40)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
)

job_events = sa.Table(
    "job_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # status | stage
    sa.Column("data", sa.JSON, nullable=False),
)


def make_engine(url: str) -> sa.Engine:
    """An engine with the settings each backend needs for several processes at once."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            conn.isolation_level = None  # transactions are begun below, not by pysqlite
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, no upgrade deadlocks

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def init_db(engine: sa.Engine) -> None:
    """Create the tables, and add the columns later versions of the schema added to a
    database made by an earlier one (nullable columns only: old rows keep working)."""
    metadata.create_all(engine)
    have = {c["name"] for c in sa.inspect(engine).get_columns("versions")}
    for column in versions.columns:
        if column.name not in have:
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE versions ADD COLUMN {column.name} {kind}")


def now() -> float:
    return time.time()
