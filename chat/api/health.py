"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import secrets
import time

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from chat.api.deps import RuntimeDep, bearer_token

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: RuntimeDep) -> JSONResponse:
    failed: list[str] = []
    try:
        await asyncio.wait_for(rt.redis.ping(), 2)
    except Exception:
        failed.append("redis")
    try:
        async with rt.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
    except Exception:
        failed.append("database")
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request, rt: RuntimeDep) -> str:
    """Prometheus text, for a scraper holding ``CHAT_METRICS_TOKEN`` (Bearer); without that setting, 404.

    Nothing here tells about one person: no urgent counts per queue (with one or two people waiting they
    would say who was triaged urgent), only counts everyone may see on /api/status and process counters.
    """
    expected = rt.settings.metrics_token
    given = bearer_token(request) or ""
    if not expected:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid metrics token is required")
    now = rt.now_ms()
    lines = [
        "# HELP chat_queue_waiting Visitors waiting per queue.",
        "# TYPE chat_queue_waiting gauge",
    ]
    stats = await rt.store.queue_stats()
    for s in stats:
        lines.append(f'chat_queue_waiting{{audience="{s.audience}",language="{s.language}"}} {s.waiting}')
    lines += [
        "# HELP chat_queue_longest_wait_seconds Longest current wait per queue.",
        "# TYPE chat_queue_longest_wait_seconds gauge",
    ]
    for s in stats:
        wait = max(0, (now - s.oldest_ms) / 1000) if s.oldest_ms is not None else 0
        lines.append(f'chat_queue_longest_wait_seconds{{audience="{s.audience}",language="{s.language}"}} {wait:.1f}')
    waits = [w for _t, w in await rt.store.recent_waits(now)]
    buckets = [10, 30, 60, 120, 300, 600, 1800, 3600]
    lines += ["# HELP chat_wait_seconds Waits of the pairings in the last hour.", "# TYPE chat_wait_seconds histogram"]
    for b in buckets:
        lines.append(f'chat_wait_seconds_bucket{{le="{b}"}} {sum(1 for w in waits if w <= b)}')
    lines.append(f'chat_wait_seconds_bucket{{le="+Inf"}} {len(waits)}')
    lines.append(f"chat_wait_seconds_sum {sum(waits):.1f}")
    lines.append(f"chat_wait_seconds_count {len(waits)}")
    lines += [
        "# HELP chat_active_sessions Chats with a counselor right now.",
        "# TYPE chat_active_sessions gauge",
        f"chat_active_sessions {await rt.store.active_sessions()}",
        "# HELP chat_counselors_online Counselors connected in the last minute.",
        "# TYPE chat_counselors_online gauge",
        f"chat_counselors_online {await rt.store.counselors_online(now)}",
        "# HELP chat_events_relayed_total Events delivered to sockets by this process.",
        "# TYPE chat_events_relayed_total counter",
        f"chat_events_relayed_total {rt.extras.get('relayed', 0)}",
        "# HELP chat_connections Open websockets in this process.",
        "# TYPE chat_connections gauge",
        f"chat_connections {len(rt.connections)}",
        "# HELP chat_process_start_time_seconds Start time of this process.",
        "# TYPE chat_process_start_time_seconds gauge",
        f"chat_process_start_time_seconds {rt.extras.get('started', time.time()):.0f}",
    ]
    return "\n".join(lines) + "\n"
