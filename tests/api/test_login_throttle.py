"""Login throttling against a real server and Redis: it cannot be raced, and strangers cannot lock a counselor out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from chat.api.auth import username_delay
from tests.helpers import ServerThread, add_counselor

StartServer = Callable[..., Awaitable[ServerThread]]
RIGHT = "correct horse battery"


async def _login(client: httpx.AsyncClient, username: str, password: str, address: str | None = None) -> int:
    headers = {"X-Forwarded-For": address} if address else {}
    response = await client.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)
    return response.status_code


async def test_parallel_guesses_cannot_pass_the_limit(start_server: StartServer) -> None:
    failures = 5
    srv = await start_server(login_max_failures=failures, login_max_delay_seconds=0.0)
    await add_counselor(srv.settings, "bert")
    async with httpx.AsyncClient(base_url=srv.http, timeout=60) as client:
        statuses = await asyncio.gather(*(_login(client, "bert", f"guess {i}") for i in range(40)))
    # Counted before the password is checked, atomically: only `failures` guesses reach the check.
    assert statuses.count(401) == failures, statuses
    assert statuses.count(429) == 40 - failures, statuses


async def test_strangers_slow_a_counselor_down_but_never_lock_them_out(start_server: StartServer) -> None:
    failures = 2
    srv = await start_server(login_max_failures=failures, login_max_delay_seconds=0.2, trusted_proxies=["127.0.0.1"])
    await add_counselor(srv.settings, "anna")
    async with httpx.AsyncClient(base_url=srv.http, timeout=60) as client:
        # Twelve strangers, each from an address of their own, guess anna's password wrong, twice each.
        for round_ in range(2):
            statuses = await asyncio.gather(
                *(_login(client, "anna", f"wrong {round_}", f"198.51.100.{i}") for i in range(12))
            )
            assert set(statuses) == {401}, statuses
        # One stranger address is throttled for anna after `failures` guesses...
        assert await _login(client, "anna", "wrong", "198.51.100.1") == 429
        # ...but anna, from her own address, still gets in, only a little later (the delay is a floor, not a speed).
        began = time.monotonic()
        assert await _login(client, "anna", RIGHT, "203.0.113.7") == 200
        assert time.monotonic() - began >= 0.2
        # Her successes do not count against her address: she logs in again and again.
        for _ in range(failures * 4 + 2):
            assert await _login(client, "anna", RIGHT, "203.0.113.7") == 200


async def test_one_address_is_limited_across_usernames(start_server: StartServer) -> None:
    failures = 2
    srv = await start_server(login_max_failures=failures, login_max_delay_seconds=0.0)
    await add_counselor(srv.settings, "carla")
    async with httpx.AsyncClient(base_url=srv.http, timeout=60) as client:
        statuses = [await _login(client, f"user{i}", "wrong") for i in range(failures * 4 + 3)]
        assert statuses[: failures * 4] == [401] * (failures * 4)
        assert set(statuses[failures * 4 :]) == {429}
        response = await client.post("/api/auth/login", json={"username": "carla", "password": RIGHT})
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0


def test_username_delay_grows_and_is_capped() -> None:
    assert [username_delay(n, 5, 10.0) for n in (0, 4, 5, 6, 7, 30)] == [0.0, 0.0, 0.5, 1.0, 2.0, 10.0]
