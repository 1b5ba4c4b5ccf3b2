"""Service settings, from the environment (TUNESMITH_*) or given to `create_app`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunesmith.service.storage import Storage


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tunesmith" / "studio"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str = ""  # empty: a SQLite file in data_dir
    storage_url: str = ""  # any fsspec URL (s3://bucket/prefix...); empty: data_dir on disk
    max_upload_bytes: int = 50 * 1024 * 1024
    max_audio_s: float = 600.0
    jobs_per_hour: int = 60  # per user: song requests
    job_burst: int = 10
    max_attempts: int = 3  # a job is tried this many times before it fails
    lease_s: float = 30.0  # a worker that stops heart-beating for this long loses its job
    poll_s: float = 0.25
    make_previews: bool = True  # idle workers render a short preview of every style

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tunesmith.db'}"

    def open_storage(self) -> Storage:
        from tunesmith.service.storage import Storage

        return Storage.open(self.storage_url, data_dir=self.data_dir)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("TUNESMITH_DATA_DIR") or _default_data_dir()),
            "database_url": env.get("TUNESMITH_DATABASE_URL", ""),
            "storage_url": env.get("TUNESMITH_STORAGE_URL", ""),
        }
        if env.get("TUNESMITH_JOBS_PER_HOUR"):
            values["jobs_per_hour"] = int(env["TUNESMITH_JOBS_PER_HOUR"])
        if env.get("TUNESMITH_JOB_BURST"):
            values["job_burst"] = int(env["TUNESMITH_JOB_BURST"])
        if env.get("TUNESMITH_LEASE_S"):
            values["lease_s"] = float(env["TUNESMITH_LEASE_S"])
        if env.get("TUNESMITH_PREVIEWS") == "0":
            values["make_previews"] = False
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = Path(str(values["data_dir"])).expanduser().resolve()
        return cls(**values)  # type: ignore[arg-type]
