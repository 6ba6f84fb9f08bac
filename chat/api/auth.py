"""Counselor login and logout."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from chat.api.deps import DbDep, PrincipalDep, RuntimeDep
from chat.services import metrics
from chat.services.addresses import http_client_address
from chat.services.auth import Role, verify_password
from chat.services.runtime import Runtime
from chat.store.sql import Counselor

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Each argon2 verification takes 64 MiB and a core for ~0.2 s: a few at a time, the rest wait.
# One semaphore per runtime (per event loop): a module-level one would be bound to the first loop it met.
_VERIFICATIONS = "login_verifications"


def _verifications(rt: Runtime) -> asyncio.Semaphore:
    sem: asyncio.Semaphore | None = rt.extras.get(_VERIFICATIONS)
    if sem is None:
        sem = rt.extras[_VERIFICATIONS] = asyncio.Semaphore(4)
    return sem


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def username_delay(failures: int, max_failures: int, max_delay: float) -> float:
    """Seconds every login for a username waits once it collected failures from anywhere: it grows, never locks."""
    if failures < max_failures:
        return 0.0
    return float(min(max_delay, 2 ** (failures - max_failures) * 0.5))


@router.post("/login")
async def login(body: LoginIn, request: Request, rt: RuntimeDep, db: DbDep) -> dict[str, object]:
    """Check one login.

    Throttling (docs/security.md): every attempt is counted before its password is checked, in one atomic
    step, per (username, client address) and per client address; over the limit it gets 429. A username's
    failures from all addresses together only slow its logins down (a growing delay), so nobody can lock a
    counselor out by guessing wrong from elsewhere.
    """
    settings = rt.settings
    username = body.username.strip().lower()
    address = http_client_address(request, settings.trusted_proxies) or "unknown"
    user_key = await rt.hasher.digest("user", username)
    pair_key = await rt.hasher.digest("user-addr", f"{username}\n{address}")
    addr_key = await rt.hasher.digest("addr", address)
    window = settings.login_window_seconds
    pair_count, addr_count = await rt.limiter.hit_all(window, ("login-pair", pair_key), ("login-addr", addr_key))
    if pair_count > settings.login_max_failures or addr_count > settings.login_max_failures * 4:
        metrics.of(rt).rate_limited.labels("login").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
            headers={"Retry-After": str(window)},
        )
    delay = username_delay(
        await rt.limiter.count("login-user", user_key), settings.login_max_failures, settings.login_max_delay_seconds
    )
    if delay:
        await asyncio.sleep(delay)
    counselor = (await db.execute(select(Counselor).where(Counselor.username == username))).scalar_one_or_none()
    # argon2 is slow on purpose: keep it off the event loop.
    async with _verifications(rt):
        ok = await run_in_threadpool(verify_password, counselor.password_hash if counselor else None, body.password)
    if not ok or counselor is None or not counselor.active:
        await rt.limiter.hit("login-user", user_key, window)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    # A success is not held against the address, and ends this address's strikes for this username.
    await rt.limiter.clear("login-pair", pair_key)
    await rt.limiter.refund("login-addr", addr_key)
    role = Role(counselor.role)
    token = await rt.tokens.issue(counselor.id, counselor.username, counselor.display_name, role)
    return {
        "token": token,
        "expires_in": settings.token_ttl_seconds,
        "counselor": {"name": counselor.display_name, "role": role.value, "username": counselor.username},
    }


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: PrincipalDep, rt: RuntimeDep) -> None:
    await rt.tokens.revoke(principal)


@router.get("/me")
async def me(principal: PrincipalDep) -> dict[str, str]:
    return principal.public()
