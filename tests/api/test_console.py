"""The server side of the console: availability, transfer, monitoring with audit, alerts, admin and stats."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chat.store.sql import ChatSummary, make_engine, make_sessionmaker
from tests.conftest import MakeServer, MakeTeam
from tests.helpers import (
    ServerThread,
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


@pytest.fixture
def console_server(make_server: MakeServer) -> ServerThread:
    return make_server(alert_after_seconds=0.5)


@pytest.fixture
async def team(console_server: ServerThread, make_team: MakeTeam) -> dict[str, str]:
    return await make_team(console_server)


async def test_availability_and_capacity(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await connect(console_server.ws + "/ws/counselor")
    await send(anna, {"type": "auth", "token": team["anna"]})
    assert (await recv(anna))["type"] == "welcome"
    status = await recv_until(anna, "status")
    every = {"audiences": ["parent", "youth"], "languages": ["en", "nl"]}
    assert status == {"type": "status", "available": True, "capacity": 3, "active": 0, **every}
    visitors = [await visitor_hello(console_server) for _ in range(3)]

    await send(anna, {"type": "status", "available": False, "capacity": 1})
    assert await recv_match(anna, type="status", available=False) == {
        "type": "status",
        "available": False,
        "capacity": 1,
        "active": 0,
        **every,
    }
    await send(anna, {"type": "accept"})
    refused = await recv_until(anna, "error")
    assert refused["code"] == "forbidden" and "available" in refused["message"]

    await send(anna, {"type": "status", "available": True, "capacity": 1})
    await recv_match(anna, type="status", available=True)
    await send(anna, {"type": "accept"})
    await recv_until(anna, "assigned")
    assert (await recv_match(anna, type="status", active=1))["capacity"] == 1
    await send(anna, {"type": "accept"})
    full = await recv_until(anna, "error")
    assert full["code"] == "forbidden" and "capacity" in full["message"]
    for bad in ({"capacity": 0}, {"capacity": 11}, {"capacity": "3"}, {"available": "yes"}):
        await send(anna, {"type": "status", "available": True, "capacity": 2, **bad})
        assert (await recv_until(anna, "error"))["code"] == "bad_request"
    for ws, _ in visitors:
        await ws.close()
    await anna.close()


async def test_transfer_to_a_colleague_without_a_gap(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    bo = await counselor_ws(console_server, team["bo"])
    visitor, session = await visitor_hello(console_server, first_message="Hallo")
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]
    seen: list[dict[str, Any]] = []
    await recv_until(visitor, "paired", seen=seen)
    await send(visitor, {"type": "message", "client_id": "v1", "text": "Ik wil iets vertellen"})
    await recv_match(anna, type="message", seq=2)
    await send(anna, {"type": "message", "session_id": sid, "client_id": "a1", "text": "Ik luister"})
    await recv_match(anna, type="ack", client_id="a1")

    await send(anna, {"type": "transfer", "session_id": sid, "to": "bo", "note": "Gaat over school; rustig aan"})
    assert await recv_match(anna, type="transferred") == {"type": "transferred", "session_id": sid, "to": "bo"}
    taken = await recv_until(bo, "assigned")
    assert taken["session_id"] == sid and taken["transfer"] == {"from": "Anna", "note": "Gaat over school; rustig aan"}
    history = [await recv_match(bo, type=t) for t in ("message", "message", "message", "handover")]
    assert [e["seq"] for e in history] == [1, 2, 3, 4]
    assert history[3]["counselor_name"] == "Bo"
    await send(bo, {"type": "message", "session_id": sid, "client_id": "b1", "text": "Hoi, ik ben Bo"})
    await recv_match(bo, type="ack", client_id="b1")
    # Anna is out of it.
    await send(anna, {"type": "message", "session_id": sid, "client_id": "a2", "text": "nog iets"})
    assert (await recv_until(anna, "error"))["code"] == "not_in_session"

    # The visitor's socket never closed and saw every seq once, in order, and the new name.
    while len([f for f in seen if "seq" in f and f.get("type") != "ack"]) < 5:
        seen.append(await recv(visitor))
    seqs = [f["seq"] for f in seen if "seq" in f and f.get("type") != "ack"]
    assert seqs == [1, 2, 3, 4, 5]
    assert any(f == {"type": "paired", "counselor_name": "Bo"} for f in seen)
    assert next(f for f in seen if f.get("type") == "handover")["counselor_name"] == "Bo"
    assert "Gaat over school" not in str(seen)
    assert visitor.close_code is None
    for ws in (visitor, anna, bo):
        await ws.close()


async def test_transfer_refusals_and_back_to_the_queue(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    bo = await counselor_ws(console_server, team["bo"])
    visitor, _ = await visitor_hello(console_server)
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]

    await send(bo, {"type": "status", "available": False, "capacity": 3})
    await recv_match(bo, type="status", available=False)
    for target in ("bo", "nobody", "anna"):
        await send(anna, {"type": "transfer", "session_id": sid, "to": target})
        assert (await recv_until(anna, "error"))["code"] == "forbidden"
    await send(bo, {"type": "transfer", "session_id": sid, "to": "anna"})
    assert (await recv_until(bo, "error"))["code"] == "not_in_session"

    # An urgent visitor waits; the chat handed back still goes first.
    urgent, _ = await visitor_hello(console_server, first_message="hij staat voor de deur")
    await send(anna, {"type": "transfer", "session_id": sid, "to": None, "note": "kan niet verder"})
    assert (await recv_match(anna, type="transferred"))["to"] is None
    handover = await recv_match(visitor, type="handover")
    assert handover["counselor_name"] is None
    queued = await recv_until(visitor, "queue")
    assert queued["position"] == 1
    await send(bo, {"type": "status", "available": True, "capacity": 3})
    await recv_match(bo, type="status", available=True)
    await send(bo, {"type": "accept"})
    assert (await recv_until(bo, "assigned"))["session_id"] == sid
    assert (await recv_until(visitor, "paired"))["counselor_name"] == "Bo"
    await send(bo, {"type": "accept"})
    assert (await recv_until(bo, "assigned"))["urgent"] is True
    for ws in (visitor, urgent, anna, bo):
        await ws.close()


async def test_monitoring_is_read_only_and_audited(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    sam = await counselor_ws(console_server, team["sam"])
    visitor, _ = await visitor_hello(console_server, first_message="Hoi")
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]

    await send(anna, {"type": "monitor", "session_id": sid})
    assert (await recv_until(anna, "error"))["code"] == "forbidden"
    await send(sam, {"type": "monitor", "session_id": sid})
    watching = await recv_until(sam, "monitoring")
    assert watching["session_id"] == sid and watching["counselor_name"] == "Anna"
    assert (await recv_match(sam, type="message", seq=1))["text"] == "Hoi"
    await send(visitor, {"type": "message", "client_id": "v", "text": "Ben je er?"})
    assert (await recv_match(sam, type="message", seq=2))["text"] == "Ben je er?"
    await send(sam, {"type": "message", "session_id": sid, "client_id": "s", "text": "ik ook"})
    assert (await recv_until(sam, "error"))["code"] == "not_in_session"
    await send(sam, {"type": "end", "session_id": sid})
    assert (await recv_until(sam, "error"))["code"] == "not_in_session"
    await send(sam, {"type": "unmonitor", "session_id": sid})
    await send(visitor, {"type": "message", "client_id": "v2", "text": "Hallo?"})
    await recv_match(anna, type="message", seq=3)
    await none_of(sam, "message", 0.3)

    async with httpx.AsyncClient(base_url=console_server.http) as client:
        audit = await client.get("/api/audit", headers={"Authorization": f"Bearer {team['sam']}"})
        assert audit.status_code == 200
        entry = audit.json()[0]
        assert entry["actor"] == "sam" and entry["action"] == "monitor" and entry["session_id"] == sid
        assert set(entry) == {"at", "actor", "action", "session_id"}
        overview = (
            await client.get("/api/supervisor/overview", headers={"Authorization": f"Bearer {team['sam']}"})
        ).json()
        anna_row = next(c for c in overview["counselors"] if c["username"] == "anna")
        assert anna_row["online"] and anna_row["active"] == 1 and anna_row["capacity"] == 3
        assert [c["session_id"] for c in overview["chats"]] == [sid]
        assert overview["chats"][0]["counselor_name"] == "Anna"
        # A plain counselor is refused by the API itself.
        for path in ("/api/supervisor/overview", "/api/audit", "/api/admin/counselors", "/api/admin/stats"):
            refused = await client.get(path, headers={"Authorization": f"Bearer {team['anna']}"})
            assert refused.status_code == 403, path
            assert (await client.get(path)).status_code == 401
    for ws in (visitor, anna, sam):
        await ws.close()


async def test_supervisors_are_alerted_about_long_waits(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    sam = await counselor_ws(console_server, team["sam"])
    visitor, _ = await visitor_hello(console_server, audience="youth", language="en")
    alert = await recv_until(sam, "alert", timeout=10)
    assert alert["audience"] == "youth" and alert["language"] == "en" and alert["longest_wait_seconds"] >= 0
    # Counselors without the supervisor role get the queues, not the alert.
    frames: list[dict[str, Any]] = []
    try:
        await recv_until(anna, "alert", timeout=1.5, seen=frames)
        raise AssertionError("a counselor got a supervisor alert")
    except TimeoutError:
        pass
    for ws in (visitor, anna, sam):
        await ws.close()


async def test_admin_manages_counselors(console_server: ServerThread, team: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {team['ada']}"}
    async with httpx.AsyncClient(base_url=console_server.http, headers=admin, timeout=30) as client:
        created = await client.post(
            "/api/admin/counselors",
            json={"username": "Noor", "display_name": "Noor", "role": "counselor", "password": "lang genoeg 123"},
        )
        assert created.status_code == 201 and created.json()["username"] == "noor"
        assert (
            await client.post(
                "/api/admin/counselors", json={"username": "noor", "display_name": "N", "password": "lang genoeg 123"}
            )
        ).status_code == 409
        for bad in ({"password": "kort"}, {"role": "boss"}, {"username": "a b"}, {"extra": 1}):
            body = {"username": "x1", "display_name": "X", "password": "lang genoeg 123", **bad}
            assert (await client.post("/api/admin/counselors", json=body)).status_code == 422, bad
        noor_token = await login(console_server.http, "noor", "lang genoeg 123")
        promoted = await client.patch("/api/admin/counselors/noor", json={"role": "supervisor"})
        assert promoted.json()["role"] == "supervisor"
        # A changed role logs in again.
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {noor_token}"})
        assert me.status_code == 401
        reset = await client.post("/api/admin/counselors/noor/password", json={"password": "nieuw wachtwoord 1"})
        assert reset.status_code == 204
        assert await login(console_server.http, "noor", "nieuw wachtwoord 1")
        disabled = await client.patch("/api/admin/counselors/noor", json={"active": False})
        assert disabled.json()["active"] is False
        refused = await client.post("/api/auth/login", json={"username": "noor", "password": "nieuw wachtwoord 1"})
        assert refused.status_code == 401
        assert (await client.patch("/api/admin/counselors/ada", json={"active": False})).status_code == 409
        assert (await client.patch("/api/admin/counselors/ghost", json={"active": False})).status_code == 404
        listed = {c["username"]: c for c in (await client.get("/api/admin/counselors")).json()}
        assert listed["noor"] == {
            "username": "noor",
            "display_name": "Noor",
            "role": "supervisor",
            "active": False,
            "audiences": ["parent", "youth"],
            "languages": ["en", "nl"],
        }
        assert "password_hash" not in str(listed)


async def test_statistics_from_text_free_summaries(console_server: ServerThread, team: dict[str, str]) -> None:
    settings = console_server.settings
    engine = make_engine(settings.sqlalchemy_url)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    tag = os.urandom(3).hex()
    rows = [  # (day offset, paired, wait, audience, category, risk)
        (0, True, 30, "parent", "worry_about_child", "low"),
        (0, True, 90, "youth", "sexual_exploitation", "high"),
        (0, False, 400, "youth", None, None),  # left the queue after 400 s: abandoned, and it waited
        (1, True, 600, "parent", "abuse_at_home", "medium"),
        (40, True, 5, "parent", "other", "none"),  # outside a 30-day window
    ]
    async with make_sessionmaker(engine)() as db:
        for i, (offset, paired, wait, audience, category, risk) in enumerate(rows):
            db.add(
                ChatSummary(
                    session_id=f"s_{tag}_{i}",
                    day=today - timedelta(days=offset),
                    audience=audience,
                    language="nl",
                    urgent=i == 1,
                    triage_categories=None,
                    paired=paired,
                    wait_seconds=wait,
                    duration_seconds=600 if paired else None,
                    end_reason="counselor" if paired else "quick_exit",
                    messages=4,
                    wrapup_category=category,
                    risk_level=risk,
                    referral="none" if paired else None,
                )
            )
        await db.commit()
    await engine.dispose()
    async with httpx.AsyncClient(
        base_url=console_server.http, headers={"Authorization": f"Bearer {team['ada']}"}
    ) as client:
        stats = (await client.get("/api/admin/stats", params={"days": 30})).json()
    assert stats["total"] == 4
    assert stats["days"] == [
        {"day": (today - timedelta(days=1)).isoformat(), "chats": 1, "abandoned": 0},
        {"day": today.isoformat(), "chats": 3, "abandoned": 1},
    ]
    assert stats["abandoned_rate"] == 0.25 and stats["abandoned"] == 1
    assert stats["until"] == today.isoformat() and stats["timezone"] == "Europe/Amsterdam"
    # Over everyone who waited, the abandoned included: 30, 90, 400, 600.
    assert stats["wait_seconds"]["p50"] == 245
    assert 400 < stats["wait_seconds"]["p90"] <= 600
    assert stats["by_audience"] == {"parent": 2, "youth": 2}
    assert stats["by_category"] == {"worry_about_child": 1, "sexual_exploitation": 1, "abuse_at_home": 1}
    assert stats["by_risk"] == {"low": 1, "high": 1, "medium": 1}
    assert stats["urgent"] == 1


async def test_ended_chat_awaiting_wrapup_comes_back_after_a_reload(
    console_server: ServerThread, team: dict[str, str]
) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    visitor, _ = await visitor_hello(console_server, first_message="Hoi")
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]
    await anna.close()
    # The visitor ends while the console is away.
    await send(visitor, {"type": "end"})
    await recv_until(visitor, "ended")
    anna = await counselor_ws(console_server, team["anna"])
    back = await recv_until(anna, "assigned")
    assert back["session_id"] == sid and back["status"] == "ended"
    assert (await recv_match(anna, type="ended"))["reason"] == "visitor"
    await send(
        anna, {"type": "wrapup", "session_id": sid, "category": "information", "risk": "none", "referral": "none"}
    )
    await recv_until(anna, "wrapup_saved")
    await anna.close()
    # With the wrap-up saved it does not come back again.
    anna = await counselor_ws(console_server, team["anna"])
    frames: list[dict[str, Any]] = []
    with pytest.raises(TimeoutError):
        await recv_until(anna, "assigned", timeout=0.5, seen=frames)
    await anna.close()


async def test_accept_errors_say_why(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    await send(anna, {"type": "accept"})
    empty = await recv_until(anna, "error")
    assert empty["code"] == "queue_empty" and empty["for"] == "accept"
    await send(anna, {"type": "status", "available": False, "capacity": 1})
    await recv_match(anna, type="status", available=False)
    await send(anna, {"type": "accept"})
    off = await recv_until(anna, "error")
    assert (off["code"], off["reason"], off["for"]) == ("forbidden", "unavailable", "accept")
    await send(anna, {"type": "status", "available": True, "capacity": 1})
    await recv_match(anna, type="status", available=True)
    visitors = [await visitor_hello(console_server) for _ in range(2)]
    await send(anna, {"type": "accept"})
    await recv_until(anna, "assigned")
    await send(anna, {"type": "accept"})
    full = await recv_until(anna, "error")
    assert (full["code"], full["reason"], full["for"]) == ("forbidden", "at_capacity", "accept")
    for ws, _ in visitors:
        await ws.close()
    await anna.close()


async def test_reopening_a_monitor_is_audited_once(console_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(console_server, team["anna"])
    visitor, _ = await visitor_hello(console_server)
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]
    for _ in range(2):  # a console that reconnects monitors again
        sam = await counselor_ws(console_server, team["sam"])
        await send(sam, {"type": "monitor", "session_id": sid})
        await recv_until(sam, "monitoring")
        await sam.close()
    async with httpx.AsyncClient(base_url=console_server.http) as client:
        audit = (await client.get("/api/audit", headers={"Authorization": f"Bearer {team['sam']}"})).json()
    assert [e["session_id"] for e in audit if e["action"] == "monitor"] == [sid]
    await visitor.close()
    await anna.close()
