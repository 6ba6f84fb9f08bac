"""schemathesis against the app's own OpenAPI document, over a real server: every answer is a documented status
(never a 5xx) with the security headers, anonymous and as an admin; the server stays ready."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.services.auth import Role
from tests.helpers import ServerThread, add_counselor, login

EXAMPLES = max(2, int(os.environ.get("CHAT_FUZZ_EXAMPLES", "150")) // 15)
DOCUMENTED = {200, 201, 204, 400, 401, 403, 404, 405, 409, 422, 429}


def _fuzz_operation(server: ServerThread, operation: Any, token: str, seen: dict[int, int]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=operation.as_strategy(), as_admin=st.booleans())
    def check(case: Any, as_admin: bool) -> None:
        headers = {"Authorization": f"Bearer {token}"} if as_admin else {}
        if operation.path == "/api/auth/logout":
            headers = {}  # the admin's token must outlive the run
        response = case.call(base_url=server.http, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code in DOCUMENTED, (operation.method, operation.path, response.status_code)
        assert response.headers.get("x-content-type-options") == ["nosniff"]
        assert "content-security-policy" in response.headers

    check()


def test_http_api_answers_only_documented_statuses(server: ServerThread) -> None:
    asyncio.run(add_counselor(server.settings, "root", role=Role.ADMIN))
    token = asyncio.run(login(server.http, "root"))
    schema = schemathesis.openapi.from_url(server.http + "/openapi.json")
    seen: dict[int, int] = {}
    for result in schema.get_all_operations():
        _fuzz_operation(server, result.ok(), token, seen)
    assert seen.get(422, 0) > 0 and seen.get(200, 0) > 0, seen
    assert httpx.get(server.http + "/readyz").status_code == 200
