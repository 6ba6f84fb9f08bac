"""Delivered and read: the console's receipts reach the visitor, as high-water marks, also after a resume."""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection

from tests.helpers import connect, none_of, recv, recv_match, recv_until, send, visitor_hello
from tests.ws.test_timeouts import StartServer, Track, exchange, pair_up


async def receipt(counselor: ClientConnection, sid: str, **marks: object) -> None:
    await send(counselor, {"type": "receipt", "session_id": sid, **marks})


async def test_receipts_reach_the_visitor_once_each_and_only_upwards(start_server: StartServer, track: Track) -> None:
    srv = await start_server()
    visitor, counselor, session = await pair_up(srv, track)
    sid = session["session_id"]
    assert await exchange(visitor, counselor, sid, "v-1") == 1
    assert await exchange(visitor, counselor, sid, "v-2") == 2

    await receipt(counselor, sid, delivered=2)
    assert await recv_until(visitor, "receipt") == {"type": "receipt", "delivered": 2, "read": 0}
    await receipt(counselor, sid, delivered=2, read=1)
    assert await recv_until(visitor, "receipt") == {"type": "receipt", "delivered": 2, "read": 1}
    # Lower or equal marks change nothing and send nothing; marks past the last seq stop at it.
    await receipt(counselor, sid, delivered=1, read=0)
    await none_of(visitor, "receipt", wait=0.4)
    await receipt(counselor, sid, read=99)
    assert await recv_until(visitor, "receipt") == {"type": "receipt", "delivered": 2, "read": 2}

    # A visitor who comes back gets the marks after the replay.
    await visitor.close()
    visitor = track(await connect(srv.ws + "/ws/visitor"))
    await send(visitor, {"type": "resume", "token": session["token"], "last_seq": 0})
    frames = [await recv(visitor) for _ in range(4)]
    assert [f["type"] for f in frames] == ["session", "message", "message", "receipt"]
    assert frames[3] == {"type": "receipt", "delivered": 2, "read": 2}


async def test_receipts_for_others_chats_or_malformed_are_refused(start_server: StartServer, track: Track) -> None:
    srv = await start_server()
    visitor, counselor, session = await pair_up(srv, track)
    waiting, other = await visitor_hello(srv)
    track(waiting)
    await receipt(counselor, other["session_id"], delivered=1)
    assert (await recv_match(counselor, type="error"))["code"] == "not_in_session"
    await receipt(counselor, session["session_id"], delivered=-1)
    bad = await recv_match(counselor, type="error")
    assert bad["code"] == "bad_request" and bad["message"].startswith("delivered")
    await receipt(counselor, session["session_id"], read="all")
    assert (await recv_match(counselor, type="error"))["code"] == "bad_request"
    await none_of(visitor, "receipt", wait=0.3)
