"""Scale-out benchmark: `chat serve --workers N` (N processes on one port, one Redis) against one process.

    python bench/bench_workers.py [--workers 2] [--pairs 100] [--windows 4,16] [--seconds 5]
                                  [--servers chat1,chatN,baseline] [--json FILE]

For each server (``chat serve --workers 1``, ``chat serve --workers N`` and the bare websockets
relay of bench/baseline.py, each a child process on loopback against the real Redis) this pairs
--pairs visitors with counselors (bench_relay.py's pairing: capacity 10 each) and lets every
visitor keep W messages in flight for --seconds, once for each W in --windows (the best run
counts; the first second is not counted). A relayed message is what bench_relay.py counts: the
visitor's frame stored, acknowledged, echoed and delivered to the counselor.

Printed for each: the aggregate throughput (message events received by counselors per second),
the CPU of the server (every worker together), Redis and this client, and per relayed message the
server's CPU, **Redis's CPU** (``INFO cpu``: used_cpu_user + used_cpu_sys) and Redis commands
(``INFO commandstats``). Then the ratios: N workers against one, and against the bare relay.

The Redis figures are of the whole Redis: other clients of the same Redis (a test run on a shared
machine) add to them, so take them from a quiet Redis. The clients run in this one process, so on a
small machine the client itself may be what holds the aggregate back: its CPU is printed.
"""

from __future__ import annotations

import argparse
import asyncio
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
import bench_relay as relay  # noqa: E402


class Workers(h.ServerUnderTest):
    """``chat serve --workers N``: the CPU is the supervisor's and every worker's."""

    def __init__(self, workers: int, env: dict[str, str]) -> None:
        super().__init__("chat", env)
        self.cmd = [*self.cmd, "--workers", str(workers)]

    def cpu_seconds(self) -> float:
        total = h.proc_cpu_seconds(self.pid)
        for child in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            try:
                total += h.proc_cpu_seconds(int(child))
            except FileNotFoundError:
                pass  # a worker that just exited
        return total


def run_one(label: str, workers: int, args: argparse.Namespace, names: list[str], data_dir: Path, prefix: str) -> Any:
    env = h.chat_env(data_dir, prefix, hellos_per_minute=1_000_000)
    server: h.ServerUnderTest = h.ServerUnderTest("baseline", env) if workers == 0 else Workers(workers, env)
    server.start(timeout=120)
    try:
        tokens = h.tokens_for(server, names)

        async def go() -> list[dict[str, Any]]:
            p = await relay.pair_up(server, tokens, args.pairs)
            p.start_readers()
            await relay.fixed_rate(p, 200, 1.0)  # warm up
            runs = []
            for window in args.windows:
                await asyncio.sleep(0.5)
                r0 = h.redis_cpu_seconds()
                with h.CpuMeter(server) as cpu, h.RedisCommands() as commands:
                    top = await relay.saturate(p, window, args.seconds)
                redis_s = h.redis_cpu_seconds() - r0
                top.update(
                    window=window,
                    cpu=str(cpu),
                    server_pct=cpu.server_pct,
                    client_pct=cpu.client_pct,
                    server_us=1e6 * cpu.server_s / max(1, top["sent"]),
                    redis_us=1e6 * redis_s / max(1, top["sent"]),
                    redis=commands.per(top["sent"]).replace("per unit", "per message"),
                    redis_per_msg=sum(commands.delta.values()) / max(1, top["sent"]),
                )
                runs.append(top)
            await p.stop()
            return runs

        runs = asyncio.run(go())
        return {"label": label, "workers": workers, "runs": runs, "max": max(runs, key=lambda r: r["per_s"])}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--windows", default="4,16", help="messages in flight per visitor; the best run counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--servers", default="chat1,chatN,baseline")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    args.windows = [int(w) for w in args.windows.split(",")]
    kinds = {"chat1": 1, "chatN": args.workers, "baseline": 0}

    h.raise_nofile()
    prefix = h.new_prefix("workers")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    runs = {
        "chat1": "chat serve --workers 1",
        "chatN": f"chat serve --workers {args.workers}",
        "baseline": "bare relay",
    }
    print(
        f"workers: {args.pairs} pairs; " + ", ".join(runs[k] for k in args.servers.split(",")) + " on one Redis; "
        f"{h.machine()}; load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, Any] = {}
    started = time.monotonic()
    removed = 0
    try:
        names = h.prepare_chat_db(data_dir, prefix, math.ceil(args.pairs / 10))
        for kind in args.servers.split(","):
            label = {"chat1": "chat x1", "chatN": f"chat x{args.workers}", "baseline": "baseline"}[kind]
            # A Redis prefix per run: the chats of the run before (their counselors at capacity) stay out.
            r = results[kind] = run_one(label, kinds[kind], args, names, data_dir, f"{prefix}{kind}")
            removed += h.delete_prefix(f"{prefix}{kind}")
            for run in r["runs"]:
                print(
                    f"[{label}] {run['window']} in flight per visitor: {run['per_s']:.0f} msg/s "
                    f"({run['received']} in {run['elapsed']:.1f} s); {run['cpu']}; per message: server CPU "
                    f"{run['server_us']:.0f} us, Redis CPU {run['redis_us']:.1f} us"
                )
                print(f"[{label}] {run['redis']}")
    finally:
        for kind in kinds:
            removed += h.delete_prefix(f"{prefix}{kind}")
        shutil.rmtree(data_dir, ignore_errors=True)
    best = {k: r["max"] for k, r in results.items()}
    if "chatN" in best and "chat1" in best:
        print(
            f"ratio chat x{args.workers} / chat x1: throughput {best['chatN']['per_s'] / best['chat1']['per_s']:.2f} "
            f"(server CPU per message {best['chatN']['server_us'] / best['chat1']['server_us']:.2f}x)"
        )
    if "baseline" in best:
        for kind in ("chat1", "chatN"):
            if kind in best:
                print(
                    f"ratio {results[kind]['label']} / baseline: throughput "
                    f"{best[kind]['per_s'] / best['baseline']['per_s']:.2f}"
                )
    if "chatN" in best:
        n = best["chatN"]
        # What one Redis core carries at this cost per message (Redis runs commands on one thread).
        per_core = 1e6 / n["redis_us"] if n["redis_us"] > 0 else float("inf")
        print(
            f"Redis: {n['redis_us']:.1f} us CPU and {n['redis_per_msg']:.1f} commands per relayed message "
            f"-> one Redis core carries about {per_core:,.0f} relayed messages/s"
        )
    print(f"({time.monotonic() - started:.0f} s; removed {removed} Redis keys of prefix {prefix})")
    if args.json:
        Path(args.json).write_text(json.dumps({"bench": "workers", "args": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
