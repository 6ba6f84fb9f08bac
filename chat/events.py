"""Events and their sequence numbers, as pure code.

Every event of a session has a ``seq``: 1, 2, 3... in the order Redis stored
them. A connection delivers them through a :class:`Cursor`, which tells the
next event from a duplicate or from a gap (which the connection then fills
from the Redis stream).
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]


def utc_now_iso(now: datetime | None = None) -> str:
    """Millisecond ISO 8601 in UTC with a ``Z``, as the protocol writes times."""
    if now is None:
        # Every relayed message is stamped: the seconds part is formatted once per second.
        t = time.time()
        second = int(t)
        global _SECOND
        if _SECOND[0] != second:
            _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
        return f"{_SECOND[1]}{int((t - second) * 1000):03d}Z"
    moment = now.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_SECOND: tuple[int, str] = (-1, "")


class Verdict(enum.Enum):
    NEXT = "next"
    DUPLICATE = "duplicate"
    GAP = "gap"


class Cursor:
    """The last seq a connection delivered for one session."""

    def __init__(self, last_seq: int = 0) -> None:
        if last_seq < 0:
            raise ValueError("last_seq cannot be negative")
        self.last_seq = last_seq

    def judge(self, seq: int) -> Verdict:
        if seq <= self.last_seq:
            return Verdict.DUPLICATE
        if seq == self.last_seq + 1:
            return Verdict.NEXT
        return Verdict.GAP

    def advance(self, seq: int) -> None:
        if seq != self.last_seq + 1:
            raise ValueError(f"expected seq {self.last_seq + 1}, got {seq}")
        self.last_seq = seq

    def filter(self, events: list[Event]) -> list[Event]:
        """Keep, in order, the events that continue this cursor; advance past them.

        Events must come sorted by seq (as a stream range gives them); anything
        already delivered is dropped, and a hole stops delivery at the hole.
        """
        out: list[Event] = []
        for event in events:
            verdict = self.judge(int(event["seq"]))
            if verdict is Verdict.DUPLICATE:
                continue
            if verdict is Verdict.GAP:
                break
            self.advance(int(event["seq"]))
            out.append(event)
        return out


def stream_id(seq: int) -> str:
    """The Redis stream entry id of an event: its seq, so a range by seq is a range by id."""
    return f"{seq}-1"
