"""Skills: a counselor takes only the audiences and languages they chose (or an admin chose for them)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MakeServer, MakeTeam
from tests.helpers import ServerThread, counselor_ws, login, recv_match, recv_until, send, visitor_hello


@pytest.fixture
def server(make_server: MakeServer) -> ServerThread:
    return make_server()


@pytest.fixture
async def team(server: ServerThread, make_team: MakeTeam) -> dict[str, str]:
    return await make_team(server, ("anna", "bo", "ada"))


async def test_skills_route_a_visitor_to_the_counselor_who_takes_that_queue(
    server: ServerThread, team: dict[str, str]
) -> None:
    anna = await counselor_ws(server, team["anna"])
    # Anna takes young people only, in Dutch; she chooses it herself.
    await send(anna, {"type": "status", "available": True, "capacity": 3, "audiences": ["youth"], "languages": ["nl"]})
    status = await recv_match(anna, type="status", audiences=["youth"])
    assert status["languages"] == ["nl"]
    parent, _ = await visitor_hello(server, audience="parent", language="nl", first_message="Mijn dochter...")
    youth, youth_session = await visitor_hello(server, audience="youth", language="nl")
    # The overview says which queues have nobody online who takes them.
    queues = {(q["audience"], q["language"]): q for q in (await recv_match(anna, type="queues", timeout=8))["queues"]}
    while queues[("parent", "nl")]["waiting"] != 1 or queues[("youth", "nl")]["waiting"] != 1:
        frame = await recv_until(anna, "queues", timeout=8)
        queues = {(q["audience"], q["language"]): q for q in frame["queues"]}
    assert queues[("youth", "nl")]["skilled_online"] == 1 and queues[("parent", "nl")]["skilled_online"] == 0

    # The parent waited longer, but Anna gets the young person; asking for parents gives her nobody.
    await send(anna, {"type": "accept"})
    assigned = await recv_until(anna, "assigned")
    assert assigned["session_id"] == youth_session["session_id"]
    await send(anna, {"type": "accept", "audience": "parent"})
    refused = await recv_until(anna, "error")
    assert refused["code"] == "queue_empty"

    # An admin gives Bo the parents' queues; Bo's console hears of it, and Bo takes the parent.
    bo = await counselor_ws(server, team["bo"], capacity=2)
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        admin = {"Authorization": f"Bearer {team['ada']}"}
        changed = await client.patch("/api/admin/counselors/bo", json={"audiences": ["parent"]}, headers=admin)
        assert changed.status_code == 200, changed.text
        assert changed.json()["audiences"] == ["parent"] and changed.json()["languages"] == ["en", "nl"]
        plain = {"Authorization": f"Bearer {team['anna']}"}
        forbidden = await client.patch("/api/admin/counselors/anna", json={"audiences": ["parent"]}, headers=plain)
        assert forbidden.status_code == 403
        wrong = await client.patch("/api/admin/counselors/bo", json={"audiences": []}, headers=admin)
        assert wrong.status_code == 422
    assert (await recv_match(bo, type="status", audiences=["parent"]))["languages"] == ["en", "nl"]
    await send(bo, {"type": "accept"})
    assert (await recv_until(bo, "assigned"))["audience"] == "parent"

    # Skills last: after a new login Anna still takes young people only.
    await anna.close()
    again = await counselor_ws(server, await login(server.http, "anna"))
    assert (await recv_match(again, type="status"))["audiences"] == ["youth"]
    for ws in (again, bo, parent, youth):
        await ws.close()
