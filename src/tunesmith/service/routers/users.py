from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, Field

from tunesmith.service.auth import hash_token, new_token
from tunesmith.service.db import now, users
from tunesmith.service.deps import ServicesDep, UserDep
from tunesmith.service.queue import new_id

router = APIRouter(prefix="/api/users", tags=["users"])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class UserOut(BaseModel):
    id: str
    name: str


class NewUserOut(UserOut):
    token: str = Field(description="Your API token. It is shown only this once: keep it.")


@router.post("", status_code=201)
def create_user(body: NewUser, services: ServicesDep) -> NewUserOut:
    token = new_token()
    uid = new_id()
    with services.engine.begin() as conn:
        conn.execute(users.insert().values(id=uid, name=body.name.strip(),
                                           token_hash=hash_token(token), created_at=now()))
    return NewUserOut(id=uid, name=body.name.strip(), token=token)


@router.get("/me")
def me(user: UserDep, services: ServicesDep) -> UserOut:
    with services.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user.id)).one()
    return UserOut(id=row.id, name=row.name)
