"""Test helpers: a real uvicorn server on port 0 in a thread, websocket clients, accounts."""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from chat.cli import serve_config
from chat.server.app import create_app
from chat.services import accounts
from chat.services.auth import Role
from chat.settings import Settings
from chat.store.sql import make_engine, make_sessionmaker


class Clock:
    """A clock the test holds and moves (milliseconds, like ``Runtime.clock``); servers may share one."""

    def __init__(self, at: datetime) -> None:
        self.ms = int(at.timestamp() * 1000)

    def set(self, at: datetime) -> None:
        self.ms = int(at.timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)

    def __call__(self) -> int:
        return self.ms


class ServerThread:
    """A real uvicorn server with the production configuration, on a free port, in its own thread and loop."""

    def __init__(self, settings: Settings, redis_url: str, clock: Callable[[], int] | None = None) -> None:
        self.settings = settings
        app = create_app(settings, redis_url, clock=clock)
        self.server = uvicorn.Server(serve_config(settings, app, "127.0.0.1", 0))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self.app = app

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    @property
    def rt(self) -> Any:
        return self.app.state.rt


# How long a wait for a frame may take before the test fails: it only bounds a failure (a passing test never
# waits for it), so it is generous for a machine running the suite in parallel workers beside other work.
FRAME_TIMEOUT = 20.0


async def connect(url: str, **kwargs: Any) -> ClientConnection:
    return await websockets.connect(url, compression=None, open_timeout=30, **kwargs)


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def recv(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    pending: list[dict[str, Any]] | None = getattr(ws, "pending_frames", None)
    if pending:
        return pending.pop(0)
    raw = await asyncio.wait_for(ws.recv(), timeout)
    data: dict[str, Any] = json.loads(raw)
    return data


async def recv_until(
    ws: ClientConnection, kind: str, timeout: float = FRAME_TIMEOUT, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Read frames until one of type ``kind``; the others go into ``seen``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError(f"no {kind!r} frame within {timeout} s; saw {seen}")
        frame = await recv(ws, remaining)
        if frame.get("type") == kind:
            return frame
        if seen is not None:
            seen.append(frame)


async def recv_match(ws: ClientConnection, timeout: float = FRAME_TIMEOUT, **fields: Any) -> dict[str, Any]:
    """Read frames until one whose fields equal ``fields``; the others are skipped."""
    deadline = asyncio.get_running_loop().time() + timeout
    skipped: list[dict[str, Any]] = []
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError(f"no frame matching {fields} within {timeout} s; skipped {skipped}")
        frame = await recv(ws, remaining)
        if all(frame.get(k) == v for k, v in fields.items()):
            return frame
        skipped.append(frame)


def csp_directives(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


# What no file of the widget or the console may use: HTML and code sinks, storage that outlives a tab, imports.
UNSAFE_SINKS = (
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "document.write",
    "eval(",
    "new Function",
    "localStorage",
    "indexedDB",
    "document.cookie",
    "@import",
)


def follow_imports(root: Path, found: set[str]) -> set[str]:
    """``found`` (paths below ``root``) plus every module its .js files import, transitively."""
    todo = [name for name in found if name.endswith(".js")]
    while todo:
        name = todo.pop()
        for target in re.findall(r"from '(\.[^']+)'", (root / name).read_text()):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            if path not in found:
                found.add(path)
                todo.append(path)
    return found


def assert_page_headers(
    response: httpx.Response, port: int, *, default_src: str, frame_ancestors: list[str]
) -> dict[str, list[str]]:
    """The headers of every HTML page we serve: not stored, not sniffed, no referrer, and a strict CSP that
    allows scripts and styles from here only, websockets to this server only, and Trusted Types."""
    assert response.status_code == 200, response.url
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == [default_src]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    host = f"127.0.0.1:{port}"
    assert csp["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]
    assert csp["frame-ancestors"] == frame_ancestors
    assert csp["require-trusted-types-for"] == ["'script'"] and csp["base-uri"] == ["'none'"]
    return csp


async def until_closed(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> list[dict[str, Any]]:
    """Every frame until the server closes the socket."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                frames.append(json.loads(await ws.recv()))
        except websockets.ConnectionClosed:
            pass
    return frames


async def no_frame(ws: ClientConnection, wait: float = 0.3) -> None:
    try:
        frame = await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame {frame}")


async def none_of(ws: ClientConnection, kind: str, wait: float = 0.5, **fields: Any) -> None:
    """Within ``wait`` seconds no frame of type ``kind`` (with those fields) arrives; others are let pass."""
    deadline = asyncio.get_running_loop().time() + wait
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
            raise AssertionError(f"unexpected {kind} frame {frame}")


async def add_counselor(
    settings: Settings,
    username: str,
    password: str = "correct horse battery",
    role: Role = Role.COUNSELOR,
    display_name: str | None = None,
) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            await accounts.add(db, username, password, role, display_name)
    finally:
        await engine.dispose()


async def login(base: str, username: str, password: str = "correct horse battery") -> str:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post("/api/auth/login", json={"username": username, "password": password})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


async def counselor_ws(server: Any, token: str, capacity: int | None = None) -> ClientConnection:
    """A counselor's socket after `welcome`; with ``capacity`` it also sets that capacity (and available)."""
    ws = await connect(server.ws + "/ws/counselor")
    await send(ws, {"type": "auth", "token": token})
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    if capacity is not None:
        await send(ws, {"type": "status", "available": True, "capacity": capacity})
        skipped: list[dict[str, Any]] = []
        while (frame := await recv(ws))["type"] != "status" or frame["capacity"] != capacity:
            skipped.append(frame)
        ws.pending_frames = skipped  # type: ignore[attr-defined]  # recv() hands these out first
    return ws


async def visitor_hello(server: ServerThread, **hello: Any) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(server.ws + "/ws/visitor")
    await send(ws, {"type": "hello", "audience": "parent", "language": "nl", **hello})
    session = await recv(ws)
    assert session["type"] == "session", session
    return ws, session


class ChildProcess:
    """A ``python -m chat ...`` child process; ready when it prints ``ready_prefix``. Output lines are kept."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...], ready_prefix: str) -> None:
        import os
        import sys

        # No readiness drain on SIGTERM unless a test asks for one (tests/server/test_drain.py).
        self.env = {"CHAT_DRAIN_SECONDS": "0", **os.environ, **env}
        self.cmd = [sys.executable, "-m", "chat", *args]
        self.ready_prefix = ready_prefix
        self.proc: Any = None
        self.lines: list[str] = []
        self.ready_line = ""

    def start(self, timeout: float = 60) -> Any:
        import subprocess

        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.cmd} exited: " + "".join(self.lines))
                continue
            self.lines.append(line)
            if line.startswith(self.ready_prefix):
                self.ready_line = line
                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return self
        raise RuntimeError(f"{self.cmd} did not get ready: " + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if sig is None else sig)
            try:
                self.proc.wait(30)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        code: int = self.proc.returncode
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(5)
        self.proc.stdout.close()
        return code


class ServerProcess(ChildProcess):
    """``chat serve --port 0`` as a real child process."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        super().__init__(env, ("serve", "--port", "0", *args), "chat: listening on ")

    def start(self, timeout: float = 60) -> ServerProcess:
        super().start(timeout)
        self.port = int(self.ready_line.rsplit(":", 1)[1])
        return self

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


class ArchiverProcess(ChildProcess):
    """``chat archiver`` as a real child process."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env, ("archiver",), "chat: archiver ready")

    def start(self, timeout: float = 180) -> ArchiverProcess:
        super().start(timeout)
        return self
