"""Safety-resource snippets: counselors read them and send them into chats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.api.deps import DbDep, PrincipalDep
from chat.runtime import Runtime
from chat.store.sql import Snippet

router = APIRouter(prefix="/api/snippets", tags=["snippets"])


def snippet_out(row: Snippet, *, full: bool = False) -> dict[str, Any]:
    """The shape a visitor receives inside a ``resource`` event; ``full`` adds the console's fields."""
    out: dict[str, Any] = {"id": row.slug, "title": row.title, "body": row.body, "phone": row.phone, "url": row.url}
    if full:
        out.update(language=row.language, audience=row.audience, category=row.category,
                   sort_order=row.sort_order, active=row.active)
    return out


@router.get("")
async def list_snippets(_: PrincipalDep, db: DbDep, language: str | None = None, audience: str | None = None,
                        q: str | None = None, include_inactive: bool = False) -> list[dict[str, Any]]:
    query = select(Snippet)
    if not include_inactive:
        query = query.where(Snippet.active.is_(True))
    if language:
        query = query.where(Snippet.language == language)
    if audience:
        query = query.where(or_(Snippet.audience == audience, Snippet.audience == "both"))
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(Snippet.title.ilike(like), Snippet.body.ilike(like), Snippet.category.ilike(like)))
    rows = (await db.execute(query.order_by(Snippet.sort_order, Snippet.id))).scalars().all()
    return [snippet_out(r, full=True) for r in rows]


async def lookup_active(db: AsyncSession, slug: str) -> dict[str, Any] | None:
    row = (await db.execute(select(Snippet).where(Snippet.slug == slug, Snippet.active.is_(True)))).scalar_one_or_none()
    return snippet_out(row) if row else None


def make_lookup(rt: Runtime) -> Any:
    async def lookup(slug: str) -> dict[str, Any] | None:
        async with rt.db() as db:
            return await lookup_active(db, slug)

    return lookup
