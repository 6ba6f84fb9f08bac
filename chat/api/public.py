"""Public service status, for the widget before a chat starts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from chat.api.deps import RuntimeDep

router = APIRouter(prefix="/api", tags=["public"])


@router.get("/status")
async def service_status(rt: RuntimeDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    status_of = rt.extras.get("service_status")
    base: dict[str, Any] = await status_of() if status_of else {"open": True, "next_opening": None}
    now = rt.now_ms()
    make = rt.extras.get("wait_estimator")
    estimate = await make() if make else None
    queues = []
    for s in await rt.store.queue_stats():
        eta = estimate(s.waiting + 1) if estimate else None
        queues.append({"audience": s.audience, "language": s.language, "waiting": s.waiting, "eta_seconds": eta})
    online = await rt.store.counselors_online(now)
    return {**base, "queues": queues, "counselors_online": online}
