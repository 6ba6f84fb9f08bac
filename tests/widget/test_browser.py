"""The visitor widget in a real headless Chromium against a real server (issue 5).

The host pages come from a second small HTTP server, the chat from the chat server: two
origins of one site, as a helpline's www.example.org embedding chat.example.org, so the
isolation and the postMessage origin checks are real (and the frame's sessionStorage is
first-party, as it is there). Counselors are websocket clients driven by the test.

Every state is checked with axe-core (installed from npm into a cache folder on first use)
and photographed at desktop size and at 360 px into ``artifacts/widget/`` for a reviewer.
Without Chromium at /usr/bin/chromium (or ``CHAT_TEST_CHROMIUM``) the module is skipped.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import redis as redis_sync
from playwright.async_api import Browser, BrowserContext, Frame, FrameLocator, Page, async_playwright, expect
from sqlalchemy import select

from chat.settings import Settings
from chat.store.migrate import upgrade_async
from chat.store.sql import CounselorRating, Rating, make_engine, make_sessionmaker
from tests.browser import (
    LiveServer,
    assert_no_serious_axe_violations,
    chat,
    launch_chromium,
    load_axe,
    open_widget,
    start_chat,
)
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import Clock, add_counselor, counselor_ws, login, recv, recv_match, recv_until, send, visitor_hello

# One worker runs the whole module (pytest -n ... --dist loadgroup): its server and Chromium start once.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("widget-browser")]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "widget"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
AMS = ZoneInfo("Europe/Amsterdam")
expect.set_options(timeout=10_000)


# -- servers -------------------------------------------------------------------------------------


class HostPages:
    """The host site: a few plain pages on localhost, a different site from the chat server."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def host_page(chat: str, exit_url: str, language: str = "nl") -> str:
    # Host styles that would wreck a widget living in the page's own DOM.
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A plain host page</title><link rel="icon" href="data:,">
<style>
  * {{ font-family: serif !important; font-size: 22px !important; letter-spacing: 2px !important; }}
  button, iframe, div {{ display: none !important; }}
  helpline-chat {{ display: none !important; transform: scale(.2) !important; }}
</style></head>
<body><main><h1>A plain host page</h1><p>Some ordinary text.</p><p><a href="#top">A link</a></p></main>
<script src="{chat}/widget.js" data-language="{language}" data-exit-url="{exit_url}" defer></script>
</body></html>"""


NEUTRAL = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="data:,"></head><body><main><h1>{title}</h1><p>Nothing to see.</p></main></body></html>"""


@dataclass
class Env:
    settings: Settings
    server: LiveServer
    hosts: HostPages
    browser: Browser
    axe: str | None
    axe_problem: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.hosts.origin()

    def restart(self) -> None:
        port = self.server.port
        self.server = LiveServer(self.settings, port=port).start()


# -- axe-core --------------------------------------------------------------------------------------


async def axe_check(env: Env, target: Page | Frame, state: str) -> None:
    """No axe-core violation of serious or critical impact, as it is now."""
    await assert_no_serious_axe_violations(target, env.axe, state, iframes=False)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hosts() -> Iterator[HostPages]:
    pages = HostPages()
    yield pages
    pages.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory, hosts: HostPages) -> AsyncIterator[Env]:
    prefix = f"t{secrets.token_hex(4)}"
    settings = make_settings(tmp_path_factory.mktemp("widget"), prefix, allowed_origins=[hosts.origin()])
    await upgrade_async(settings)
    server = LiveServer(settings).start()
    axe, problem = await asyncio.to_thread(load_axe)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        environment = Env(settings, server, hosts, browser, axe, problem)
        for name in ("anna", "bram", "cato", "dirk", "femke", "gijs"):
            await add_counselor(settings, name, display_name=name.capitalize())
            environment.tokens[name] = await login(server.http, name)
        yield environment
        await browser.close()
    environment.server.stop()
    client = redis_sync.Redis.from_url(REDIS_URL)
    for pattern in (f"{prefix}:*", f"{prefix}c:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    requests: list[str]


@pytest_asyncio.fixture(loop_scope="module")
async def visit(env: Env) -> AsyncIterator[Visit]:
    """A fresh browser context (a new tab, nothing stored) that records every request it makes."""
    context = await env.browser.new_context(viewport=DESKTOP, locale="nl-NL")
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = await context.new_page()
    page.on("websocket", lambda ws: requests.append(ws.url))
    env.hosts.pages.update(
        {
            "/host.html": host_page(env.server.http, env.host + "/weather.html"),
            "/before.html": NEUTRAL.format(title="Before"),
            "/weather.html": NEUTRAL.format(title="Weather"),
        }
    )
    yield Visit(context, page, requests)
    await context.close()


# -- helpers ---------------------------------------------------------------------------------------


def chat_frame(page: Page) -> Frame:
    for frame in page.frames:
        if "/widget/frame.html" in frame.url:
            return frame
    raise AssertionError(f"no chat frame among {[f.url for f in page.frames]}")


async def shoot(env: Env, page: Page, name: str) -> None:
    """Screenshots at desktop size and at 360 px; at 360 px the frame must not scroll sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"))
    await page.set_viewport_size(PHONE)
    try:
        frame = next((f for f in page.frames if "/widget/frame.html" in f.url), None)
        if frame is not None and await frame.evaluate("() => innerWidth > 0"):
            await expect(chat(page).locator("#exit")).to_be_visible()
            overflow = await frame.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{name}: the chat scrolls sideways at 360 px by {overflow} px"
        await page.screenshot(path=str(ARTIFACTS / f"{name}-360.png"))
    finally:
        await page.set_viewport_size(DESKTOP)


def assert_only_own_origins(env: Env, visit: Visit) -> None:
    allowed = {env.server.http, env.host, env.server.ws}
    strays = [
        u
        for u in visit.requests
        if f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" not in allowed and not u.startswith("data:")
    ]
    assert not strays, f"requests left the test's own origins: {strays}"


async def counselor(env: Env, name: str) -> Any:
    ws = await counselor_ws(env.server, env.tokens[name])
    await recv_until(ws, "queues")
    return ws


async def accept(ws: Any) -> str:
    await send(ws, {"type": "accept"})
    assigned = await recv_until(ws, "assigned")
    return str(assigned["session_id"])


async def chat_with(env: Env, visit: Visit, name: str, first: str) -> tuple[FrameLocator, Any, str]:
    """On the host page the visitor opens the widget and starts a chat; counselor ``name`` takes it.

    The chat frame, the counselor's socket and the session id."""
    await visit.page.goto(env.host + "/host.html")
    frame = await open_widget(visit.page)
    ws = await counselor(env, name)
    await start_chat(frame, first=first)
    sid = await accept(ws)
    await expect(frame.locator(".info h2")).to_have_text(f"Je chat met {name.capitalize()}")
    return frame, ws, sid


async def outage(env: Env, visit: Visit, frame: FrameLocator, ws: Any, name: str) -> Any:
    """The visitor goes offline while the server restarts; counselor ``name`` connects to the new one.

    The visitor stays offline (the test brings them back); the counselor's new socket."""
    await visit.context.set_offline(True)
    env.server.stop()
    await ws.close()
    await expect(frame.locator("#notice")).not_to_have_text("")
    env.restart()
    return await counselor_ws(env.server, env.tokens[name])


async def session_end_reason(env: Env, sid: str) -> str | None:
    client = redis_sync.Redis.from_url(REDIS_URL)
    try:
        value = client.hget(env.server.rt.keys.session(sid), "end_reason")
    finally:
        client.close()
    return value.decode() if value else None


async def frame_storage(page: Page) -> dict[str, Any]:
    return dict(
        await chat_frame(page).evaluate(
            "() => ({ session: Object.keys(sessionStorage), local: localStorage.length, cookie: document.cookie })"
        )
    )


# -- the tests -------------------------------------------------------------------------------------


async def test_axe_core_is_available(env: Env) -> None:
    if env.axe is None:
        pytest.skip(f"accessibility checks did not run: {env.axe_problem}")


async def test_visitor_chats_with_a_counselor(env: Env, visit: Visit) -> None:
    page = visit.page
    await page.goto(env.host + "/host.html")
    launcher = page.locator("helpline-chat button.launch")
    await expect(launcher).to_have_text("Chat met ons")
    # The host page's "button, iframe, div { display: none !important }" does not reach into the widget.
    assert await launcher.evaluate("(b) => getComputedStyle(b).position") == "fixed"
    await axe_check(env, page, "host page, closed launcher")
    await shoot(env, page, "00-launcher")

    frame = await open_widget(page)
    await expect(frame.locator("#status")).to_contain_text("niemand online")
    await expect(frame.locator(".res summary")).to_have_text("Direct hulp nodig?")
    await axe_check(env, chat_frame(page), "start, nobody online")
    await shoot(env, page, "01-start-nobody-online")

    anna = await counselor(env, "anna")
    await start_chat(frame, "Ik ben jongere", first="Hoi, ik wil iets vragen", topic="school")
    await expect(frame.locator(".info .place")).to_have_text("Jouw plek: 1")
    await expect(frame.locator(".msg.from-visitor .text")).to_have_text("Hoi, ik wil iets vragen")
    await expect(frame.locator(".res")).to_have_attribute("open", "")
    await expect(frame.get_by_role("button", name="Chat beëindigen")).to_be_visible()
    stored = await frame_storage(page)
    assert stored == {"session": ["hlc"], "local": 0, "cookie": ""}
    assert set(json.loads(await chat_frame(page).evaluate("() => sessionStorage.getItem('hlc')"))) == {"token"}
    await axe_check(env, chat_frame(page), "queued")
    await shoot(env, page, "02-queued")

    # A reload in the same tab: the widget opens by itself, the place in the queue and the chat so far kept.
    await page.reload()
    frame = chat(page)
    await expect(frame.locator(".info .place")).to_have_text("Jouw plek: 1")
    await expect(frame.locator(".msg.from-visitor .text")).to_have_text(["Hoi, ik wil iets vragen"])

    sid = await accept(anna)
    await expect(frame.locator(".info h2")).to_have_text("Je chat met Anna")
    await expect(frame.locator(".sys")).to_have_text(["Anna is er nu voor je."])

    # Enter sends, Shift+Enter is a new line; the message shows as sent once the server has stored it.
    box = frame.locator("#msg")
    await box.click()
    await box.press_sequentially("Mijn vriend")
    assert (await recv_match(anna, type="typing", sender="visitor"))["active"] is True
    await box.press("Shift+Enter")
    await box.press_sequentially("doet raar")
    await box.press("Enter")
    heard = await recv_match(anna, type="message", sender="visitor", text="Mijn vriend\ndoet raar")
    await expect(frame.locator(f'.msg[data-seq="{heard["seq"]}"] .state')).to_have_text("Verstuurd")
    await expect(box).to_have_value("")

    await send(anna, {"type": "typing", "session_id": sid, "active": True})
    await expect(frame.locator(".typing")).to_have_text("Anna typt…")
    await send(anna, {"type": "message", "session_id": sid, "client_id": "k-1", "text": "Fijn dat je er bent."})
    await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Fijn dat je er bent."])
    await expect(frame.locator(".typing")).to_have_text("")
    await send(anna, {"type": "resource", "session_id": sid, "client_id": "k-2", "snippet_id": "veilig-thuis-nl"})
    card = frame.locator(".msg.resource")
    await expect(card.locator(".card-title")).to_have_text("Veilig Thuis: geweld of mishandeling thuis")
    await expect(card.locator("a.call")).to_have_attribute("href", "tel:08002000")
    await expect(card.locator("a.call")).to_have_text("Bel 0800-2000")
    web = card.locator("a.web")
    await expect(web).to_have_attribute("href", "https://veiligthuis.nl/")
    await expect(web).to_have_attribute("target", "_blank")
    await expect(web).to_have_attribute("rel", "noopener noreferrer")
    await axe_check(env, chat_frame(page), "chatting")
    await shoot(env, page, "03-chatting")

    # Nothing of the chat is in the host page's DOM, and the host page cannot look into the frame.
    host_html = await page.evaluate("""() => document.documentElement.outerHTML
        + document.querySelector('helpline-chat').shadowRoot.innerHTML""")
    for text in ("Fijn dat je er bent", "Mijn vriend", "Hoi, ik wil"):
        assert text not in host_html
    assert (
        await page.evaluate(
            "() => document.querySelector('helpline-chat').shadowRoot.querySelector('iframe').contentDocument"
        )
        is None
    )

    # Hide and show again: the chat goes on; a message while hidden marks the launcher.
    await frame.get_by_role("button", name="Chat verbergen").click()
    await expect(launcher).to_be_focused()
    await send(anna, {"type": "message", "session_id": sid, "client_id": "k-3", "text": "Ben je er nog?"})
    await expect(launcher).to_have_attribute("aria-label", "Chat met ons, nieuw bericht")
    await launcher.click()
    await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Ben je er nog?")
    seqs = [int(s) for s in await frame.locator("[data-seq]").evaluate_all("(els) => els.map(e => e.dataset.seq)")]
    assert seqs == list(range(1, len(seqs) + 1))

    # Auto-scroll follows new messages, but not while the visitor reads further up.
    log = frame.locator(".log")
    for i in range(8):
        await send(anna, {"type": "message", "session_id": sid, "client_id": f"k-more-{i}", "text": f"Regel {i}"})
    await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Regel 7")
    assert await log.evaluate("(l) => l.scrollHeight - l.scrollTop - l.clientHeight") < 48
    await log.hover()
    await page.mouse.wheel(0, -5000)
    for _ in range(50):
        if await log.evaluate("(l) => l.scrollTop") == 0:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # the scroll event comes with the next frame
    await send(anna, {"type": "message", "session_id": sid, "client_id": "k-late", "text": "Lees rustig"})
    await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Lees rustig")
    assert await log.evaluate("(l) => l.scrollTop") == 0
    jump = frame.get_by_role("button", name="Nieuwe berichten")
    await expect(jump).to_be_visible()
    await jump.click()
    await expect(jump).to_be_hidden()
    assert await log.evaluate("(l) => l.scrollHeight - l.scrollTop - l.clientHeight") < 48

    # The visitor ends the chat (after a confirmation): thanks, resources and the optional rating.
    await frame.get_by_role("button", name="Chat beëindigen").click()
    await frame.get_by_role("button", name="Ja, beëindig de chat").click()
    ended = await recv_match(anna, type="ended", session_id=sid)
    assert ended["reason"] == "visitor"
    await expect(frame.locator("#done-title")).to_be_focused()
    await expect(frame.locator(".after")).to_contain_text("Je hebt de chat beëindigd.")
    await expect(frame.locator(".after .cards a.call").first).to_have_attribute("href", "tel:112")
    assert (await frame_storage(page))["session"] == []
    await axe_check(env, chat_frame(page), "ended")
    await shoot(env, page, "04-ended")

    await frame.get_by_label("4: goed").check()
    await frame.locator(".rating").get_by_role("button", name="Verstuur").click()
    await expect(frame.locator("#rated")).to_have_text("Dank je wel voor je antwoord.")
    engine = make_engine(env.settings.sqlalchemy_url)
    try:
        for _ in range(50):
            async with make_sessionmaker(engine)() as db:
                rows = (await db.execute(select(Rating))).scalars().all()
            if rows:
                break
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    assert [(r.score, r.language, r.count) for r in rows] == [(4, "nl", 1)]
    # The widget sent the chat's token with it: the score counts for the counselor too (and no token is kept).
    engine = make_engine(env.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            mine = (await db.execute(select(CounselorRating))).scalars().all()
    finally:
        await engine.dispose()
    assert [(r.score, r.count) for r in mine] == [(4, 1)]
    await shoot(env, page, "05-rated")
    assert_only_own_origins(env, visit)
    await anna.close()


async def test_connection_lost_and_back(env: Env, visit: Visit) -> None:
    page = visit.page
    frame, bram, sid = await chat_with(env, visit, "bram", "Ik heb een vraag")
    await frame.locator("#msg").fill("Voor de storing")
    await frame.locator("#msg").press("Enter")
    await recv_match(bram, type="message", text="Voor de storing")
    await send(bram, {"type": "message", "session_id": sid, "client_id": "b-1", "text": "Vertel maar."})
    await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Vertel maar."])

    # The network goes: the server is gone and the browser is offline.
    await visit.context.set_offline(True)
    env.server.stop()
    await bram.close()
    await expect(frame.locator("#notice")).to_have_text("De verbinding is weg. We proberen het opnieuw…")
    await frame.locator("#msg").fill("Tijdens de storing geschreven")
    await frame.locator("#msg").press("Enter")
    pending = frame.locator(".msg.from-visitor").last
    await expect(pending.locator(".state")).to_have_text("Wordt verstuurd zodra er verbinding is")
    await axe_check(env, chat_frame(page), "reconnecting")
    await shoot(env, page, "06-reconnecting")

    # Back: the counselor reconnects and gets the chat again; the visitor's message arrives once.
    env.restart()
    bram = await counselor_ws(env.server, env.tokens["bram"])
    await visit.context.set_offline(False)
    seen: list[dict[str, Any]] = []
    while True:
        frame_in = await recv(bram, 15)
        seen.append(frame_in)
        if frame_in.get("type") == "message" and frame_in.get("text") == "Tijdens de storing geschreven":
            break
    await expect(pending.locator(".state")).to_have_text("Verstuurd")
    await expect(frame.locator("#notice")).to_have_text("")
    await send(bram, {"type": "message", "session_id": sid, "client_id": "b-2", "text": "Ik ben er nog."})
    await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Vertel maar.", "Ik ben er nog."])
    await asyncio.sleep(0.3)
    while True:
        try:
            seen.append(await recv(bram, 0.3))
        except TimeoutError:
            break
    texts = [f.get("text") for f in seen if f.get("type") == "message"]
    assert texts.count("Tijdens de storing geschreven") == 1
    assert texts.count("Voor de storing") == 1  # the replay after `assigned`, once
    visitor_texts = await frame.locator(".msg .text").all_inner_texts()
    assert visitor_texts.count("Tijdens de storing geschreven") == 1
    assert visitor_texts.count("Voor de storing") == 1
    seqs = [int(s) for s in await frame.locator("[data-seq]").evaluate_all("(els) => els.map(e => e.dataset.seq)")]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert "ontbreken" not in " ".join(await frame.locator(".sys").all_inner_texts())
    assert_only_own_origins(env, visit)
    await bram.close()


async def test_lost_history_is_told(env: Env, visit: Visit) -> None:
    page = visit.page
    frame, cato, sid = await chat_with(env, visit, "cato", "Hallo")

    # Offline while the server restarts; the counselor writes twice, and those events are then lost.
    cato = await outage(env, visit, frame, cato, "cato")
    seqs = []
    for i in range(2):
        await send(cato, {"type": "message", "session_id": sid, "client_id": f"lost-{i}", "text": f"Weg {i}"})
        seqs.append((await recv_until(cato, "ack"))["seq"])
    client = redis_sync.Redis.from_url(REDIS_URL)
    client.xdel(env.server.rt.keys.events(sid), *[f"{s}-1" for s in seqs])
    client.close()
    await visit.context.set_offline(False)
    await expect(frame.locator(".sys").last).to_have_text("Door de storing kunnen eerdere berichten ontbreken.")
    # The chat goes on: what the visitor writes now is stored and acknowledged.
    await frame.locator("#msg").fill("Ben je er nog?")
    await frame.locator("#msg").press("Enter")
    await recv_match(cato, type="message", text="Ben je er nog?")
    await expect(frame.locator(".msg.from-visitor .state").last).to_have_text("Verstuurd")
    # And what the counselor writes after the hole reaches the visitor again.
    await send(cato, {"type": "message", "session_id": sid, "client_id": "after", "text": "Ja, ik ben er."})
    await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Ja, ik ben er.")
    await axe_check(env, chat_frame(page), "history missing")
    await shoot(env, page, "07-history-missing")
    await cato.close()


async def test_chat_found_ended_leaves_nothing_on_screen(env: Env, visit: Visit) -> None:
    page = visit.page
    frame, femke, sid = await chat_with(env, visit, "femke", "Iets wat niemand mag lezen")

    # The visitor's connection is gone while the counselor ends the chat: the widget does not see `ended` live.
    femke = await outage(env, visit, frame, femke, "femke")
    await send(femke, {"type": "end", "session_id": sid})
    await recv_match(femke, type="ended", session_id=sid)
    await visit.context.set_offline(False)

    # Back online it finds the chat ended: the chat is wiped from the screen and the token from the tab.
    await expect(frame.locator("#done-title")).to_be_visible(timeout=15_000)
    await expect(frame.locator(".msg")).to_have_count(0)
    assert "niemand mag lezen" not in await chat_frame(page).evaluate("() => document.body.innerText")
    assert await chat_frame(page).evaluate("() => sessionStorage.length") == 0
    await femke.close()


async def test_quick_exit_button(env: Env, visit: Visit) -> None:
    page = visit.page
    await page.goto(env.host + "/before.html")
    frame, dirk, sid = await chat_with(env, visit, "dirk", "Er komt iemand aan")
    assert (await frame_storage(page))["session"] == ["hlc"]

    await frame.get_by_role("button", name="Snel weg").click()
    await page.wait_for_url(env.host + "/weather.html")
    ended = await recv_match(dirk, type="ended", session_id=sid)
    assert ended["reason"] == "quick_exit"
    assert await session_end_reason(env, sid) == "quick_exit"
    await check_no_trace(env, visit)
    await dirk.close()


async def test_quick_exit_by_double_escape(env: Env, visit: Visit) -> None:
    page = visit.page
    await page.goto(env.host + "/before.html")
    frame, dirk, sid = await chat_with(env, visit, "dirk", "Snel")

    # One Escape does nothing; two within a second, with the focus in the chat, are a quick exit.
    box = frame.locator("#msg")
    await box.fill("half getypt")
    await box.press("Escape")
    await asyncio.sleep(1.1)
    await box.press("Escape")
    await asyncio.sleep(0.2)
    assert page.url == env.host + "/host.html"
    await box.press("Escape")
    await page.wait_for_url(env.host + "/weather.html")
    assert (await recv_match(dirk, type="ended", session_id=sid))["reason"] == "quick_exit"
    await check_no_trace(env, visit)

    # And with the focus on the host page while a chat runs: the loader listens too.
    await page.goto(env.host + "/host.html")
    frame = await open_widget(page)
    await start_chat(frame, first="Nog eens")
    sid = await accept(dirk)
    await expect(frame.locator(".info h2")).to_have_text("Je chat met Dirk")
    await page.locator("h1").click()
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(env.host + "/weather.html")
    assert (await recv_match(dirk, type="ended", session_id=sid))["reason"] == "quick_exit"
    assert await session_end_reason(env, sid) == "quick_exit"
    assert_only_own_origins(env, visit)
    await dirk.close()


async def check_no_trace(env: Env, visit: Visit) -> None:
    """After a quick exit: the exit page, Back does not bring the chat back, nothing stored anywhere."""
    page = visit.page
    assert page.url == env.host + "/weather.html"
    assert await page.evaluate("() => [document.cookie, localStorage.length, sessionStorage.length]") == ["", 0, 0]
    assert await page.locator("helpline-chat").count() == 0
    await page.evaluate("() => history.back()")
    await page.wait_for_url(env.host + "/before.html")
    assert await page.locator("helpline-chat").count() == 0
    assert "Er komt iemand" not in await page.content()
    await page.go_forward()
    await page.wait_for_url(env.host + "/weather.html")
    state = await visit.context.storage_state(indexed_db=True)
    assert state["cookies"] == [] and state["origins"] == []
    # The chat frame's own (partitioned) sessionStorage is empty too: the host page starts afresh.
    await page.goto(env.host + "/host.html")
    await expect(page.locator("helpline-chat button.launch")).to_be_visible()
    assert await frame_storage(page) == {"session": [], "local": 0, "cookie": ""}
    await expect(page.locator("helpline-chat .panel")).to_be_hidden()
    assert_only_own_origins(env, visit)


async def test_closed_service_in_english(env: Env, visit: Visit, tmp_path: Path) -> None:
    hours = tmp_path / "hours.toml"
    hours.write_text('timezone = "Europe/Amsterdam"\n[weekly]\nmonday = ["09:00-17:00"]\n')
    # A second server of its own (its own Redis prefix), with a held clock on a Sunday.
    settings = env.settings.model_copy(update={"hours_file": hours, "redis_prefix": env.settings.redis_prefix + "c"})
    sunday = int(datetime(2026, 11, 29, 12, 0, tzinfo=AMS).timestamp() * 1000)
    closed = LiveServer(settings, clock=lambda: sunday).start()
    try:
        env.hosts.pages["/closed.html"] = host_page(closed.http, env.host + "/weather.html", language="en")
        page = visit.page
        await page.goto(env.host + "/closed.html")
        launcher = page.locator("helpline-chat button.launch")
        await expect(launcher).to_have_text("Chat with us")
        frame = await open_widget(page)
        status = frame.locator("#status")
        await expect(status).to_have_text("The chat is closed now. We are back on Monday 30 November at 09:00.")
        await expect(frame.get_by_role("button", name="Start the chat")).to_have_count(0)
        await expect(frame.locator(".res")).to_have_attribute("open", "")
        await expect(frame.locator(".res a.call").first).to_have_attribute("href", "tel:112")
        await expect(frame.get_by_role("button", name="Quick exit")).to_be_visible()
        await axe_check(env, chat_frame(page), "closed")
        await shoot(env, page, "08-closed-en")
    finally:
        closed.stop()


async def test_demo_page_and_language_switch(env: Env, visit: Visit) -> None:
    page = visit.page
    await page.goto(env.server.http + "/")
    frame = await open_widget(page)
    await expect(frame.locator("#view-title")).to_have_text("Chat anoniem met een hulpverlener")
    await frame.get_by_label("Ik ben ouder").check()
    await frame.get_by_label("Taal").select_option("en")
    await expect(frame.locator("#view-title")).to_have_text("Chat anonymously with a counselor")
    await expect(frame.get_by_label("I am a parent")).to_be_checked()
    await expect(frame.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("helpline-chat .launch")).to_be_hidden()
    await axe_check(env, page, "demo page")
    await axe_check(env, chat_frame(page), "start, English")
    await shoot(env, page, "09-demo-start-en")
    # The narrowest phones: 320 px, no sideways scrolling, the quick exit in reach.
    await page.set_viewport_size({"width": 320, "height": 568})
    await expect(frame.get_by_role("button", name="Quick exit")).to_be_in_viewport()
    assert await chat_frame(page).evaluate("() => document.documentElement.scrollWidth - innerWidth") <= 0
    await page.screenshot(path=str(ARTIFACTS / "09-demo-start-en-320.png"))
    await page.set_viewport_size(DESKTOP)
    # Keyboard only: from the language choice, Tab reaches the fields and the start button.
    await frame.get_by_label("Language").focus()
    order = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        order.append(
            await chat_frame(page).evaluate(
                "() => document.activeElement.id || document.activeElement.textContent.trim()"
            )
        )
    assert order[:3] == ["f-topic", "f-first", "Start the chat"]
    assert_only_own_origins(env, visit)


async def test_frame_refused_on_a_site_not_allowed(env: Env, visit: Visit) -> None:
    page = visit.page
    refused = asyncio.get_running_loop().create_future()

    def on_console(message: Any) -> None:
        if "frame-ancestors" in message.text and not refused.done():
            refused.set_result(message.text)

    page.on("console", on_console)
    # localhost on the host server's port: a real site, but not in CHAT_ALLOWED_ORIGINS.
    await page.goto(env.hosts.origin("localhost") + "/host.html")
    await asyncio.wait_for(refused, 10)
    await expect(page.locator("helpline-chat button.launch")).to_be_hidden()


async def test_a_phone_in_the_background_keeps_its_place_in_the_queue(env: Env, visit: Visit) -> None:
    # A server of its own on a held clock (its own Redis prefix), so that minutes pass at once.
    clock = Clock(datetime(2026, 12, 3, 15, 0, tzinfo=AMS))
    settings = env.settings.model_copy(
        update={"redis_prefix": env.settings.redis_prefix + "q", "queued_grace_seconds": 600, "sweep_interval": 0.1}
    )
    server = LiveServer(settings, clock=clock).start()
    try:
        env.hosts.pages["/queue.html"] = host_page(server.http, env.host + "/weather.html")
        page = visit.page
        dirk = await counselor_ws(server, await login(server.http, "dirk"))
        ahead, _ = await visitor_hello(server, first_message="ik was eerst")
        await page.goto(env.host + "/queue.html")
        frame = await open_widget(page)
        await start_chat(frame, first="Ik wacht op mijn beurt")
        await expect(frame.locator(".info .place")).to_have_text("Jouw plek: 2")
        sid = await queued_sid(server, skip=1)

        # The phone locks: the page is hidden and its connection gone, for five minutes by the server's clock,
        # far past the grace of an active chat (two minutes) and inside the queue's (ten).
        # (Offline emulation keeps an open socket, so the server going away and back is what drops it.)
        await hide(chat_frame(page), True)
        await visit.context.set_offline(True)
        port = server.port
        server.stop()
        server = LiveServer(settings, port=port, clock=clock).start()
        await visitor_count(server, sid, 0)
        clock.advance(300)
        await asyncio.sleep(0.5)  # several sweeps on the moved clock
        await dirk.close()
        dirk = await counselor_ws(server, await login(server.http, "dirk"))
        await visit.context.set_offline(False)
        await hide(chat_frame(page), False)

        # Back at once, at the same place, told calmly (a polite status region) that the place was kept.
        await visitor_count(server, sid, 1)
        await expect(frame.locator(".info .place")).to_have_text("Jouw plek: 2")
        notice = frame.locator("#notice")
        await expect(notice).to_have_text("Welkom terug. Je plek in de wachtrij is bewaard.")
        assert await notice.get_attribute("role") == "status"
        await axe_check(env, chat_frame(page), "back in the queue")
        await shoot(env, page, "09-kept-place")

        # The queue moves on as usual: the visitor ahead is taken, then this one.
        await send(dirk, {"type": "status", "available": True, "capacity": 2})
        await send(dirk, {"type": "accept"})
        await recv_until(dirk, "assigned")
        await expect(frame.locator(".info .place")).to_have_text("Jouw plek: 1")
        await send(dirk, {"type": "accept"})
        assert (await recv_until(dirk, "assigned"))["session_id"] == sid
        await expect(frame.locator(".info h2")).to_have_text("Je chat met Dirk")
        await ahead.close()
        await dirk.close()
    finally:
        server.stop()


async def hide(frame: Frame, hidden: bool) -> None:
    """What a phone's browser does when the screen locks or the app is switched: the page says it is hidden."""
    await frame.evaluate(
        """(hidden) => {
        const state = hidden ? 'hidden' : 'visible';
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        document.dispatchEvent(new Event('visibilitychange'));
    }""",
        hidden,
    )


async def queued_sid(server: LiveServer, skip: int) -> str:
    """The session id of the ``skip``-th visitor in the parent/nl queue (0 is the first)."""
    client = redis_sync.Redis.from_url(REDIS_URL)
    try:
        ids = client.zrange(server.rt.keys.queue("parent", "nl"), 0, -1)
    finally:
        client.close()
    return str(ids[skip].decode())


async def visitor_count(server: LiveServer, sid: str, n: int) -> None:
    """Wait until the server counts ``n`` sockets for the session's visitor."""
    client = redis_sync.Redis.from_url(REDIS_URL)
    try:
        for _ in range(300):
            if client.hget(server.rt.keys.session(sid), "visitor_conns") == str(n).encode():
                return
            await asyncio.sleep(0.05)
    finally:
        client.close()
    raise AssertionError(f"the visitor never had {n} sockets")


async def test_sent_delivered_read(env: Env, visit: Visit) -> None:
    page = visit.page
    frame, gijs, sid = await chat_with(env, visit, "gijs", "Eerste bericht")
    await frame.locator("#msg").fill("Tweede bericht")
    await frame.locator("#msg").press("Enter")
    assert (await recv_match(gijs, type="message", text="Tweede bericht"))["seq"] == 2
    states = frame.locator(".msg.from-visitor .state")
    await expect(states).to_have_text(["Verstuurd", "Verstuurd"])

    # The console says what reached its screen, then what was seen; the visitor sees it and hears it politely.
    await send(gijs, {"type": "receipt", "session_id": sid, "delivered": 2})
    await expect(states).to_have_text(["Afgeleverd", "Afgeleverd"])
    announcer = frame.locator("#announce")
    await expect(announcer).to_have_text("Je bericht is bij de hulpverlener aangekomen.")
    assert await announcer.get_attribute("aria-live") == "polite"
    await send(gijs, {"type": "receipt", "session_id": sid, "delivered": 2, "read": 1})
    await expect(states).to_have_text(["Gelezen", "Afgeleverd"])
    await expect(announcer).to_have_text("De hulpverlener heeft je bericht gelezen.")
    await axe_check(env, chat_frame(page), "delivered and read")
    await shoot(env, page, "10-delivered-read")

    # A new message is only sent until the console acknowledges it; after a reload the marks come back.
    await frame.locator("#msg").fill("Derde bericht")
    await frame.locator("#msg").press("Enter")
    await recv_match(gijs, type="message", text="Derde bericht")
    await expect(states).to_have_text(["Gelezen", "Afgeleverd", "Verstuurd"])
    await page.reload()
    frame = chat(page)
    await expect(frame.locator(".msg.from-visitor .state")).to_have_text(["Gelezen", "Afgeleverd", "Verstuurd"])
    await gijs.close()
