"""Relay benchmark: visitor -> counselor messages through one server process; throughput and latency.

    python bench/bench_relay.py [--pairs 100] [--rate 1000] [--rate-seconds 15]
                                [--windows 1,4,16] [--max-seconds 6] [--servers chat,baseline]

For each server (``chat serve`` against the real Redis, then bench/baseline.py,
both as a child process on loopback) this pairs --pairs visitors with
counselors (capacity 10 each, so --pairs/10 counselors), then:

1. fixed rate: the visitors together send --rate messages/s, spread evenly
   (open loop: each message has a scheduled time, and its latency counts from
   that time, so a client or server that falls behind is not hidden), for
   --rate-seconds; latency = scheduled send -> the counselor's socket has the
   message event. Reports p50/p90/p99/p99.9/max.
2. maximum: every visitor keeps W messages in flight (the next goes when the
   counselor has received one) for --max-seconds, once for each W in --windows;
   throughput = message events received by counselors per second (the first
   second is not counted); the best run is the maximum.

One relayed message here is: the visitor's frame, the event stored (Redis
stream) and acknowledged to the visitor, delivered to the counselor and echoed
to the visitor (both sides receive every event). The clients run in this
process (asyncio, one event loop); CPU use of the server, Redis and the client
is printed for each phase, so it shows who the bottleneck was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as h  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

TEXT = "Hoi, ik wil graag even met iemand praten over iets wat thuis gebeurt. Mag dat hier?"


class Pairs:
    """K visitor sockets, each paired with a counselor socket, and the readers that time the messages."""

    def __init__(self, visitors: list[Any], counselors: list[Any]) -> None:
        self.visitors = visitors
        self.counselors = counselors
        self.latencies_ns: list[int] = []
        self.received = 0
        self.windows: list[asyncio.Semaphore] | None = None
        self.recording = False
        self.phase = 0
        self.readers: list[asyncio.Task[None]] = []

    def start_readers(self) -> None:
        self.readers = [asyncio.create_task(self._drain(v)) for v in self.visitors]
        self.readers += [asyncio.create_task(self._counselor(c)) for c in self.counselors]

    async def _drain(self, ws: Any) -> None:
        # acks and echoes: read (so TCP never pushes back) and dropped
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass

    async def _counselor(self, ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._count(ws)

    async def _count(self, ws: Any) -> None:
        async for raw in ws:
            now = time.monotonic_ns()
            frame = json.loads(raw)
            if frame.get("type") != "message" or frame.get("sender") != "visitor":
                continue
            cid = frame.get("client_id") or ""
            if not cid.startswith("b:"):
                continue
            _, phase, idx, _n, sent = cid.split(":")
            if self.windows is not None and int(phase) == self.phase:
                self.windows[int(idx)].release()
            if self.recording and int(phase) == self.phase:
                self.received += 1
                self.latencies_ns.append(now - int(sent))

    def reset(self) -> None:
        self.latencies_ns = []
        self.received = 0
        self.phase += 1

    async def settle(self, sent: int, timeout: float) -> bool:
        """Wait until this phase's ``sent`` messages all arrived (or ``timeout``); True when they did."""
        deadline = time.monotonic() + timeout
        while self.received < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.received >= sent

    async def stop(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.visitors + self.counselors), return_exceptions=True)


async def pair_up(server: h.ServerUnderTest, tokens: list[str], pairs: int) -> Pairs:
    counselors = [await h.counselor_ready(server, token, capacity=10) for token in tokens]
    opened = await h.gather_limited([h.visitor_hello(server) for _ in range(pairs)], 50)
    visitors = [ws for ws, _ in opened]
    assigned = 0
    for c in counselors:
        for _ in range(min(10, pairs - assigned)):
            await h.send(c, {"type": "accept"})
            await h.recv_type(c, "assigned")
            assigned += 1
    for v in visitors:
        await h.recv_type(v, "paired")
    return Pairs(visitors, counselors)


def _latency_line(lat_ns: list[int]) -> dict[str, float]:
    ms = sorted(x / 1e6 for x in lat_ns)
    return {p: h.percentile(ms, q) for p, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))} | {
        "max": ms[-1] if ms else float("nan")
    }


async def fixed_rate(p: Pairs, rate: float, seconds: float) -> dict[str, Any]:
    k = len(p.visitors)
    interval = k / rate  # each visitor's own interval
    p.reset()
    p.windows = None
    p.recording = True
    t0 = time.monotonic_ns() + 50_000_000
    end = t0 + int(seconds * 1e9)
    sent = [0]
    lag_ns: list[int] = []

    async def one(i: int) -> None:
        ws = p.visitors[i]
        n = 0
        while True:
            scheduled = t0 + int((i / rate + n * interval) * 1e9)
            if scheduled >= end:
                return
            delay = (scheduled - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            lag_ns.append(time.monotonic_ns() - scheduled)
            await h.send(ws, {"type": "message", "client_id": f"b:{p.phase}:{i}:{n}:{scheduled}", "text": TEXT})
            sent[0] += 1
            n += 1

    await asyncio.gather(*(one(i) for i in range(k)))
    # the stragglers
    await p.settle(sent[0], 60)
    p.recording = False
    lag = sorted(x / 1e6 for x in lag_ns)
    return {
        "sent": sent[0],
        "received": p.received,
        "elapsed": seconds,
        "latency": _latency_line(p.latencies_ns),
        "send_lag_p99": h.percentile(lag, 99),
    }


async def saturate(p: Pairs, window: int, seconds: float, skip: float = 1.0) -> dict[str, Any]:
    k = len(p.visitors)
    p.reset()
    phase = p.phase
    p.windows = [asyncio.Semaphore(window) for _ in range(k)]
    stop = asyncio.Event()
    sent = [0]

    async def one(i: int) -> None:
        ws, gate, n = p.visitors[i], p.windows[i], 0  # type: ignore[index]
        while not stop.is_set():
            await gate.acquire()
            if stop.is_set():
                return
            await h.send(ws, {"type": "message", "client_id": f"b:{phase}:{i}:{n}:{time.monotonic_ns()}", "text": TEXT})
            sent[0] += 1
            n += 1

    tasks = [asyncio.create_task(one(i)) for i in range(k)]
    p.recording = True
    await asyncio.sleep(skip)
    base = p.received
    p.latencies_ns = []  # steady state only
    started = time.monotonic()
    await asyncio.sleep(seconds - skip)
    elapsed = time.monotonic() - started
    received = p.received - base
    steady = p.latencies_ns
    stop.set()
    for gate in p.windows:
        for _ in range(window):
            gate.release()
    await asyncio.gather(*tasks)
    await p.settle(sent[0], 60)  # what is in flight arrives before the next phase
    p.recording = False
    p.windows = None
    return {
        "sent": sent[0],
        "received": received,
        "elapsed": elapsed,
        "per_s": received / elapsed,
        "latency": _latency_line(steady),
    }


def _fmt_lat(lat: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} ms" for k, v in lat.items())


def run_one(kind: str, args: argparse.Namespace, names: list[str], data_dir: Path, prefix: str) -> dict[str, Any]:
    env = h.chat_env(
        data_dir, prefix, messages_per_second=1_000_000, message_burst=1_000_000, hellos_per_minute=1_000_000
    )
    server = h.ServerUnderTest(kind, env).start()
    try:
        tokens = h.tokens_for(server, names)

        async def go() -> dict[str, Any]:
            p = await pair_up(server, tokens, args.pairs)
            p.start_readers()
            await fixed_rate(p, min(args.rate, 200), 2.0)  # warm up
            await asyncio.sleep(0.5)
            with h.CpuMeter(server) as cpu_rate, h.RedisCommands() as commands:
                rated = await fixed_rate(p, args.rate, args.rate_seconds)
            rated["cpu"] = str(cpu_rate)
            rated["server_cpu_us_per_msg"] = 1e6 * cpu_rate.server_s / max(1, rated["received"])
            rated["server_pct"] = cpu_rate.server_pct
            rated["redis"] = commands.per(rated["received"]).replace("per unit", "per message")
            rated["redis_commands"] = {k: v / max(1, rated["received"]) for k, v in commands.delta.items()}
            tops = []
            for window in args.windows:
                await asyncio.sleep(0.5)
                try:
                    with h.CpuMeter(server) as cpu_max:
                        top = await saturate(p, window, args.max_seconds)
                except ConnectionClosed as exc:
                    # The server closed sockets under the load (1013: a Redis command or a pooled connection
                    # waited past its timeout). Said as such, with the figures measured so far, not a traceback.
                    tops.append({"window": window, "per_s": 0.0, "failed": f"server closed a socket: {exc}"})
                    break
                top["cpu"] = str(cpu_max)
                top["server_cpu_us_per_msg"] = 1e6 * cpu_max.server_s / max(1, top["sent"])
                top["window"] = window
                tops.append(top)
            await p.stop()
            return {"rate": rated, "tops": tops, "max": max(tops, key=lambda t: t["per_s"])}

        result = asyncio.run(go())
        result["complaints"] = server.complaints()
        return result
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s, all visitors together")
    parser.add_argument("--rate-seconds", type=float, default=15.0)
    parser.add_argument(
        "--windows", default="1,4,16", help="messages in flight per visitor in the maximum runs; the best run counts"
    )
    parser.add_argument("--max-seconds", type=float, default=6.0, help="per maximum run")
    parser.add_argument("--servers", default="chat,baseline")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    args.windows = [int(w) for w in args.windows.split(",")]

    h.raise_nofile()
    prefix = h.new_prefix("relay")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    results: dict[str, dict[str, Any]] = {}
    print(f"relay: {args.pairs} pairs on one server process; {h.machine()}; load average {os.getloadavg()[0]:.1f}")
    try:
        names = h.prepare_chat_db(data_dir, prefix, math.ceil(args.pairs / 10))
        for kind in args.servers.split(","):
            r = results[kind] = run_one(kind, args, names, data_dir, prefix)
            rated = r["rate"]
            print(
                f"[{kind}] fixed {args.rate:.0f} msg/s for {args.rate_seconds:.0f} s: "
                f"{rated['received']}/{rated['sent']} received; latency {_fmt_lat(rated['latency'])}; "
                f"client send lag p99 {rated['send_lag_p99']:.1f} ms; {rated['cpu']}; "
                f"server CPU {rated['server_cpu_us_per_msg']:.0f} us per message"
            )
            print(f"[{kind}] {rated['redis']}")
            for top in r["tops"]:
                if "failed" in top:
                    print(f"[{kind}] maximum, {top['window']} in flight per visitor: FAILED, {top['failed']}")
                    continue
                print(
                    f"[{kind}] maximum, {top['window']} in flight per visitor: {top['per_s']:.0f} msg/s "
                    f"({top['received']} in {top['elapsed']:.1f} s); latency {_fmt_lat(top['latency'])}; "
                    f"{top['cpu']}; server CPU {top['server_cpu_us_per_msg']:.0f} us per message"
                )
            if r["complaints"]:
                print(f"[{kind}] server log: {h.summarize(r['complaints'])}")
    finally:
        removed = h.delete_prefix(prefix)
        shutil.rmtree(data_dir, ignore_errors=True)
    if "chat" in results and "baseline" in results:
        c, b = results["chat"], results["baseline"]
        print(
            f"ratio chat/baseline: maximum throughput {c['max']['per_s'] / b['max']['per_s']:.2f}; "
            f"p99 at {args.rate:.0f} msg/s {c['rate']['latency']['p99'] / b['rate']['latency']['p99']:.1f}x; "
            f"server CPU per message at {args.rate:.0f} msg/s "
            f"{c['rate']['server_cpu_us_per_msg'] / b['rate']['server_cpu_us_per_msg']:.1f}x"
        )
    if "chat" in results:
        c = results["chat"]
        print(
            f"bars: 2,000 msg/s per process: {'met' if c['max']['per_s'] >= 2000 else 'MISSED'} "
            f"({c['max']['per_s']:.0f}); p99 < 50 ms at {args.rate:.0f} msg/s: "
            f"{'met' if c['rate']['latency']['p99'] < 50 else 'MISSED'} ({c['rate']['latency']['p99']:.1f} ms)"
        )
    print(f"(removed {removed} Redis keys of prefix {prefix})")
    if args.json:
        Path(args.json).write_text(json.dumps({"bench": "relay", "args": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
