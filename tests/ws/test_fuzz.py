"""Property-based fuzz of both websocket endpoints and the fallback's POSTs (hypothesis), real server and Redis.

Every answer must be documented (docs/protocol.md): a known frame type, an error code from the closed set with a
fixed message that repeats nothing that was sent, a close code from the table, never `internal`; and a healthy chat
on the same server keeps working throughout. CHAT_FUZZ_EXAMPLES scales the run (CI: the default).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.protocol import ErrorCode
from chat.settings import Settings
from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ServerThread, add_counselor, connect, login
from tests.ws.test_bad_input import Pair, assert_healthy, healthy_pair

# One worker runs the module (pytest -n ... --dist loadgroup): the last test checks the server the others fuzzed.
pytestmark = pytest.mark.xdist_group("ws-fuzz")

EXAMPLES = int(os.environ.get("CHAT_FUZZ_EXAMPLES", "150"))
SERVER_TYPES = {
    "session", "queue", "paired", "message", "resource", "ended", "handover", "ack", "error", "typing", "pong",
    "presence", "welcome", "queues", "status", "assigned", "risk", "alert", "monitoring", "transferred",
    "wrapup_saved", "blocked", "receipt",
}  # fmt: skip
CODES = {c.value for c in ErrorCode} - {"internal"}
CLOSE_CODES = {1000, 1007, 1008, 1009, 1012, 1013}
_SOURCES = Path(__file__).resolve().parents[2] / "chat"
# Words our own code uses in its messages: a sent string that is one of them is not an echo.
VOCABULARY = {
    w for f in [_SOURCES / "protocol.py", *(_SOURCES / "ws").glob("*.py")] for w in re.findall(r"\w+", f.read_text())
}


class Background:
    """An event loop in a thread of its own, holding the healthy chat across hypothesis examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Pair, Background, str]]:
    import secrets

    tmp = tmp_path_factory.mktemp("fuzz")
    prefix = f"t{secrets.token_hex(4)}"
    s: Settings = make_settings(tmp, prefix, hellos_per_minute=10_000, first_frame_timeout=2.0)
    upgrade(s)
    srv = ServerThread(s, REDIS_URL)
    # No keepalive pings on either side: websockets draws a ping's payload from the `random` module, and a
    # ping that lands while Hypothesis draws an example fails the test ("Do not use the random module inside
    # strategies"; seen on a loaded machine once the module ran past the ping interval).
    srv.server.config.ws_ping_interval = None
    srv.start()
    bg = Background()
    sockets: list[Any] = []

    def track(ws: Any) -> Any:
        sockets.append(ws)
        return ws

    pair: Pair = bg.run(healthy_pair(srv, track))
    bg.run(add_counselor(s, "fuzzer"))
    token: str = bg.run(login(srv.http, "fuzzer"))
    yield srv, pair, bg, token
    for ws in sockets:
        bg.run(ws.close())
    bg.stop()
    srv.stop()
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


nasty_text = st.one_of(
    st.text(max_size=50),
    st.sampled_from(
        [
            "\u202eevil",
            "\u2066x\u2069",
            "\ud800",
            "a\udfffb",
            "\x00",
            "</script><script>",
            "a'" * 50,
            "aaa" + "_" * 60 + "@",
            "{{7*7}}",
            "' OR 1=1 --",
            "\n" * 20,
            "🙂" * 30,
        ]
    ),  # fmt: skip
    st.text(min_size=3990, max_size=4010, alphabet="ab'_@ "),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), nasty_text)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(nasty_text, kids, max_size=3),
                      max_leaves=6)  # fmt: skip
TYPES = ["hello", "resume", "message", "typing", "end", "quick_exit", "ping", "auth", "accept", "resource",
         "wrapup", "status", "transfer", "monitor", "unmonitor"]  # fmt: skip
FIELDS = ["audience", "language", "topic", "first_message", "token", "last_seq", "client_id", "text", "active",
          "session_id", "snippet_id", "category", "risk", "referral", "available", "capacity", "to", "note",
          "abusive"]  # fmt: skip
shaped = st.builds(
    lambda t, fields: {"type": t, **fields},
    st.one_of(st.sampled_from(TYPES), nasty_text),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
)


class Text(str):
    """A drawn frame whose repr is its length and its start: a failing example of six frames up to 20 kB
    each is otherwise a repr past 30 kB, which Hypothesis warns of, and `filterwarnings = error` turns
    that warning into the failure shown instead of the real one."""

    def __repr__(self) -> str:
        return short_repr(str(self))


class Bytes(bytes):
    __doc__ = Text.__doc__

    def __repr__(self) -> str:
        return short_repr(bytes(self))


def short_repr(value: str | bytes, keep: int = 120) -> str:
    if len(value) <= keep:
        return repr(value)
    return f"{value[:keep]!r}…({len(value)} {'chars' if isinstance(value, str) else 'bytes'})"


def _short(frame: tuple[str, str | bytes]) -> tuple[str, str | bytes]:
    kind, payload = frame
    return kind, Text(payload) if isinstance(payload, str) else Bytes(payload)


frames = st.one_of(
    shaped.map(lambda f: ("text", json.dumps(f))),
    values.map(lambda v: ("text", json.dumps(v))),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=64).map(lambda b: ("binary", b)),
    st.just(("text", "{" * 5000)),
    st.just(("text", "x" * 20_000)),  # over the frame limit: 1009
    st.just(("badutf8", b'{"type":"ping","x":"\xff\xfe"}')),  # 1007
).map(_short)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def _exchange(url: str, first: dict[str, Any] | None, batch: list[tuple[str, Any]]) -> None:
    ws = await connect(url, ping_interval=None)
    sent: list[str] = []
    answers: list[dict[str, Any]] = []
    try:
        if first is not None:
            await ws.send(json.dumps(first))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        for kind, payload in batch:
            if kind == "binary":
                await ws.send(payload)
            elif kind == "badutf8":
                await ws.send(payload, text=True)
            else:
                await ws.send(payload)
                try:
                    sent += [s for s in _strings(json.loads(payload)) if len(s) >= 4]
                except ValueError:
                    sent.append(payload) if len(payload) >= 8 else None
        await ws.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(15):
            while True:
                frame = json.loads(await ws.recv())
                answers.append(frame)
                if frame.get("type") == "pong":
                    break
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.close()
    for frame in answers:
        assert isinstance(frame, dict) and frame.get("type") in SERVER_TYPES, frame
        if frame["type"] == "error":
            assert frame["code"] in CODES, frame
            message = frame["message"]
            assert isinstance(message, str) and len(message) < 120, frame
            assert not any(s in message for s in sent if s not in VOCABULARY), (frame, sent)
    # A frame the websocket layer closes on (1007, 1009), followed by more frames, may make the client see the
    # TCP reset before the close frame (1006, a client-side code no server sends).
    closer = any(k == "badutf8" or (k == "text" and len(p) > 16 * 1024) for k, p in batch)
    if ws.close_code is not None and ws.close_code != 1005 and not (closer and ws.close_code == 1006):
        assert ws.close_code in CLOSE_CODES, (ws.close_code, answers)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(batch=st.lists(frames, min_size=1, max_size=6), hello_first=st.booleans())
def test_fuzz_visitor(fuzz_env: tuple[ServerThread, Pair, Background, str], batch: Any, hello_first: bool) -> None:
    srv, _pair, bg, _token = fuzz_env
    hello = {"type": "hello", "audience": "youth", "language": "nl"} if hello_first else None
    bg.run(_exchange(srv.ws + "/ws/visitor", hello, batch))


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(batch=st.lists(frames, min_size=1, max_size=6), auth_first=st.booleans())
def test_fuzz_counselor(fuzz_env: tuple[ServerThread, Pair, Background, str], batch: Any, auth_first: bool) -> None:
    srv, _pair, bg, token = fuzz_env
    bg.run(_exchange(srv.ws + "/ws/counselor", {"type": "auth", "token": token} if auth_first else None, batch))


async def _posts(srv: ServerThread, batch: list[tuple[str, Any]]) -> None:
    """The fallback transport's POSTs (stateless: a fresh session's token for each example)."""
    ws = await connect(srv.ws + "/ws/visitor", ping_interval=None)
    await ws.send(json.dumps({"type": "hello", "audience": "parent", "language": "en"}))
    started = json.loads(await asyncio.wait_for(ws.recv(), 10))
    await ws.close()
    assert started.get("type") == "session", started  # the setup, not the fuzz, went wrong
    token = started["token"]
    async with httpx.AsyncClient(base_url=srv.http, timeout=15) as client:
        for _kind, payload in batch:
            body = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
            r = await client.post("/sse/visitor/send", content=body, headers={"authorization": f"Bearer {token}"})
            assert r.status_code in (200, 401, 413, 429), (r.status_code, r.text)
            answers = r.json()
            assert isinstance(answers, list), answers
            for frame in answers:
                assert isinstance(frame, dict) and frame.get("type") in SERVER_TYPES, frame
                if frame["type"] == "error":
                    assert frame["code"] in CODES and len(frame["message"]) < 120, frame


@settings(max_examples=EXAMPLES // 8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(batch=st.lists(frames, min_size=1, max_size=6))
def test_fuzz_fallback_send(fuzz_env: tuple[ServerThread, Pair, Background, str], batch: Any) -> None:
    srv, _pair, bg, _token = fuzz_env
    bg.run(_posts(srv, batch))


def test_fuzz_left_the_healthy_chat_working(fuzz_env: tuple[ServerThread, Pair, Background, str]) -> None:
    srv, pair, bg, _token = fuzz_env
    bg.run(assert_healthy(pair))
    assert httpx.get(srv.http + "/readyz").status_code == 200
