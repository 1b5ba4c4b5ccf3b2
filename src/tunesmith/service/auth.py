"""API tokens: shown once when an account is made, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

TOKEN_PREFIX = "ts_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per user: `burst` requests at once, refilled at `per_hour`."""

    def __init__(self, *, per_hour: int, burst: int) -> None:
        self.rate = per_hour / 3600.0
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = defaultdict(lambda: _Bucket(self.burst, time.monotonic()))
        self._lock = threading.Lock()

    def allow(self, user_id: str) -> tuple[bool, float]:
        """(allowed, seconds to wait before the next request would be)."""
        with self._lock:
            b = self._buckets[user_id]
            t = time.monotonic()
            b.tokens = min(self.burst, b.tokens + (t - b.at) * self.rate)
            b.at = t
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - b.tokens) / self.rate if self.rate > 0 else 3600.0
