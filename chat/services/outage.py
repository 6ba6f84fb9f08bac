"""Redis outages, told once: one warning per outage per component, one "recovered" line after it.

A Redis that is stopped, restarting or failing over makes every socket, every HTTP request and every
background loop fail at once. Each of them answers its own documented way (``unavailable`` and close
1013, HTTP 503 with ``Retry-After``, ``/readyz`` 503) and reports here instead of logging: the first
report of a component logs one warning line (no traceback), the next ones only count
(``chat_redis_errors``). While anything is down a probe pings Redis; when it answers, each component
that was down logs one "recovered" line with how long it was out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger("chat.outage")

PROBE_SECONDS = 0.5
# A failure this soon after a recovery is the same outage flapping (a stale pooled connection, a restart
# right after a restart): it is counted, not told again.
FLAP_SECONDS = 5.0
# What a 503 for a store outage (and /readyz while it lasts, or while draining) asks a client to wait.
RETRY_AFTER = "5"


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is the store failing (unreachable, full, timing out), not a bug of ours."""
    return isinstance(exc, RedisError | ConnectionError | TimeoutError)


async def drop_idle_connections(redis: Any) -> None:
    """Redis came back (possibly a new process): the idle pooled connections are to the old one; open
    fresh ones on next use instead of failing one command on each."""
    pool = getattr(redis, "connection_pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.disconnect(inuse_connections=False)


class Outage:
    """Who is down since when; see the module docstring."""

    def __init__(self, redis: Any, on_error: Callable[[], None] | None = None) -> None:
        self.redis = redis
        self.down: dict[str, float] = {}
        self._quiet: set[str] = set()  # down again within FLAP_SECONDS of recovering: told neither way
        self._recovered_at: dict[str, float] = {}
        self._on_error = on_error
        self._probe: asyncio.Task[None] | None = None
        self.stopped = False

    def failed(self, component: str, exc: BaseException) -> None:
        """``component`` met a store failure; the first one of an outage is logged, the rest counted."""
        if self._on_error is not None:
            self._on_error()
        now = time.monotonic()
        if component not in self.down and now - self._recovered_at.get(component, -FLAP_SECONDS) < FLAP_SECONDS:
            self.down[component] = now
            self._quiet.add(component)
        elif component not in self.down:
            self.down[component] = now
            log.warning(
                "%s: Redis unavailable (%s); answering `unavailable` until it is back",
                component,
                type(exc).__name__,
                extra={"fields": {"event": "redis.unavailable", "component": component}},
            )
        if self._probe is None or self._probe.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to probe with
                self._probe = asyncio.get_running_loop().create_task(self._probe_loop(), name="outage-probe")

    def recovered(self, component: str) -> None:
        """``component`` works again (a loop's round went through); logs once if it was down."""
        since = self.down.pop(component, None)
        if since is not None:
            self._recovered_at[component] = time.monotonic()
        if since is not None and component in self._quiet:
            self._quiet.discard(component)
        elif since is not None:
            log.info(
                "%s: Redis recovered after %.1f s",
                component,
                time.monotonic() - since,
                extra={"fields": {"event": "redis.recovered", "component": component}},
            )

    @property
    def is_down(self) -> bool:
        return bool(self.down)

    async def _probe_loop(self) -> None:
        while self.down and not self.stopped:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                await self._check(2)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self.stopped or (task is not None and task.cancelling()):
                    raise  # stop() (or the loop shutting down) cancelled the probe
                # A cancel raised from inside the client (a connection torn down under the ping) is a
                # failed ping like any other: ending the probe here would leave everything down for good.
            except Exception:
                # Anything else (the log, the pool): the next round tries again rather than the probe
                # ending with components still marked down.
                continue

    async def _check(self, timeout: float) -> bool:
        """One ping; if Redis answers, every component still down is told recovered."""
        try:
            await asyncio.wait_for(self.redis.ping(), timeout)
        except Exception:
            return False
        await drop_idle_connections(self.redis)
        for component in list(self.down):
            self.recovered(component)
        return True

    async def stop(self) -> None:
        """Ends the probe. What is still down gets one last ping first: the probe looks only every
        PROBE_SECONDS, and an instance stopped soon after Redis came back (a restart, a deploy after an
        outage) would otherwise leave its warnings without the line that ends them."""
        self.stopped = True
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe
        if self.down and self.redis is not None:
            with contextlib.suppress(Exception):
                await self._check(1)
