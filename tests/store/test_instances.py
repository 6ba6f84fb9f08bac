"""Per-instance socket counts and the claim of a dead instance, on the real Redis."""

from __future__ import annotations

from typing import Any

from chat.store.instances import InstanceStore
from chat.store.keys import Keys


async def test_one_taker_and_every_step_idempotent(aredis: Any, prefix: str) -> None:
    keys = Keys(prefix)
    store = InstanceStore(aredis, keys, index_ttl=60)
    sid = "s_test"
    await aredis.hset(keys.session(sid), mapping={"status": "active", "visitor_conns": 0})
    await aredis.expire(keys.session(sid), 60)
    on_a = await store.visitor(sid, "i_a", +1, 1000)
    assert on_a.total == 1
    assert (await store.visitor(sid, "i_b", +1, 1000)).total == 2
    async with aredis.pipeline(transaction=False) as pipe:
        store.index_visitor(pipe, sid, "i_a", on_a)
        await pipe.execute()

    assert await store.beat("i_a", 1000, 60_000) is False  # the first beat: no key before
    assert await store.beat("i_a", 1100, 60_000) is True
    assert not await store.claim("i_a", "i_b", 30_000)  # alive: nobody takes it over
    assert await store.dead(exclude="i_b") == []
    await store.stop("i_a")  # it still holds a socket: it stays registered, for the takeover
    assert await store.dead(exclude="i_b") == [("i_a", 1100)]
    assert await store.held("i_a") == ([sid], [])
    assert await store.claim("i_a", "i_b", 30_000)
    assert not await store.claim("i_a", "i_c", 30_000)  # exactly one taker

    dropped = await store.visitor(sid, "i_a", "drop", 1100)
    assert (dropped.total, dropped.delta, dropped.status) == (1, -1, "active")
    assert (await store.visitor(sid, "i_a", "drop", 1100)).delta == 0  # twice drops nothing
    assert (await store.visitor(sid, "i_a", -1, 1200)).total == 1  # a late close on the dead instance neither
    last = await store.visitor(sid, "i_b", -1, 1300)
    assert (last.total, last.delta) == (0, -1)
    assert await aredis.hget(keys.session(sid), "away_since") == b"1300"

    assert await store.counselor(7, "i_a", +1) == (1, 1)
    assert await store.counselor(7, "i_b", +1) == (2, 1)
    assert await store.counselor(7, "i_a", "drop") == (1, -1)
    assert await store.counselor(7, "i_a", "drop") == (1, 0)
    assert await store.counselor_sockets(7) == 1
    assert (await store.visitor("s_gone", "i_a", +1, 1000)).total == -1  # no such session

    await store.forget("i_a")
    assert await store.dead(exclude="i_b") == []
    await store.beat("i_b", 1400, 60_000)
    assert await store.counselor(7, "i_b", -1) == (0, -1)
    await store.stop("i_b")  # nothing held: a clean stop leaves no trace
    assert await aredis.zscore(keys.instances, "i_b") is None
