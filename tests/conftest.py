"""Fixtures against the real things: Redis on 127.0.0.1:6379, SQLite files, PostgreSQL where it answers."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chat.services.auth import Role, configure_hasher
from chat.settings import Settings
from chat.store.migrate import upgrade
from tests.helpers import ServerThread, add_counselor, login

# Cheap argon2 for the accounts tests create (hashes carry their own cost; production keeps RFC 9106's).
configure_hasher(time_cost=1, memory_kib=8192, parallelism=1)

REDIS_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_BASE = os.environ.get("CHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_UP = _answers("127.0.0.1", 5432)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if not POSTGRES_UP:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432: PostgreSQL tests skipped")
    import asyncpg

    name = f"chat_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_BASE)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = PG_BASE.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both databases: tests that use this run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chat.sqlite3'}"
    db_url: str = request.getfixturevalue("pg_database")
    return db_url


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    value = f"t{secrets.token_hex(4)}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def make_settings(tmp_path: Path, prefix: str, database_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "database_url": database_url or f"sqlite:///{tmp_path / 'chat.sqlite3'}",
        "secret_key": "test-secret-" + "x" * 40,
        "sweep_interval": 0.1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, prefix: str) -> Settings:
    s = make_settings(tmp_path, prefix)
    upgrade(s)
    return s


@pytest.fixture
def server(settings: Settings) -> Iterator[ServerThread]:
    srv = ServerThread(settings, REDIS_URL).start()
    yield srv
    srv.stop()


MakeServer = Callable[..., ServerThread]


@pytest.fixture
def make_server(tmp_path: Path, prefix: str) -> Iterator[MakeServer]:
    """Start real servers (migrated, this test's prefix) with settings overrides; all stopped at the end.

    ``make_server(database_url, **overrides)``: servers made by one test share their settings' files.
    """
    started: list[ServerThread] = []

    def make(database_url: str | None = None, **overrides: Any) -> ServerThread:
        settings = make_settings(tmp_path, prefix, database_url, **overrides)
        upgrade(settings)
        srv = ServerThread(settings, REDIS_URL).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


# The accounts of a team: name and role (display name: the name capitalised; password: add_counselor's).
TEAM = {"anna": Role.COUNSELOR, "bo": Role.COUNSELOR, "sam": Role.SUPERVISOR, "ada": Role.ADMIN}
MakeTeam = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_team() -> MakeTeam:
    """``await make_team(server, names=TEAM)``: those accounts added to the server's database and logged in;
    their tokens by name."""

    async def make(server: ServerThread, names: tuple[str, ...] = tuple(TEAM)) -> dict[str, str]:
        tokens = {}
        for name in names:
            await add_counselor(server.settings, name, role=TEAM[name], display_name=name.capitalize())
            tokens[name] = await login(server.http, name)
        return tokens

    return make


@pytest.fixture
async def aredis() -> AsyncIterator[object]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def deduce_cache() -> Path:
    """One deduce cache for the whole run (building it takes a minute or two; loading it seconds)."""
    path = Path(os.environ.get("CHAT_TEST_DEDUCE_CACHE", ROOT / ".cache" / "deduce"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def redactor(deduce_cache: Path) -> object:
    from chat.redaction import Redactor

    instance = Redactor(deduce_cache)
    instance.warm()
    return instance


@pytest.fixture
async def start_server(tmp_path: Path, prefix: str) -> AsyncIterator[Callable[..., Awaitable[ServerThread]]]:
    """Start real servers with settings overrides, from inside the test's event loop; all stopped at the end."""
    started: list[ServerThread] = []

    async def start(clock: Callable[[], int] | None = None, **overrides: Any) -> ServerThread:
        settings = make_settings(tmp_path, prefix, **overrides)
        await asyncio.to_thread(upgrade, settings)
        srv = await asyncio.to_thread(ServerThread(settings, REDIS_URL, clock=clock).start)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        await asyncio.to_thread(srv.stop)


@pytest.fixture
async def track() -> AsyncIterator[Callable[[Any], Any]]:
    """Register client sockets to close at the end of the test, even when it fails."""
    sockets: list[Any] = []

    def add(ws: Any) -> Any:
        sockets.append(ws)
        return ws

    yield add
    for ws in sockets:
        await ws.close()
