"""Real `chat serve` processes on one Redis (one is `--workers 2`): relay goes through Redis, not memory."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import (
    ServerProcess,
    add_counselor,
    connect,
    counselor_ws,
    login,
    recv,
    recv_match,
    recv_until,
    send,
)


@pytest.fixture
def two_servers(tmp_path: Path, prefix: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    db = tmp_path / "shared.sqlite3"
    settings = make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}")
    upgrade(settings)
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_SECRET_KEY": "s" * 40,
    }
    a = ServerProcess(env).start()
    # B is `chat serve --workers 2`: two processes on one port (SO_REUSEPORT) behind one supervisor.
    b = ServerProcess(env, ("--workers", "2")).start()
    workers = [int(p) for p in Path(f"/proc/{b.proc.pid}/task/{b.proc.pid}/children").read_text().split()]
    assert len(workers) == 2
    a.settings = settings  # type: ignore[attr-defined]
    yield a, b
    a.stop()
    assert b.stop() == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert sum(line.startswith("chat: listening on ") for line in b.lines) == 1


async def test_visitor_on_one_counselor_on_other(two_servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = two_servers
    await add_counselor(a.settings, "bo", display_name="Bo")  # type: ignore[attr-defined]
    token = await login(b.http, "bo")
    counselor = await counselor_ws(b, token)  # type: ignore[arg-type]

    visitor = await connect(a.ws + "/ws/visitor")
    await send(visitor, {"type": "hello", "audience": "youth", "language": "nl", "first_message": "hoi"})
    session = await recv(visitor)
    assert session["type"] == "session"
    assert (await recv_until(visitor, "queue"))["position"] == 1
    # The counselor on B sees the visitor queued on A.
    queues = await recv_match(counselor, type="queues", timeout=10)
    while not any(q["waiting"] for q in queues["queues"]):
        queues = await recv_match(counselor, type="queues", timeout=10)

    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    sid = assigned["session_id"]
    assert sid == session["session_id"]
    assert (await recv_until(counselor, "message"))["text"] == "hoi"
    assert (await recv_until(visitor, "paired"))["counselor_name"] == "Bo"

    for i in range(5):
        await send(visitor, {"type": "message", "client_id": f"v{i}", "text": f"vraag {i}"})
        got = await recv_match(counselor, type="message", text=f"vraag {i}")
        assert got["sender"] == "visitor"
        await send(counselor, {"type": "message", "session_id": sid, "client_id": f"k{i}", "text": f"antwoord {i}"})
        heard = await recv_match(visitor, type="message", text=f"antwoord {i}")
        assert heard["sender"] == "counselor"
    await send(visitor, {"type": "typing", "active": True})
    assert (await recv_until(counselor, "typing"))["sender"] == "visitor"

    # SIGTERM of A: the visitor's socket closes with 1012, it resumes on B, nothing is lost.
    last_seq = heard["seq"]
    assert a.stop(signal.SIGTERM) == 0
    await visitor.wait_closed()
    assert visitor.close_code == 1012
    await send(counselor, {"type": "message", "session_id": sid, "client_id": "k-gap", "text": "ben je er nog?"})
    visitor = await connect(b.ws + "/ws/visitor")
    await send(visitor, {"type": "resume", "token": session["token"], "last_seq": last_seq})
    resumed = await recv(visitor)
    assert resumed["type"] == "session" and resumed["resumed"] is True and resumed["status"] == "active"
    replay = await recv_match(visitor, type="message", text="ben je er nog?")
    assert replay["seq"] == last_seq + 1

    await send(counselor, {"type": "end", "session_id": sid})
    ended = await recv_until(visitor, "ended")
    assert ended["reason"] == "counselor"
    await visitor.wait_closed()
    assert visitor.close_code == 1000
    await counselor.close()
    # No client address reached either server's log.
    assert not any("127.0.0.1:" in line and "listening" not in line for line in a.lines + b.lines), a.lines + b.lines
