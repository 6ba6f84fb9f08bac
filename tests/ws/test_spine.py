"""End to end over real websockets against a real uvicorn server and real Redis."""

from __future__ import annotations

import httpx

from tests.helpers import (
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    no_frame,
    recv,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)


async def test_visitor_meets_counselor_full_flow(server: ServerThread) -> None:
    await add_counselor(server.settings, "anna", display_name="Anna")
    token = await login(server.http, "anna")
    counselor = await counselor_ws(server, token)
    queues = await recv_until(counselor, "queues")
    assert all(q["waiting"] == 0 for q in queues["queues"])

    v1, s1 = await visitor_hello(server, first_message="Hallo, ik maak me zorgen")
    assert s1["status"] == "queued" and s1["resumed"] is False and len(s1["token"]) >= 22
    v2, _ = await visitor_hello(server)
    v3, s3 = await visitor_hello(server)
    q3 = await recv_until(v3, "queue")
    assert q3["position"] == 3
    assert "eta_seconds" in q3

    # The counselor takes the oldest; visitor 3's position falls.
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    assert assigned["session_id"] == s1["session_id"]
    assert assigned["audience"] == "parent" and assigned["language"] == "nl"
    first = await recv_until(counselor, "message")
    assert first["seq"] == 1 and first["sender"] == "visitor" and first["text"] == "Hallo, ik maak me zorgen"
    paired = await recv_until(v1, "paired")
    assert paired["counselor_name"] == "Anna"
    assert (await recv_until(v3, "queue"))["position"] == 2

    # Messages both ways, with acks and seqs.
    await send(v1, {"type": "message", "client_id": "c-1", "text": "Mijn dochter is 14"})
    ack = await recv_until(v1, "ack")
    assert ack == {"type": "ack", "client_id": "c-1", "seq": 2}
    got = await recv_until(counselor, "message")
    assert got["seq"] == 2 and got["text"] == "Mijn dochter is 14" and got["sender"] == "visitor"
    await send(
        counselor,
        {"type": "message", "session_id": s1["session_id"], "client_id": "k-1", "text": "Fijn dat je er bent."},
    )
    cack = await recv_until(counselor, "ack")
    assert cack["seq"] == 3
    heard = await recv_match(v1, type="message", seq=3)
    assert heard["sender"] == "counselor" and heard["text"] == "Fijn dat je er bent."

    # Typing is relayed both ways, without a seq.
    await send(v1, {"type": "typing", "active": True})
    typing = await recv_until(counselor, "typing")
    assert typing == {"type": "typing", "session_id": s1["session_id"], "sender": "visitor", "active": True}
    await send(counselor, {"type": "typing", "session_id": s1["session_id"], "active": True})
    assert await recv_until(v1, "typing") == {"type": "typing", "sender": "counselor", "active": True}

    # The visitor drops; the counselor sees it and writes meanwhile.
    await v1.close()
    assert (await recv_until(counselor, "presence"))["visitor"] == "offline"
    for i in range(3):
        await send(
            counselor,
            {
                "type": "message",
                "session_id": s1["session_id"],
                "client_id": f"k-off-{i}",
                "text": f"Ben je er nog? {i}",
            },
        )
        await recv_until(counselor, "ack")

    # Resume with last_seq 3: exactly the missed events, in order, then live.
    v1 = await connect(server.ws + "/ws/visitor")
    await send(v1, {"type": "resume", "token": s1["token"], "last_seq": 3})
    session = await recv(v1)
    assert session["type"] == "session" and session["resumed"] is True and session["status"] == "active"
    missed = [await recv(v1) for _ in range(3)]
    assert [e["seq"] for e in missed] == [4, 5, 6]
    assert [e["text"] for e in missed] == [f"Ben je er nog? {i}" for i in range(3)]
    await no_frame(v1)
    assert (await recv_until(counselor, "presence"))["visitor"] == "online"

    # A resent client_id is not stored twice: the first seq comes back.
    await send(v1, {"type": "message", "client_id": "c-1", "text": "Mijn dochter is 14"})
    assert (await recv_until(v1, "ack"))["seq"] == 2

    # The visitor ends; both sides get `ended`, the visitor's socket closes normally.
    await send(v1, {"type": "end"})
    ended = await recv_until(v1, "ended")
    assert ended["reason"] == "visitor" and ended["seq"] == 7
    await v1.wait_closed()
    assert v1.close_code == 1000
    cended = await recv_until(counselor, "ended")
    assert cended["session_id"] == s1["session_id"] and cended["seq"] == 7

    for ws in (v2, v3, counselor):
        await ws.close()


async def test_status_health_ready(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        status = (await client.get("/api/status")).json()
        assert status["open"] is True
        assert {(q["audience"], q["language"]) for q in status["queues"]} == {
            ("parent", "nl"),
            ("parent", "en"),
            ("youth", "nl"),
            ("youth", "en"),
        }
        # /metrics is not public: off without CHAT_METRICS_TOKEN (tests/server/test_metrics.py has it on).
        assert (await client.get("/metrics")).status_code == 404


async def test_queue_updates_go_only_to_visitors_whose_place_changed(server: ServerThread) -> None:
    """Updates are coalesced and sent only on a change: the last visitor leaving moves nobody, so nobody
    is told anything; the first leaving moves the second up, who is told at once."""
    v1, _ = await visitor_hello(server)
    v2, _ = await visitor_hello(server)
    v3, _ = await visitor_hello(server)
    assert (await recv_until(v1, "queue"))["position"] == 1
    assert (await recv_until(v2, "queue"))["position"] == 2
    assert (await recv_until(v3, "queue"))["position"] == 3
    await send(v3, {"type": "end"})
    await recv_until(v3, "ended")
    await no_frame(v1, 0.5)
    await no_frame(v2, 0.1)
    await send(v1, {"type": "end"})
    assert (await recv_until(v2, "queue"))["position"] == 1
    for ws in (v1, v2, v3):
        await ws.close()
