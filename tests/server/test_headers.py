"""Security headers on every HTTP answer of a real server: pages, scripts, JSON, errors and text."""

from __future__ import annotations

import httpx

from tests.helpers import ServerThread, csp_directives

PATHS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/status"),
    ("GET", "/api/resources?language=nl"),
    ("GET", "/api/snippets"),  # 401
    ("GET", "/api/nothing-here"),  # 404
    ("POST", "/api/auth/login"),  # 422
    ("POST", "/api/rating"),  # 422
    ("GET", "/widget.js"),
    ("GET", "/console"),
    ("GET", "/"),
    ("GET", "/openapi.json"),
]


async def test_every_answer_carries_the_security_headers(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        for method, path in PATHS:
            response = await client.request(method, path, json={} if method == "POST" else None)
            h = response.headers
            assert h["x-content-type-options"] == "nosniff", path
            assert h["referrer-policy"] == "no-referrer", path
            assert "camera=()" in h["permissions-policy"], path
            csp = csp_directives(h["content-security-policy"])
            assert "default-src" in csp, path
            if response.headers.get("content-type", "").startswith("application/json"):
                # JSON is data: nothing in it may run, and no page may frame it.
                assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], path
                assert h["x-frame-options"] == "DENY", path
            if path.startswith("/api/"):
                assert h["cache-control"] == "no-store", path
        status = await client.get("/api/status")
        assert status.status_code == 200
        assert csp_directives(status.headers["content-security-policy"])["default-src"] == ["'none'"]
