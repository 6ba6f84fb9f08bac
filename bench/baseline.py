"""The yardstick: a bare ``websockets`` relay server, and the harness that runs it and ``chat serve`` alike.

    python bench/baseline.py [--host 127.0.0.1] [--port 0]

As a script this is the baseline server: one Python process, the default
asyncio event loop (as ``chat serve`` has), ``websockets``' own server with
permessage-deflate off and the same 16 KiB frame limit. It speaks the subset
of the chat protocol the benchmarks use, with the same frame shapes, and keeps
everything in memory: no Redis, no SQL, no parsing beyond ``json.loads``, no
ordering machinery. Whatever the real server costs beyond this is the price
of its guarantees (stored events, fan-out through Redis, rate limits, queue
updates); the benchmarks report the real server beside this one as a ratio.

    /ws/visitor    hello -> session (+ one queue frame); message -> ack, and the
                   event to the visitor and to the counselor; end -> ended
    /ws/counselor  auth (any token) -> welcome + status; status -> status;
                   accept -> assigned (the visitor gets paired) or error/queue_empty;
                   message with session_id -> ack, and the event to both sides

As a module it is the harness shared by the benchmarks: starting either
server as a child process (``ServerUnderTest``), its RSS and CPU time from
/proc, the chat server's environment, counselor accounts, logins, and a few
client helpers. Each benchmark uses a Redis key prefix of its own and deletes
its keys at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import resource
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

# Every process of a benchmark (the bench clients, which hold thousands of sockets, and the bare relay) collects
# garbage as `chat serve` does (chat/cli.py: GC_THRESHOLDS): with CPython's defaults a full collection of a
# client holding 10,000 sockets took 0.5-0.9 s, a dozen times a run, and its lag counted against the server.
gc.freeze()
gc.set_threshold(50_000, 20, 100)

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CHAT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
MAX_FRAME = 16 * 1024


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# The baseline server
# ---------------------------------------------------------------------------------------------


class _Session:
    __slots__ = ("sid", "visitor", "counselor", "seq", "ended")

    def __init__(self, sid: str, visitor: Any) -> None:
        self.sid = sid
        self.visitor = visitor
        self.counselor: Any = None
        self.seq = 0
        self.ended = False


class BaselineRelay:
    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.queue: deque[str] = deque()
        self._ids = itertools.count(1)

    @staticmethod
    async def _send(ws: Any, frame: dict[str, Any]) -> None:
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send(_dumps(frame))

    async def _event(
        self, s: _Session, sender: str, text: str, client_id: str, origin: Any, ack: dict[str, Any]
    ) -> None:
        s.seq += 1
        ack["seq"] = s.seq
        event = {
            "type": "message",
            "session_id": s.sid,
            "seq": s.seq,
            "sender": sender,
            "text": text,
            "ts": f"{time.time():.3f}",
            "client_id": client_id,
        }
        await self._send(origin, ack)
        await self._send(s.visitor, event)
        await self._send(s.counselor, event)

    async def _end(self, s: _Session, reason: str) -> None:
        s.ended = True
        s.seq += 1
        event = {"type": "ended", "session_id": s.sid, "seq": s.seq, "reason": reason}
        await self._send(s.visitor, event)
        await self._send(s.counselor, event)

    async def handler(self, ws: Any) -> None:
        path = ws.request.path.split("?", 1)[0]
        try:
            if path == "/ws/visitor":
                await self.visitor(ws)
            elif path == "/ws/counselor":
                await self.counselor(ws)
            else:
                await ws.close(1008, "unknown path")
        except Exception:  # a client that went away
            pass

    async def visitor(self, ws: Any) -> None:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "hello":
            await ws.close(1008, "no hello")
            return
        sid = f"s_{next(self._ids):x}"
        s = _Session(sid, ws)
        self.sessions[sid] = s
        self.queue.append(sid)
        await self._send(
            ws,
            {
                "type": "session",
                "session_id": sid,
                "token": secrets.token_urlsafe(32),
                "status": "queued",
                "resumed": False,
            },
        )
        await self._send(
            ws, {"type": "queue", "position": len(self.queue), "eta_seconds": None, "nobody_online": False}
        )
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message" and not s.ended:
                    await self._event(
                        s,
                        "visitor",
                        frame["text"],
                        frame["client_id"],
                        ws,
                        {"type": "ack", "client_id": frame["client_id"]},
                    )
                elif kind in ("end", "quick_exit") and not s.ended:
                    await self._end(s, "visitor")
                    await ws.close(1000)
                elif kind == "ping":
                    await self._send(ws, {"type": "pong"})
        finally:
            s.visitor = None
            if s.counselor is None or s.ended:
                self.sessions.pop(sid, None)

    async def counselor(self, ws: Any) -> None:
        auth = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if auth.get("type") != "auth":
            await ws.close(1008, "unauthorized")
            return
        capacity, mine = 3, set[str]()
        await self._send(
            ws, {"type": "welcome", "counselor": {"name": "Bench", "role": "counselor", "username": "bench"}}
        )
        await self._send(ws, {"type": "status", "available": True, "capacity": capacity, "active": 0})
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "status":
                capacity = int(frame.get("capacity", capacity))
                await self._send(ws, {"type": "status", "available": True, "capacity": capacity, "active": len(mine)})
            elif kind == "accept":
                if len(mine) >= capacity:
                    await self._send(ws, {"type": "error", "code": "forbidden", "message": "at capacity"})
                    continue
                s = None
                while self.queue:
                    candidate = self.sessions.get(self.queue.popleft())
                    if candidate is not None and not candidate.ended:
                        s = candidate
                        break
                if s is None:
                    await self._send(ws, {"type": "error", "code": "queue_empty", "message": "nobody is waiting"})
                    continue
                s.counselor = ws
                mine.add(s.sid)
                await self._send(
                    ws,
                    {
                        "type": "assigned",
                        "session_id": s.sid,
                        "audience": "parent",
                        "language": "nl",
                        "topic": None,
                        "urgent": False,
                        "category": None,
                        "waited_seconds": 0,
                        "visitor": "online",
                    },
                )
                await self._send(s.visitor, {"type": "paired", "counselor_name": "Bench"})
            elif kind == "message":
                s = self.sessions.get(frame.get("session_id", ""))
                if s is None or s.counselor is not ws or s.ended:
                    await self._send(ws, {"type": "error", "code": "not_in_session", "message": "not yours"})
                    continue
                await self._event(
                    s,
                    "counselor",
                    frame["text"],
                    frame["client_id"],
                    ws,
                    {"type": "ack", "session_id": s.sid, "client_id": frame["client_id"]},
                )
            elif kind == "end":
                s = self.sessions.get(frame.get("session_id", ""))
                if s is not None and s.counselor is ws and not s.ended:
                    await self._end(s, "counselor")
                    mine.discard(s.sid)
            elif kind == "ping":
                await self._send(ws, {"type": "pong"})


async def serve_baseline(host: str, port: int) -> None:
    from websockets.asyncio.server import serve

    relay = BaselineRelay()
    async with serve(relay.handler, host, port, compression=None, max_size=MAX_FRAME) as server:
        sock = next(iter(server.sockets)).getsockname()
        print(f"baseline: listening on http://{sock[0]}:{sock[1]}", flush=True)
        await asyncio.get_running_loop().create_future()


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------


def raise_nofile(want: int = 1 << 20) -> int:
    """Raise this process's open-file limit as far as allowed (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def chat_env(data_dir: Path, prefix: str, **overrides: Any) -> dict[str, str]:
    """The environment of a ``chat serve`` under benchmark: external Redis, SQLite in ``data_dir``."""
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATA_DIR": str(data_dir),
        "CHAT_DATABASE_URL": f"sqlite:///{data_dir / 'chat.sqlite3'}",
        "CHAT_SECRET_KEY": "bench-secret-" + "x" * 40,
        # The per-session and per-address limits (issue 13) are set for people typing; a bench visitor
        # sends hundreds of messages a second from one address into one session. The limiters still run.
        "CHAT_MESSAGES_PER_SECOND": "100000",
        "CHAT_MESSAGE_BURST": "100000",
        "CHAT_ADDRESS_MESSAGES_PER_SECOND": "1000000",
        "CHAT_ADDRESS_MESSAGE_BURST": "1000000",
        "CHAT_MAX_SESSION_EVENTS": "1000000",
        "CHAT_MAX_SESSION_BYTES": str(1 << 30),
        "CHAT_MAX_SOCKETS_PER_ADDRESS": "100000",
        "CHAT_MAX_CONNECTIONS_PER_ADDRESS": "100000",
        # No readiness drain on SIGTERM: the stop is measured from the 1012s on (bench_idle).
        "CHAT_DRAIN_SECONDS": "0",
    }
    env.update({f"CHAT_{k.upper()}": str(v) for k, v in overrides.items()})
    return env


class ServerUnderTest:
    """``chat serve --port 0`` or ``bench/baseline.py --port 0`` as a child process; ready on "listening on"."""

    def __init__(self, kind: str, env: dict[str, str] | None = None) -> None:
        assert kind in ("chat", "baseline")
        self.kind = kind
        self.env = {**os.environ, **(env or {})}
        if kind == "chat":
            self.cmd = [sys.executable, "-m", "chat", "serve", "--port", "0"]
        else:
            self.cmd = [sys.executable, str(Path(__file__).resolve()), "--port", "0"]
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.port = 0

    def start(self, timeout: float = 60) -> ServerUnderTest:
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.cmd} exited: " + "".join(self.lines))
                continue
            self.lines.append(line)
            if "listening on http://" in line:
                self.port = int(line.strip().rsplit(":", 1)[1])
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise RuntimeError(f"{self.cmd} did not get ready: " + "".join(self.lines))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        return proc_status_kb(self.pid, "VmRSS")

    def hwm_kb(self) -> int:
        return proc_status_kb(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def stop(self, timeout: float = 30) -> bool:
        """SIGTERM, and SIGKILL after ``timeout`` s; True when it exited by itself."""
        if self.proc is None or self.proc.poll() is not None:
            return True
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return False

    def complaints(self) -> list[str]:
        """Log lines at WARNING or worse, to show whether the run was clean."""
        marks = ('"level": "warning"', '"level": "error"', '"level": "critical"', "Traceback")
        return [line.rstrip() for line in self.lines if any(m in line for m in marks)]


def summarize(complaints: list[str]) -> str:
    """ "N lines; the commonest: message (count)" for a server's warnings and errors."""
    import collections

    def message(line: str) -> str:
        with contextlib.suppress(ValueError, AttributeError):
            entry = json.loads(line)
            return f"{entry['level']}: {entry['msg']}"[:160]
        return line[:160]

    counts = collections.Counter(message(line) for line in complaints)
    top = "; ".join(f"{msg} (x{n})" for msg, n in counts.most_common(3))
    return f"{len(complaints)} log lines at warning or worse; commonest: {top}"


def proc_status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds() -> float:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        client.close()


class CpuMeter:
    """CPU use of the server, Redis and this process over a phase, in % of one core."""

    def __init__(self, server: ServerUnderTest | None) -> None:
        self.server = server

    def __enter__(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.s0 = self.server.cpu_seconds() if self.server else 0.0
        self.r0 = redis_cpu_seconds()
        self.c0 = sum(os.times()[:2])
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.t0
        self.server_s = (self.server.cpu_seconds() if self.server else 0.0) - self.s0
        self.server_pct = 100 * self.server_s / wall
        self.redis_pct = 100 * (redis_cpu_seconds() - self.r0) / wall
        self.client_pct = 100 * (sum(os.times()[:2]) - self.c0) / wall

    def __str__(self) -> str:
        return f"CPU server {self.server_pct:.0f}%, redis {self.redis_pct:.0f}%, bench client {self.client_pct:.0f}%"


def redis_commandstats() -> dict[str, int]:
    """Calls per command since Redis started (``INFO commandstats``); commands run inside scripts count too."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        info = client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}
    finally:
        client.close()


class RedisCommands:
    """Redis commands over a phase (``INFO commandstats``). The whole Redis counts, so other clients of the
    same Redis (another test run) add to it: figures from a quiet Redis only."""

    def __enter__(self) -> RedisCommands:
        self.before = redis_commandstats()
        return self

    def __exit__(self, *exc: object) -> None:
        after = redis_commandstats()
        self.delta = {k: v - self.before.get(k, 0) for k, v in after.items() if v - self.before.get(k, 0) > 0}
        self.delta.pop("info", None)

    def per(self, n: int) -> str:
        """Commands per unit (a relayed message, an accept): the total, the script calls, the top commands."""
        if n <= 0:
            return "no units"
        total = sum(self.delta.values())
        scripts = self.delta.get("evalsha", 0) + self.delta.get("eval", 0)
        top = sorted(self.delta.items(), key=lambda kv: -kv[1])[:6]
        listed = ", ".join(f"{k} {v / n:.2f}" for k, v in top)
        return f"Redis commands per unit {total / n:.2f} (scripts {scripts / n:.2f}; {listed})"


def delete_prefix(prefix: str) -> int:
    """Delete every Redis key of this run."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        removed = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += client.delete(*batch)
                batch.clear()
        if batch:
            removed += client.delete(*batch)
        return removed
    finally:
        client.close()


def new_prefix(name: str) -> str:
    return f"bench{name}{secrets.token_hex(3)}"


def prepare_chat_db(data_dir: Path, prefix: str, counselors: int, **overrides: Any) -> list[str]:
    """Migrate the SQLite database and add ``counselors`` accounts; returns their usernames.

    The password hashes use a cheap argon2 cost (hashes carry their own cost), so
    that logging in 200 counselors does not dominate the setup.
    """
    sys.path.insert(0, str(REPO))
    from chat.services import accounts
    from chat.services.auth import Role, configure_hasher
    from chat.settings import Settings
    from chat.store.migrate import upgrade
    from chat.store.sql import make_engine, make_sessionmaker

    env = chat_env(data_dir, prefix, **overrides)
    settings = Settings(**{k[len("CHAT_") :].lower(): v for k, v in env.items()})
    upgrade(settings)
    configure_hasher(time_cost=1, memory_kib=8192, parallelism=1)
    names = [f"{prefix}-{i:04d}" for i in range(counselors)]  # unique per run, also in a reused database

    async def add_all() -> None:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            async with make_sessionmaker(engine)() as db:
                for name in names:
                    await accounts.add(db, name, PASSWORD, Role.COUNSELOR, f"Bench {name[-4:]}")
        finally:
            await engine.dispose()

    asyncio.run(add_all())
    return names


PASSWORD = "correct horse battery staple"


def login(base: str, username: str) -> str:
    request = urllib.request.Request(
        base + "/api/auth/login",
        method="POST",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.loads(response.read())["token"]
        return token


def tokens_for(server: ServerUnderTest, names: list[str]) -> list[str]:
    if server.kind == "baseline":
        return ["baseline" for _ in names]
    return [login(server.http, name) for name in names]


# -- clients ------------------------------------------------------------------------------------


async def connect(url: str, **kwargs: Any) -> Any:
    import websockets

    return await websockets.connect(url, compression=None, open_timeout=60, max_size=None, **kwargs)


async def send(ws: Any, frame: dict[str, Any]) -> None:
    await ws.send(_dumps(frame))


async def recv_type(ws: Any, kind: str, timeout: float = 30.0) -> dict[str, Any]:
    """Frames until one of type ``kind`` (others are dropped); an error frame raises."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(f"waiting for {kind!r}: {frame}")


async def visitor_hello(server: ServerUnderTest, **hello: Any) -> tuple[Any, dict[str, Any]]:
    ws = await connect(server.ws + "/ws/visitor")
    await send(ws, {"type": "hello", "audience": "parent", "language": "nl", **hello})
    return ws, await recv_type(ws, "session")


async def counselor_ready(server: ServerUnderTest, token: str, capacity: int = 10) -> Any:
    """A counselor socket after welcome, set available with ``capacity``."""
    ws = await connect(server.ws + "/ws/counselor")
    await send(ws, {"type": "auth", "token": token})
    await recv_type(ws, "welcome")
    await send(ws, {"type": "status", "available": True, "capacity": capacity})
    while True:
        frame = await recv_type(ws, "status")
        if frame.get("capacity") == capacity:
            return ws


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    """``asyncio.gather`` with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_baseline(args.host, args.port))
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
