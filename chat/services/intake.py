"""What a visitor meets before a counselor: service hours, triage and the wait estimate.

Adapters from the pure cores (``hours``, ``triage``, ``eta``) to the running
server. Each is installed on the runtime as a hook, so the websocket code
stays the same whether a helpline configures hours and term lists or not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from chat.eta import wait_estimator
from chat.hours import Schedule, is_open, load_schedule, next_opening
from chat.protocol import ErrorCode, Hello, error_frame
from chat.services.runtime import Runtime
from chat.store.sql import Snippet
from chat.triage import Triage

# Shown with `service_closed` so that nobody is left with nothing.
EMERGENCY_CATEGORIES = ("emergency", "suicide_prevention", "abuse_at_home")

CLOSED_TEXT = {
    "nl": "De chat is nu gesloten. Bij acuut gevaar: bel 112.",
    "en": "The chat is closed now. In acute danger: call 112.",
}


def _now(rt: Runtime) -> datetime:
    return datetime.fromtimestamp(rt.now_ms() / 1000, UTC)


async def emergency_snippets(rt: Runtime, language: str) -> list[dict[str, Any]]:
    async with rt.db() as db:
        rows = (
            (
                await db.execute(
                    select(Snippet)
                    .where(
                        Snippet.active.is_(True),
                        Snippet.language == language,
                        Snippet.category.in_(EMERGENCY_CATEGORIES),
                    )
                    .order_by(Snippet.sort_order, Snippet.id)
                )
            )
            .scalars()
            .all()
        )
    return [row.wire() for row in rows]


def install(rt: Runtime) -> None:
    """Load the schedule and the term lists once, and hook them into the runtime."""
    schedule = load_schedule(rt.settings.hours_file) if rt.settings.hours_file else Schedule.always_open()
    triage = Triage.load(rt.settings.triage_dir)

    async def service_status() -> dict[str, Any]:
        now = _now(rt)
        opening = next_opening(schedule, now)
        return {"open": is_open(schedule, now), "next_opening": opening.isoformat() if opening else None}

    async def hello_gate(hello: Hello) -> dict[str, Any] | None:
        """None lets the visitor in; otherwise the frame that tells them why not."""
        now = _now(rt)
        if is_open(schedule, now):
            return None
        opening = next_opening(schedule, now)
        return error_frame(
            ErrorCode.SERVICE_CLOSED,
            CLOSED_TEXT.get(hello.language.value, CLOSED_TEXT["nl"]),
            next_opening=opening.isoformat() if opening else None,
            resources=await emergency_snippets(rt, hello.language.value),
        )

    async def closed_frame(language: str) -> dict[str, Any]:
        """The neutral answer for a visitor who may not start a chat now (a block): closed, with the resources."""
        return error_frame(
            ErrorCode.SERVICE_CLOSED,
            CLOSED_TEXT.get(language, CLOSED_TEXT["nl"]),
            next_opening=None,
            resources=await emergency_snippets(rt, language),
        )

    def check(text: str, language: str) -> tuple[bool, str | None]:
        # Every list, not only the visitor's language: people mix languages.
        result = triage.check(text, None)
        if not result.urgent:
            return False, None
        urgent = [c for c in result.categories if c in triage.urgent_categories]
        return True, ",".join(urgent)

    async def estimator() -> Callable[[int], int | None]:
        """Read what the last hour did once; the result estimates any number of positions."""
        now = rt.now_ms()
        recent = await rt.store.recent_waits(now)
        online = await rt.store.counselors_online(now)
        return wait_estimator(recent, online, now / 1000)

    rt.extras.update(
        service_status=service_status,
        hello_gate=hello_gate,
        closed_frame=closed_frame,
        triage=check,
        wait_estimator=estimator,
    )
