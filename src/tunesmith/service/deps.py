"""FastAPI dependencies (tests override them): the database, the storage, the current user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Header, HTTPException, Request

from tunesmith.service.auth import RateLimiter, hash_token
from tunesmith.service.db import users
from tunesmith.service.queue import JobQueue
from tunesmith.service.settings import Settings
from tunesmith.service.storage import Storage


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    queue: JobQueue
    storage: Storage
    limiter: RateLimiter


@dataclass(frozen=True)
class User:
    id: str
    name: str


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_user(services: ServicesDep,
                 authorization: Annotated[str | None, Header()] = None) -> User:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "send your API token as 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    token = authorization.split(" ", 1)[1].strip()
    with services.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.token_hash == hash_token(token))).first()
    if row is None:
        raise HTTPException(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
    return User(row.id, row.name)


UserDep = Annotated[User, Depends(current_user)]


def rate_limited(services: ServicesDep, user: UserDep) -> User:
    ok, wait = services.limiter.allow(user.id)
    if not ok:
        raise HTTPException(429, f"too many songs requested; try again in {wait:.0f} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    return user


RateLimitedUser = Annotated[User, Depends(rate_limited)]
