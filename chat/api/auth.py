"""Counselor login and logout."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from chat.api.deps import DbDep, PrincipalDep, RuntimeDep
from chat.services.addresses import http_client_address
from chat.services.auth import Role, verify_password
from chat.store.sql import Counselor

router = APIRouter(prefix="/api/auth", tags=["auth"])

# Each argon2 verification takes 64 MiB and a core for ~0.2 s: a few at a time, the rest wait.
_verifications = asyncio.Semaphore(4)


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


@router.post("/login")
async def login(body: LoginIn, request: Request, rt: RuntimeDep, db: DbDep) -> dict[str, object]:
    settings = rt.settings
    username = body.username.strip().lower()
    user_key = await rt.hasher.digest("user", username)
    addr_key = await rt.hasher.digest("addr", http_client_address(request, settings.trusted_proxies) or "unknown")
    window = settings.login_window_seconds
    if (
        await rt.limiter.count("login-user", user_key) >= settings.login_max_failures
        or await rt.limiter.count("login-addr", addr_key) >= settings.login_max_failures * 4
    ):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
            headers={"Retry-After": str(window)},
        )
    counselor = (await db.execute(select(Counselor).where(Counselor.username == username))).scalar_one_or_none()
    # argon2 is slow on purpose: keep it off the event loop.
    async with _verifications:
        ok = await run_in_threadpool(verify_password, counselor.password_hash if counselor else None, body.password)
    if not ok or counselor is None or not counselor.active:
        await rt.limiter.hit("login-user", user_key, window)
        await rt.limiter.hit("login-addr", addr_key, window)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    await rt.limiter.clear("login-user", user_key)
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
