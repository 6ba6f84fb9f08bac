"""Serving the front ends' files (widget and console) from the repository, with no build step.

One mechanism for both: files read on first use and again when they change on
disk, a strong ETag (a cheap 304), gzip when the browser takes it, and paths
that cannot leave their folder. Each front end adds its own headers (its CSP).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, Response, status

ROOT = Path(__file__).resolve().parents[2]

# Scripts and styles hold no state: always revalidated, never mixed across releases.
STATIC_CACHE = "no-cache"
# Pages that hold (or show) a chat: never kept.
STATE_CACHE = "no-store"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# Path segments without dots (so no "..") and without a leading dot (no hidden files), then one extension.
_SAFE_PATH = re.compile(r"(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+\.[a-z]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


def socket_sources(host: str) -> str:
    """`` ws://host wss://host`` for a CSP ``connect-src``, or nothing for a Host header that looks forged."""
    return f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


class Assets:
    """The files of one front-end folder."""

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
        asset = Asset(
            body=body,
            gzipped=gzip.compress(body, 9, mtime=0),
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            media_type=MEDIA_TYPES[path.suffix],
        )
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, asset)
        return asset

    def serve(
        self, request: Request, relative: str, cache_control: str, headers: dict[str, str] | None = None
    ) -> Response:
        """One file with its caching and the given headers; 304 when the browser's copy is current."""
        asset = self.get(relative)
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


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
