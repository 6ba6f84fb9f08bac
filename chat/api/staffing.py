"""Admins: staffing at a glance, from the text-free summaries (no text, no session ids).

Per hour of the week (Europe/Amsterdam) over the last four weeks, and per day
over the last 30 days: the chats that began, how many of them left the queue
unanswered, and the longest wait. The console draws it as a chart and a table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from chat.api.deps import AdminDep, DbDep, RuntimeDep
from chat.stats import AMSTERDAM, Chat, amsterdam_day, per_day, per_hour_of_week
from chat.store.sql import ChatSummary

router = APIRouter(prefix="/api/admin", tags=["admin"])

WEEKS = 4
DAYS = 30


@router.get("/staffing")
async def staffing(_: AdminDep, rt: RuntimeDep, db: DbDep) -> dict[str, Any]:
    now = rt.now_ms()
    today = amsterdam_day(now)
    first_day = today - timedelta(days=DAYS - 1)
    # The four weeks end with the current hour: every hour of the week is counted four times.
    hour_start = datetime.fromtimestamp(now / 1000, UTC).replace(minute=0, second=0, microsecond=0)
    weeks_from = hour_start + timedelta(hours=1) - timedelta(weeks=WEEKS)
    earliest = min(first_day, weeks_from.astimezone(AMSTERDAM).date())
    rows = (await db.execute(select(ChatSummary).where(ChatSummary.day >= earliest))).scalars().all()
    chats = [Chat(r.day, r.paired, r.wait_seconds, _utc(r.opened_hour)) for r in rows]
    in_weeks = [c for c in chats if c.opened_hour is not None and c.opened_hour >= weeks_from]
    return {
        "timezone": "Europe/Amsterdam",
        "weeks": WEEKS,
        "weeks_from": weeks_from.isoformat(),
        "hours": per_hour_of_week(in_weeks),
        "days": per_day(chats, first_day, today),
    }


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored in UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
