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

import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from chat.api.deps import RuntimeDep
from chat.client import http_client_address
from chat.events import utc_now_iso
from chat.intake import emergency_snippets
from chat.sessions import EndReason, Language

log = logging.getLogger("chat.widget")

WIDGET_DIR = Path(__file__).resolve().parents[2] / "client_widget"

STATIC_CACHE = "no-cache"
STATE_CACHE = "no-store"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# Path segments without dots (so no "..") and without a leading dot (no hidden files), then one extension.
_SAFE_PATH = re.compile(r"(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+\.[a-z]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")

PAGE_CSP = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
])
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
QUICK_EXITS_PER_MINUTE = 60


def frame_csp(host: str, allowed_origins: list[str]) -> str:
    """The chat frame's policy: our own origin only, embeddable by our origin and the allowed host pages."""
    sockets = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    ancestors = ["'self'", *(o for o in allowed_origins if _ORIGIN.fullmatch(o))]
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        f"connect-src 'self'{sockets}", "base-uri 'none'", "form-action 'none'",
        f"frame-ancestors {' '.join(ancestors)}", "require-trusted-types-for 'script'", "trusted-types 'none'",
    ])


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


class Assets:
    """The files of ``client_widget/``, read on first use and again when they change on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[int, int, Asset]] = {}

    def get(self, relative: str) -> Asset | None:
        if not _SAFE_PATH.fullmatch(relative):
            return None
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or path.suffix not in MEDIA_TYPES or not path.is_file():
            return None
        stat = path.stat()
        cached = self._cache.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        body = path.read_bytes()
        asset = Asset(body=body, gzipped=gzip.compress(body, 9, mtime=0),
                      etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', media_type=MEDIA_TYPES[path.suffix])
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, asset)
        return asset


ASSETS = Assets(WIDGET_DIR)


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def serve(request: Request, relative: str, cache_control: str, headers: dict[str, str] | None = None) -> Response:
    """One widget file with its caching and security headers; 304 when the browser's copy is current."""
    asset = ASSETS.get(relative)
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    out = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding", **(headers or {})}
    if cache_control != STATE_CACHE and asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=out)
    body = asset.body
    if _accepts_gzip(request):
        body = asset.gzipped
        out["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=out)


router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def demo_page(request: Request) -> Response:
    """A plain host page with the widget, as a helpline's own site would have it."""
    return serve(request, "demo.html", STATE_CACHE,
                 {"Content-Security-Policy": PAGE_CSP, "Permissions-Policy": PERMISSIONS})


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
        return serve(request, path, STATE_CACHE,
                     {"Content-Security-Policy": PAGE_CSP, "Permissions-Policy": PERMISSIONS})
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
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected {\"token\": …}")
    sid = await rt.store.session_of_token(token)
    if sid is not None:
        await rt.store.end(sid, EndReason.QUICK_EXIT, utc_now_iso(), rt.now_ms())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
