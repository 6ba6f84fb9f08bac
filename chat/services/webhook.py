"""The outgoing alert webhook: reaches supervisors who are not logged in, through the ops channel.

``CHAT_ALERT_WEBHOOK_URL`` receives a JSON POST when someone waits past the alert
threshold (sooner when urgent) or when triage raises a risk in an active chat.
The body holds counts and queue names only: never a session id, a text, a topic
or anything else about a person. Every instance watches the queues, so a Redis
``SET NX`` with a TTL decides which one sends (once a minute per queue and kind,
once per raised risk); a failed POST is retried with a growing delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from chat.store.keys import Keys

log = logging.getLogger("chat.services.webhook")

RETRY_DELAYS = (1.0, 4.0, 15.0)
KINDS = ("long_wait", "urgent_wait", "risk_in_chat")


class AlertWebhook:
    def __init__(self, url: str, redis: Redis, keys: Keys, timeout: float = 5.0) -> None:
        self.url = url
        self.redis = redis
        self.keys = keys
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def offer(self, kind: str, dedup: str, every_seconds: int, **counts: Any) -> bool:
        """Send ``kind`` unless this instance or another sent the same one within ``every_seconds``."""
        assert kind in KINDS
        if not await self.redis.set(self.keys.webhook_sent(kind, dedup), "1", nx=True, ex=every_seconds):
            return False
        body = {"source": "helpline-chat", "event": kind, "at": datetime.now(UTC).isoformat(), **counts}
        task = asyncio.create_task(self._deliver(body), name="alert-webhook")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _deliver(self, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    response = await client.post(self.url, json=body)
                    if response.status_code < 300:
                        self.sent += 1
                        return
                    log.warning("alert webhook answered %d (attempt %d)", response.status_code, attempt + 1)
                except httpx.HTTPError as exc:
                    log.warning("alert webhook failed: %s (attempt %d)", type(exc).__name__, attempt + 1)
        self.failed += 1
        log.error("alert webhook: gave up after %d attempts", len(RETRY_DELAYS) + 1)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
