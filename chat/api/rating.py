"""The widget's one optional question after a chat: an anonymous score from 1 to 5.

The request carries the score and the widget's language, nothing else: no
session id, no token, no time. It is counted per day (Europe/Amsterdam),
language and score, so nothing stored can be tied to a chat or a visitor.
Flooding is held back per address, keyed on the rotating salted hash that
every other limit uses; the address itself is never kept.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chat.api.deps import RuntimeDep
from chat.services.addresses import http_client_address
from chat.sessions import Language
from chat.store.sql import Rating

router = APIRouter(prefix="/api", tags=["public"])

# A visitor rates once per chat; a household or a school behind one address may hold a few chats an hour.
RATINGS_PER_HOUR = 10
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class RatingIn(BaseModel):
    """Exactly these fields: anything else (a session id, a name) is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    score: StrictInt = Field(ge=1, le=5)
    language: Language = Language.NL


async def count_rating(db: AsyncSession, dialect: str, day: date, language: str, score: int) -> None:
    """Add one to the count for (day, language, score), creating the row on first use, in one statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Rating).values(day=day, language=language, score=score, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "language", "score"], set_={"count": Rating.count + 1})
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
    async with rt.db() as db:
        await count_rating(db, rt.engine.dialect.name, day, body.language.value, body.score)
        await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
