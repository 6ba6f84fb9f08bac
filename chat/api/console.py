"""The counselor console: the files of ``counselor_ui/``, served at ``/console``.

The console is a single page of vanilla ES modules and CSS, with no build step.
Its only state is the login token, kept in the tab's sessionStorage and sent as
a bearer header and in the websocket's first frame, never in a URL.

Caching: the page is ``no-store`` (it is where a counselor's chats are shown);
scripts, styles and icons hold no state and are ``no-cache`` with a strong
ETag, so a browser always asks (a cheap 304) and never mixes two releases.

Security headers on the page: a strict Content-Security-Policy (only this
origin, websockets to this host only, no inline code, Trusted Types with no
policy so that no HTML string can reach the DOM), no framing by anyone, and no
referrer. The app's middleware adds ``nosniff`` and ``Referrer-Policy`` to
every response besides.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, status

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "counselor_ui"

STATIC_CACHE = "no-cache"
PAGE_CACHE = "no-store"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Path segments without dots (so no "..") and without a leading dot (no hidden files), then one extension.
_SAFE_PATH = re.compile(r"(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+\.[a-z]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")

PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def page_csp(host: str) -> str:
    """The page's policy: this origin only; websockets to this host only; nobody may frame it."""
    sockets = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "media-src 'none'", "font-src 'none'", f"connect-src 'self'{sockets}", "object-src 'none'",
        "base-uri 'none'", "form-action 'none'", "frame-src 'none'", "frame-ancestors 'none'",
        "require-trusted-types-for 'script'", "trusted-types 'none'",
    ])


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


class Assets:
    """The files of ``counselor_ui/``, read on first use and again when they change on disk."""

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


ASSETS = Assets(CONSOLE_DIR)


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def serve(request: Request, relative: str, cache_control: str, headers: dict[str, str] | None = None) -> Response:
    """One console file with its caching headers; 304 when the browser's copy is current."""
    asset = ASSETS.get(relative)
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    out = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding",
           "X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin", **(headers or {})}
    if cache_control != PAGE_CACHE and asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=out)
    body = asset.body
    if _accepts_gzip(request):
        body = asset.gzipped
        out["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=out)


router = APIRouter(include_in_schema=False)


def _page(request: Request) -> Response:
    return serve(request, "index.html", PAGE_CACHE, {
        "Content-Security-Policy": page_csp(request.headers.get("host", "")),
        "Permissions-Policy": PERMISSIONS,
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    })


@router.api_route("/console", methods=["GET", "HEAD"])
async def console_page(request: Request) -> Response:
    return _page(request)


@router.api_route("/console/{path:path}", methods=["GET", "HEAD"])
async def console_file(request: Request, path: str) -> Response:
    # The page itself under any name it might be asked by; every other file as it is.
    if path in ("", "index.html"):
        return _page(request)
    if path.endswith(".html"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return serve(request, path, STATIC_CACHE)
