"""Draining on SIGTERM: readiness goes first, the sockets last.

A load balancer stops sending new clients to an instance once its readiness probe fails. If the listener
closed at the signal, the probe would never see that: clients would be sent to a closed port until the
probe timed out. So on the first SIGTERM (or SIGINT) ``/readyz`` answers 503 ``draining`` for
``CHAT_DRAIN_SECONDS`` while everything else goes on as before: open sockets keep chatting, and new
sockets and requests are still accepted (a client the balancer sends here in that window is served, not
refused; it gets 1012 with everyone else and resumes elsewhere). Then the close phase: the listener
closes, the application's ``before_close`` hook (``rt.extras``) hands every socket's presence count over
in bulk (chat/ws/instance.py), uvicorn's shutdown closes every websocket with 1012 (the client reconnects
to another instance and resumes), waits for the handlers at most ``timeout_graceful_shutdown`` seconds
(their cleanup has no Redis work left, so they end within it), runs the lifespan shutdown, and the process
exits: within drain + 5 s + the lifespan's own bounded shutdown. A second signal during the drain shuts
down at once. The log says ``shutdown.close`` when the close phase starts and ``shutdown.done`` with its
length at the end.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("chat.server.drain")


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain above, and a normal exit after it (no re-raised signal).

    Plain uvicorn re-raises the signal after its graceful shutdown, which would kill the process before
    the embedded Redis and the archiver child are stopped.
    """

    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None
        self._drain_told = False

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_until is not None or self.drain_seconds <= 0 or not self.started:
            super().handle_exit(sig, frame)  # a second signal, no drain asked, or not serving yet: now
            return
        self.drain_until = time.monotonic() + self.drain_seconds
        self.begin_drain()

    def begin_drain(self) -> None:
        """Readiness fails from now on (``/readyz`` reads ``rt.extras["draining"]``)."""
        rt: Any = getattr(getattr(self.config.app, "state", None), "rt", None)
        if rt is not None:
            rt.extras["draining"] = True

    def _rt(self) -> Any:
        return getattr(getattr(self.config.app, "state", None), "rt", None)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        rt = self._rt()
        count = len(rt.connections) if rt is not None else 0
        log.info(
            "shutdown: closing %d sockets with 1012",
            count,
            extra={"fields": {"event": "shutdown.close", "sockets": count}},
        )
        # No new socket from here on (uvicorn closes the listeners too, a moment later): every socket counted
        # now is handed over before it is closed.
        for server in self.servers:
            server.close()
        before_close = rt.extras.get("before_close") if rt is not None else None
        if before_close is not None:
            try:
                before_close()
            except Exception:
                log.exception("shutdown: the hand-over failed; each socket's cleanup does it")
        await super().shutdown(sockets)
        seconds = round(time.monotonic() - started, 2)
        log.info(
            "shutdown: done in %.2f s",
            seconds,
            extra={"fields": {"event": "shutdown.done", "sockets": count, "seconds": seconds}},
        )

    async def on_tick(self, counter: int) -> bool:
        # Logged here, not in the signal handler: the handler may interrupt a log call holding its lock.
        if self.drain_until is not None and not self._drain_told:
            self._drain_told = True
            rt: Any = getattr(getattr(self.config.app, "state", None), "rt", None)
            sockets = len(rt.connections) if rt is not None else 0
            log.info(
                "drain: /readyz answers 503 for %.1f s while %d sockets go on; then every socket gets 1012",
                self.drain_seconds,
                sockets,
                extra={"fields": {"event": "drain.start", "seconds": self.drain_seconds, "sockets": sockets}},
            )
        if self.drain_until is not None and not self.should_exit and time.monotonic() >= self.drain_until:
            rt = getattr(getattr(self.config.app, "state", None), "rt", None)
            sockets = len(rt.connections) if rt is not None else 0
            log.info(
                "drain: over; closing %d sockets with 1012",
                sockets,
                extra={"fields": {"event": "drain.close", "sockets": sockets}},
            )
            self.should_exit = True
        return await super().on_tick(counter)
