"""/metrics is not public, and tells nothing about one person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL
from tests.helpers import ServerThread, visitor_hello

StartServer = Callable[..., Awaitable[ServerThread]]
TOKEN = "metrics-" + "m" * 32


async def test_metrics_need_the_token_and_hold_no_urgent_count_per_queue(start_server: StartServer, track: Any) -> None:
    srv = await start_server(metrics_token=TOKEN)
    # One young person waiting, triaged urgent: the metrics must not tell.
    visitor, session = await visitor_hello(
        srv, audience="youth", first_message="hij slaat me, ik ben bang dat hij me vermoordt"
    )
    track(visitor)
    client_redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert await client_redis.hget(srv.rt.keys.session(session["session_id"]), "urgent") == b"1"
    finally:
        await client_redis.aclose()
    async with httpx.AsyncClient(base_url=srv.http) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]
    text = response.text
    assert 'chat_queue_waiting{audience="youth",language="nl"} 1.0' in text
    # Urgent only as one total over all queues (for the alert), never per queue.
    urgent_lines = [line for line in text.splitlines() if "urgent" in line and not line.startswith("#")]
    assert urgent_lines and all(line.startswith("chat_urgent_") and "{" not in line for line in urgent_lines)
    assert "chat_events_relayed_total" in text and "chat_connections" in text
