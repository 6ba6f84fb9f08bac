"""The widget's one optional question after a chat: an anonymous score from 1 to 5; and the counts.

The request carries the score, the widget's language and (optionally) the
visitor's resume token, nothing else: no session id, no time. It is counted
per day (Europe/Amsterdam), language and score. The token is used once and
never stored: the end of a chat with a counselor leaves a one-use key in
Redis (``Keys.rateable``: the token's hash to the counselor's id, with the
ended TTL, no session id), and a rating that brings the token takes it and
is also counted per day, counselor and score. So a counselor's ratings can
be shown without anything stored that names a visitor or a session.
Flooding is held back per address, keyed on the rotating salted hash that
every other limit uses; the address itself is never kept.

``GET /api/ratings`` shows the counts to supervisors and admins.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chat.api.deps import DbDep, RuntimeDep, SupervisorDep
from chat.services.addresses import http_client_address
from chat.sessions import Language
from chat.store.sql import Counselor, CounselorRating, Rating

router = APIRouter(prefix="/api", tags=["public"])

# A visitor rates once per chat; a household or a school behind one address may hold a few chats an hour.
RATINGS_PER_HOUR = 10
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class RatingIn(BaseModel):
    """Exactly these fields: anything else (a session id, a name) is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    score: StrictInt = Field(ge=1, le=5)
    language: Language = Language.NL
    # The widget's resume token of the chat just ended: used once to find its counselor, never kept.
    token: Annotated[str, Field(min_length=1, max_length=200)] | None = None


async def count_rating(db: AsyncSession, dialect: str, day: date, language: str, score: int) -> None:
    """Add one to the count for (day, language, score), creating the row on first use, in one statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Rating).values(day=day, language=language, score=score, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "language", "score"], set_={"count": Rating.count + 1})
    await db.execute(stmt)


async def count_counselor_rating(db: AsyncSession, dialect: str, day: date, counselor_id: int, score: int) -> None:
    """Add one to the count for (day, counselor, score), in one statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CounselorRating).values(day=day, counselor_id=counselor_id, score=score, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "counselor_id", "score"], set_={"count": CounselorRating.count + 1}
    )
    await db.execute(stmt)


@router.post("/rating", status_code=status.HTTP_204_NO_CONTENT)
async def rate(body: RatingIn, request: Request, rt: RuntimeDep) -> Response:
    """Count one anonymous score; 429 when one address sends too many."""
    address = http_client_address(request, rt.settings.trusted_proxies) or "unknown"
    subject = await rt.hasher.digest("addr", address)
    if await rt.limiter.hit("rating", subject, 3600) > RATINGS_PER_HOUR:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many ratings from here; thank you", headers={"Retry-After": "3600"}
        )
    day = datetime.fromtimestamp(rt.now_ms() / 1000, AMSTERDAM).date()
    # An unknown, used or expired token counts the score all the same, for nobody: the answer never
    # says which, so that a token cannot be tested here.
    counselor_id = await rt.store.take_rateable(body.token) if body.token else None
    async with rt.db() as db:
        await count_rating(db, rt.engine.dialect.name, day, body.language.value, body.score)
        if counselor_id is not None:
            await count_counselor_rating(db, rt.engine.dialect.name, day, counselor_id, body.score)
        await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _summary(scores: dict[int, int]) -> dict[str, Any]:
    count = sum(scores.values())
    mean = round(sum(s * n for s, n in scores.items()) / count, 2) if count else None
    return {"count": count, "mean": mean, "scores": {str(s): scores.get(s, 0) for s in range(1, 6)}}


@router.get("/ratings")
async def ratings(
    _: SupervisorDep, rt: RuntimeDep, db: DbDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """Supervisors and admins: the counts of the last ``days`` Amsterdam days, per day and per counselor.

    Per day counts every rating; per counselor only those the widget could tie to a counselor.
    """
    today = datetime.fromtimestamp(rt.now_ms() / 1000, AMSTERDAM).date()
    since = today - timedelta(days=days - 1)
    per_day: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in (await db.execute(select(Rating).where(Rating.day >= since))).scalars():
        per_day[r.day][r.score] += r.count
    per_counselor: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for c in (await db.execute(select(CounselorRating).where(CounselorRating.day >= since))).scalars():
        per_counselor[c.counselor_id][c.score] += c.count
    people = (
        (await db.execute(select(Counselor).where(Counselor.id.in_(set(per_counselor))))).scalars().all()
        if per_counselor
        else []
    )
    counselors = [
        {"username": p.username, "name": p.display_name, **_summary(per_counselor[p.id])}
        for p in sorted(people, key=lambda p: p.display_name.lower())
    ]
    return {
        "since": since.isoformat(),
        "total": _summary({s: sum(d.get(s, 0) for d in per_day.values()) for s in range(1, 6)}),
        "days": [{"day": d.isoformat(), **_summary(per_day[d])} for d in sorted(per_day)],
        "counselors": counselors,
    }
