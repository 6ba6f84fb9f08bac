"""Safety-resource snippets: counselors read them and send them into chats."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.api.deps import AdminDep, DbDep, PrincipalDep
from chat.services.auth import Role
from chat.services.runtime import Runtime
from chat.snippets import SnippetIn
from chat.store.sql import Snippet

router = APIRouter(prefix="/api/snippets", tags=["snippets"])


@router.get("")
async def list_snippets(
    principal: PrincipalDep,
    db: DbDep,
    language: str | None = None,
    audience: str | None = None,
    q: str | None = None,
    include_inactive: bool = False,
) -> list[dict[str, Any]]:
    """Active snippets, filtered by language and audience ("both" always fits), searched by text.

    Admins may ask for the inactive ones too, to edit them.
    """
    query = select(Snippet)
    if not (include_inactive and principal.role is Role.ADMIN):
        query = query.where(Snippet.active.is_(True))
    if language:
        query = query.where(Snippet.language == language)
    if audience:
        query = query.where(or_(Snippet.audience == audience, Snippet.audience == "both"))
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(Snippet.title.ilike(like), Snippet.body.ilike(like), Snippet.category.ilike(like)))
    rows = (await db.execute(query.order_by(Snippet.sort_order, Snippet.id))).scalars().all()
    return [r.wire(full=True) for r in rows]


class SnippetPatch(BaseModel):
    """A partial edit: only the fields given change; the result is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = None
    audience: str | None = None
    category: str | None = None
    title: str | None = None
    body: str | None = None
    phone: str | None = None
    url: str | None = None
    sort_order: int | None = None
    active: bool | None = None


class Order(BaseModel):
    ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(min_length=1, max_length=1000)]


def _apply(row: Snippet, data: SnippetIn) -> None:
    row.language, row.audience, row.category = data.language, data.audience, data.category
    row.title, row.body, row.phone, row.url = data.title, data.body, data.phone, data.url
    row.sort_order, row.active = data.sort_order, data.active


def _slug_for(data: SnippetIn) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", data.title.lower()).strip("-")[:40] or "snippet"
    return f"{base}-{data.language}-{secrets.token_hex(3)}"


async def _get(db: AsyncSession, slug: str) -> Snippet:
    row = (await db.execute(select(Snippet).where(Snippet.slug == slug))).scalar_one_or_none()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no snippet with this id")
    return row


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_snippet(body: SnippetIn, _: AdminDep, db: DbDep) -> dict[str, Any]:
    slug = body.id or _slug_for(body)
    if (await db.execute(select(Snippet.id).where(Snippet.slug == slug))).first() is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "a snippet with this id exists already")
    row = Snippet(slug=slug)
    _apply(row, body)
    db.add(row)
    await db.commit()
    return row.wire(full=True)


@router.put("/{slug}")
async def replace_snippet(slug: str, body: SnippetIn, _: AdminDep, db: DbDep) -> dict[str, Any]:
    row = await _get(db, slug)
    if body.id is not None and body.id != slug:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the id in the body differs from the one in the path"
        )
    _apply(row, body)
    await db.commit()
    return row.wire(full=True)


@router.patch("/{slug}")
async def edit_snippet(slug: str, body: SnippetPatch, _: AdminDep, db: DbDep) -> dict[str, Any]:
    row = await _get(db, slug)
    current = row.wire(full=True)
    current.pop("id")
    merged = {**current, **body.model_dump(exclude_unset=True)}
    try:
        data = SnippetIn.model_validate(merged)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    _apply(row, data)
    await db.commit()
    return row.wire(full=True)


@router.delete("/{slug}")
async def deactivate_snippet(slug: str, _: AdminDep, db: DbDep) -> dict[str, Any]:
    """Deactivate rather than delete: a snippet already sent stays meaningful in transcripts."""
    row = await _get(db, slug)
    row.active = False
    await db.commit()
    return row.wire(full=True)


@router.post("/order")
async def reorder_snippets(body: Order, _: AdminDep, db: DbDep) -> list[dict[str, Any]]:
    """Set the order: the snippets named come first, in the order given; the rest keep theirs after them."""
    everything = (await db.execute(select(Snippet).order_by(Snippet.sort_order, Snippet.id))).scalars().all()
    rows = {r.slug: r for r in everything}
    unknown = [slug for slug in body.ids if slug not in rows]
    if unknown or len(set(body.ids)) != len(body.ids):
        detail = "ids must be distinct existing snippet ids" + (f"; unknown: {unknown[:5]}" if unknown else "")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    named = set(body.ids)
    ordered = [rows[slug] for slug in body.ids] + [r for r in everything if r.slug not in named]
    for index, row in enumerate(ordered):
        row.sort_order = (index + 1) * 10
    await db.commit()
    return [rows[slug].wire(full=True) for slug in body.ids]


async def lookup_active(db: AsyncSession, slug: str) -> dict[str, Any] | None:
    row = (await db.execute(select(Snippet).where(Snippet.slug == slug, Snippet.active.is_(True)))).scalar_one_or_none()
    return row.wire() if row else None


def make_lookup(rt: Runtime) -> Any:
    async def lookup(slug: str) -> dict[str, Any] | None:
        async with rt.db() as db:
            return await lookup_active(db, slug)

    return lookup
