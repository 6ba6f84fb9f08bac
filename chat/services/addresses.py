"""The client address of a request, honouring X-Forwarded-For only from trusted proxies.

The address is only ever used as input to an HMAC; it is never logged or stored.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def http_client_address(conn: HTTPConnection, trusted_proxies: list[str]) -> str | None:
    peer = conn.client.host if conn.client else None
    if peer is not None and peer in trusted_proxies:
        forwarded = conn.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        # Walk from the nearest hop back past our own proxies.
        while hops and hops[-1] in trusted_proxies:
            hops.pop()
        if hops:
            return hops[-1]
    return peer
