"""Ask a supervisor: whispers inside a chat reach staff who follow it, never the visitor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chat.services.auth import Role
from tests.conftest import MakeServer
from tests.helpers import (
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    none_of,
    recv,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)

ASK = "Ze zegt dat haar stiefvader Karel haar opwacht. Bellen we Veilig Thuis?"
ANSWER = "Ja, en vraag of ze nu veilig is."


@pytest.fixture
def servers(make_server: MakeServer) -> tuple[ServerThread, ServerThread]:
    return make_server(alert_after_seconds=3600), make_server(alert_after_seconds=3600)


@pytest.fixture
async def team(servers: tuple[ServerThread, ServerThread]) -> AsyncIterator[dict[str, str]]:
    a, _ = servers
    for name, role in (("anna", Role.COUNSELOR), ("bram", Role.COUNSELOR), ("sam", Role.SUPERVISOR)):
        await add_counselor(a.settings, name, role=role, display_name=name.capitalize())
    yield {name: await login(a.http, name) for name in ("anna", "bram", "sam")}


def visitor_saw(frames: list[dict[str, Any]]) -> str:
    return json.dumps(frames, ensure_ascii=False)


async def test_whisper_reaches_supervisor_and_counselor_never_the_visitor(
    servers: tuple[ServerThread, ServerThread], team: dict[str, str]
) -> None:
    a, b = servers
    anna = await counselor_ws(a, team["anna"], capacity=2)
    bram = await counselor_ws(a, team["bram"], capacity=2)
    sam = await counselor_ws(b, team["sam"])
    visitor, session = await visitor_hello(b, first_message="hallo")
    sid = session["session_id"]
    await send(anna, {"type": "accept"})
    await recv_match(anna, type="assigned", session_id=sid)
    seen_by_visitor: list[dict[str, Any]] = []
    await recv_until(visitor, "paired", seen=seen_by_visitor)

    await send(anna, {"type": "whisper", "session_id": sid, "client_id": "w-1", "text": ASK})
    ack = await recv_match(anna, type="whisper_ack", client_id="w-1")
    note = await recv_match(anna, type="whisper", client_id="w-1")
    assert note["note_id"] == ack["note_id"] == 1 and note["after_seq"] == 1
    assert note["sender"] == "counselor" and note["name"] == "Anna" and note["text"] == ASK
    # Every supervisor hears someone asks, on any instance: who and where, not what.
    alert = await recv_match(sam, type="alert", reason="whisper")
    assert alert["session_id"] == sid and alert["counselor_name"] == "Anna" and "Karel" not in json.dumps(alert)
    # A resend is stored once.
    await send(anna, {"type": "whisper", "session_id": sid, "client_id": "w-1", "text": ASK})
    assert (await recv_match(anna, type="whisper_ack", client_id="w-1"))["note_id"] == 1
    await none_of(sam, "alert", wait=0.5, reason="whisper")

    # Only the chat's counselor, or a supervisor who monitors it, may whisper there.
    await send(bram, {"type": "whisper", "session_id": sid, "client_id": "w-x", "text": "hoi"})
    assert (await recv_match(bram, type="error", client_id="w-x"))["code"] == "not_in_session"
    await send(sam, {"type": "whisper", "session_id": sid, "client_id": "w-y", "text": "hoi"})
    assert (await recv_match(sam, type="error", client_id="w-y"))["code"] == "not_in_session"

    # The supervisor opens the chat: the note comes with it, and the answer goes back privately.
    await send(sam, {"type": "monitor", "session_id": sid})
    await recv_match(sam, type="monitoring", session_id=sid)
    assert (await recv_match(sam, type="whisper", note_id=1))["text"] == ASK
    await send(sam, {"type": "whisper", "session_id": sid, "client_id": "w-2", "text": ANSWER})
    reply = await recv_match(anna, type="whisper", client_id="w-2")
    assert reply["sender"] == "supervisor" and reply["name"] == "Sam" and reply["note_id"] == 2
    await none_of(bram, "whisper", wait=0.3)

    # The chat goes on; the visitor's seqs have no gap, and nothing staff-only reached the widget.
    await send(anna, {"type": "message", "session_id": sid, "client_id": "k-1", "text": "Ben je nu veilig?"})
    message = await recv_until(visitor, "message", seen=seen_by_visitor)
    assert message["client_id"] == "k-1" and message["seq"] == 2
    await none_of(visitor, "whisper", wait=0.5)
    assert "Karel" not in visitor_saw(seen_by_visitor) and "whisper" not in visitor_saw(seen_by_visitor)
    resumed = await visitor_hello_resume(b, session["token"])
    assert [f.get("seq") for f in resumed if "seq" in f] == [1, 2]
    assert "Karel" not in visitor_saw(resumed)

    # A console that reconnects gets its notes back after the chat.
    await anna.close()
    again = await counselor_ws(b, team["anna"])
    await recv_match(again, type="assigned", session_id=sid)
    notes = [await recv_match(again, type="whisper", note_id=n) for n in (1, 2)]
    assert [n["text"] for n in notes] == [ASK, ANSWER]
    for ws in (again, bram, sam, visitor):
        await ws.close()


async def visitor_hello_resume(server: ServerThread, token: str) -> list[dict[str, Any]]:
    ws = await connect(server.ws + "/ws/visitor")
    await send(ws, {"type": "resume", "token": token, "last_seq": 0})
    frames = [await recv(ws)]
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame.get("seq") == 2:
            break
    await none_of(ws, "whisper", wait=0.3)
    await ws.close()
    return frames
