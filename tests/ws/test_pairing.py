"""Pairing under contention: many counselors racing for many visitors, over real websockets."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.conftest import MakeServer
from tests.helpers import ServerThread, add_counselor, counselor_ws, login, recv, recv_until, send, visitor_hello

COUNSELORS = 50
VISITORS = 200


@pytest.fixture
def busy_server(make_server: MakeServer) -> ServerThread:
    # Fifty counselors log in at once from one address: every attempt in flight counts against the address
    # (docs/security.md), so the address allowance is raised here like the hello limit.
    return make_server(hellos_per_minute=100_000, message_burst=1000, login_max_failures=COUNSELORS)


async def test_every_visitor_assigned_exactly_once(busy_server: ServerThread) -> None:
    server = busy_server
    visitors = await asyncio.gather(
        *(
            visitor_hello(server, audience=("parent", "youth")[i % 2], language=("nl", "en")[i // 2 % 2])
            for i in range(VISITORS)
        )
    )
    sids = {session["session_id"] for _ws, session in visitors}
    assert len(sids) == VISITORS

    for i in range(COUNSELORS):
        await add_counselor(server.settings, f"c{i}", display_name=f"C{i}")
    tokens = await asyncio.gather(*(login(server.http, f"c{i}") for i in range(COUNSELORS)))
    counselors = await asyncio.gather(*(counselor_ws(server, t, capacity=10) for t in tokens))
    start = asyncio.Event()

    async def take_all(ws: object) -> list[str]:
        taken: list[str] = []
        await start.wait()
        while True:
            await send(ws, {"type": "accept"})  # type: ignore[arg-type]
            while True:
                frame = await recv(ws, 20)  # type: ignore[arg-type]
                if frame["type"] == "assigned":
                    taken.append(frame["session_id"])
                    break
                if frame["type"] == "error":
                    assert frame["code"] == "queue_empty", frame
                    return taken

    tasks = [asyncio.create_task(take_all(ws)) for ws in counselors]
    start.set()
    results = await asyncio.gather(*tasks)
    assigned = Counter(sid for taken in results for sid in taken)
    assert set(assigned) == sids, "every visitor is assigned"
    assert max(assigned.values()) == 1, "no visitor is assigned twice"
    assert sum(1 for taken in results if taken) > 1, "the work was shared between counselors"

    # Each visitor hears `paired` exactly once.
    for ws, _session in visitors:
        await recv_until(ws, "paired", timeout=10)
    for ws, _session in visitors:
        try:
            extra = await asyncio.wait_for(ws.recv(), 0.01)
        except TimeoutError:
            continue
        assert '"paired"' not in str(extra)
    for ws, _ in visitors:
        await ws.close()
    for ws in counselors:
        await ws.close()
