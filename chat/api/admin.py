"""Admins: counselor accounts and statistics (never any message text)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from chat.api.deps import AdminDep, DbDep, RuntimeDep
from chat.services import accounts
from chat.services.auth import Role, hash_password
from chat.sessions import Audience, Language
from chat.skills import Skills
from chat.stats import Chat, amsterdam_day, per_day, waits
from chat.store.sql import ChatSummary, Counselor

router = APIRouter(prefix="/api/admin", tags=["admin"])

Password = Annotated[str, Field(min_length=accounts.MIN_PASSWORD, max_length=1024)]


class CounselorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    display_name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Role = Role.COUNSELOR
    password: Password


class CounselorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    role: Role | None = None
    active: bool | None = None
    # Skills: the audiences and languages the counselor takes (each at least one).
    audiences: Annotated[list[Audience], Field(min_length=1, max_length=2)] | None = None
    languages: Annotated[list[Language], Field(min_length=1, max_length=2)] | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


def counselor_out(row: Counselor) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "active": row.active,
        **Skills.parse(row.skills).public(),
    }


async def _get(db: Any, username: str) -> Counselor:
    row = await accounts.find(db, username)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no counselor with this username")
    return row


@router.get("/counselors")
async def list_counselors(_: AdminDep, db: DbDep) -> list[dict[str, Any]]:
    rows = (await db.execute(select(Counselor).order_by(Counselor.username))).scalars().all()
    return [counselor_out(r) for r in rows]


@router.post("/counselors", status_code=status.HTTP_201_CREATED)
async def add_counselor(body: CounselorIn, _: AdminDep, db: DbDep) -> dict[str, Any]:
    if await accounts.find(db, body.username) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this username is taken")
    row = Counselor(
        username=accounts.normalise_username(body.username),
        display_name=body.display_name.strip(),
        role=body.role.value,
        password_hash=await run_in_threadpool(hash_password, body.password),
        active=True,
    )
    db.add(row)
    await db.commit()
    return counselor_out(row)


@router.patch("/counselors/{username}")
async def edit_counselor(
    username: str, body: CounselorPatch, admin: AdminDep, rt: RuntimeDep, db: DbDep
) -> dict[str, Any]:
    row = await _get(db, username)
    if row.id == admin.counselor_id and (body.active is False or (body.role and body.role is not Role.ADMIN)):
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot disable yourself or drop your own admin role")
    if body.display_name is not None:
        row.display_name = body.display_name.strip()
    if body.role is not None:
        row.role = body.role.value
    if body.active is not None:
        row.active = body.active
    skills = None
    if body.audiences is not None or body.languages is not None:
        current = Skills.parse(row.skills)
        skills = Skills(
            frozenset(body.audiences) if body.audiences is not None else current.audiences,
            frozenset(body.languages) if body.languages is not None else current.languages,
        )
        row.skills = skills.dump()
    await db.commit()
    if skills is not None:
        # Their next accept, on any instance, takes only these queues; their consoles are told.
        await rt.store.set_counselor_skills(row.id, skills, rt.settings.token_ttl_seconds)
        await rt.store.publish_counselor_status(row.id, rt.settings.default_capacity)
    if body.active is False or body.role is not None:
        # A disabled account, or one whose rights changed, logs in again.
        await rt.tokens.revoke_all(row.id)
    return counselor_out(row)


@router.post("/counselors/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(username: str, body: PasswordIn, _: AdminDep, rt: RuntimeDep, db: DbDep) -> None:
    row = await _get(db, username)
    try:
        accounts.check_password(body.password)
    except accounts.AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    row.password_hash = await run_in_threadpool(hash_password, body.password)
    await db.commit()
    await rt.tokens.revoke_all(row.id)


@router.get("/stats")
async def stats(
    _: AdminDep, rt: RuntimeDep, db: DbDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """The last ``days`` Europe/Amsterdam days (today included) from the text-free summaries.

    Abandoned: the visitor left the queue (ended, quick exit, timed out) before anyone answered. The
    wait percentiles are over everyone who waited, the abandoned included (their wait is until they left).
    """
    today = amsterdam_day(rt.now_ms())
    since = today - timedelta(days=days - 1)
    rows = (await db.execute(select(ChatSummary).where(ChatSummary.day >= since))).scalars().all()
    chats = [Chat(r.day, r.paired, r.wait_seconds) for r in rows]
    abandoned = sum(1 for r in rows if not r.paired)
    return {
        "since": since.isoformat(),
        "until": today.isoformat(),
        "timezone": "Europe/Amsterdam",
        "total": len(rows),
        "abandoned": abandoned,
        "days": [
            {"day": d["day"], "chats": d["chats"], "abandoned": d["abandoned"]}
            for d in per_day(chats, since, today)
            if d["chats"]
        ],
        "wait_seconds": waits(chats),
        "abandoned_rate": round(abandoned / len(rows), 4) if rows else None,
        "by_audience": dict(Counter(r.audience for r in rows)),
        "by_language": dict(Counter(r.language for r in rows)),
        "by_category": dict(Counter(r.wrapup_category or "none" for r in rows if r.paired)),
        "by_risk": dict(Counter(r.risk_level or "none" for r in rows if r.paired)),
        "urgent": sum(1 for r in rows if r.urgent),
    }
