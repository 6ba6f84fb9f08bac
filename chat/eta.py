"""Estimated wait for a queued visitor, from what the service actually did recently.

Pure core: the caller passes the recent pairings and the clock. No constant
"about five minutes": with nothing to go on the answer is None, and the
widget says it does not know.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

DEFAULT_WINDOW_SECONDS = 3600.0
MAX_ETA_SECONDS = 4 * 3600


def estimate_wait(
    position: int,
    recent: Sequence[tuple[float, float]],
    counselors_online: int,
    now: float,
    window: float = DEFAULT_WINDOW_SECONDS,
) -> int | None:
    """Seconds until the visitor at ``position`` (1 = next) is likely taken, or None.

    ``recent`` holds one ``(paired_at, waited_seconds)`` per pairing, in any
    order; entries older than ``window`` seconds before ``now`` are ignored.

    The model:

    - No counselor online, or no pairing in the window: None. Nobody can say
      when a counselor will come, and last night's pace says nothing about now.
    - Service rate: ``mu = pairings in the window / window``. A visitor is
      queued only while every counselor is full, so a place opens when a chat
      ends, and in a busy hour pairings happen about as fast as chats end:
      each place in the queue costs about ``1 / mu``.
    - Throughput undercounts capacity in a quiet hour (few visitors came, not
      few could be served). Then the waits actually observed are short, and
      the head of the queue is better estimated by the median of those waits.
      So::

          eta(p) = min(p / mu, median_wait + (p - 1) / mu)

      In a busy hour ``median_wait >= 1 / mu`` (people waited behind others)
      and this is ``p / mu``; in a quiet hour the first place waits about what
      recent visitors waited, and each place behind it adds ``1 / mu``.
    - Rounded to whole seconds and clamped to [0, 4 h]; it never decreases as
      ``position`` grows.

    The number of counselors online only gates the answer: scaling the rate
    by it would need to know how many were online during the window, which
    the recent pairings do not tell.
    """
    return wait_estimator(recent, counselors_online, now, window)(position)


def wait_estimator(
    recent: Sequence[tuple[float, float]],
    counselors_online: int,
    now: float,
    window: float = DEFAULT_WINDOW_SECONDS,
) -> Callable[[int], int | None]:
    """``estimate_wait`` for any number of positions: the window's pairings are counted and their
    median taken once, so a round of queue updates costs one pass over them, not one per visitor."""
    if window <= 0:
        raise ValueError(f"window must be positive, not {window}")
    since = now - window
    # A pairing stamped slightly after ``now`` comes from another instance
    # whose clock runs ahead; it still happened, so it counts.
    waits = [max(0.0, waited) for paired_at, waited in recent if paired_at >= since] if counselors_online > 0 else []
    interval = window / len(waits) if waits else 0.0  # 1 / mu
    median = statistics.median(waits) if waits else 0.0

    def eta(position: int) -> int | None:
        if position < 0:
            raise ValueError(f"position must be 0 or more, not {position}")
        if counselors_online <= 0:
            return None
        if position == 0:
            return 0
        if not waits:
            return None
        by_throughput = position * interval
        by_observed = median + (position - 1) * interval
        value = min(by_throughput, by_observed)
        return int(round(min(max(value, 0.0), float(MAX_ETA_SECONDS))))

    return eta


def shown_eta(seconds: int | None) -> int | str | None:
    """What the widget shows of an estimate (client_widget/app.js ``etaText``): unknown, "soon" under
    45 s, "about a minute" under 90 s, else whole minutes. An estimate that moves within one of these
    shows the same, so it sends no new ``queue`` frame."""
    if seconds is None:
        return None
    if seconds < 45:
        return "soon"
    if seconds < 90:
        return "one"
    # Math.round in JavaScript rounds halves up; Python's round() would round them to even.
    return int(seconds / 60 + 0.5)
