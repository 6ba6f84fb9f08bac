"""Operable: /metrics follows a scripted chat, the archiver trap is closed, and the log is JSON (issue 17)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from chat.archiver import Archiver
from chat.services.auth import Role
from chat.store.migrate import upgrade
from chat.store.sql import make_engine
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import (
    ServerProcess,
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    recv,
    recv_until,
    send,
    visitor_hello,
)

StartServer = Callable[..., Awaitable[ServerThread]]
TOKEN = "metrics-" + "o" * 32

# Every series the alert rules and the dashboard use (deploy/prometheus/alerts.yml, deploy/grafana/).
SERIES = {
    "chat_queue_waiting",
    "chat_queue_longest_wait_seconds",
    "chat_urgent_waiting",
    "chat_urgent_longest_wait_seconds",
    "chat_wait_seconds",
    "chat_sessions",
    "chat_sessions_started",
    "chat_sessions_ended",
    "chat_paired",
    "chat_abandoned",
    "chat_counselors_online",
    "chat_counselor_free_capacity",
    "chat_events_relayed",
    "chat_relay_latency_seconds",
    "chat_connections",
    "chat_rate_limited",
    "chat_blocked_hits",
    "chat_redis_errors",
    "chat_archiver_up",
    "chat_archivers_alive",
    "chat_archiver_last_seen_seconds",
    "chat_archive_lag_seconds",
    "chat_archive_ready",
    "chat_redaction_seconds",
}


class Scrape:
    """One parsed scrape: sample value by (name, labels)."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in self.families.values():
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        out = []
        for (sample, raw), value in self.samples.items():
            lab = dict(raw)
            le = lab.pop("le", None)
            if sample == name + "_bucket" and le is not None and lab == labels:
                out.append((float(le), value))
        return sorted(out)


async def scrape(base: str) -> Scrape:
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


RELAY = "chat_relay_latency_seconds"


def relay_count(s: Scrape, role: str) -> float:
    return s.get(f"{RELAY}_count", role=role, transport="websocket")


async def scrape_until(base: str, ready: Callable[[Scrape], bool], timeout: float = 10.0) -> Scrape:
    """Scrape until ``ready`` holds (a step the server takes just after the client saw its effect)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ready(result := await scrape(base)):
        assert asyncio.get_running_loop().time() < deadline, "the series did not move"
        await asyncio.sleep(0.02)
    return result


def assert_histograms_grew(before: Scrape, after: Scrape) -> None:
    """Histograms are cumulative per scrape and never go down between scrapes."""
    for name, family in after.families.items():
        if family.type != "histogram":
            continue
        for (sample, labels), value in after.samples.items():
            if sample.startswith(name + "_") and not sample.endswith("_created"):
                assert value >= before.samples.get((sample, labels), 0.0), (sample, labels)
        groups: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
        for (sample, labels), value in after.samples.items():
            if sample == name + "_bucket":
                lab = dict(labels)
                le = float(lab.pop("le"))
                groups.setdefault(frozenset(lab.items()), []).append((le, value))
        for group in groups.values():
            counts = [v for _le, v in sorted(group)]
            assert counts == sorted(counts), (name, group)


async def test_metrics_follow_a_scripted_chat(start_server: StartServer, track: Any, redactor: Any) -> None:
    srv = await start_server(metrics_token=TOKEN)
    s0 = await scrape(srv.http)
    assert SERIES <= set(s0.families), SERIES - set(s0.families)
    assert s0.get("chat_archiver_up") == 0 and s0.get("chat_archiver_last_seen_seconds") == -1
    async with httpx.AsyncClient(base_url=srv.http) as client:
        assert (await client.get("/readyz")).json() == {"status": "ready", "archiver": "missing"}

    await add_counselor(srv.settings, "ops-anna", display_name="Anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "ops-anna"), capacity=2))
    visitor, session = await visitor_hello(srv, audience="youth", language="nl", first_message="hallo")
    track(visitor)
    s1 = await scrape(srv.http)
    assert s1.get("chat_queue_waiting", audience="youth", language="nl") == 1
    assert s1.get("chat_sessions", status="queued") == 1
    assert s1.get("chat_sessions_started_total") == s0.get("chat_sessions_started_total") + 1
    assert s1.get("chat_counselors_online") == 1 and s1.get("chat_counselor_free_capacity") == 2
    assert s1.get("chat_connections", role="visitor", transport="websocket") == 1
    assert s1.get("chat_connections", role="counselor", transport="websocket") == 1
    assert s1.get("chat_connections", role="visitor", transport="sse") == 0

    await send(counselor, {"type": "accept"})
    await recv_until(counselor, "assigned")
    await send(counselor, {"type": "message", "session_id": session["session_id"], "text": "hoi", "client_id": "c1"})
    await recv_until(visitor, "message")
    # The relay latency is observed just after the write on the visitor's socket: wait for that step.
    s2 = await scrape_until(srv.http, lambda s: relay_count(s, "visitor") > relay_count(s1, "visitor"))
    live = relay_count(s2, "visitor") - relay_count(s1, "visitor")
    assert live >= 1 and s2.get(f"{RELAY}_sum", role="visitor", transport="websocket") < 60 * live
    assert s2.get(f"{RELAY}_bucket", role="visitor", transport="websocket", le="+Inf") == relay_count(s2, "visitor")
    assert (
        s2.get("chat_wait_seconds_count", outcome="paired") == s1.get("chat_wait_seconds_count", outcome="paired") + 1
    )
    assert s2.get("chat_wait_seconds_bucket", outcome="paired", le="+Inf") == s2.get(
        "chat_wait_seconds_count", outcome="paired"
    )
    assert s2.get("chat_paired_total", audience="youth") == 1
    assert s2.get("chat_sessions", status="queued") == 0 and s2.get("chat_sessions", status="active") == 1
    assert s2.get("chat_counselor_free_capacity") == 1
    assert s2.get("chat_events_relayed_total") > s1.get("chat_events_relayed_total")
    assert_histograms_grew(s1, s2)

    # A second visitor leaves the queue before anyone takes them: an abandonment, in the wait histogram too.
    leaver, _ = await visitor_hello(srv, audience="parent", language="nl")
    track(leaver)
    await send(leaver, {"type": "end"})
    await recv_until(leaver, "ended")
    s3 = await scrape(srv.http)
    assert s3.get("chat_abandoned_total", audience="parent") == 1
    assert (
        s3.get("chat_wait_seconds_count", outcome="abandoned")
        == s2.get("chat_wait_seconds_count", outcome="abandoned") + 1
    )
    assert s3.get("chat_sessions_ended_total", reason="visitor") == 1
    assert s3.get("chat_archive_ready") >= 1
    assert_histograms_grew(s2, s3)

    # An archiver: its heartbeat turns /readyz and chat_archiver_up, and it records its redaction time.
    redis = Redis.from_url(REDIS_URL)
    engine = make_engine(srv.settings.sqlalchemy_url)
    try:
        archiver = Archiver(srv.settings, redis, engine, redactor)
        assert await archiver.run_once() >= 1
    finally:
        await redis.aclose()
        await engine.dispose()
    s4 = await scrape(srv.http)
    assert s4.get("chat_archiver_up") == 1 and s4.get("chat_archivers_alive") == 1
    assert 0 <= s4.get("chat_archiver_last_seen_seconds") < 30
    assert s4.get("chat_redaction_seconds_count") == s3.get("chat_redaction_seconds_count") + 1
    assert s4.get("chat_archive_ready") == s3.get("chat_archive_ready") - 1
    assert_histograms_grew(s3, s4)
    async with httpx.AsyncClient(base_url=srv.http) as client:
        assert (await client.get("/readyz")).json() == {"status": "ready", "archiver": "ok"}
    # No label carries a session id or anything the visitor wrote.
    text = "\n".join(f"{n} {dict(lab)}" for n, lab in s4.samples)
    assert (
        session["session_id"] not in text and "hallo" not in text and "urgent" not in text.replace("chat_urgent_", "")
    )


async def test_chat_serve_logs_json_and_warns_without_an_archiver(tmp_path: Path, prefix: str) -> None:
    """A real `chat serve` on an external Redis: every line JSON, a chat's lifecycle, the archiver warning."""
    settings = make_settings(tmp_path, prefix, metrics_token=TOKEN)
    await asyncio.to_thread(upgrade, settings)
    await add_counselor(settings, "ops-bert", display_name="Bert", role=Role.COUNSELOR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(
        CHAT_DATA_DIR=str(tmp_path),
        CHAT_REDIS_URL=REDIS_URL,
        CHAT_REDIS_PREFIX=prefix,
        CHAT_DATABASE_URL=settings.database_url or "",
        CHAT_SECRET_KEY=settings.secret_key or "",
        CHAT_METRICS_TOKEN=TOKEN,
        CHAT_ARCHIVER_STALE_SECONDS="1",
        CHAT_DRAIN_SECONDS="0",
    )
    server = ServerProcess(env)
    server.env = env
    server.start()
    secret_text = "mijn geheime naam is Fleur"
    try:
        token = await login(server.http, "ops-bert")
        counselor = await counselor_ws(server, token, capacity=2)
        visitor = await connect(server.ws + "/ws/visitor")
        await send(visitor, {"type": "hello", "audience": "youth", "language": "nl", "first_message": secret_text})
        session = await recv(visitor)
        await send(counselor, {"type": "accept"})
        await recv_until(counselor, "assigned")
        await send(visitor, {"type": "end"})
        await recv_until(visitor, "ended")
        await visitor.close()
        await counselor.close()
        # An archiver comes: the server notices it (a heartbeat every loop of the Archiver class).
        redis = Redis.from_url(REDIS_URL)
        engine = make_engine(settings.sqlalchemy_url)
        try:
            archiver = Archiver(settings, redis, engine, None)
            await archiver.heartbeat()
            async with httpx.AsyncClient(base_url=server.http) as client:
                assert (await client.get("/readyz")).json()["archiver"] == "ok"
            for _ in range(100):
                if any('"archiver.seen"' in line for line in server.lines):
                    break
                await archiver.heartbeat()
                await asyncio.sleep(0.1)
        finally:
            await redis.aclose()
            await engine.dispose()
    finally:
        assert server.stop(signal.SIGTERM) == 0
    entries = []
    for line in server.lines:
        if line.startswith("chat: "):
            continue  # the documented plain lines on stdout that scripts read (the port)
        entries.append(json.loads(line))  # everything else is one JSON object a line
    by_event: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        assert {"ts", "level", "logger", "msg"} <= set(entry)
        by_event.setdefault(entry.get("event", ""), []).append(entry)
    startup = by_event["startup"][0]["settings"]
    assert startup["redis"] == "external" and startup["metrics"] is True and startup["secret_key"] == "set"
    assert by_event["archiver.missing"][0]["level"] == "warning"
    assert "archiver.seen" in by_event
    steps = [by_event[step][0] for step in ("session.queued", "session.paired", "session.ended")]
    cids = {step["correlation_id"] for step in steps}
    assert len(cids) == 1 and session["session_id"] not in cids and session["token"] not in cids
    assert by_event["session.ended"][0]["reason"] == "visitor"
    # The JSON log (the plain "listening" line names the server's own bind address, no client's).
    log_text = "".join(line for line in server.lines if not line.startswith("chat: "))
    for forbidden in (secret_text, "Fleur", session["token"], token, "127.0.0.1", TOKEN, settings.secret_key or "-"):
        assert forbidden not in log_text, forbidden
    assert session["session_id"] not in log_text


def test_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (several workers on one port) a scrape of one worker counts all of them."""
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    work = "from chat.services.metrics import Metrics; m = Metrics(); m.relayed.inc(5); "
    work += "m.wait.labels('paired').observe(12)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", work], env=env, check=True, timeout=60)
    show = "from chat.services.metrics import Metrics; print(Metrics().render_process().decode())"
    out = subprocess.run([sys.executable, "-c", show], env=env, check=True, timeout=60, capture_output=True, text=True)
    scraped = Scrape(out.stdout)
    assert scraped.get("chat_events_relayed_total") == 10
    assert scraped.get("chat_wait_seconds_count", outcome="paired") == 2
