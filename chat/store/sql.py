"""The SQL schema and the async engine.

SQL holds what outlives a session: counselors, snippets and (later) redacted
transcripts. Never a token, an address or raw message text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Counselor(Base):
    __tablename__ = "counselors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Which queues they take, ``chat.skills.Skills.dump()``; None: every queue.
    skills: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Snippet(Base):
    __tablename__ = "snippets"
    __table_args__ = (UniqueConstraint("slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(2))
    audience: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def wire(self, *, full: bool = False) -> dict[str, Any]:
        """The shape a visitor receives inside a ``resource`` event; ``full`` adds the console's fields."""
        out: dict[str, Any] = {
            "id": self.slug,
            "title": self.title,
            "body": self.body,
            "phone": self.phone,
            "url": self.url,
        }
        if full:
            out.update(
                language=self.language,
                audience=self.audience,
                category=self.category,
                sort_order=self.sort_order,
                active=self.active,
            )
        return out


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # SQLite: one writer at a time; a busy timeout instead of "database is locked".
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


class Transcript(Base):
    """A redacted transcript: no raw text, times rounded to the minute; deleted after the retention period."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    audience: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2))
    topic: Mapped[str | None] = mapped_column(Text, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # JSON list of {seq, type, sender, text | snippet_id, reason}, every text redacted.
    events: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ChatSummary(Base):
    """One row per archived chat, kept for statistics: no text of any kind, only fixed choices and numbers."""

    __tablename__ = "chat_summaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    audience: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    triage_categories: Mapped[str | None] = mapped_column(String(200), nullable=True)
    paired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Until paired, or until the visitor left the queue unanswered (then paired is false).
    wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    end_reason: Mapped[str] = mapped_column(String(16))
    messages: Mapped[int] = mapped_column(Integer, default=0)
    wrapup_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    risk_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    referral: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The counselor who had the chat last (for review and "my wrap-ups"); the hour it began, in UTC
    # (for staffing per hour of the week). Both empty in summaries archived before 0005.
    counselor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    opened_hour: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Rating(Base):
    """Answers to the widget's one optional question, counted per day, language and score.

    A count per (day, language, score) rather than a row per answer: rows would keep the order in
    which answers came in, and that order could be set beside the order in which chats ended. Nothing
    here names a visitor, a session or a time of day.
    """

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("day", "language", "score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2))
    score: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CounselorRating(Base):
    """The same anonymous scores, counted per day, counselor and score (no language, no session).

    A rating is tied to the counselor who had the chat when it ended, through a one-use key in Redis
    that the chat's end leaves behind (``Keys.rateable``); nothing about the visitor is kept.
    """

    __tablename__ = "counselor_ratings"
    __table_args__ = (UniqueConstraint("day", "counselor_id", "score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    counselor_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who opened which chat or transcript, and when; never any text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
