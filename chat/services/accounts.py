"""Counselor accounts in SQL, shared by the CLI, the admin API and the tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.services.auth import Role, hash_password
from chat.store.sql import Counselor

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # the login form's limit: a longer one could never be typed in


class AccountError(ValueError):
    pass


def normalise_username(name: str) -> str:
    return name.strip().lower()


async def find(db: AsyncSession, username: str) -> Counselor | None:
    query = select(Counselor).where(Counselor.username == normalise_username(username))
    return (await db.execute(query)).scalar_one_or_none()


def check_password(password: str) -> None:
    """The one set of password rules, for `add`, `passwd` and the admin API alike."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise AccountError("a password cannot be only spaces")


def set_password(row: Counselor, password: str) -> None:
    check_password(password)
    row.password_hash = hash_password(password)


async def add(db: AsyncSession, username: str, password: str, role: Role, display_name: str | None = None) -> Counselor:
    username = normalise_username(username)
    if not username or len(username) > 64:
        raise AccountError("a username needs 1 to 64 characters")
    check_password(password)
    if await find(db, username) is not None:
        raise AccountError(f"counselor {username} exists already")
    row = Counselor(
        username=username,
        display_name=(display_name or username).strip()[:64],
        role=role.value,
        password_hash=hash_password(password),
        active=True,
    )
    db.add(row)
    await db.commit()
    return row
