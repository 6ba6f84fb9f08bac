"""Counselor accounts through the real CLI and the real HTTP API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chat.settings import Settings
from tests.conftest import REDIS_URL, MakeServer, make_settings
from tests.helpers import ServerThread, connect, recv, send


def run_cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHAT_DATA_DIR": str(settings.data_dir),
        "CHAT_DATABASE_URL": settings.database_url or "",
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": settings.redis_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "chat", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def db_server(make_server: MakeServer, database_url: str) -> ServerThread:
    return make_server(database_url)


async def test_cli_add_login_disable(db_server: ServerThread) -> None:
    settings = db_server.settings
    name = f"sam{os.urandom(3).hex()}"  # the PostgreSQL database is shared by the run
    added = run_cli(
        settings,
        "counselor",
        "add",
        name,
        "--role",
        "supervisor",
        "--display-name",
        "Sam",
        "--password-stdin",
        stdin="een lang wachtwoord\n",
    )
    assert added.returncode == 0, added.stderr
    assert f"counselor {name} added (supervisor)" in added.stdout
    again = run_cli(settings, "counselor", "add", name, "--password-stdin", stdin="een lang wachtwoord\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = run_cli(settings, "counselor", "add", name + "x", "--password-stdin", stdin="kort\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr

    async with httpx.AsyncClient(base_url=db_server.http, timeout=30) as client:
        ok = await client.post("/api/auth/login", json={"username": name.upper(), "password": "een lang wachtwoord"})
        assert ok.status_code == 200
        body = ok.json()
        assert body["counselor"] == {"name": "Sam", "role": "supervisor", "username": name}
        assert body["expires_in"] == settings.token_ttl_seconds
        token = body["token"]
        assert len(token) >= 32
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["role"] == "supervisor"

        # A connected console is cut off when the account is disabled.
        ws = await connect(db_server.ws + "/ws/counselor")
        await send(ws, {"type": "auth", "token": token})
        assert (await recv(ws))["type"] == "welcome"
        disabled = run_cli(settings, "counselor", "disable", name)
        assert disabled.returncode == 0, disabled.stderr
        assert "1 login(s) revoked" in disabled.stdout
        frame = await recv(ws)
        while frame["type"] != "error":
            frame = await recv(ws)
        assert frame["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 1008

        assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        refused = await client.post("/api/auth/login", json={"username": name, "password": "een lang wachtwoord"})
        assert refused.status_code == 401
    missing = run_cli(settings, "counselor", "disable", "nobody-" + name)
    assert missing.returncode == 1 and "no counselor named" in missing.stderr


async def test_login_logout_and_passwd(db_server: ServerThread) -> None:
    settings = db_server.settings
    name = f"kim{os.urandom(3).hex()}"
    assert run_cli(settings, "counselor", "add", name, "--password-stdin", stdin="eerste wachtwoord\n").returncode == 0
    async with httpx.AsyncClient(base_url=db_server.http, timeout=30) as client:
        wrong = await client.post("/api/auth/login", json={"username": name, "password": "fout wachtwoord"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong username or password"}
        unknown = await client.post("/api/auth/login", json={"username": "nobody", "password": "fout wachtwoord"})
        assert unknown.status_code == 401
        token = (await client.post("/api/auth/login", json={"username": name, "password": "eerste wachtwoord"})).json()[
            "token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.post("/api/auth/logout", headers=auth)).status_code == 204
        assert (await client.get("/api/auth/me", headers=auth)).status_code == 401
        assert (await client.post("/api/auth/logout", headers=auth)).status_code == 401

        # passwd applies the same rules as add: a short one is refused and the old password still works.
        for weak in ("kort", " " * 12):
            refused = run_cli(settings, "counselor", "passwd", name, "--password-stdin", stdin=weak + "\n")
            assert refused.returncode == 1 and "password" in refused.stderr
        still = await client.post("/api/auth/login", json={"username": name, "password": "eerste wachtwoord"})
        assert still.status_code == 200
        changed = run_cli(settings, "counselor", "passwd", name, "--password-stdin", stdin="tweede wachtwoord\n")
        assert changed.returncode == 0, changed.stderr
        old = await client.post("/api/auth/login", json={"username": name, "password": "eerste wachtwoord"})
        assert old.status_code == 401
        new = await client.post("/api/auth/login", json={"username": name, "password": "tweede wachtwoord"})
        assert new.status_code == 200


def test_migrate_command(tmp_path: Path, prefix: str, database_url: str) -> None:
    settings = make_settings(tmp_path, prefix, database_url=database_url)
    result = run_cli(settings, "migrate")
    assert result.returncode == 0, result.stderr
    assert "newest schema" in result.stdout
    # Twice is harmless.
    assert run_cli(settings, "migrate").returncode == 0


def test_no_secret_in_sql(tmp_path: Path, prefix: str) -> None:
    """Password hashes are argon2id; no token column exists anywhere in the schema."""
    from chat.store.sql import Base

    columns = {c.name for table in Base.metadata.tables.values() for c in table.columns}
    assert not any("token" in c for c in columns)
    assert "password_hash" in columns
