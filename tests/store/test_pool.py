"""The server's Redis pool serves its waiters first come, first served (chat/store/client.py, issue 11).

redis-py's BlockingConnectionPool left a returned connection free until the waiter it woke ran; the task
that gave it back took it again when it asked at once (a visitor with its next frame read), so under
saturation the pool's waiters waited until the load stopped or the pool's timeout ran out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from chat.store.client import FairConnectionPool, connect
from tests.conftest import REDIS_URL


def _pool(max_connections: int = 1, timeout: float = 5) -> FairConnectionPool:
    client = connect(REDIS_URL, max_connections=max_connections, timeout=timeout)
    pool = client.connection_pool
    assert isinstance(pool, FairConnectionPool)
    return pool


async def _queued(pool: FairConnectionPool, task: asyncio.Task[Any], n: int = 1) -> None:
    """Let ``task`` run until it waits in the pool's queue (``n`` waiters in all)."""
    for _ in range(100):
        if len(pool._waiters) >= n:
            break
        await asyncio.sleep(0)
    assert not task.done()
    assert len(pool._waiters) == n


async def test_a_returned_connection_goes_to_the_waiter_not_to_whoever_asks_next() -> None:
    pool = _pool()
    try:
        first = await pool.get_connection()
        waiter = asyncio.create_task(pool.get_connection())
        await _queued(pool, waiter)

        async def give_back_and_ask_again() -> Any:
            await pool.release(first)
            return await pool.get_connection()  # no yield in between: redis-py's pool gave it back to this task

        again = asyncio.create_task(give_back_and_ask_again())
        got = await waiter  # with redis-py's pool: "No connection available." after the timeout
        assert got is first
        await _queued(pool, again)  # the one who asked later waits its turn ...
        await pool.release(got)
        assert await again is first  # ... and gets it next
        await pool.release(first)
    finally:
        await pool.disconnect()


async def test_waiters_are_served_in_the_order_they_came() -> None:
    pool = _pool()
    try:
        held = await pool.get_connection()
        order: list[int] = []

        async def take(i: int) -> None:
            connection = await pool.get_connection()
            order.append(i)
            await pool.release(connection)

        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(take(i)))
            await _queued(pool, tasks[-1], i + 1)
        await pool.release(held)
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4]
        assert not pool._waiters and not pool._in_use_connections
    finally:
        await pool.disconnect()


async def test_a_waiter_that_gives_up_passes_its_connection_on() -> None:
    pool = _pool()
    try:
        held = await pool.get_connection()
        quitter = asyncio.create_task(pool.get_connection())
        await _queued(pool, quitter)
        patient = asyncio.create_task(pool.get_connection())
        await _queued(pool, patient, 2)
        await pool.release(held)  # handed to the quitter, which is cancelled before it runs
        quitter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await quitter
        assert await patient is held
        await pool.release(held)
        assert not pool._waiters and not pool._in_use_connections
    finally:
        await pool.disconnect()


async def test_a_full_pool_still_answers_no_connection_available_at_its_timeout() -> None:
    pool = _pool(timeout=0.2)
    try:
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await pool.get_connection()
        assert not pool._waiters  # the one that gave up left the queue
        await pool.release(held)
        assert await pool.get_connection() is held
        await pool.release(held)
    finally:
        await pool.disconnect()


async def test_commands_through_the_client_share_the_pool() -> None:
    client = connect(REDIS_URL, max_connections=2, timeout=5)
    try:
        answers = await asyncio.gather(*(client.ping() for _ in range(50)))
        assert all(answers)
        pool = client.connection_pool
        assert isinstance(pool, FairConnectionPool)
        assert len(pool._in_use_connections) == 0 and len(pool._available_connections) <= 2
    finally:
        await client.aclose()
