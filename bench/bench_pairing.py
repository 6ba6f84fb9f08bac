"""Pairing benchmark: a queue of visitors, counselors accepting concurrently; pairings per second.

    python bench/bench_pairing.py [--visitors 2000] [--counselors 200] [--capacity 10] [--servers chat,baseline]

For each server (``chat serve`` against the real Redis, then bench/baseline.py,
both as a child process) this logs in --counselors counselors (--capacity
chats each, 10 by default; when --counselors x --capacity is less than
--visitors, the rest stay queued: the issue's case is 50 counselors, 5,000 queued), queues --visitors visitors
(``hello``, all waiting), and then lets every counselor accept at once, each
sending ``accept`` and waiting for its ``assigned`` before the next, until the
queue is empty. Clients run in this process (asyncio).

Reported: pairings/s (counselor side: ``assigned`` frames received from the
first ``accept`` to the last ``assigned``), the time until every visitor had
its ``paired`` frame, the accept round-trip percentiles, the CPU of the
server, Redis and this client during the accepts, the double assignments (a
session in two ``assigned`` answers, or a visitor told ``paired`` twice: must
be 0), the ``queue`` frames the visitors got meanwhile, and Redis commands per
accept (``INFO commandstats`` of the whole Redis: give the bench a Redis of its
own with ``CHAT_BENCH_REDIS_URL`` for a clean count). ``--profile FILE``
records the chat server with py-spy during the accepts only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as h  # noqa: E402


class Profiler:
    """``py-spy record`` (raw format: one line per distinct stack and its count) on the server while alive."""

    def __init__(self, server: Any, path: str) -> None:
        self.proc = subprocess.Popen(
            ["py-spy", "record", "--nonblocking", "--format", "raw", "-r", "200", "-o", path, "-p", str(server.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # attached before the first accept

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def _own_redis() -> bool:
    """Whether the benchmark's Redis is not the shared one on 6379 (whose commandstats others add to)."""
    return urlsplit(h.REDIS_URL).port not in (None, 6379)


async def _until_quiet(server: Any, limit_s: float = 60.0) -> None:
    """Until the server uses under 10% of a core over half a second (at most ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - before < 0.05:
            return


async def _hello(server: Any, retried: list[int]) -> tuple[Any, dict[str, Any]]:
    """``h.visitor_hello``, tried again (as the widget does) after `unavailable`: on a loaded machine the
    server's Redis calls time out now and then; the retries are counted and printed."""
    for attempt in range(5):
        try:
            return await h.visitor_hello(server)
        except RuntimeError as exc:
            if "unavailable" not in str(exc) or attempt == 4:
                raise
            retried[0] += 1
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


async def _visitor_reader(
    ws: Any, sid: str, paired_at: list[float], paired: dict[str, int], queue_frames: list[int]
) -> None:
    async for raw in ws:
        if '"paired"' in raw and json.loads(raw).get("type") == "paired":
            paired_at.append(time.monotonic())
            paired[sid] = paired.get(sid, 0) + 1
        elif '"queue"' in raw:
            queue_frames[0] += 1


async def _accept_until_empty(
    ws: Any, capacity: int, rtts: list[float], assigned_at: list[float], assigned: list[str]
) -> int:
    got = 0
    while got < capacity:
        sent = time.monotonic()
        await h.send(ws, {"type": "accept"})
        while True:
            frame = json.loads(await ws.recv())
            kind = frame.get("type")
            if kind == "assigned":
                now = time.monotonic()
                rtts.append(now - sent)
                assigned_at.append(now)
                assigned.append(str(frame.get("session_id")))
                got += 1
                break
            if kind == "error":
                if frame.get("code") in ("queue_empty", "forbidden"):
                    return got
                raise RuntimeError(f"accept: {frame}")
    return got


def run_one(kind: str, args: argparse.Namespace, names: list[str], data_dir: Path, prefix: str) -> dict[str, Any]:
    env = h.chat_env(
        data_dir, prefix, messages_per_second=1_000_000, message_burst=1_000_000, hellos_per_minute=1_000_000
    )
    server = h.ServerUnderTest(kind, env).start()
    try:
        tokens = h.tokens_for(server, names)

        async def go() -> dict[str, Any]:
            counselors = await h.gather_limited(
                [h.counselor_ready(server, t, capacity=args.capacity) for t in tokens], 50
            )
            # queue overviews keep coming while visitors arrive: read them (cancelling recv() is safe)
            drains = [asyncio.create_task(_drain(ws)) for ws in counselors]
            started = time.monotonic()
            retried = [0]
            opened = await h.gather_limited([_hello(server, retried) for _ in range(args.visitors)], 200)
            queued_s = time.monotonic() - started
            visitors = [ws for ws, _ in opened]
            paired_at: list[float] = []
            paired: dict[str, int] = {}
            queue_frames = [0]
            readers = [
                asyncio.create_task(_visitor_reader(ws, str(hello.get("session_id")), paired_at, paired, queue_frames))
                for ws, hello in opened
            ]
            await asyncio.sleep(2.0)  # the queue updates of the last hellos go out first
            # On a busy machine the server is still finishing the last hellos (their subscriptions, first
            # queue frames): wait until it is quiet, so that the accepts' CPU is theirs alone.
            await _until_quiet(server)
            queue_frames[0] = 0
            for task in drains:
                task.cancel()
            await asyncio.gather(*drains, return_exceptions=True)
            rtts: list[float] = []
            assigned_at: list[float] = []
            assigned: list[str] = []
            profiler = Profiler(server, args.profile) if args.profile and kind == "chat" else None
            with h.CpuMeter(server) as cpu, h.RedisCommands() as commands:
                t0 = time.monotonic()
                got = await asyncio.gather(
                    *(_accept_until_empty(ws, args.capacity, rtts, assigned_at, assigned) for ws in counselors)
                )
                t_assigned = max(assigned_at) - t0 if assigned_at else float("nan")
            deadline = time.monotonic() + 60
            while len(paired_at) < sum(got) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            t_paired = (max(paired_at) - t0) if paired_at else float("nan")
            t_end = time.monotonic()
            await asyncio.sleep(0.5)  # a doubled `paired` would come late
            if profiler is not None:
                profiler.stop()
            # A double assignment: a session in two `assigned` answers (two counselors, or one twice), or a
            # visitor told `paired` more than once.
            doubles = (len(assigned) - len(set(assigned))) + sum(n - 1 for n in paired.values() if n > 1)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(*(ws.close() for ws in visitors + counselors), return_exceptions=True)
            ms = sorted(x * 1000 for x in rtts)
            return {
                "queued_s": queued_s,
                "hellos_retried": retried[0],
                "pairings": sum(got),
                "assigned_s": t_assigned,
                "per_s": sum(got) / t_assigned,
                "visitors_paired": len(paired_at),
                "double_assignments": doubles,
                # queue frames to the visitors from the first accept until all were told 'paired', per second
                "queue_frames": queue_frames[0],
                "queue_frames_s": t_end - t0,
                "paired_s": t_paired,
                "rtt": {p: h.percentile(ms, p) for p in (50, 90, 99)},
                "cpu": str(cpu),
                "cpu_us_per_accept": 1e6 * cpu.server_s / max(1, sum(got)),
                "redis": commands.per(sum(got)).replace("per unit", "per accept"),
            }

        result = asyncio.run(go())
        result["complaints"] = server.complaints()
        return result
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--counselors", type=int, default=200)
    parser.add_argument("--capacity", type=int, default=10, help="chats per counselor")
    parser.add_argument("--servers", default="chat,baseline")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy (raw format) on the chat server during the accepts only, into FILE"
    )
    args = parser.parse_args()
    if not 1 <= args.capacity <= 10:
        parser.error("--capacity: 1 to 10 (the protocol's bound)")

    h.raise_nofile()
    prefix = h.new_prefix("pair")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pairing-"))
    print(
        f"pairing: {args.visitors} queued visitors, {args.counselors} counselors accepting at once; "
        f"{h.machine()}; load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        names = h.prepare_chat_db(data_dir, prefix, args.counselors)
        for kind in args.servers.split(","):
            r = results[kind] = run_one(kind, args, names, data_dir, prefix)
            rtt = ", ".join(f"p{k} {v:.0f} ms" for k, v in r["rtt"].items())
            retries = f" ({r['hellos_retried']} hellos tried again after `unavailable`)" if r["hellos_retried"] else ""
            print(
                f"[{kind}] {args.visitors} queued in {r['queued_s']:.1f} s{retries}; {r['pairings']} pairings in "
                f"{r['assigned_s']:.2f} s = {r['per_s']:.0f} pairings/s; all {r['visitors_paired']} visitors "
                f"told 'paired' after {r['paired_s']:.2f} s; accept round trip {rtt}; {r['cpu']}; "
                f"server CPU {r['cpu_us_per_accept']:.0f} µs per accept"
            )
            print(
                f"[{kind}] double assignments: {r['double_assignments']}; queue frames to visitors during the accepts "
                f"and 0.5 s after: {r['queue_frames']} ({r['queue_frames'] / max(1, args.visitors):.1f} per queued "
                f"visitor in {r['queue_frames_s'] + 0.5:.2f} s)"
            )
            print(f"[{kind}] {r['redis']}{'' if _own_redis() else ' (shared Redis: other clients count too)'}")
            if r["complaints"]:
                print(f"[{kind}] server log: {h.summarize(r['complaints'])}")
    finally:
        removed = h.delete_prefix(prefix)
        shutil.rmtree(data_dir, ignore_errors=True)
    if "chat" in results and "baseline" in results:
        print(f"ratio chat/baseline: pairings/s {results['chat']['per_s'] / results['baseline']['per_s']:.2f}")
    if "chat" in results:
        c = results["chat"]
        print(f"bar: 1,500 pairings/s: {'met' if c['per_s'] >= 1500 else 'MISSED'} ({c['per_s']:.0f})")
        print(f"bar: no double assignments: {'met' if c['double_assignments'] == 0 else 'MISSED'}")
    print(f"(removed {removed} Redis keys of prefix {prefix})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
