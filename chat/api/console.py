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

from fastapi import APIRouter, HTTPException, Request, Response, status

from chat.api.static import PERMISSIONS, ROOT, STATIC_CACHE, Assets, socket_sources
from chat.api.static import STATE_CACHE as PAGE_CACHE

ASSETS = Assets(ROOT / "counselor_ui")


def page_csp(host: str) -> str:
    """The page's policy: this origin only; websockets to this host only; nobody may frame it."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'none'",
            "font-src 'none'",
            f"connect-src 'self'{socket_sources(host)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-src 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def serve(request: Request, relative: str, cache_control: str, headers: dict[str, str] | None = None) -> Response:
    """One console file; nobody may frame any of them."""
    return ASSETS.serve(
        request,
        relative,
        cache_control,
        {"X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin", **(headers or {})},
    )


router = APIRouter(include_in_schema=False)


def _page(request: Request) -> Response:
    return serve(
        request,
        "index.html",
        PAGE_CACHE,
        {
            "Content-Security-Policy": page_csp(request.headers.get("host", "")),
            "Permissions-Policy": PERMISSIONS,
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
        },
    )


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
