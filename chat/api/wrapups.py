"""A counselor's own last wrap-ups, from the text-free summaries of their archived chats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from chat.api.deps import DbDep, PrincipalDep, RuntimeDep
from chat.store.sql import ChatSummary, Transcript

router = APIRouter(prefix="/api/wrapups", tags=["review"])


@router.get("/mine")
async def mine(
    principal: PrincipalDep, rt: RuntimeDep, db: DbDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    """The last chats this account had when they ended, newest first: the wrap-up (null when none was
    saved), and whether its transcript can still be opened (``CHAT_OWN_TRANSCRIPT_DAYS``)."""
    rows = (
        (
            await db.execute(
                select(ChatSummary)
                .where(ChatSummary.counselor_id == principal.counselor_id)
                .order_by(ChatSummary.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    since = datetime.fromtimestamp(rt.now_ms() / 1000, UTC) - timedelta(days=rt.settings.own_transcript_days)
    readable = set()
    if rows:
        readable = set(
            (
                await db.execute(
                    select(Transcript.session_id).where(
                        Transcript.session_id.in_([r.session_id for r in rows]), Transcript.ended_at >= since
                    )
                )
            ).scalars()
        )
    return [
        {
            "session_id": r.session_id,
            "day": r.day.isoformat(),
            "opened_hour": _iso(r.opened_hour),
            "audience": r.audience,
            "language": r.language,
            "urgent": r.urgent,
            "end_reason": r.end_reason,
            "duration_seconds": r.duration_seconds,
            "wrapup": (
                {"category": r.wrapup_category, "risk": r.risk_level, "referral": r.referral}
                if r.wrapup_category is not None
                else None
            ),
            "transcript": r.session_id in readable,
        }
        for r in rows
    ]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
