"""Statistics from the text-free chat summaries, as pure functions: Amsterdam days and hours, waits.

The helpline's day is the Dutch day: a chat at 00:30 in Amsterdam belongs to
that date, not to the UTC date before it. A visitor who left the queue before
anyone answered (ended, quick exit, timed out) is *abandoned*, and their wait
counts in the wait percentiles like everyone else's: leaving them out would
make the waits look shorter exactly when they were too long.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def amsterdam_day(ms: int) -> date:
    """The Europe/Amsterdam date of a moment in epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, AMSTERDAM).date()


def to_hour(ms: int) -> datetime:
    """A moment rounded down to the hour, in UTC (what a summary keeps of when a chat began)."""
    return datetime.fromtimestamp(ms / 1000, UTC).replace(minute=0, second=0, microsecond=0)


def percentile(values: list[int], q: int) -> float | None:
    """The q-th percentile (1-99, inclusive method); None without values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1])


@dataclass(frozen=True)
class Chat:
    """What the statistics read of one summary: no text, no session id."""

    day: date
    paired: bool
    wait_seconds: int | None
    opened_hour: datetime | None = None


@dataclass
class Bucket:
    chats: int = 0
    abandoned: int = 0
    longest_wait: int | None = None

    def add(self, chat: Chat) -> None:
        self.chats += 1
        self.abandoned += not chat.paired
        if chat.wait_seconds is not None:
            self.longest_wait = max(self.longest_wait or 0, chat.wait_seconds)

    def wire(self) -> dict[str, int | None]:
        return {"chats": self.chats, "abandoned": self.abandoned, "longest_wait_seconds": self.longest_wait}


def per_day(chats: Iterable[Chat], first: date, last: date) -> list[dict[str, object]]:
    """One row per day from ``first`` to ``last`` (Amsterdam dates), days without chats included."""
    buckets = {first + timedelta(days=i): Bucket() for i in range((last - first).days + 1)}
    for chat in chats:
        if chat.day in buckets:
            buckets[chat.day].add(chat)
    return [{"day": d.isoformat(), **b.wire()} for d, b in buckets.items()]


def per_hour_of_week(chats: Iterable[Chat]) -> list[dict[str, object]]:
    """168 rows, Monday 00:00 first, by the Amsterdam weekday (0 = Monday) and hour the chat began.

    Summaries archived before the hour was kept (``opened_hour`` None) are left out.
    """
    buckets = [Bucket() for _ in range(7 * 24)]
    for chat in chats:
        if chat.opened_hour is None:
            continue
        local = chat.opened_hour.astimezone(AMSTERDAM)
        buckets[local.weekday() * 24 + local.hour].add(chat)
    return [{"weekday": i // 24, "hour": i % 24, **b.wire()} for i, b in enumerate(buckets)]


def waits(chats: Iterable[Chat]) -> dict[str, float | None]:
    """p50, p90 and p99 of the wait of everyone who waited, the abandoned included."""
    values = [c.wait_seconds for c in chats if c.wait_seconds is not None]
    return {"p50": percentile(values, 50), "p90": percentile(values, 90), "p99": percentile(values, 99)}
