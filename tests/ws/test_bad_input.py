"""Bad input over real websockets and HTTP: every abuse gets its documented answer,
and a healthy chat on the same server keeps working throughout."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from chat.store.sql import Snippet, make_engine, make_sessionmaker
from chat.ws.frames import MAX_STRIKES
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
    until_closed,
    visitor_hello,
)

StartServer = Callable[..., Awaitable[ServerThread]]


# -- helpers (the start_server and track fixtures are in conftest.py) -------------------
@dataclass
class Pair:
    visitor: ClientConnection
    counselor: ClientConnection
    sid: str
    token: str
    seq: int = 0
    n: int = 0


async def healthy_pair(
    srv: ServerThread, track: Callable[[ClientConnection], ClientConnection], name: str = "healthy"
) -> Pair:
    """A visitor and a counselor in an active chat; made before any other visitor arrives."""
    await add_counselor(srv.settings, name, display_name=name.title())
    counselor = track(await counselor_ws(srv, await login(srv.http, name)))
    visitor, session = await visitor_hello(srv)
    track(visitor)
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    assert assigned["session_id"] == session["session_id"]
    await recv_until(visitor, "paired")
    return Pair(visitor, counselor, session["session_id"], session["token"])


async def assert_healthy(pair: Pair) -> None:
    """Both sides still exchange messages, each acked with the next seq and relayed."""
    pair.n += 1
    cid = f"healthy-v-{pair.n}"
    await send(pair.visitor, {"type": "message", "client_id": cid, "text": f"still there? {pair.n}"})
    ack = await recv_match(pair.visitor, type="ack", client_id=cid)
    assert ack["seq"] == pair.seq + 1, ack
    heard = await recv_match(pair.counselor, type="message", client_id=cid)
    assert heard["seq"] == ack["seq"] and heard["session_id"] == pair.sid and heard["sender"] == "visitor"
    kid = f"healthy-c-{pair.n}"
    await send(pair.counselor, {"type": "message", "session_id": pair.sid, "client_id": kid, "text": "yes"})
    cack = await recv_match(pair.counselor, type="ack", client_id=kid)
    assert cack["seq"] == pair.seq + 2, cack
    got = await recv_match(pair.visitor, type="message", client_id=kid)
    assert got["seq"] == cack["seq"] and got["sender"] == "counselor"
    pair.seq += 2


async def expect_error(ws: ClientConnection, code: str, **fields: Any) -> dict[str, Any]:
    frame = await recv_match(ws, type="error")
    assert frame["code"] == code, frame
    assert isinstance(frame.get("message"), str) and frame["message"]
    for key, value in fields.items():
        assert frame.get(key) == value, frame
    return frame


async def still_open(ws: ClientConnection) -> None:
    """A valid frame after a bad one gets its normal answer."""
    await send(ws, {"type": "ping"})
    await recv_until(ws, "pong")


async def replay(
    srv: ServerThread, token: str, track: Callable[[ClientConnection], ClientConnection], last_seq: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Resume on a fresh socket: the session frame and every replayed event."""
    ws = track(await connect(srv.ws + "/ws/visitor"))
    await send(ws, {"type": "resume", "token": token, "last_seq": last_seq})
    session = await recv(ws)
    assert session["type"] == "session", session
    events: list[dict[str, Any]] = []
    while True:
        try:
            frame = await recv(ws, 0.5)
        except TimeoutError:
            break
        if "seq" in frame:
            events.append(frame)
    await ws.close()
    return session, events


# -- malformed and mistyped frames ------------------------------------------------------------
NOT_FRAMES = [
    "{not json",
    "",
    "[1, 2, 3]",
    '"just a string"',
    "42",
    "null",
    '{"no": "type"}',
    '{"type": 5}',
    '{"type": "launch_missiles"}',
    '{"type": "accept"}',  # a counselor frame on the visitor endpoint
]


async def test_malformed_and_mistyped_frames_get_bad_request(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)

    visitor, session = await visitor_hello(srv)
    track(visitor)
    for raw in NOT_FRAMES:
        await visitor.send(raw)
        await expect_error(visitor, "bad_request")
        await still_open(visitor)
    wrong_types: list[dict[str, Any]] = [
        {"type": "message", "client_id": 17, "text": "hi"},
        {"type": "message", "client_id": "c-1", "text": ["hi"]},
        {"type": "message", "client_id": "c-1"},
        {"type": "message", "client_id": "", "text": "hi"},
        {"type": "typing", "active": "yes"},
        {"type": "typing", "active": 1},
        {"type": "hello", "audience": "parent"},  # only allowed as the first frame
    ]
    for frame in wrong_types:
        await send(visitor, frame)
        await expect_error(visitor, "bad_request")
        await still_open(visitor)
    await visitor.send(b"\x00\x01binary")
    await expect_error(visitor, "bad_request")
    await still_open(visitor)
    # Nothing of the above was stored: the next message is seq 1.
    await send(visitor, {"type": "message", "client_id": "c-ok", "text": "hallo"})
    assert (await recv_match(visitor, type="ack", client_id="c-ok"))["seq"] == 1

    # Bad first frames: answered, the socket stays open for a good one.
    fresh = track(await connect(srv.ws + "/ws/visitor"))
    for frame in (
        {"type": "hello", "audience": "kid"},
        {"type": "hello", "audience": "parent", "language": "de"},
        {"type": "hello", "audience": "parent", "topic": 3},
        {"type": "resume", "token": session["token"], "last_seq": -1},
        {"type": "resume", "token": 123},
        {"type": "message", "client_id": "c", "text": "x"},
    ):
        await send(fresh, frame)
        await expect_error(fresh, "bad_request")
    await fresh.send("{oops")
    await expect_error(fresh, "bad_request")
    await fresh.send(b"\xff")
    await expect_error(fresh, "bad_request")
    await send(fresh, {"type": "resume", "token": session["token"], "last_seq": 0})
    resumed = await recv_until(fresh, "session")
    assert resumed["session_id"] == session["session_id"] and resumed["resumed"] is True

    # The counselor endpoint, after auth.
    await add_counselor(srv.settings, "other")
    counselor = track(await counselor_ws(srv, await login(srv.http, "other")))
    for raw in NOT_FRAMES[:-1] + ['{"type": "hello", "audience": "parent"}']:
        await counselor.send(raw)
        await expect_error(counselor, "bad_request")
        await still_open(counselor)
    for frame in (
        {"type": "message", "session_id": 123, "client_id": "k", "text": "x"},
        {"type": "message", "session_id": pair.sid, "client_id": ["k"], "text": "x"},
        {"type": "message", "session_id": pair.sid, "client_id": "k", "text": {"t": 1}},
        {"type": "typing", "session_id": pair.sid, "active": "yes"},
        {"type": "end"},
        {"type": "accept", "audience": "kid"},
        {"type": "accept", "language": 1},
        {"type": "resource", "session_id": pair.sid, "client_id": "k"},
        {"type": "auth", "token": "again"},  # already authenticated
    ):
        await send(counselor, frame)
        await expect_error(counselor, "bad_request")
        await still_open(counselor)
    await counselor.send(b"\x00")
    await expect_error(counselor, "bad_request")
    await still_open(counselor)

    await no_frame(pair.visitor)
    await assert_healthy(pair)


# -- size limits ----------------------------------------------------------------------------
async def test_oversized_frame_closes_with_1009(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    big = "x" * (srv.settings.max_frame_bytes + 1)

    visitor, _ = await visitor_hello(srv)
    track(visitor)
    await send(visitor, {"type": "message", "client_id": "c-big", "text": big})
    frames = await until_closed(visitor)
    assert visitor.close_code == 1009
    assert not any(f.get("type") == "ack" for f in frames)

    # Before the first frame, and as binary, too.
    fresh = track(await connect(srv.ws + "/ws/visitor"))
    await fresh.send(big.encode())
    await until_closed(fresh)
    assert fresh.close_code == 1009

    await add_counselor(srv.settings, "other")
    counselor = track(await counselor_ws(srv, await login(srv.http, "other")))
    await send(counselor, {"type": "message", "session_id": pair.sid, "client_id": "k", "text": big})
    await until_closed(counselor)
    assert counselor.close_code == 1009

    await assert_healthy(pair)


async def test_overlong_text_is_too_large_and_not_stored(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    limit = srv.settings.max_text_chars
    assert (
        len(json.dumps({"type": "message", "client_id": "c", "text": "x" * (limit + 1)})) < srv.settings.max_frame_bytes
    )

    visitor, session = await visitor_hello(srv)
    track(visitor)
    await send(visitor, {"type": "message", "client_id": "c-1", "text": "first"})
    assert (await recv_match(visitor, type="ack", client_id="c-1"))["seq"] == 1
    await send(visitor, {"type": "message", "client_id": "c-long", "text": "x" * (limit + 1)})
    await expect_error(visitor, "too_large", client_id="c-long")
    await send(visitor, {"type": "message", "client_id": "c-2", "text": "second"})
    assert (await recv_match(visitor, type="ack", client_id="c-2"))["seq"] == 2
    # Exactly at the limit is fine.
    await send(visitor, {"type": "message", "client_id": "c-max", "text": "y" * limit})
    assert (await recv_match(visitor, type="ack", client_id="c-max"))["seq"] == 3

    resumed, events = await replay(srv, session["token"], track)
    assert resumed["resumed"] is True
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["client_id"] for e in events] == ["c-1", "c-2", "c-max"]
    assert all(len(e["text"]) <= limit for e in events)

    # The counselor's too-long text: refused, and the healthy chat's next seq is unchanged.
    await send(
        pair.counselor, {"type": "message", "session_id": pair.sid, "client_id": "k-long", "text": "z" * (limit + 1)}
    )
    await expect_error(pair.counselor, "too_large", client_id="k-long")
    await no_frame(pair.visitor)
    await assert_healthy(pair)


# -- sessions and credentials ---------------------------------------------------------------
async def test_resume_with_made_up_token_is_unknown_session(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    for token in ("made-up-token", "x" * 43, pair.token + "x"):
        ws = track(await connect(srv.ws + "/ws/visitor"))
        await send(ws, {"type": "resume", "token": token, "last_seq": 0})
        frames = await until_closed(ws)
        assert [f.get("code") for f in frames if f["type"] == "error"] == ["unknown_session"]
        assert not any(f["type"] == "session" for f in frames)
        assert ws.close_code == 1008
    await assert_healthy(pair)


async def test_counselor_auth_refused(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    await add_counselor(srv.settings, "bert", display_name="Bert")

    async def refused(first: dict[str, Any] | str) -> None:
        ws = track(await connect(srv.ws + "/ws/counselor"))
        await (send(ws, first) if isinstance(first, dict) else ws.send(first))
        frames = await until_closed(ws)
        assert [f["type"] for f in frames] == ["error"], frames
        assert frames[0]["code"] == "unauthorized"
        assert ws.close_code == 1008

    await refused({"type": "auth", "token": "wrong"})
    await refused({"type": "auth", "token": pair.token})  # a visitor token is no counselor token
    # A frame before auth.
    await refused({"type": "accept"})
    await refused({"type": "message", "session_id": pair.sid, "client_id": "k", "text": "hi"})

    # A token revoked by logout.
    token = await login(srv.http, "bert")
    async with httpx.AsyncClient(base_url=srv.http) as client:
        response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 204
        assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    await refused({"type": "auth", "token": token})

    # Revoked while connected: told and closed at once; the other counselor is untouched.
    token = await login(srv.http, "bert")
    bert = track(await counselor_ws(srv, token))
    await recv_until(bert, "queues")
    async with httpx.AsyncClient(base_url=srv.http) as client:
        response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 204
    frames = await until_closed(bert)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["unauthorized"]
    assert bert.close_code == 1008

    await assert_healthy(pair)


async def _add_snippet(srv: ServerThread, slug: str) -> None:
    engine = make_engine(srv.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.add(
                Snippet(
                    slug=slug,
                    language="nl",
                    audience="both",
                    category="test",
                    title="Test",
                    body="A test resource.",
                    phone="0800-0000",
                    url="https://example.org",
                    sort_order=0,
                    active=True,
                )
            )
            await db.commit()
    finally:
        await engine.dispose()


async def test_session_not_yours_is_not_in_session(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    await _add_snippet(srv, "bad-input-test")
    await add_counselor(srv.settings, "bert", display_name="Bert")
    bert = track(await counselor_ws(srv, await login(srv.http, "bert")))

    for sid in (pair.sid, "s_made_up_session", "x"):
        attempts: list[dict[str, Any]] = [
            {"type": "message", "session_id": sid, "client_id": f"b-{sid}", "text": "let me in"},
            {"type": "resource", "session_id": sid, "client_id": f"r-{sid}", "snippet_id": "bad-input-test"},
            {"type": "resource", "session_id": sid, "client_id": f"u-{sid}", "snippet_id": "no-such-snippet"},
            {"type": "typing", "session_id": sid, "active": True},
            {"type": "end", "session_id": sid},
        ]
        for frame in attempts:
            await send(bert, frame)
            error = await expect_error(bert, "not_in_session", session_id=sid)
            if "client_id" in frame:
                assert error.get("client_id") == frame["client_id"], error
    await still_open(bert)

    # The real owner's chat saw none of it: no typing, no message, not ended.
    await no_frame(pair.visitor)
    await assert_healthy(pair)
    # The owner can still send the resource.
    await send(
        pair.counselor,
        {"type": "resource", "session_id": pair.sid, "client_id": "r-ok", "snippet_id": "bad-input-test"},
    )
    ack = await recv_match(pair.counselor, type="ack", client_id="r-ok")
    assert ack["seq"] == pair.seq + 1
    resource = await recv_match(pair.visitor, type="resource", seq=ack["seq"])
    assert resource["snippet"]["id"] == "bad-input-test"
    pair.seq += 1
    await assert_healthy(pair)


async def test_accept_with_nobody_waiting_is_queue_empty(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)
    await add_counselor(srv.settings, "bert")
    bert = track(await counselor_ws(srv, await login(srv.http, "bert")))
    for frame in ({"type": "accept"}, {"type": "accept", "audience": "youth", "language": "en"}):
        await send(bert, frame)
        await expect_error(bert, "queue_empty")
    # Filtered: a waiting parent does not satisfy a youth accept.
    visitor, session = await visitor_hello(srv, audience="parent", language="nl")
    track(visitor)
    await send(bert, {"type": "accept", "audience": "youth"})
    await expect_error(bert, "queue_empty")
    await send(bert, {"type": "accept"})
    assert (await recv_until(bert, "assigned"))["session_id"] == session["session_id"]
    await send(bert, {"type": "accept"})
    await expect_error(bert, "queue_empty")
    await assert_healthy(pair)


# -- origins ------------------------------------------------------------------------------------
async def _refused(url: str, origin: str) -> None:
    try:
        ws = await connect(url, origin=origin)
    except websockets.InvalidStatus as exc:
        assert exc.response.status_code == 403
        return
    try:
        await until_closed(ws)
        assert ws.close_code == 1008
    finally:
        await ws.close()


async def test_origin_allowlist(start_server: StartServer, track: Any) -> None:
    srv = await start_server(allowed_origins=["https://helpline.example"])
    pair = await healthy_pair(srv, track)
    await add_counselor(srv.settings, "bert")
    token = await login(srv.http, "bert")

    for path in ("/ws/visitor", "/ws/counselor"):
        for origin in (
            "https://evil.example",
            "https://helpline.example.evil",
            "http://helpline.example",
            "https://helpline.example:8443",
            "null",
            f"http://localhost:{srv.port}",
        ):
            await _refused(srv.ws + path, origin)

    async def accepted(origin: str | None) -> None:
        kwargs: dict[str, Any] = {"origin": origin} if origin else {}
        visitor = track(await connect(srv.ws + "/ws/visitor", **kwargs))
        await send(visitor, {"type": "hello", "audience": "youth", "language": "en"})
        assert (await recv_until(visitor, "session"))["status"] == "queued"
        await send(visitor, {"type": "quick_exit"})
        await recv_until(visitor, "ended")
        counselor = track(await connect(srv.ws + "/ws/counselor", **kwargs))
        await send(counselor, {"type": "auth", "token": token})
        await recv_until(counselor, "welcome")
        await counselor.close()

    await accepted(None)
    await accepted(f"http://127.0.0.1:{srv.port}")
    await accepted("https://helpline.example")
    await assert_healthy(pair)


# -- floods and repeated abuse -------------------------------------------------------------------
async def test_message_flood_is_rate_limited_and_not_stored(start_server: StartServer, track: Any) -> None:
    burst = 5
    srv = await start_server(messages_per_second=0.2, message_burst=burst)
    pair = await healthy_pair(srv, track)

    visitor, session = await visitor_hello(srv)
    track(visitor)
    flood = 15
    for i in range(flood):
        await send(visitor, {"type": "message", "client_id": f"f-{i}", "text": f"flood {i}"})
    acked: dict[str, int] = {}
    limited: list[str] = []
    while len(acked) + len(limited) < flood:
        frame = await recv(visitor)
        if frame["type"] == "ack":
            acked[frame["client_id"]] = frame["seq"]
        elif frame["type"] == "error":
            assert frame["code"] == "rate_limited", frame
            limited.append(frame["client_id"])
    assert list(acked) == [f"f-{i}" for i in range(burst)]
    assert list(acked.values()) == list(range(1, burst + 1))
    assert limited == [f"f-{i}" for i in range(burst, flood)]

    _, events = await replay(srv, session["token"], track)
    assert [e["client_id"] for e in events] == list(acked)

    # Keep flooding: MAX_STRIKES refusals in a row close the socket with 1008.
    extra = MAX_STRIKES - len(limited)
    for i in range(extra):
        await send(visitor, {"type": "message", "client_id": f"g-{i}", "text": "more"})
    frames = await until_closed(visitor)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["rate_limited"] * extra
    assert not any(f["type"] == "ack" for f in frames)
    assert visitor.close_code == 1008
    _, events = await replay(srv, session["token"], track)
    assert len(events) == burst

    await assert_healthy(pair)


async def test_repeated_bad_frames_close_with_1008(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    pair = await healthy_pair(srv, track)

    visitor, _ = await visitor_hello(srv)
    track(visitor)
    # One short of the limit, then a good frame: the count starts over.
    for _ in range(MAX_STRIKES - 1):
        await visitor.send("{bad")
        await expect_error(visitor, "bad_request")
    await still_open(visitor)
    for _ in range(MAX_STRIKES - 1):
        await visitor.send("{bad")
    for _ in range(MAX_STRIKES - 1):
        await expect_error(visitor, "bad_request")
    await still_open(visitor)
    # MAX_STRIKES in a row, of any kind: closed.
    for i in range(MAX_STRIKES):
        await (visitor.send(b"\x00") if i % 2 else send(visitor, {"type": "typing", "active": "no"}))
    frames = await until_closed(visitor)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["bad_request"] * MAX_STRIKES
    assert visitor.close_code == 1008

    # Over-long texts are abuse too.
    visitor, _ = await visitor_hello(srv)
    track(visitor)
    for i in range(MAX_STRIKES):
        await send(visitor, {"type": "message", "client_id": f"l-{i}", "text": "x" * 4001})
    frames = await until_closed(visitor)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["too_large"] * MAX_STRIKES
    assert visitor.close_code == 1008

    # And on the counselor endpoint.
    await add_counselor(srv.settings, "bert")
    counselor = track(await counselor_ws(srv, await login(srv.http, "bert")))
    for _ in range(MAX_STRIKES):
        await counselor.send("[]")
    frames = await until_closed(counselor)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["bad_request"] * MAX_STRIKES
    assert counselor.close_code == 1008

    await assert_healthy(pair)


async def test_too_many_hellos_from_one_address(start_server: StartServer, track: Any) -> None:
    limit = 4
    srv = await start_server(hellos_per_minute=limit)
    pair = await healthy_pair(srv, track)  # one hello from this address already
    for _ in range(limit - 1):
        visitor, session = await visitor_hello(srv)
        track(visitor)
        assert session["status"] == "queued"
    refused = track(await connect(srv.ws + "/ws/visitor"))
    await send(refused, {"type": "hello", "audience": "parent", "language": "nl"})
    frames = await until_closed(refused)
    assert [f["type"] for f in frames] == ["error"], frames
    assert frames[0]["code"] == "rate_limited"
    assert refused.close_code == 1008
    # Not a session: the counselor's overview still counts the allowed ones only.
    async with httpx.AsyncClient(base_url=srv.http) as client:
        status = (await client.get("/api/status")).json()
    assert sum(q["waiting"] for q in status["queues"]) == limit - 1
    # A resume is not a new chat and is not limited.
    session, _ = await replay(srv, pair.token, track, last_seq=pair.seq)
    assert session["status"] == "active"
    await assert_healthy(pair)


# -- HTTP ----------------------------------------------------------------------------------------------
async def test_http_login_throttle_and_auth(start_server: StartServer, track: Any) -> None:
    failures = 3
    srv = await start_server(login_max_failures=failures)
    pair = await healthy_pair(srv, track)
    await add_counselor(srv.settings, "bert")
    async with httpx.AsyncClient(base_url=srv.http, timeout=30) as client:
        for _ in range(failures):
            response = await client.post("/api/auth/login", json={"username": "bert", "password": "wrong"})
            assert response.status_code == 401
            assert "token" not in response.json()
        # Throttled now, even with the right password.
        for password in ("wrong", "correct horse battery"):
            response = await client.post("/api/auth/login", json={"username": "bert", "password": password})
            assert response.status_code == 429
            assert int(response.headers["retry-after"]) > 0
        # An unknown user is a plain 401 (and tells nothing about who exists).
        response = await client.post("/api/auth/login", json={"username": "nobody", "password": "x"})
        assert response.status_code == 401
        # Another counselor from the same address is not locked out.
        response = await client.post(
            "/api/auth/login", json={"username": "healthy", "password": "correct horse battery"}
        )
        assert response.status_code == 200
        good = response.json()["token"]
        # Malformed bodies: 422, not a crash.
        assert (
            await client.post("/api/auth/login", content=b"{nope", headers={"content-type": "application/json"})
        ).status_code == 422
        assert (await client.post("/api/auth/login", json={"username": "bert"})).status_code == 422

        assert (await client.get("/api/snippets")).status_code == 401
        for header in ("Bearer wrong", "Basic Zm9vOmJhcg==", "Bearer", f"Token {good}"):
            assert (await client.get("/api/snippets", headers={"Authorization": header})).status_code == 401
        assert (await client.get("/api/snippets", headers={"Authorization": f"Bearer {good}"})).status_code == 200
        assert (await client.post("/api/auth/logout")).status_code == 401
    await assert_healthy(pair)
