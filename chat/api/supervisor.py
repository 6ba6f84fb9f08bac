"""Supervisors: every active chat and every counselor's load at a glance, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from chat.api.deps import DbDep, RuntimeDep, SupervisorDep
from chat.sessions import SessionStatus
from chat.store.sql import AuditEntry, Counselor

router = APIRouter(prefix="/api", tags=["supervisor"])


@router.get("/supervisor/overview")
async def overview(_: SupervisorDep, rt: RuntimeDep, db: DbDep) -> dict[str, Any]:
    now = rt.now_ms()
    counselors = (
        (await db.execute(select(Counselor).where(Counselor.active.is_(True)).order_by(Counselor.display_name)))
        .scalars()
        .all()
    )
    recent = await rt.redis.zrangebyscore(rt.keys.counselors_online, now - 60_000, "+inf")
    online_ids = {int(m) for m in cast(list[bytes], recent)}
    people: list[dict[str, Any]] = []
    chats: list[dict[str, Any]] = []
    for row in counselors:
        available, capacity = await rt.store.counselor_status(row.id, rt.settings.default_capacity)
        sids = await rt.store.counselor_session_ids(row.id)
        people.append(
            {
                "username": row.username,
                "name": row.display_name,
                "role": row.role,
                "online": row.id in online_ids,
                "available": available,
                "capacity": capacity,
                "active": len(sids),
            }
        )
        for sid in sids:
            info = await rt.store.get_session(sid)
            if info is None or info.status is not SessionStatus.ACTIVE:
                continue
            chats.append(
                {
                    "session_id": sid,
                    "audience": info.audience,
                    "language": info.language,
                    "urgent": info.urgent,
                    "category": info.category,
                    "counselor_name": info.counselor_name,
                    "waited_seconds": max(0, ((info.paired_at or info.enqueued_at) - info.enqueued_at) // 1000),
                    "started_at": datetime.fromtimestamp((info.paired_at or info.enqueued_at) / 1000, UTC).isoformat(),
                }
            )
    watcher = rt.extras.get("watcher")
    queues = await watcher.queues_frame() if watcher is not None else []
    return {"counselors": people, "chats": chats, "queues": queues}


@router.get("/audit")
async def audit(_: SupervisorDep, db: DbDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    rows = (
        (await db.execute(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))
        .scalars()
        .all()
    )
    return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "session_id": r.session_id} for r in rows]


@router.get("/supervisor/blocks")
async def blocks(_: SupervisorDep, rt: RuntimeDep) -> dict[str, Any]:
    """Visitors blocked after an abusive chat: how many, until when, by whom (never who they are)."""
    active = await rt.blocks.active(rt.now_ms())
    return {
        "active": len(active),
        "made_last_day": await rt.blocks.total(),
        "block_seconds": rt.settings.block_seconds,
        "blocks": [
            {
                "id": b.id,
                "since": datetime.fromtimestamp(b.since_ms / 1000, UTC).isoformat(),
                "until": datetime.fromtimestamp(b.until_ms / 1000, UTC).isoformat(),
                "by": b.by,
            }
            for b in active
        ],
    }


@router.delete("/supervisor/blocks/{block_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unblock(block_id: str, principal: SupervisorDep, rt: RuntimeDep, db: DbDep) -> None:
    if not await rt.blocks.unblock(block_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such block")
    db.add(AuditEntry(actor=principal.username, action="unblock", session_id=None))
    await db.commit()
