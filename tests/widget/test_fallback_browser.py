"""The widget where websockets are refused or broken, and on a bad network, in a real headless Chromium.

One chat server (on the demo page, its own origin) and one Chromium for the whole module. The websocket is
refused or made to carry nothing with Playwright's ``route_web_socket`` (the browser's side of the network:
the server never sees that socket); the network is made slow and then cut with Chromium's own emulation
(CDP ``Network.emulateNetworkConditions``). Counselors are websocket clients driven by the test.

(The page hidden longer than a chat's grace and shorter than the queue's is
``tests/widget/test_browser.py::test_a_phone_in_the_background_keeps_its_place_in_the_queue``.)
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis as redis_sync

from chat.settings import Settings
from chat.store.migrate import upgrade_async
from tests.browser import LiveServer, open_widget, start_chat
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import add_counselor, counselor_ws, login, recv, recv_until, send

CHROMIUM = os.environ.get("CHAT_TEST_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: fallback browser tests skipped", allow_module_level=True)
try:
    from playwright.async_api import Browser, Page, WebSocketRoute, async_playwright, expect
except ImportError:  # pragma: no cover
    pytest.skip("the playwright package is not installed: fallback browser tests skipped", allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="module")
expect.set_options(timeout=20_000)  # generous: the silent websocket alone is given up after 6 s


@dataclass
class Env:
    settings: Settings
    server: LiveServer
    browser: Browser
    tokens: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        port = self.server.port
        self.server.stop()
        self.server = LiveServer(self.settings, port=port).start()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    prefix = f"t{secrets.token_hex(4)}"
    settings = make_settings(tmp_path_factory.mktemp("fallback"), prefix, stream_heartbeat_seconds=2.0)
    await upgrade_async(settings)
    server = LiveServer(settings).start()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        environment = Env(settings, server, browser)
        for name in ("anna", "bram"):
            await add_counselor(settings, name, display_name=name.capitalize())
            environment.tokens[name] = await login(server.http, name)
        yield environment
        await browser.close()
    environment.server.stop()
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def visitor_transports(env: Env) -> list[str]:
    """How the server's visitor connections came: ``websocket`` or ``sse``."""
    return sorted(c.transport for c in list(env.server.rt.connections) if c.role == "visitor")


async def transports_become(env: Env, expected: list[str]) -> None:
    for _ in range(600):  # up to 30 s: only bounds a failure
        if visitor_transports(env) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"visitor connections {visitor_transports(env)}, not {expected}")


async def counselor_takes(env: Env, name: str) -> tuple[Any, str]:
    ws = await counselor_ws(env.server, env.tokens[name])
    await send(ws, {"type": "accept"})
    assigned = await recv_until(ws, "assigned", timeout=10)
    return ws, str(assigned["session_id"])


async def texts_from(ws: Any, wanted: str, timeout: float = 20) -> list[str]:
    """Every message text the counselor gets until ``wanted`` (and a moment after, to catch a double)."""
    texts: list[str] = []
    async with asyncio.timeout(timeout):
        while wanted not in texts:
            frame = await recv(ws, timeout)
            if frame.get("type") == "message":
                texts.append(frame["text"])
    with_more = True
    while with_more:
        try:
            frame = await recv(ws, 0.5)
        except TimeoutError:
            with_more = False
        else:
            if frame.get("type") == "message":
                texts.append(frame["text"])
    return texts


async def assert_shown_once(page: Page) -> None:
    """Every event on the screen once, in seq order without gaps."""
    frame = page.frame_locator("helpline-chat iframe")
    texts = await frame.locator(".msg .text").all_inner_texts()
    assert len(texts) == len(set(texts)), f"a message shown twice: {texts}"
    seqs = [int(s) for s in await frame.locator("[data-seq]").evaluate_all("(els) => els.map(e => e.dataset.seq)")]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


async def test_websocket_refused_the_visitor_chats_over_the_fallback(env: Env) -> None:
    context = await env.browser.new_context(locale="nl-NL")
    sockets = {"allowed": False, "tried": 0}

    async def gatekeeper(ws: WebSocketRoute) -> None:
        # A school's proxy: the websocket to the chat never gets through, until the visitor is elsewhere.
        sockets["tried"] += 1
        if sockets["allowed"]:
            ws.connect_to_server()
        else:
            await ws.close(code=1011, reason="refused")

    await context.route_web_socket(re.compile(r"/ws/visitor$"), gatekeeper)
    page = await context.new_page()
    try:
        await page.goto(env.server.http + "/")
        frame = await open_widget(page)
        await start_chat(frame, first="Mag ik iets vragen?")
        assert sockets["tried"] >= 1
        await transports_become(env, ["sse"])
        anna, sid = await counselor_takes(env, "anna")
        await expect(frame.locator(".info h2")).to_have_text("Je chat met Anna")
        await send(anna, {"type": "message", "session_id": sid, "client_id": "a-1", "text": "Natuurlijk."})
        await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Natuurlijk."])
        await frame.locator("#msg").fill("Over mijn dochter")
        await frame.locator("#msg").press("Enter")
        assert "Over mijn dochter" in await texts_from(anna, "Over mijn dochter")
        await expect(frame.locator(".msg.from-visitor .state").last).to_have_text("Verstuurd")

        # The server restarts: the stream closes with 1012, the widget resumes over the fallback again; what
        # the visitor wrote meanwhile arrives once, and so does what the counselor wrote.
        await anna.close()
        await asyncio.to_thread(env.restart)
        anna = await counselor_ws(env.server, env.tokens["anna"])
        await recv_until(anna, "assigned", timeout=10)
        await send(anna, {"type": "message", "session_id": sid, "client_id": "a-2", "text": "Ben je er nog?"})
        await frame.locator("#msg").fill("Ja, hier")
        await frame.locator("#msg").press("Enter")
        texts = await texts_from(anna, "Ja, hier")
        assert texts.count("Ja, hier") == 1 and texts.count("Over mijn dochter") <= 1
        await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Natuurlijk.", "Ben je er nog?"])
        await transports_become(env, ["sse"])
        await assert_shown_once(page)

        # Elsewhere, the websocket gets through: on the next change of network the widget moves back to it.
        sockets["allowed"] = True
        chat_frame = next(f for f in page.frames if "/widget/frame.html" in f.url)
        await chat_frame.evaluate("() => dispatchEvent(new Event('online'))")
        await transports_become(env, ["websocket"])
        await send(anna, {"type": "message", "session_id": sid, "client_id": "a-3", "text": "Fijn."})
        await frame.locator("#msg").fill("Over de websocket")
        await frame.locator("#msg").press("Enter")
        assert (await texts_from(anna, "Over de websocket")).count("Over de websocket") == 1
        await expect(frame.locator(".msg.from-counselor .text")).to_have_text(
            ["Natuurlijk.", "Ben je er nog?", "Fijn."]
        )
        await assert_shown_once(page)
        await anna.close()
    finally:
        await context.close()


async def test_a_bad_network_loses_nothing_and_shows_no_double(env: Env) -> None:
    context = await env.browser.new_context(locale="nl-NL")

    async def black_hole(ws: WebSocketRoute) -> None:
        """A websocket that opens and then never carries a frame (a proxy that breaks the upgrade)."""

    await context.route_web_socket(re.compile(r"/ws/visitor$"), black_hole)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")

    async def network(offline: bool = False, latency: float = 0) -> None:
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": offline, "latency": latency, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    try:
        await page.goto(env.server.http + "/")
        frame = await open_widget(page)
        await start_chat(frame)
        await transports_become(env, ["sse"])  # after the silent websocket was given up
        bram, sid = await counselor_takes(env, "bram")
        await expect(frame.locator(".info h2")).to_have_text("Je chat met Bram")

        # Two seconds of latency each way: slow, but everything arrives once and in order.
        await network(latency=2000)
        for text in ("een", "twee", "drie"):
            await frame.locator("#msg").fill(text)
            await frame.locator("#msg").press("Enter")
        await send(bram, {"type": "message", "session_id": sid, "client_id": "b-1", "text": "Ik lees mee."})
        texts = await texts_from(bram, "drie", timeout=30)
        assert [t for t in texts if t in ("een", "twee", "drie")] == ["een", "twee", "drie"]
        await expect(frame.locator(".msg.from-visitor .state")).to_have_text(["Verstuurd"] * 3)
        await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Ik lees mee."])

        # Offline for a while: what the visitor writes waits, what the counselor writes waits; back online,
        # both arrive once.
        await network(offline=True)
        await frame.locator("#msg").fill("zonder netwerk")
        await frame.locator("#msg").press("Enter")
        await expect(frame.locator("#notice")).to_have_text("De verbinding is weg. We proberen het opnieuw…")
        await send(bram, {"type": "message", "session_id": sid, "client_id": "b-2", "text": "Nog daar?"})
        await asyncio.sleep(30)  # 30 s offline (a tunnel, as the issue asks); the widget's reconnects fail meanwhile
        await network()
        texts = await texts_from(bram, "zonder netwerk")
        assert texts.count("zonder netwerk") == 1
        await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Ik lees mee.", "Nog daar?"])
        await expect(frame.locator(".msg.from-visitor .state").last).to_have_text("Verstuurd")
        await assert_shown_once(page)
        await bram.close()
    finally:
        await context.close()
