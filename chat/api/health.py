"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from chat.api.deps import RuntimeDep, bearer_token
from chat.services import metrics as metrics_module
from chat.services.outage import RETRY_AFTER
from chat.services.runtime import wall_ms

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: RuntimeDep) -> JSONResponse:
    if rt.extras.get("draining"):
        # SIGTERM: the proxy stops sending new visitors here while the open sockets go on (docs/operations.md).
        return JSONResponse({"status": "draining"}, status_code=503, headers={"Retry-After": RETRY_AFTER})
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
        return JSONResponse(
            {"status": "unavailable", "failed": failed}, status_code=503, headers={"Retry-After": RETRY_AFTER}
        )
    # A detail, not a failure: without an archiver chats still work (no transcripts, statistics or purge), so
    # the proxy keeps sending traffic; the operator sees "missing" here, in the log and in chat_archiver_up.
    alive = await metrics_module.archivers_alive(rt.redis, rt.keys, wall_ms(), rt.settings.archiver_stale_seconds)
    return JSONResponse({"status": "ready", "archiver": "ok" if alive else "missing"})


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request, rt: RuntimeDep) -> Response:
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
    return Response(await metrics_module.render(rt), media_type=CONTENT_TYPE_LATEST)
