"""Queue order, as pure functions: urgent first, then oldest first.

A queue is a Redis sorted set; the score below makes ZRANGE order match the
rule. Urgent sessions keep their arrival order among themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

# The arrival number comes from one Redis counter, so that two visitors in the
# same millisecond still keep their order; it stays far below the offset.
URGENT_OFFSET = 0.0
NORMAL_OFFSET = 1e13


def queue_score(arrival: int, urgent: bool) -> float:
    """The sorted-set score: lower is served first."""
    if not 0 < arrival < NORMAL_OFFSET:
        raise ValueError("arrival numbers start at 1 and stay below 1e13")
    return (URGENT_OFFSET if urgent else NORMAL_OFFSET) + float(arrival)


# Chats a counselor hands back to the queue go to its head, ahead of urgent ones,
# in the order they came back: scores in [-1e13, 0).
HEAD_OFFSET = -1e13


def head_score(now_ms: int) -> float:
    """The score of a chat handed back to the head of its queue at ``now_ms``."""
    if not 0 < now_ms < NORMAL_OFFSET:
        raise ValueError("now_ms must be a positive epoch time in milliseconds")
    return HEAD_OFFSET + float(now_ms)


def is_urgent_score(score: float) -> bool:
    return URGENT_OFFSET <= score < NORMAL_OFFSET


def is_head_score(score: float) -> bool:
    return score < URGENT_OFFSET


def arrival_of(score: float) -> int:
    if is_head_score(score):
        raise ValueError("a chat handed back to the queue has no arrival number in its score")
    return int(score - (URGENT_OFFSET if is_urgent_score(score) else NORMAL_OFFSET))


def pick_next(heads: Iterable[tuple[str, str, float]]) -> tuple[str, str] | None:
    """Given each queue's head as (queue key, session id, score), the one to serve.

    Ties (the same millisecond in two queues) go to the queue key that sorts
    first, so the choice is deterministic.
    """
    best: tuple[float, str, str] | None = None
    for queue_key, sid, score in heads:
        candidate = (score, queue_key, sid)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None
    return best[1], best[2]


def position(rank: int) -> int:
    """Redis ranks count from 0; visitors count from 1."""
    return rank + 1
