"""Snippets over the real HTTP API and into a chat, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from chat.services.auth import Role
from tests.conftest import MakeServer
from tests.helpers import (
    ServerThread,
    add_counselor,
    counselor_ws,
    login,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)


@pytest.fixture
def db_server(make_server: MakeServer, database_url: str) -> ServerThread:
    return make_server(database_url)


@pytest.fixture
async def clients(db_server: ServerThread) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, str]]:
    tag = os.urandom(3).hex()
    await add_counselor(db_server.settings, f"admin{tag}", role=Role.ADMIN)
    await add_counselor(db_server.settings, f"coun{tag}", role=Role.COUNSELOR)
    admin_token = await login(db_server.http, f"admin{tag}")
    coun_token = await login(db_server.http, f"coun{tag}")
    async with (
        httpx.AsyncClient(
            base_url=db_server.http, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
        ) as admin,
        httpx.AsyncClient(
            base_url=db_server.http, headers={"Authorization": f"Bearer {coun_token}"}, timeout=30
        ) as counselor,
    ):
        yield admin, counselor, coun_token


NEW = {
    "language": "nl",
    "audience": "youth",
    "category": "online_abuse",
    "title": "Offlimits",
    "body": "Hulp als er beelden van je online staan.",
    "phone": None,
    "url": "https://example.org/hulp",
}


async def test_counselor_reads_filters_and_searches(clients: tuple[httpx.AsyncClient, httpx.AsyncClient, str]) -> None:
    _admin, counselor, _ = clients
    everything = (await counselor.get("/api/snippets")).json()
    ids = {s["id"] for s in everything}
    assert {
        "emergency-112-nl",
        "emergency-112-en",
        "veilig-thuis-nl",
        "kindertelefoon-nl",
        "113-suicide-prevention-nl",
    } <= ids
    nl_parent = (await counselor.get("/api/snippets", params={"language": "nl", "audience": "parent"})).json()
    assert nl_parent and all(s["language"] == "nl" and s["audience"] in ("parent", "both") for s in nl_parent)
    assert "kindertelefoon-nl" not in {s["id"] for s in nl_parent}  # for young people only
    orders = [s["sort_order"] for s in nl_parent]
    assert orders == sorted(orders)
    found = (await counselor.get("/api/snippets", params={"q": "0800-2000", "language": "nl"})).json()
    assert [s["id"] for s in found] == ["veilig-thuis-nl"]
    found = (await counselor.get("/api/snippets", params={"q": "KINDERTELEFOON"})).json()
    assert {s["id"] for s in found} == {"kindertelefoon-nl", "kindertelefoon-en"}
    async with httpx.AsyncClient(base_url=str(counselor.base_url)) as anonymous:
        assert (await anonymous.get("/api/snippets")).status_code == 401


async def test_counselor_cannot_write(clients: tuple[httpx.AsyncClient, httpx.AsyncClient, str]) -> None:
    _admin, counselor, _ = clients
    assert (await counselor.post("/api/snippets", json=NEW)).status_code == 403
    assert (await counselor.patch("/api/snippets/veilig-thuis-nl", json={"title": "x"})).status_code == 403
    assert (await counselor.delete("/api/snippets/veilig-thuis-nl")).status_code == 403
    assert (await counselor.post("/api/snippets/order", json={"ids": ["veilig-thuis-nl"]})).status_code == 403


async def test_admin_creates_edits_reorders_deactivates(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, str],
) -> None:
    admin, counselor, _ = clients
    created = await admin.post("/api/snippets", json=NEW)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert sid.startswith("offlimits-nl-")
    edited = await admin.patch(f"/api/snippets/{sid}", json={"title": "Offlimits (meldpunt)", "sort_order": 5})
    assert edited.status_code == 200 and edited.json()["title"] == "Offlimits (meldpunt)"
    listed = (await counselor.get("/api/snippets", params={"language": "nl", "audience": "youth"})).json()
    assert listed[0]["id"] == sid  # sort order 5 comes first

    order = ["veilig-thuis-nl", "emergency-112-nl", sid]
    reordered = await admin.post("/api/snippets/order", json={"ids": order})
    assert reordered.status_code == 200
    listed = (await counselor.get("/api/snippets", params={"language": "nl", "audience": "youth"})).json()
    assert [s["id"] for s in listed[:3]] == order

    assert (await admin.delete(f"/api/snippets/{sid}")).json()["active"] is False
    assert sid not in {s["id"] for s in (await counselor.get("/api/snippets")).json()}
    inactive = (await admin.get("/api/snippets", params={"include_inactive": True})).json()
    assert sid in {s["id"] for s in inactive}
    # Only admins see inactive ones.
    as_counselor = (await counselor.get("/api/snippets", params={"include_inactive": True})).json()
    assert sid not in {s["id"] for s in as_counselor}


BAD = [
    ({"language": "de"}, "language"),
    ({"audience": "kids"}, "audience"),
    ({"category": "misc"}, "category"),
    ({"title": ""}, "title"),
    ({"body": "x" * 1001}, "body"),
    ({"phone": "bel ons"}, "phone"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"sort_order": "first"}, "sort_order"),
]


async def test_bad_payloads_get_422(clients: tuple[httpx.AsyncClient, httpx.AsyncClient, str]) -> None:
    admin, _counselor, _ = clients
    for patch, field in BAD:
        response = await admin.post("/api/snippets", json={**NEW, **patch})
        assert response.status_code == 422, patch
        assert field in response.text
        edit = await admin.patch("/api/snippets/veilig-thuis-nl", json=patch)
        assert edit.status_code == 422 and field in edit.text, patch
    unknown_field = await admin.post("/api/snippets", json={**NEW, "colour": "red"})
    assert unknown_field.status_code == 422 and "colour" in unknown_field.text
    assert (await admin.patch("/api/snippets/no-such-snippet", json={"title": "x"})).status_code == 404
    bad_order = await admin.post("/api/snippets/order", json={"ids": ["no-such-snippet"]})
    assert bad_order.status_code == 422 and "unknown" in bad_order.text
    # Nothing of the refused edits stuck.
    kept = (await admin.get("/api/snippets", params={"q": "0800-2000", "language": "nl"})).json()
    assert kept[0]["language"] == "nl" and kept[0]["url"].startswith("https://")


async def test_resource_event_reaches_the_visitor(
    db_server: ServerThread, clients: tuple[httpx.AsyncClient, httpx.AsyncClient, str]
) -> None:
    admin, _counselor, token = clients
    counselor = await counselor_ws(db_server, token)
    visitor, _session = await visitor_hello(db_server, audience="youth")
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    sid = assigned["session_id"]
    await send(counselor, {"type": "resource", "session_id": sid, "client_id": "r1", "snippet_id": "veilig-thuis-nl"})
    assert (await recv_until(counselor, "ack"))["client_id"] == "r1"
    card = await recv_match(visitor, type="resource")
    assert card["sender"] == "counselor" and card["seq"] >= 1
    assert card["snippet"] == {
        "id": "veilig-thuis-nl",
        "title": card["snippet"]["title"],
        "body": card["snippet"]["body"],
        "phone": "0800-2000",
        "url": card["snippet"]["url"],
    }
    assert card["snippet"]["title"] and card["snippet"]["body"]

    for bad in ("no-such-snippet", "x" * 129):
        await send(counselor, {"type": "resource", "session_id": sid, "client_id": "r2", "snippet_id": bad})
        error = await recv_until(counselor, "error")
        assert error["code"] == "bad_request"
    await admin.delete("/api/snippets/kindertelefoon-nl")
    await send(counselor, {"type": "resource", "session_id": sid, "client_id": "r3", "snippet_id": "kindertelefoon-nl"})
    error = await recv_until(counselor, "error")
    assert error["code"] == "bad_request" and "inactive" in error["message"]
    await visitor.close()
    await counselor.close()
