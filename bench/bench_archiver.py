"""Archiver benchmark: ended sessions -> redacted transcripts in SQL; sessions/s, messages redacted/s, memory.

    python bench/bench_archiver.py [--sessions 500] [--messages 10] [--cache-dir .cache/deduce]
                                   [--database-url URL]

1. Through the real server (``chat serve`` as a child process, real Redis,
   CHAT_WRAPUP_WAIT_SECONDS=0 so that an ended chat is ready at once) this
   creates --sessions chats: a visitor says hello, a counselor accepts, they
   exchange --messages messages (alternately; texts from the labelled redaction
   corpus, full of names, numbers and addresses), and the counselor ends it.
2. In a child process of its own (so that its memory is the archiver's alone),
   a ``chat.redaction.Redactor`` is warmed from --cache-dir (building the
   deduce cache there first if it is empty: a minute or two), then
   ``chat.archiver.Archiver.run_once`` archives every ready session: reads
   Redis, redacts every text, writes summary + transcript to SQL (SQLite in a
   temporary folder unless --database-url), deletes the Redis keys.

Reported: sessions/s and messages redacted/s over the whole ``run_once``, the
share of that time spent inside ``Redactor.redact``, the warm-up time, and
the child's peak RSS (``resource.getrusage``). There is no bare-websockets
counterpart to compare with: the figure to hold it against is
bench/bench_redaction.py (redaction alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as h  # noqa: E402

CORPUS = h.REPO / "tests" / "data" / "redaction_corpus.jsonl"


def _texts() -> list[str]:
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


async def _one_chat(
    server: h.ServerUnderTest, counselor: Any, lock: asyncio.Lock, texts: list[str], start: int, messages: int
) -> int:
    async with lock:  # one hello + accept at a time, so that the accept takes this visitor
        visitor, session = await h.visitor_hello(server, topic="zorgen om mijn dochter")
        await h.send(counselor.ws, {"type": "accept"})
        sid = (await counselor.next("assigned"))["session_id"]
    assert sid == session["session_id"]
    for n in range(messages):
        text = texts[(start + n) % len(texts)]
        if n % 2 == 0:
            await h.send(visitor, {"type": "message", "client_id": f"v{n}", "text": text})
            await h.recv_type(visitor, "ack")
        else:
            await h.send(counselor.ws, {"type": "message", "session_id": sid, "client_id": f"k{n}", "text": text})
            await counselor.next("ack", session_id=sid, client_id=f"k{n}")
    await h.send(counselor.ws, {"type": "end", "session_id": sid})
    await h.recv_type(visitor, "ended")
    await visitor.close()
    return messages


class _Counselor:
    """One counselor socket read by one task; callers wait for a frame of a given kind."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            async with self.changed:
                self.frames.append(json.loads(raw))
                del self.frames[:-200]
                self.changed.notify_all()

    async def next(self, kind: str, **fields: Any) -> dict[str, Any]:
        async with self.changed:
            while True:
                for i, frame in enumerate(self.frames):
                    if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                        return self.frames.pop(i)
                await asyncio.wait_for(self.changed.wait(), 30)


def create_sessions(args: argparse.Namespace, data_dir: Path, prefix: str) -> tuple[int, float]:
    overrides: dict[str, Any] = {
        "messages_per_second": 1_000_000,
        "message_burst": 1_000_000,
        "hellos_per_minute": 1_000_000,
        "wrapup_wait_seconds": 0,
    }
    if args.database_url:
        overrides["database_url"] = args.database_url
    names = h.prepare_chat_db(data_dir, prefix, math.ceil(args.sessions / 10), **overrides)
    env = h.chat_env(data_dir, prefix, **overrides)
    server = h.ServerUnderTest("chat", env).start()
    try:
        tokens = h.tokens_for(server, names)
        texts = _texts()

        async def go() -> int:
            counselors = [_Counselor(await h.counselor_ready(server, t, capacity=10)) for t in tokens]
            lock = asyncio.Lock()
            jobs = [
                _one_chat(server, counselors[i % len(counselors)], lock, texts, i * args.messages, args.messages)
                for i in range(args.sessions)
            ]
            done: int = sum(await h.gather_limited(jobs, len(counselors) * 5))
            for c in counselors:
                c.task.cancel()
                await c.ws.close()
            return done

        started = time.monotonic()
        messages = asyncio.run(go())
        return messages, time.monotonic() - started
    finally:
        server.stop()


def _child(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(h.REPO))
    from redis.asyncio import Redis

    from chat.archiver import Archiver
    from chat.redaction import Redactor
    from chat.settings import Settings
    from chat.store.sql import make_engine

    env = json.loads(args.child)
    settings = Settings(**{k[len("CHAT_") :].lower(): v for k, v in env.items()})
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    redactor = Redactor(args.cache_dir)
    started = time.perf_counter()
    redactor.warm()
    warm_s = time.perf_counter() - started
    rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    spent = [0.0, 0]
    inner = redactor.redact

    def timed(text: str) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(text)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += 1

    redactor.redact = timed

    async def go() -> tuple[int, float]:
        redis = Redis.from_url(env["CHAT_REDIS_URL"])
        engine = make_engine(settings.sqlalchemy_url)
        try:
            archiver = Archiver(settings, redis, engine, redactor)
            t0 = time.perf_counter()
            done = 0
            while True:  # run_once stops at the first failure; a benchmark wants to see it
                n = await archiver.run_once()
                done += n
                if n == 0:
                    break
            return done, time.perf_counter() - t0
        finally:
            await redis.aclose()
            await engine.dispose()

    archived, elapsed = asyncio.run(go())
    return {
        "warm_s": warm_s,
        "archived": archived,
        "elapsed": elapsed,
        "redact_s": spent[0],
        "redact_calls": spent[1],
        "rss_start_mb": rss_start,
        "rss_warm_mb": rss_warm,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10, help="messages per session")
    parser.add_argument("--cache-dir", type=Path, default=h.REPO / ".cache" / "deduce")
    parser.add_argument(
        "--database-url", help="an empty database, e.g. postgresql://postgres@127.0.0.1:5432/NAME (default: SQLite)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args)))
        return 0

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if not list(args.cache_dir.glob("deduce-*/cache/lookup_structs.pickle")):
        print(f"note: {args.cache_dir} holds no deduce cache yet: the warm-up below builds it (a minute or two)")
    prefix = h.new_prefix("arch")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-archiver-"))
    print(
        f"archiver: {args.sessions} ended sessions of {args.messages} messages; {h.machine()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    try:
        messages, create_s = create_sessions(args, data_dir, prefix)
        print(f"created {args.sessions} sessions ({messages} messages) through the server in {create_s:.1f} s")
        env = h.chat_env(data_dir, prefix, **({"database_url": args.database_url} if args.database_url else {}))
        done = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(env), "--cache-dir", str(args.cache_dir)],
            capture_output=True,
            text=True,
            cwd=h.REPO,
        )
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            return 1
        r = json.loads(done.stdout.strip().splitlines()[-1])
        failures = [line for line in done.stderr.splitlines() if "failed" in line or "Traceback" in line]
    finally:
        removed = h.delete_prefix(prefix)
        shutil.rmtree(data_dir, ignore_errors=True)
    el = r["elapsed"]
    print(f"redactor warm-up from the cache: {r['warm_s']:.1f} s")
    print(
        f"archived {r['archived']}/{args.sessions} sessions in {el:.2f} s = {r['archived'] / el:.1f} sessions/s, "
        f"{messages / el:.0f} messages redacted/s ({r['redact_calls']} redact() calls, topics included); "
        f"{100 * r['redact_s'] / el:.0f}% of the time inside Redactor.redact"
    )
    print(f"archiver process peak RSS {r['peak_rss_mb']:.0f} MB (after warm-up {r['rss_warm_mb']:.0f} MB)")
    if failures:
        print(f"archiver complaints ({len(failures)}), first: {failures[0][:300]}")
    print(f"(removed {removed} Redis keys of prefix {prefix})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
