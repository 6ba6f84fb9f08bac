"""Escalation of waits: urgent visitors sooner, and through the webhook to supervisors who are not logged in."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chat.services.auth import Role
from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import Clock, ServerThread, add_counselor, counselor_ws, login, none_of, recv_match, visitor_hello

DANGER = "hij staat nu voor de deur, ik ben bang"


class Receiver:
    """A real HTTP server on a free port that records every POST; answers 500 to the first `failures`."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.got:
                    receiver.bodies.append(body)
                    failing = len(receiver.bodies) <= receiver.failures
                    receiver.got.notify_all()
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        with self.got:
            self.got.wait_for(lambda: len(self.bodies) >= n, timeout)
            return list(self.bodies)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=1)
    yield r
    r.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))


@pytest.fixture
def servers(tmp_path: Path, prefix: str, clock: Clock, receiver: Receiver) -> Iterator[list[ServerThread]]:
    settings = make_settings(
        tmp_path, prefix, alert_after_seconds=3600, alert_urgent_after_seconds=30, alert_webhook_url=receiver.url
    )
    upgrade(settings)
    running = [ServerThread(settings, REDIS_URL, clock=clock).start() for _ in range(2)]
    yield running
    for srv in running:
        srv.stop()


@pytest.fixture
async def sam(servers: list[ServerThread]) -> AsyncIterator[str]:
    await add_counselor(servers[0].settings, "sam", role=Role.SUPERVISOR, display_name="Sam")
    yield await login(servers[0].http, "sam")


async def test_an_urgent_wait_reaches_supervisors_after_30_seconds_not_3_minutes(
    servers: list[ServerThread], sam: str, clock: Clock
) -> None:
    supervisor = await counselor_ws(servers[1], sam)
    calm, _ = await visitor_hello(servers[0], first_message="ik heb een vraag")
    urgent, _ = await visitor_hello(servers[0], audience="youth", first_message=DANGER)
    clock.advance(10)
    first_poke, _ = await visitor_hello(servers[0])  # any queue change makes the watchers look again
    await none_of(supervisor, "alert", wait=0.8)
    clock.advance(25)
    poke, _ = await visitor_hello(servers[0])
    alert = await recv_match(supervisor, type="alert", reason="wait", audience="youth", timeout=8)
    assert alert["urgent"] == 1 and alert["longest_urgent_wait_seconds"] >= 30
    # The normal queue, past 30 s but not past its own threshold, raises nothing.
    await none_of(supervisor, "alert", wait=0.8, audience="parent")
    for ws in (supervisor, calm, urgent, first_poke, poke):
        await ws.close()


async def test_the_webhook_carries_counts_only_is_retried_and_sent_once_for_all_instances(
    servers: list[ServerThread], receiver: Receiver, clock: Clock
) -> None:
    # Nobody is logged in at all: only the webhook can reach a supervisor.
    urgent, session = await visitor_hello(servers[1], audience="youth", language="en", first_message=DANGER)
    clock.advance(31)
    poke, _ = await visitor_hello(servers[0], topic="mijn dochter")
    bodies = receiver.wait_for(2)
    assert len(bodies) == 2, bodies  # the first POST got 500; the retry carried the same alert
    assert bodies[0] == bodies[1]
    body = bodies[0]
    assert body["event"] == "urgent_wait" and body["audience"] == "youth" and body["language"] == "en"
    assert body["urgent"] == 1 and body["waiting"] == 1 and body["longest_urgent_wait_seconds"] >= 31
    assert set(body) == {
        "source",
        "event",
        "at",
        "audience",
        "language",
        "waiting",
        "urgent",
        "longest_wait_seconds",
        "longest_urgent_wait_seconds",
    }
    raw = json.dumps(bodies)
    for secret in (session["session_id"], session["token"], "deur", "dochter"):
        assert secret not in raw
    # Both instances watch the queues; within the minute neither sends it again.
    clock.advance(5)
    again, _ = await visitor_hello(servers[1])
    assert len(receiver.wait_for(3, timeout=2.5)) == 2
    for ws in (urgent, poke, again):
        await ws.close()
