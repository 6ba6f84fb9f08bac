"""Idle-connection benchmark: N visitor sockets that said hello, held open against one server process.

    python bench/bench_idle.py [--connections 10000] [--concurrency 200] [--idle-seconds 6]
                               [--drain-seconds 0] [--servers chat,baseline]

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

The SIGTERM line: every client socket keeps reading until it is closed, and
the line counts the close codes the clients saw (the chat server's is 1012),
the time from the signal to the last close and to the exit, and from the
start of the close phase (the server's ``shutdown.close`` log line, after
the readiness drain of --drain-seconds, which is CHAT_DRAIN_SECONDS: 0 by
default, so both are the same) to the exit; the server's log lines of
handlers cancelled or failed in their cleanup ("Exception in ASGI
application", CancelledError); and, for the chat server, Redis after the
exit: sessions still counted online (``visitor_conns`` or a per-instance
share above 0), queued sessions without a grace timer, the instance's
indexes left behind, and pub/sub channels of the run still subscribed.
"""

from __future__ import annotations

import asyncio
import collections
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


async def _read_until_closed(ws: Any) -> tuple[int | None, float]:
    """Read (and drop) frames until the server closes the socket: its close code, and when (monotonic)."""
    try:
        async for _ in ws:
            pass
    except Exception:
        pass
    return ws.close_code, time.monotonic()


# What a handler cancelled by uvicorn's graceful timeout (or failing in its cleanup) leaves in the log.
CANCELLED_MARKS = ("Exception in ASGI application", "CancelledError")


def redis_after(prefix: str) -> dict[str, int]:
    """What the stopped chat server left in Redis: who still counts as online, and without a grace timer."""
    import redis

    client = redis.Redis.from_url(h.REDIS_URL)
    try:
        online = shares = queued = no_grace = 0
        sids = []
        for key in client.scan_iter(match=f"{prefix}:{{s_*}}:meta", count=1000):
            sids.append(key.decode().split("{", 1)[1].split("}", 1)[0])
        with client.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hgetall(f"{prefix}:{{{sid}}}:meta")
                pipe.zscore(f"{prefix}:timers:grace", sid)
            replies = pipe.execute()
        for meta, grace in zip(replies[::2], replies[1::2], strict=True):
            if int(meta.get(b"visitor_conns", b"0")) > 0:
                online += 1
            if any(k.startswith(b"conns:") for k in meta):
                shares += 1
            if meta.get(b"status") in (b"queued", b"active"):
                queued += 1
                if grace is None:
                    no_grace += 1
        indexes = sum(1 for _ in client.scan_iter(match=f"{prefix}:instance:*", count=1000))
        channels = len(client.pubsub_channels(f"{prefix}:*"))
        return {
            "sessions": len(sids),
            "online": online,
            "shares": shares,
            "waiting": queued,
            "no_grace": no_grace,
            "instance_keys": indexes,
            "channels": channels,
        }
    finally:
        client.close()


def run_one(kind: str, args: Any, data_dir: Path, prefix: str) -> dict[str, Any]:
    env = h.chat_env(data_dir, prefix, hellos_per_minute=1_000_000, drain_seconds=args.drain_seconds)
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
            readers = [asyncio.create_task(_read_until_closed(ws)) for ws in held]
            await asyncio.sleep(0.2)
            lines_before = len(server.lines)
            started = time.monotonic()
            result["exited"] = await asyncio.to_thread(server.stop, args.stop_timeout)
            result["stop_s"] = time.monotonic() - started
            done, pending = await asyncio.wait(readers, timeout=5)
            for task in pending:
                task.cancel()
            closes = [t.result() for t in done]
            result["codes"] = collections.Counter(code for code, _ in closes) + collections.Counter(
                {"still open": len(pending)} if pending else {}
            )
            result["last_close_s"] = max((at for _, at in closes), default=started) - started
            result["close_phase_s"] = None
            for line in server.lines[lines_before:]:
                if '"shutdown.close"' in line or '"shutdown.done"' in line:
                    fields = _json_fields(line)
                    if fields.get("event") == "shutdown.done":
                        result["close_phase_s"] = fields.get("seconds")
                        result["handed_over"] = fields.get("handed_over")
            result["cancelled"] = sum(
                1 for line in server.lines[lines_before:] if any(m in line for m in CANCELLED_MARKS)
            )
            for ws in held:
                ws.transport.abort()
            await asyncio.sleep(0.5)
            return result

        result = asyncio.run(main())
        result["complaints"] = server.complaints()
        if kind == "chat":
            result["redis"] = redis_after(prefix)
        return result
    finally:
        server.stop()


def _json_fields(line: str) -> dict[str, Any]:
    import json

    try:
        entry = json.loads(line)
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}


def _stop_line(r: dict[str, Any]) -> str:
    codes = ", ".join(f"{n} x {code}" for code, n in sorted(r["codes"].items(), key=lambda kv: -kv[1]))
    exit_ = f"exit {r['stop_s']:.1f} s" if r["exited"] else f"no exit within {r['stop_s']:.0f} s: killed"
    phase = f", close phase {r['close_phase_s']:.1f} s (server's own figure)" if r.get("close_phase_s") else ""
    line = (
        f"SIGTERM: clients saw {codes}; last close {r['last_close_s']:.1f} s, {exit_} after the signal{phase}; "
        f"{r['cancelled']} cancelled-handler log lines"
    )
    if "redis" in r:
        x = r["redis"]
        line += (
            f"; Redis after: {x['online']} of {x['sessions']} sessions still online ({x['shares']} with an "
            f"instance share), {x['no_grace']} of {x['waiting']} waiting sessions without a grace timer, "
            f"{x['instance_keys']} instance keys, {x['channels']} channels subscribed"
        )
    return line


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
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=0.0,
        help="CHAT_DRAIN_SECONDS of the chat server (readiness drain before the close phase)",
    )
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="SIGKILL after this long")
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
                f"idle CPU server {r['idle_cpu']:.0f}%, redis {r['idle_redis']:.0f}%"
            )
            print(
                f"[{kind}] while opening: server CPU {r['open_cpu']:.0f}% = {r['open_cpu_us']:.0f} µs per hello; "
                f"{r['hello_commands'].replace('per unit', 'per hello')}; idle: "
                f"{r['idle_commands_per_s']:.1f} Redis commands/s"
            )
            print(f"[{kind}] {_stop_line(r)}")
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
