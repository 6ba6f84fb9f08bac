"""Idle-connection benchmark: N visitor sockets that said hello, held open against one server process.

    python bench/bench_idle.py [--connections 10000] [--concurrency 200] [--idle-seconds 6]
                               [--servers chat,baseline]

For each server (``chat serve`` against the real Redis, then bench/baseline.py,
both as a child process) this opens --connections visitor websockets from this
process, each sending ``hello`` and waiting for its ``session`` frame (at most
--concurrency handshakes at once; the per-address hello limit is raised with
CHAT_HELLOS_PER_MINUTE, since they all come from 127.0.0.1). Nobody is
online, so every visitor waits in the queue: the state a helpline is in at a
peak. Then it reads the server process's VmRSS (and VmHWM, the peak) from
/proc/<pid>/status, and the CPU the server used while the sockets sat idle.

Reported: RSS with N sockets, RSS per connection (the growth over the RSS
after 10 warm-up connections, divided by N), the hello rate while opening,
the idle CPU (over --idle-seconds, with every socket open), and how long
the server took to exit on SIGTERM with every socket open; and the chat
server's figures as a ratio of the baseline's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as h  # noqa: E402

WARM = 10


async def _open(server: h.ServerUnderTest, n: int, concurrency: int) -> tuple[list[Any], int]:
    sockets: list[Any] = []
    failures = 0
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal failures
        async with gate:
            try:
                ws, _ = await h.visitor_hello(server)
                sockets.append(ws)
            except Exception:
                failures += 1

    await asyncio.gather(*(one() for _ in range(n)))
    return sockets, failures


def run_one(kind: str, args: Any, data_dir: Path, prefix: str) -> dict[str, Any]:
    env = h.chat_env(data_dir, prefix, hellos_per_minute=1_000_000)
    server = h.ServerUnderTest(kind, env).start()
    held: list[Any] = []
    try:

        async def go() -> dict[str, Any]:
            warm, _ = await _open(server, WARM, WARM)
            held.extend(warm)
            await asyncio.sleep(1.0)
            rss0 = server.rss_kb()
            started = time.monotonic()
            with h.RedisCommands() as commands, h.CpuMeter(server) as open_cpu:
                sockets, failures = await _open(server, args.connections, args.concurrency)
            opened = time.monotonic() - started
            held.extend(sockets)
            await asyncio.sleep(args.settle)
            with h.RedisCommands() as idle_commands, h.CpuMeter(server) as idle_cpu:
                await asyncio.sleep(args.idle_seconds)
            alive = sum(1 for ws in held if ws.state.name == "OPEN")
            rss = server.rss_kb()
            return {
                "rss0_kb": rss0,
                "rss_kb": rss,
                "hwm_kb": server.hwm_kb(),
                "opened": len(sockets),
                "failures": failures,
                "open_s": opened,
                "alive": alive,
                "open_cpu": open_cpu.server_pct,
                "open_cpu_us": 1e6 * open_cpu.server_s / max(1, len(sockets)),
                "hello_commands": commands.per(len(sockets)),
                "idle_commands_per_s": sum(idle_commands.delta.values()) / args.idle_seconds,
                "idle_cpu": idle_cpu.server_pct,
                "idle_redis": idle_cpu.redis_pct,
            }

        async def main() -> dict[str, Any]:
            result = await go()
            # Stop the server first (it closes every socket with 1012), then drop the client ends.
            started = time.monotonic()
            result["exited"] = await asyncio.to_thread(server.stop)
            result["stop_s"] = time.monotonic() - started
            for ws in held:
                ws.transport.abort()
            await asyncio.sleep(0.5)
            return result

        result = asyncio.run(main())
        result["complaints"] = server.complaints()
        return result
    finally:
        server.stop()


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight at once")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after the last hello before measuring")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=6.0,
        help="idle CPU is measured over this long (the queue refresh runs every 5 s)",
    )
    parser.add_argument("--servers", default="chat,baseline")
    args = parser.parse_args()

    limit = h.raise_nofile()
    if limit < args.connections + WARM + 100:
        print(f"open-file limit {limit} is too low for {args.connections} sockets", file=sys.stderr)
        return 2
    prefix = h.new_prefix("idle")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    print(
        f"idle: {args.connections} visitor sockets (hello, queued) on one server process; {h.machine()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        h.prepare_chat_db(data_dir, prefix, 0)
        for kind in args.servers.split(","):
            r = results[kind] = run_one(kind, args, data_dir, prefix)
            r["per_conn_kb"] = (r["rss_kb"] - r["rss0_kb"]) / max(1, r["opened"])
            print(
                f"[{kind}] {r['opened']} opened in {r['open_s']:.1f} s ({r['opened'] / r['open_s']:.0f} hellos/s, "
                f"{r['failures']} failed), {r['alive']} still open {args.settle + args.idle_seconds:.0f} s later; "
                f"RSS {r['rss_kb'] / 1024:.0f} MB (peak {r['hwm_kb'] / 1024:.0f} MB, "
                f"{r['rss0_kb'] / 1024:.0f} MB before) = {r['per_conn_kb']:.1f} kB per connection; "
                f"idle CPU server {r['idle_cpu']:.0f}%, redis {r['idle_redis']:.0f}%; "
                + (
                    f"SIGTERM to exit {r['stop_s']:.1f} s"
                    if r["exited"]
                    else f"no exit within {r['stop_s']:.0f} s of SIGTERM: killed"
                )
            )
            print(
                f"[{kind}] while opening: server CPU {r['open_cpu']:.0f}% = {r['open_cpu_us']:.0f} µs per hello; "
                f"{r['hello_commands'].replace('per unit', 'per hello')}; idle: "
                f"{r['idle_commands_per_s']:.1f} Redis commands/s"
            )
            if r["complaints"]:
                print(f"[{kind}] server log: {h.summarize(r['complaints'])}")
    finally:
        removed = h.delete_prefix(prefix)
        shutil.rmtree(data_dir, ignore_errors=True)
    if "chat" in results and "baseline" in results:
        c, b = results["chat"], results["baseline"]
        hello_ratio = (c["opened"] / c["open_s"]) / (b["opened"] / b["open_s"])
        print(
            f"ratio chat/baseline: RSS {c['rss_kb'] / b['rss_kb']:.1f}x, per connection "
            f"{c['per_conn_kb'] / b['per_conn_kb']:.1f}x, hello rate {hello_ratio:.2f}"
        )
    if "chat" in results:
        c = results["chat"]
        print(
            f"bar: {args.connections} idle visitors under 1 GB: "
            f"{'met' if c['rss_kb'] < 1024 * 1024 and c['alive'] >= args.connections else 'MISSED'} "
            f"({c['rss_kb'] / 1024:.0f} MB, {c['alive']} open)"
        )
    print(f"(removed {removed} Redis keys of prefix {prefix})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
