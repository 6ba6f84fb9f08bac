"""Review: search the redacted transcripts and open one; every opening goes to the audit log.

Supervisors and admins read every transcript for as long as it is kept
(``CHAT_TRANSCRIPT_RETENTION_DAYS``). A counselor reads the transcripts of
their own chats (the chats they had when they ended) for
``CHAT_OWN_TRANSCRIPT_DAYS`` after the end, and is refused (403) any other.
The search reads only the text-free summary (day, counselor, wrap-up
category and risk); the text is sent only when one transcript is opened,
and each opening is written to the audit log (who, which chat, when; never
any text), every time: unlike monitoring there is no de-duplication, since
a transcript is opened on purpose, once per click.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import Select, select

from chat.api.deps import DbDep, PrincipalDep, RuntimeDep
from chat.services import accounts
from chat.services.auth import Principal, Role
from chat.store.sql import AuditEntry, ChatSummary, Counselor, Transcript
from chat.wrapup import RiskLevel, WrapupCategory

router = APIRouter(prefix="/api/transcripts", tags=["review"])

AUDIT_ACTION = "transcript"


def _is_supervisor(principal: Principal) -> bool:
    return principal.role in (Role.SUPERVISOR, Role.ADMIN)


def _own_since(rt: RuntimeDep) -> datetime:
    now = datetime.fromtimestamp(rt.now_ms() / 1000, UTC)
    return now - timedelta(days=rt.settings.own_transcript_days)


async def _names(db: DbDep, ids: set[int]) -> dict[int, Counselor]:
    if not ids:
        return {}
    rows = (await db.execute(select(Counselor).where(Counselor.id.in_(ids)))).scalars().all()
    return {r.id: r for r in rows}


def iso(moment: datetime) -> str:
    """A stored moment as ISO 8601 in UTC (SQLite hands back naive datetimes; they are UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _listing(t: Transcript, s: ChatSummary, who: Counselor | None) -> dict[str, Any]:
    return {
        "session_id": t.session_id,
        "day": s.day.isoformat(),
        "opened_at": iso(t.opened_at),
        "ended_at": iso(t.ended_at),
        "audience": t.audience,
        "language": t.language,
        "urgent": t.urgent,
        "counselor": {"username": who.username, "name": who.display_name} if who else None,
        "category": s.wrapup_category,
        "risk": s.risk_level,
        "referral": s.referral,
        "end_reason": s.end_reason,
        "messages": s.messages,
    }


@router.get("")
async def search(
    principal: PrincipalDep,
    rt: RuntimeDep,
    db: DbDep,
    since: Annotated[date | None, Query(alias="from", description="first Europe/Amsterdam day")] = None,
    until: Annotated[date | None, Query(alias="to", description="last Europe/Amsterdam day")] = None,
    counselor: Annotated[str | None, Query(max_length=64)] = None,
    category: WrapupCategory | None = None,
    risk: RiskLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Transcripts (without their text) that match, newest first."""
    query: Select[Transcript, ChatSummary] = select(Transcript, ChatSummary).join(
        ChatSummary, ChatSummary.session_id == Transcript.session_id
    )
    if not _is_supervisor(principal):
        if counselor is not None and accounts.normalise_username(counselor) != principal.username:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "counselors see only their own chats")
        query = query.where(ChatSummary.counselor_id == principal.counselor_id, Transcript.ended_at >= _own_since(rt))
    elif counselor is not None:
        row = await accounts.find(db, counselor)
        if row is None:
            return []
        query = query.where(ChatSummary.counselor_id == row.id)
    if since is not None:
        query = query.where(ChatSummary.day >= since)
    if until is not None:
        query = query.where(ChatSummary.day <= until)
    if category is not None:
        query = query.where(ChatSummary.wrapup_category == category.value)
    if risk is not None:
        query = query.where(ChatSummary.risk_level == risk.value)
    rows = (await db.execute(query.order_by(Transcript.ended_at.desc(), Transcript.id.desc()).limit(limit))).all()
    names = await _names(db, {s.counselor_id for _, s in rows if s.counselor_id is not None})
    return [_listing(t, s, names.get(s.counselor_id) if s.counselor_id else None) for t, s in rows]


@router.get("/{session_id}")
async def open_transcript(session_id: str, principal: PrincipalDep, rt: RuntimeDep, db: DbDep) -> dict[str, Any]:
    """One redacted transcript; the opening is written to the audit log first."""
    found = (
        await db.execute(
            select(Transcript, ChatSummary)
            .join(ChatSummary, ChatSummary.session_id == Transcript.session_id)
            .where(Transcript.session_id == session_id[:64])
        )
    ).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no transcript with this id (never stored, or purged)")
    transcript, summary = found
    if not _is_supervisor(principal):
        ended = datetime.fromisoformat(iso(transcript.ended_at))
        if summary.counselor_id != principal.counselor_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "counselors may open only their own chats")
        if ended < _own_since(rt):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"your own chats stay open to you for {rt.settings.own_transcript_days:g} days after they ended",
            )
    db.add(AuditEntry(actor=principal.username, action=AUDIT_ACTION, session_id=transcript.session_id))
    await db.commit()
    names = await _names(db, {summary.counselor_id} if summary.counselor_id else set())
    who = names.get(summary.counselor_id) if summary.counselor_id else None
    return {
        **_listing(transcript, summary, who),
        "paired_at": iso(transcript.paired_at) if transcript.paired_at else None,
        "topic": transcript.topic,
        "events": json.loads(transcript.events),
    }
