"""Soak: pairs chatting across three instances while instances and Redis are killed and restarted.

    python bench/soak.py [--pairs 20] [--seconds 120] [--instances 3] [--chaos-every 4] [--seed N]
    python bench/soak.py --quick      # about half a minute; bench/quick.py runs it in CI

It starts a redis-server of its own on a free port (no persistence: a restart comes back empty, as the
embedded Redis does) and ``--instances`` ``chat serve`` processes on it with one SQLite database. Each of
``--pairs`` visitors says hello on a random instance; each of as many counselors (capacity 1, their own
account) logs in on a random instance and accepts whoever waits. Both sides send a message every
``--interval`` seconds. Every few seconds (``--chaos-every`` on average) one thing happens at random:
an instance is SIGKILLed or SIGTERMed and started again, or Redis is stopped and started again, empty.
Clients behave like the widget and the console: on any close they reconnect to a live instance and
resume (visitors with ``last_seq``; counselors get ``assigned`` and the events again), resend what was
not acked with the same ``client_id``, log in again when their token is gone, and start a new chat when
theirs is (``unknown_session``).

After ``--seconds`` the chaos stops, everything is started, the clients finish their resends, and every
acknowledged message is checked on the other side: delivered (at least once), lost (never), doubled (a
seq delivered twice on one visitor's resumed stream or on one counselor connection, or one client_id
stored under two seqs), reordered (a lower seq after a higher one on one stream). Chats that Redis lost
(it restarted empty) are counted apart, as resumed:false sessions, with their messages as "gone with
Redis", not as lost (docs/operations.md, "What is lost with Redis"). Exit status 1 when anything was
lost, doubled or reordered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as h  # noqa: E402

RETRY = 0.2  # a client's pause before it reconnects


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A redis-server of the soak's own, without persistence, stopped and started again at random."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Ledger:
    """What the clients saw, checked at the end."""

    acked: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # (sid, seq): (sender, cid)
    seq_of_cid: dict[tuple[str, str], int] = field(default_factory=dict)
    received: dict[str, dict[str, set[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    assigned: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    doubled: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)
    resumed_false: int = 0
    sessions: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)

    def ack(self, sid: str, seq: int, sender: str, cid: str) -> None:
        known = self.seq_of_cid.get((sid, cid))
        if known is not None and known != seq:
            self.doubled.append(f"{sid} {cid} stored as {known} and {seq}")
        self.seq_of_cid[(sid, cid)] = seq
        self.acked[(sid, seq)] = (sender, cid)

    def stream(self, side: str, sid: str, seen: set[int], top: list[int], seq: int) -> None:
        """One event on one stream (a visitor's session across resumes, or one counselor connection)."""
        if seq in seen:
            self.doubled.append(f"{side} {sid} seq {seq} again")
        elif seq < top[0]:
            self.reordered.append(f"{side} {sid} seq {seq} after {top[0]}")
        seen.add(seq)
        top[0] = max(top[0], seq)
        self.received[side][sid].add(seq)


class Cluster:
    """The Redis and the instances; ``live`` are the instances that answer now."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.redis = OwnRedis(folder)
        self.instances: list[h.ServerUnderTest | None] = [None] * args.instances
        self.env: dict[str, str] = {}
        self.events: Counter[str] = Counter()
        self.started: list[h.ServerUnderTest] = []

    def prepare(self, names_prefix: str) -> list[str]:
        self.redis.start()
        names = h.prepare_chat_db(self.folder, names_prefix, self.args.pairs)
        self.env = h.chat_env(
            self.folder,
            names_prefix,
            redis_url=self.redis.url,
            hellos_per_minute=100_000,
            address_messages_per_second=10_000,
            address_message_burst=10_000,
            drain_seconds=self.args.drain,
        )
        return names

    def start(self, i: int) -> None:
        server = h.ServerUnderTest("chat", self.env)
        self.started.append(server)  # stopped at the end even if its start is still under way then
        self.instances[i] = server.start()

    @property
    def live(self) -> list[h.ServerUnderTest]:
        return [s for s in self.instances if s is not None and s.proc is not None and s.proc.poll() is None]

    async def chaos(self, until: float, rng: random.Random) -> None:
        plan = ["kill", "term", "redis"]
        rng.shuffle(plan)
        restarts: list[asyncio.Task[None]] = []
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * self.args.chaos_every)
            if time.monotonic() >= until:
                break
            # Each kind once first (in a random order), so that even a short run meets all three.
            what = plan.pop() if plan else rng.choices(["kill", "term", "redis"], weights=[2, 2, 1])[0]
            if what == "redis":
                self.events["redis restart"] += 1
                self.redis.stop()
                await asyncio.sleep(rng.uniform(0.2, 1.0))
                await asyncio.to_thread(self.redis.start)
                continue
            live = self.live
            if len(live) < 2:
                plan.append(what)  # one instance always serves; try again at the next event
                continue
            server = rng.choice(live)
            self.events[f"instance {'SIGKILL' if what == 'kill' else 'SIGTERM'}"] += 1
            assert server.proc is not None
            server.proc.send_signal(signal.SIGKILL if what == "kill" else signal.SIGTERM)
            restarts.append(asyncio.create_task(self._restart(self.instances.index(server))))
        await asyncio.gather(*restarts)

    async def _restart(self, i: int) -> None:
        """Wait for instance ``i`` to exit, then start it again (a supervisor would)."""
        server = self.instances[i]
        if server is not None and server.proc is not None:
            await asyncio.to_thread(server.proc.wait, 60)
        await asyncio.to_thread(self.start, i)

    def stop(self) -> None:
        for server in self.started:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.terminate()  # all at once; each drains and closes its sockets
        for server in self.started:
            server.stop(10)
        self.redis.stop()


class Soak:
    def __init__(self, args: argparse.Namespace, cluster: Cluster, names: list[str]) -> None:
        self.args = args
        self.cluster = cluster
        self.names = names
        self.ledger = Ledger()
        self.sending = True  # False once the chaos is over: only resends from then on
        self.stopping = False
        self.outboxes: list[dict[str, Any]] = []
        self.visitor_sids: list[str | None] = [None] * args.pairs
        self.rng = random.Random(args.seed)

    def pick(self) -> h.ServerUnderTest | None:
        live = self.cluster.live
        return self.rng.choice(live) if live else None

    # -- the visitor ------------------------------------------------------------------------------
    async def visitor(self, i: int) -> None:
        L = self.ledger
        token: str | None = None
        sid: str | None = None
        last = [0]
        seen: set[int] = set()
        outbox: dict[str, str] = {}
        self.outboxes.append(outbox)
        n = 0

        def forget() -> None:
            nonlocal token, sid, seen
            if sid is not None:
                L.gone.add(sid)
                L.resumed_false += 1
            token, sid, seen = None, None, set()
            last[0] = 0
            outbox.clear()

        while not self.stopping:
            server = self.pick()
            if server is None:
                await asyncio.sleep(RETRY)
                continue
            try:
                ws = await h.connect(server.ws + "/ws/visitor")
            except Exception:
                await asyncio.sleep(RETRY)
                continue
            sender: asyncio.Task[None] | None = None
            try:
                if token is None:
                    await h.send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
                else:
                    await h.send(ws, {"type": "resume", "token": token, "last_seq": last[0]})
                async for raw in ws:
                    f = json.loads(raw)
                    kind = f.get("type")
                    if kind == "session":
                        if token is not None and f.get("resumed") is False:
                            L.resumed_false += 1  # history lost in part: what is missing is not delivered
                            L.gone.add(f["session_id"])
                        if token is None:
                            L.sessions += 1
                        token, sid = f["token"], f["session_id"]
                        self.visitor_sids[i] = sid
                        for cid, text in list(outbox.items()):
                            await h.send(ws, {"type": "message", "client_id": cid, "text": text})

                        async def send_loop(ws: Any = ws) -> None:
                            nonlocal n
                            while True:
                                await asyncio.sleep(self.args.interval * self.rng.uniform(0.5, 1.5))
                                if not self.sending:
                                    continue
                                n += 1
                                cid = f"v{i}-{n}"
                                outbox[cid] = f"bericht {n}"
                                await h.send(ws, {"type": "message", "client_id": cid, "text": outbox[cid]})

                        sender = asyncio.create_task(send_loop())
                    elif kind in ("message", "resource", "ended") and sid is not None and "seq" in f:
                        L.stream("visitor", sid, seen, last, int(f["seq"]))
                        if kind == "ended":
                            token, sid, seen, last[0] = None, None, set(), 0
                            outbox.clear()
                            break
                    elif kind == "ack" and sid is not None:
                        L.ack(sid, int(f["seq"]), "visitor", f["client_id"])
                        outbox.pop(f["client_id"], None)
                    elif kind == "error":
                        L.errors[f"visitor {f.get('code')}"] += 1
                        if f.get("code") == "unknown_session":
                            forget()
            except ConnectionClosed:
                pass
            except Exception as exc:
                self.ledger.errors[f"visitor {type(exc).__name__}"] += 1
            finally:
                if sender is not None:
                    sender.cancel()
                if ws.close_code is not None:
                    L.closes[ws.close_code] += 1
                with contextlib.suppress(Exception):
                    await ws.close()
            await asyncio.sleep(RETRY * self.rng.uniform(0.5, 1.5))

    # -- the counselor ----------------------------------------------------------------------------
    async def counselor(self, i: int) -> None:
        L = self.ledger
        token: str | None = None
        outbox: dict[str, tuple[str, str]] = {}
        self.outboxes.append(outbox)
        n = 0
        while not self.stopping:
            server = self.pick()
            if server is None:
                await asyncio.sleep(RETRY)
                continue
            if token is None:
                try:
                    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
                        got = await http.post(
                            "/api/auth/login", json={"username": self.names[i], "password": h.PASSWORD}
                        )
                    if got.status_code != 200:
                        L.errors[f"login {got.status_code}"] += 1
                        await asyncio.sleep(RETRY * 2)
                        continue
                    token = got.json()["token"]
                except Exception:
                    await asyncio.sleep(RETRY)
                    continue
            try:
                ws = await h.connect(server.ws + "/ws/counselor")
            except Exception:
                await asyncio.sleep(RETRY)
                continue
            chats: dict[str, tuple[set[int], list[int]]] = {}  # per connection: seen, [top]
            tasks: list[asyncio.Task[None]] = []
            try:
                await h.send(ws, {"type": "auth", "token": token})

                async def work(ws: Any = ws, chats: dict[str, Any] = chats) -> None:
                    nonlocal n
                    await h.send(ws, {"type": "status", "available": True, "capacity": 1})
                    await asyncio.sleep(0.5)  # the assigned chats of a reconnect come first
                    for cid, (sid, text) in list(outbox.items()):
                        if sid in chats:
                            await h.send(ws, {"type": "message", "session_id": sid, "client_id": cid, "text": text})
                        else:
                            outbox.pop(cid, None)
                    while True:
                        if not chats:
                            await h.send(ws, {"type": "accept"})
                        elif self.sending:
                            for sid in list(chats):
                                n += 1
                                cid = f"c{i}-{n}"
                                outbox[cid] = (sid, f"antwoord {n}")
                                await h.send(
                                    ws, {"type": "message", "session_id": sid, "client_id": cid, "text": outbox[cid][1]}
                                )
                        await asyncio.sleep(self.args.interval * self.rng.uniform(0.5, 1.5))

                async for raw in ws:
                    f = json.loads(raw)
                    kind = f.get("type")
                    sid = f.get("session_id")
                    if kind == "welcome":
                        tasks.append(asyncio.create_task(work()))
                    elif kind == "assigned" and sid:
                        if f.get("status") == "ended":
                            continue
                        chats.setdefault(sid, (set(), [0]))
                        L.assigned.add(sid)
                    elif kind in ("message", "resource", "ended") and sid in chats and "seq" in f:
                        seen, top = chats[sid]
                        L.stream("counselor", sid, seen, top, int(f["seq"]))
                        if kind == "ended":
                            del chats[sid]
                            await h.send(ws, {"type": "wrapup", "session_id": sid, "category": "other"})
                    elif kind == "ack" and sid:
                        L.ack(sid, int(f["seq"]), "counselor", f["client_id"])
                        outbox.pop(f["client_id"], None)
                    elif kind == "error":
                        code = f.get("code")
                        L.errors[f"counselor {code}"] += 1
                        if code == "unauthorized":
                            token = None
                        elif code == "unknown_session" and sid:
                            chats.pop(sid, None)
                            L.gone.add(sid)
                        elif code == "not_in_session" and sid:
                            chats.pop(sid, None)
                            if f.get("client_id"):
                                outbox.pop(f["client_id"], None)
            except ConnectionClosed:
                pass
            except Exception as exc:
                self.ledger.errors[f"counselor {type(exc).__name__}"] += 1
            finally:
                for task in tasks:
                    task.cancel()
                if ws.close_code is not None:
                    L.closes[ws.close_code] += 1
                with contextlib.suppress(Exception):
                    await ws.close()
            await asyncio.sleep(RETRY * self.rng.uniform(0.5, 1.5))

    def pending(self) -> int:
        return sum(len(o) for o in self.outboxes)

    def report(self, took: float) -> dict[str, Any]:
        L = self.ledger
        delivered = lost = gone = waiting = 0
        lost_examples: list[str] = []
        for (sid, seq), (sender, _cid) in sorted(L.acked.items()):
            other = "counselor" if sender == "visitor" else "visitor"
            if seq in L.received[other].get(sid, ()):
                delivered += 1
            elif sid in L.gone:
                gone += 1
            elif other == "counselor" and sid not in L.assigned:
                waiting += 1  # still queued at the end: no counselor has seen it yet
            else:
                lost += 1
                lost_examples.append(f"{sid} seq {seq} from {sender}")
        return {
            "seconds": round(took, 1),
            "pairs": self.args.pairs,
            "instances": self.args.instances,
            "chaos": dict(self.cluster.events),
            "sessions": L.sessions,
            "acked": len(L.acked),
            "delivered": delivered,
            "lost": lost,
            "doubled": len(L.doubled),
            "reordered": len(L.reordered),
            "resumed_false_sessions": L.resumed_false,
            "gone_with_redis": gone,
            "still_queued": waiting,
            "unacked_at_end": self.pending(),
            "errors": dict(L.errors),
            "closes": {str(k): v for k, v in sorted(L.closes.items())},
            "examples": (lost_examples + L.doubled + L.reordered)[:10],
        }


async def run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="chat-soak-"))
    cluster = Cluster(args, folder)
    names = await asyncio.to_thread(cluster.prepare, h.new_prefix("soak"))
    soak = Soak(args, cluster, names)
    started = time.monotonic()

    def phase(name: str) -> None:
        if args.verbose:
            print(f"soak: {time.monotonic() - started:5.1f} s {name}", flush=True)

    try:
        await asyncio.gather(*(asyncio.to_thread(cluster.start, i) for i in range(args.instances)))
        clients = [asyncio.create_task(soak.visitor(i)) for i in range(args.pairs)]
        clients += [asyncio.create_task(soak.counselor(i)) for i in range(args.pairs)]
        phase("instances up")
        await cluster.chaos(time.monotonic() + args.seconds, soak.rng)
        phase("chaos over")
        # Settle: everything up, no new messages; the clients resend until acked, and the relay catches up.
        soak.sending = False
        for i, server in enumerate(cluster.instances):
            if server is None or server.proc is None or server.proc.poll() is not None:
                await asyncio.to_thread(cluster.start, i)
        deadline = time.monotonic() + args.settle
        while soak.pending() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        phase("resends done")
        await asyncio.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        soak.stopping = True
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        complaints = [line for s in cluster.live for line in s.complaints() if "Traceback" in line]
    finally:
        await asyncio.to_thread(cluster.stop)
        shutil.rmtree(folder, ignore_errors=True)
        phase("stopped")
    figures = soak.report(time.monotonic() - started)
    figures["tracebacks_in_live_logs"] = len(complaints)
    print(
        f"soak: {figures['pairs']} pairs on {figures['instances']} instances for {args.seconds:g} s, chaos "
        + (", ".join(f"{k} x{v}" for k, v in sorted(figures["chaos"].items())) or "none")
    )
    print(
        f"soak: acked {figures['acked']}, delivered {figures['delivered']}, lost {figures['lost']}, "
        f"doubled {figures['doubled']}, reordered {figures['reordered']}; "
        f"resumed:false sessions {figures['resumed_false_sessions']} "
        f"({figures['gone_with_redis']} acked messages gone with Redis), "
        f"still queued {figures['still_queued']}, unacked at the end {figures['unacked_at_end']}"
    )
    print(f"soak: errors {figures['errors']}; close codes {figures['closes']}")
    if figures["examples"]:
        print("soak: examples: " + "; ".join(figures["examples"]))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if figures["lost"] or figures["doubled"] or figures["reordered"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0, help="how long the chaos lasts")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--chaos-every", type=float, default=4.0, help="mean seconds between two chaos events")
    parser.add_argument("--interval", type=float, default=0.5, help="mean seconds between a client's messages")
    parser.add_argument("--drain", type=float, default=0.5, help="CHAT_DRAIN_SECONDS of the instances")
    parser.add_argument("--settle", type=float, default=20.0, help="at most this long for the resends at the end")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="4 pairs, 10 s of chaos: for CI")
    parser.add_argument("--verbose", action="store_true", help="print when each phase ends")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.seconds, args.chaos_every, args.settle = 4, 10.0, 2.0, 8.0
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print(f"soak: seed {args.seed} (--seed {args.seed} repeats the chaos schedule, not the timing)", flush=True)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
