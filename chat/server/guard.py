"""A small guard in front of uvicorn's HTTP protocol: header timeout and connections per client address.

uvicorn keeps a connection whose request headers never finish (slowloris), or
whose websocket handshake stops half-way, open for ever, and has no limit per
client address. This guard closes a connection that has not sent a complete
request head within ``header_timeout`` seconds (again after each answer on a
keep-alive connection), and refuses a new connection from an address that
already holds ``max_per_address`` open ones (answer 503 and close). Addresses
of trusted proxies are not capped here: behind a proxy, the proxy must cap per
client (docs/security.md), and the websocket endpoints cap sockets per
forwarded client address themselves. Addresses live only in this process's
memory, never in a log or a store.
"""

from __future__ import annotations

import asyncio
from typing import Any

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n"
    b"retry-after: 5\r\nconnection: close\r\n\r\n"
)


def guarded_protocol(
    base: type[asyncio.Protocol], *, header_timeout: float, max_per_address: int, trusted: frozenset[str]
) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP protocol class ``base`` (httptools or h11) with the guard."""
    # address -> its transports (websockets included: an upgraded connection keeps its transport, but its
    # protocol is no longer this one, so nothing here hears it close). The list may hold closed ones: it is
    # pruned only when it reaches the address's prune mark (``prune_at``), so a new connection costs O(1)
    # amortized instead of a scan of every open socket of its address (a thousand behind one NAT).
    open_by_address: dict[str, list[asyncio.BaseTransport]] = {}
    prune_at: dict[str, int] = {}
    seen = 0

    class Guarded(base):  # type: ignore[valid-type,misc]
        _guard_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            nonlocal seen
            super().connection_made(transport)
            peer = self.client[0] if getattr(self, "client", None) else None
            if peer is not None and peer not in trusted:
                seen += 1
                if seen % 1000 == 0:  # now and then, forget addresses whose connections are all gone
                    for key in [k for k, v in open_by_address.items() if all(t.is_closing() for t in v)]:
                        del open_by_address[key]
                        prune_at.pop(key, None)
                held = open_by_address.setdefault(peer, [])
                if len(held) >= prune_at.get(peer, 0):
                    # An exact count only here: fewer held entries than the limit means fewer open sockets.
                    held[:] = [t for t in held if not t.is_closing()]
                    prune_at[peer] = min(max_per_address, 2 * len(held) + 64)
                    if len(held) >= max_per_address:
                        transport.write(_REFUSED)
                        transport.close()
                        return
                held.append(transport)
            self._arm()

        def _arm(self) -> None:
            if self._guard_timer is not None:
                self._guard_timer.cancel()
            self._guard_timer = self.loop.call_later(header_timeout, self._head_overdue)

        def _head_overdue(self) -> None:
            self._guard_timer = None
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:
                return  # gone, or upgraded to a websocket (which has its own first-frame timeout)
            cycle = getattr(self, "cycle", None)
            if cycle is None or cycle.response_complete:
                transport.close()  # no complete request head in time

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def on_message_begin(self) -> None:  # httptools: a new request, its scope just made
            super().on_message_begin()
            scope = getattr(self, "scope", None)
            if isinstance(scope, dict):
                # The fallback's event stream aborts a client that never reads, as a websocket does
                # (chat/ws/connection.py::Wire.abort); the application sees only a wrapped ``send``.
                scope["chat.transport"] = self.transport

        def shutdown(self) -> None:
            # An answer still streaming (the visitor's fallback event stream) is told, so that it closes with
            # 1012 at once, as a websocket does, instead of holding the shutdown for its graceful timeout.
            cycle: Any = getattr(self, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                stopping = cycle.scope.get("chat.shutdown")
                if stopping is not None:
                    stopping.set()
            super().shutdown()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._guard_timer is not None:
                self._guard_timer.cancel()
                self._guard_timer = None
            super().connection_lost(exc)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded
