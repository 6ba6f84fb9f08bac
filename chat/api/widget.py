"""The visitor widget: its files, the demo page, and the two small public calls it makes.

A host page includes ``/widget.js`` with one script tag. That loader draws a
launcher button and puts ``/widget/frame.html`` in an iframe; the chat lives
in that frame, on this server's origin, where the host page's scripts and
styles cannot reach it. Everything comes from ``client_widget/``; nothing
from anywhere else.

Caching: the frame and the demo page are ``no-store`` (the frame holds the
chat). The scripts and styles hold no state; they are ``no-cache`` with a
strong ETag, so a browser always asks (a cheap 304) and never runs a loader
from one release beside a frame from another.

Security headers: the frame gets a strict Content-Security-Policy (only this
origin, no inline code, no ``innerHTML`` sinks through Trusted Types) whose
``frame-ancestors`` lists this origin plus ``CHAT_ALLOWED_ORIGINS``: no other
site can embed the chat. The app's middleware adds ``nosniff`` and
``Referrer-Policy: no-referrer`` to every response.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from chat.api.deps import RuntimeDep
from chat.api.static import PERMISSIONS, ROOT, STATE_CACHE, STATIC_CACHE, Assets, socket_sources
from chat.services import metrics
from chat.services.addresses import http_client_address
from chat.services.intake import emergency_snippets
from chat.sessions import EndReason, Language

log = logging.getLogger("chat.widget")

ASSETS = Assets(ROOT / "client_widget")

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")

PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
QUICK_EXITS_PER_MINUTE = 60


def frame_csp(host: str, allowed_origins: list[str]) -> str:
    """The chat frame's policy: our own origin only, embeddable by our origin and the allowed host pages."""
    ancestors = ["'self'", *(o for o in allowed_origins if _ORIGIN.fullmatch(o))]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{socket_sources(host)}",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {' '.join(ancestors)}",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def serve(request: Request, relative: str, cache_control: str, headers: dict[str, str] | None = None) -> Response:
    return ASSETS.serve(request, relative, cache_control, headers)


router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def demo_page(request: Request) -> Response:
    """A plain host page with the widget, as a helpline's own site would have it."""
    return serve(
        request, "demo.html", STATE_CACHE, {"Content-Security-Policy": PAGE_CSP, "Permissions-Policy": PERMISSIONS}
    )


@router.api_route("/widget.js", methods=["GET", "HEAD"])
async def loader(request: Request) -> Response:
    # Loaded by other sites' pages, also those that require CORP for what they embed.
    return serve(request, "widget.js", STATIC_CACHE, {"Cross-Origin-Resource-Policy": "cross-origin"})


@router.api_route("/widget/{path:path}", methods=["GET", "HEAD"])
async def widget_file(request: Request, path: str) -> Response:
    if path == "frame.html":
        rt = request.app.state.rt
        csp = frame_csp(request.headers.get("host", ""), rt.settings.allowed_origins)
        return serve(request, path, STATE_CACHE, {"Content-Security-Policy": csp, "Permissions-Policy": PERMISSIONS})
    if path.endswith(".html"):
        return serve(
            request, path, STATE_CACHE, {"Content-Security-Policy": PAGE_CSP, "Permissions-Policy": PERMISSIONS}
        )
    return serve(request, path, STATIC_CACHE)


api = APIRouter(prefix="/api", tags=["public"])


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it grows past ``limit`` bytes (without reading the rest)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


@api.get("/resources")
async def resources(rt: RuntimeDep, response: Response, language: Language = Language.NL) -> list[dict[str, Any]]:
    """The active emergency resources in one language: what the widget shows before, during and after a chat."""
    response.headers["Cache-Control"] = STATE_CACHE
    return await emergency_snippets(rt, language.value)


@api.post("/visitor/quick-exit", status_code=status.HTTP_204_NO_CONTENT)
async def quick_exit(request: Request, rt: RuntimeDep) -> Response:
    """End a visitor's session with reason ``quick_exit``: the widget's ``sendBeacon`` at a quick exit.

    A beacon still goes out while the page is being replaced, when a websocket frame may not. The body is
    ``{"token": …}`` (sent as text/plain, as beacons are). The answer is 204 whatever the token, so the
    call tells nobody anything; a session that already ended stays as it was.
    """
    subject = await rt.hasher.digest("addr", http_client_address(request, rt.settings.trusted_proxies) or "unknown")
    if await rt.limiter.hit("quick-exit", subject, 60) > QUICK_EXITS_PER_MINUTE:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many requests", headers={"Retry-After": "60"})
    raw = await _read_capped(request, 1024)
    token = None
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("token"), str) and 0 < len(data["token"]) <= 256:
            token = data["token"]
    if token is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, 'expected {"token": …}')
    sid = await rt.store.session_of_token(token)
    if sid is not None:
        await metrics.end_session(rt, sid, EndReason.QUICK_EXIT, rt.now_ms())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
