"""What the browser tests of the widget and the console share: Chromium, axe-core and a server that can come back.

Imported only by the browser test modules: without Chromium at /usr/bin/chromium (or ``CHAT_TEST_CHROMIUM``)
importing it skips the module that imports it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHAT_TEST_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (CI installs it with apt-get; or set CHAT_TEST_CHROMIUM): browser tests skipped",
        allow_module_level=True,
    )

from playwright.async_api import Browser, FrameLocator, Page, Playwright, expect  # noqa: E402

from chat.settings import Settings  # noqa: E402
from tests.conftest import REDIS_URL  # noqa: E402
from tests.helpers import ServerThread  # noqa: E402

AXE_VERSION = "4.14.1"
# Headless Chromium as every browser test runs it (Debian's build; no sandbox inside a container).
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")


async def launch_chromium(pw: Playwright, *extra_args: str) -> Browser:
    """Debian's Chromium, headless, with CHROMIUM_ARGS and ``extra_args``."""
    return await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


def load_axe() -> tuple[str | None, str]:
    """axe-core's browser build: from CHAT_TEST_AXE_JS, or npm-installed once into a cache folder."""
    override = os.environ.get("CHAT_TEST_AXE_JS")
    if override:
        return Path(override).read_text(), ""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "helpline-chat-tests"
    folder = cache / f"axe-core-{AXE_VERSION}"
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    cache.mkdir(parents=True, exist_ok=True)
    # One npm install at a time: parallel test workers (pytest -n) share the cache folder.
    with (cache / f"axe-core-{AXE_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_axe(folder, script)


def _install_axe(folder: Path, script: Path) -> tuple[str | None, str]:
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed, so axe-core could not be fetched"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), f"axe-core@{AXE_VERSION}"],
                capture_output=True,
                text=True,
                timeout=180,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"npm install axe-core failed: {exc}"
        if done.returncode != 0 or not script.exists():
            return None, f"npm install axe-core failed: {done.stderr.strip()[-500:]}"
    return script.read_text(), ""


async def assert_no_serious_axe_violations(target: Any, axe: str | None, state: str, *, iframes: bool = True) -> None:
    """No axe-core violation of serious or critical impact in ``target`` (a page or a frame) as it is now."""
    if axe is None:
        return
    if not await target.evaluate("() => typeof window.axe === 'object'"):
        await target.evaluate(axe)
    result = await target.evaluate(
        """async (iframes) => {
        const result = await axe.run(document, { iframes });
        const nodes = (v) => v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary);
        const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                                           nodes: nodes(v) }));
        return { passes: result.passes.length, violations };
    }""",
        iframes,
    )
    assert result["passes"] > 10, f"axe-core did not really run on {state!r}"
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core, state {state!r}:\n{json.dumps(bad, indent=1)}"


class LiveServer(ServerThread):
    """tests.helpers.ServerThread that can be started again on the port it had: a server going away and back."""

    def __init__(self, settings: Settings, port: int = 0, clock: Any = None) -> None:
        super().__init__(settings, REDIS_URL, clock=clock)
        if port:
            self.server.config.port = port


# -- the visitor widget, as a visitor uses it -------------------------------------------------


def chat(page: Page) -> FrameLocator:
    return page.frame_locator("helpline-chat iframe")


async def open_widget(page: Page) -> FrameLocator:
    launcher = page.locator("helpline-chat button.launch")
    await expect(launcher).to_be_visible()
    await launcher.click()
    frame = chat(page)
    await expect(frame.locator("#exit")).to_be_visible()
    return frame


async def start_chat(
    frame: FrameLocator, audience: str = "Ik ben ouder", first: str | None = None, topic: str | None = None
) -> None:
    await expect(frame.locator("#status")).not_to_have_text(re.compile("Even kijken"))
    await frame.get_by_label(audience).check()
    if topic:
        await frame.get_by_label("Waar gaat het over?").fill(topic)
    if first:
        await frame.get_by_label("Je eerste bericht").fill(first)
    await frame.get_by_role("button", name="Start de chat").click()
    await expect(frame.locator(".info h2")).to_have_text("Je staat in de wachtrij")
