"""The studio: a web app and HTTP API over the same pipeline as the CLI.

    browser / app ──HTTP──► FastAPI (create_app): users, styles, songs, jobs routers
                                 │  inserts a job row (never works inside a request)
                                 ▼
                           database (SQLite file, or PostgreSQL by URL): the durable queue
                                 ▲  claim with a lease, heartbeat, progress events
                                 │
                           worker processes (tunesmith.service.worker) ──► pipeline ──► scratch
                                 │  publish the version folder (manifest last)
                                 ▼
                           the store (storage.py): local disk, or any fsspec URL (S3, GCS...),
                           one folder per user; the web app streams downloads from it
"""

from tunesmith.service.app import create_app
from tunesmith.service.settings import Settings

__all__ = ["Settings", "create_app"]
