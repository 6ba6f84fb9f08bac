"""The counselor console in a real headless Chromium against a real server (issue 6).

Counselors log in through the page; visitors (and, where a second counselor is needed, that
counselor) are websocket clients driven by the test. Every view is checked with axe-core (npm-installed
once into the same cache folder the widget tests use) and photographed into ``artifacts/console/``.
Every page must run under its Content-Security-Policy without a single violation or script error.
Without Chromium at /usr/bin/chromium (or ``CHAT_TEST_CHROMIUM``) the module is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis as redis_sync
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from redis.asyncio import Redis

from chat.archiver import Archiver
from chat.services.auth import Role
from chat.settings import Settings
from chat.store.migrate import upgrade_async
from chat.store.sql import make_engine
from tests.browser import (
    LiveServer,
    assert_no_serious_axe_violations,
    launch_chromium,
    load_axe,
    open_widget,
    start_chat,
)
from tests.browser import chat as widget_chat
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import (
    add_counselor,
    connect,
    counselor_ws,
    login,
    recv,
    recv_match,
    recv_until,
    send,
)

# One worker runs the whole module (pytest -n ... --dist loadgroup): its server and Chromium start once.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("console-browser")]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
PASSWORD = "correct horse battery"
# What Chromium logs by itself while a test refuses a login or stops the server; anything else fails.
EXPECTED_NOISE = re.compile(
    r"^Failed to load resource: the server responded with a status of 40[13]"
    r"|WebSocket connection|ERR_CONNECTION_REFUSED"
)
expect.set_options(timeout=10_000)


# -- axe-core (as in tests/widget/test_browser.py: one npm install into a shared cache folder) ----------


# -- the environment ------------------------------------------------------------------------------------


@dataclass
class Env:
    settings: Settings
    server: LiveServer
    browser: Browser
    axe: str | None
    axe_problem: str
    tokens: dict[str, str] = field(default_factory=dict)
    # Every visitor a test started (session_id -> resume token): ended after the test, whatever it left.
    visitors: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        port = self.server.port
        self.server = LiveServer(self.settings, port=port).start()


ACCOUNTS = {"anna": Role.COUNSELOR, "bram": Role.COUNSELOR, "sara": Role.SUPERVISOR, "root": Role.ADMIN}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    prefix = f"t{secrets.token_hex(4)}"
    # Alerts after 2 s of waiting, so that a supervisor sees one within the test.
    settings = make_settings(tmp_path_factory.mktemp("console"), prefix, alert_after_seconds=2)
    await upgrade_async(settings)
    server = LiveServer(settings).start()
    axe, problem = await asyncio.to_thread(load_axe)
    async with async_playwright() as pw:
        # The console beeps after a key press in real use; a test has no user gesture to give.
        browser = await launch_chromium(pw, "--autoplay-policy=no-user-gesture-required")
        environment = Env(settings, server, browser, axe, problem)
        for name, role in ACCOUNTS.items():
            await add_counselor(settings, name, PASSWORD, role=role, display_name=name.capitalize())
        yield environment
        await browser.close()
    environment.server.stop()
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def isolated(env: Env) -> AsyncIterator[None]:
    """Each test starts with nobody waiting and no chat of any account, and leaves it so.

    The module shares one server and its accounts: whatever a test leaves behind (a visitor still
    queued, a chat still active, an ended chat still waiting for its wrap-up, which the console would
    open again as a tab) is cleared before and after it, so the tests pass alone and in any order.
    """
    await clear_leftovers(env)
    yield
    await clear_leftovers(env)


async def clear_leftovers(env: Env) -> None:
    for sid, resume_token in list(env.visitors.items()):
        await end_visitor(env, resume_token)
        env.visitors.pop(sid, None)
    for name in ACCOUNTS:
        await wrap_up_everything(env, name)


async def end_visitor(env: Env, resume_token: str) -> None:
    """Resume a visitor's session with its token and end it, unless it has ended already."""
    ws = await connect(env.server.ws + "/ws/visitor")
    try:
        await send(ws, {"type": "resume", "token": resume_token, "last_seq": 10**9})
        session = await recv(ws)
        if session.get("type") == "session" and session.get("status") != "ended":
            await send(ws, {"type": "end"})
            await recv_match(ws, type="ended")
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


async def wrap_up_everything(env: Env, name: str) -> None:
    """Log in as ``name`` and end and wrap up every chat the server still gives that account; available, capacity 3."""
    ws = await counselor_ws(env.server, await token(env, name), capacity=3)
    try:
        # The server names every chat (active, or ended and awaiting its wrap-up) before it reads the ping.
        await send(ws, {"type": "ping"})
        seen: list[dict[str, Any]] = []
        await recv_until(ws, "pong", seen=seen)
        chats = {f["session_id"]: f["status"] for f in seen if f.get("type") == "assigned"}
        for sid, status in chats.items():
            if status == "active":
                await send(ws, {"type": "end", "session_id": sid})
            await send(
                ws, {"type": "wrapup", "session_id": sid, "category": "other", "risk": "none", "referral": "none"}
            )
            await recv_match(ws, type="wrapup_saved", session_id=sid)
    finally:
        await ws.close()


@dataclass
class Console:
    context: BrowserContext
    page: Page
    problems: list[str]
    requests: list[str]
    # Console errors a test expects on top of EXPECTED_NOISE (each a substring of the message).
    allowed: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="module")
async def open_console(env: Env) -> AsyncIterator[Callable[..., Any]]:
    """Open a console in a fresh browser context; at the end, no script error and no CSP violation happened."""
    opened: list[Console] = []

    async def opener(username: str | None = None, viewport: dict[str, int] | None = None) -> Console:
        context = await env.browser.new_context(viewport=viewport or DESKTOP, locale="nl-NL")
        page = await context.new_page()
        problems: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" and not EXPECTED_NOISE.search(m.text)
                else None
            ),
        )
        context.on("request", lambda r: requests.append(r.url))
        console = Console(context, page, problems, requests)
        opened.append(console)
        await page.goto(env.server.http + "/console")
        if username:
            await log_in(page, username)
        return console

    yield opener
    for console in opened:
        await console.context.close()
    for console in opened:
        problems = [p for p in console.problems if not any(a in p for a in console.allowed)]
        assert not problems, problems
        strays = [u for u in console.requests if not u.startswith(env.server.http) and not u.startswith("data:")]
        assert not strays, f"requests left the server's origin: {strays}"


async def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Gebruikersnaam").fill(username)
    await page.get_by_label("Wachtwoord").fill(password)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page.locator(".conn")).to_have_text("Verbonden")


async def axe_check(env: Env, page: Page, state: str) -> None:
    """No axe-core violation of serious or critical impact, as it is now."""
    await assert_no_serious_axe_violations(page, env.axe, state, iframes=True)


async def shoot(page: Page, name: str, tablet: bool = False) -> None:
    """A screenshot at 1280 px (and at 768 px when asked); the page must not scroll sideways at either."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-1280.png"))
    assert await page.evaluate("() => document.documentElement.scrollWidth - innerWidth") <= 0, name
    if tablet:
        await page.set_viewport_size(TABLET)
        try:
            await page.wait_for_timeout(100)
            overflow = await page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{name}: the console scrolls sideways at 768 px by {overflow} px"
            await page.screenshot(path=str(ARTIFACTS / f"{name}-768.png"))
        finally:
            await page.set_viewport_size(DESKTOP)


# -- websocket peers ------------------------------------------------------------------------------------


class Peer:
    """A visitor or counselor websocket whose frames a background task collects (so none is missed)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())
        self.token = ""
        self.sid = ""

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self.changed.set()
        except Exception:
            pass
        self.closed_with = self.ws.close_code
        self.changed.set()

    async def wait(self, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The first frame (seen so far or later) whose fields equal ``fields``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for frame in self.frames:
                if all(frame.get(k) == v for k, v in fields.items()):
                    return frame
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no frame matching {fields}; got {self.frames[-8:]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def events(self) -> list[dict[str, Any]]:
        """Stored events, once each by seq, in the order they came."""
        seen: dict[int, dict[str, Any]] = {}
        for frame in self.frames:
            if "seq" in frame and frame.get("type") != "ack":
                seen.setdefault(int(frame["seq"]), frame)
        return list(seen.values())

    async def send(self, frame: dict[str, Any]) -> None:
        await send(self.ws, frame)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


async def visitor(env: Env, **hello: Any) -> Peer:
    ws = await connect(env.server.ws + "/ws/visitor")
    await send(ws, {"type": "hello", "audience": "parent", "language": "nl", **hello})
    session = await recv(ws)
    assert session["type"] == "session", session
    peer = Peer(ws)
    peer.token, peer.sid = session["token"], session["session_id"]
    env.visitors[peer.sid] = peer.token
    return peer


async def resume(env: Env, old: Peer) -> Peer:
    """The visitor's widget coming back after the server did: resume from the last seq it saw."""
    await old.close()
    last = max((e["seq"] for e in old.events()), default=0)
    ws = await connect(env.server.ws + "/ws/visitor")
    await send(ws, {"type": "resume", "token": old.token, "last_seq": last})
    session = await recv(ws)
    assert session["type"] == "session" and session["resumed"] is True, session
    peer = Peer(ws)
    peer.token, peer.sid = old.token, old.sid
    peer.frames = [f for f in old.frames if "seq" in f]
    return peer


async def leave(*peers: Peer) -> None:
    """Visitors end their chats (so that no one is left waiting for the next test) and hang up."""
    for peer in peers:
        with contextlib.suppress(Exception):
            await peer.send({"type": "end"})
            await peer.wait(type="ended", timeout=3)
        await peer.close()


async def token(env: Env, name: str) -> str:
    if name not in env.tokens:
        env.tokens[name] = await login(env.server.http, name, PASSWORD)
    return env.tokens[name]


async def queue_total(page: Page, text: str) -> None:
    await expect(page.locator(".queue-total")).to_have_text(text)


def chat_panel(page: Page) -> Any:
    return page.locator('.chat[role="tabpanel"]:not([hidden])')


async def seqs_shown(page: Page) -> list[int]:
    values = await chat_panel(page).locator(".log [data-seq]").evaluate_all("(els) => els.map(e => +e.dataset.seq)")
    return [int(v) for v in values]


# -- the tests ------------------------------------------------------------------------------------------


async def test_axe_core_is_available(env: Env) -> None:
    if env.axe is None:
        pytest.skip(f"accessibility checks did not run: {env.axe_problem}")


async def test_two_chats_snippet_by_keyboard_and_wrapup(
    env: Env, open_console: Callable[..., Any], redactor: Any
) -> None:
    console = await open_console()
    page = console.page
    await expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    await axe_check(env, page, "login")
    await shoot(page, "00-login", tablet=True)
    # A wrong password is refused and said so; nothing of it goes into the address bar.
    await page.get_by_label("Gebruikersnaam").fill("anna")
    await page.get_by_label("Wachtwoord").fill("not the password")
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page.get_by_role("alert")).to_have_text("Gebruikersnaam of wachtwoord klopt niet.")
    await log_in(page, "anna")
    assert page.url == env.server.http + "/console"
    stored = json.loads(await page.evaluate("() => sessionStorage.getItem('hlc-console')"))
    assert set(stored) >= {"token"} and await page.evaluate("() => localStorage.length + document.cookie.length") == 0
    await expect(page.locator(".me-name")).to_have_text("Anna")
    await expect(page.locator(".role")).to_have_text("Hulpverlener")
    await expect(page.get_by_role("switch", name="Beschikbaar")).to_be_checked()
    await expect(page.get_by_label("Chats tegelijk")).to_have_value("3")
    await queue_total(page, "Er wacht niemand.")
    await expect(page).to_have_title("Chatconsole")
    await axe_check(env, page, "no chats, nobody waiting")
    # Whatever earlier tests left ready for the archiver goes now, so that below only this test's chat is new.
    await archive(env, redactor, until_one=False)
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, 'root')}"}
    ) as client:
        archived_before = (await client.get("/api/admin/stats")).json()["total"]

    v1 = await visitor(env, topic="mijn zoon", first_message="Hallo, ik maak me zorgen om mijn zoon")
    v2 = await visitor(env, audience="youth", topic="school")
    await queue_total(page, "Totaal: 2 wachtend, waarvan 0 urgent")
    # Someone waits and no chat is open: the title, the favicon and a beep say so, until someone accepts.
    # The title alternates (counts only), so that a tab in the background catches the eye.
    await expect(page).to_have_title("(2) Wachtend – Chatconsole")
    await expect(page).to_have_title("● 2 wachtend, 0 urgent")
    await expect(page.locator("#favicon")).to_have_attribute("href", "/console/favicon-badge.svg")
    await expect(page.locator("html")).to_have_attribute("data-beeps", re.compile(r"[1-9]"))
    await expect(page.locator('tr[data-queue="parent/nl"] td').first).to_have_text("1")
    await expect(page.locator('tr[data-queue="youth/nl"] td').first).to_have_text("1")
    await shoot(page, "01-two-waiting", tablet=True)

    # Accept both with the shortcut; each opens in its own tab with the composer focused.
    await page.keyboard.press("Alt+N")
    tabs = page.get_by_role("tab")
    await expect(tabs).to_have_count(1)
    await expect(chat_panel(page).locator(".msg.from-visitor .text")).to_have_text(
        ["Hallo, ik maak me zorgen om mijn zoon"]
    )
    # One chat open and room for two more: someone still waits, so the title and the beep go on.
    await expect(page).to_have_title(re.compile(r"^\(1\) Wachtend|^● 1 wachtend"))
    beeps = int(await page.locator("html").get_attribute("data-beeps") or 0)
    await page.wait_for_function(
        "(before) => +document.documentElement.dataset.beeps > before", arg=beeps, timeout=15_000
    )
    await expect(chat_panel(page).locator(".topic")).to_have_text("mijn zoon")
    await expect(chat_panel(page).get_by_label("Bericht aan de bezoeker")).to_be_focused()
    await v1.wait(type="paired", counselor_name="Anna")
    await page.keyboard.press("Alt+N")
    await expect(tabs).to_have_count(2)
    await expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    await expect(tabs.nth(1)).to_contain_text("Jongere · NL")
    await v2.wait(type="paired")
    await expect(page.locator(".load")).to_have_text("2 van 3 chats")
    await expect(page).to_have_title("Chatconsole")
    await expect(page.locator("#favicon")).to_have_attribute("href", "/console/favicon.svg")

    # Answer in the second tab (typing is relayed), then in the first.
    await page.keyboard.type("Hoi, fijn dat je er bent.")
    assert (await v2.wait(type="typing", sender="counselor"))["active"] is True
    await page.keyboard.press("Enter")
    await v2.wait(type="message", sender="counselor", text="Hoi, fijn dat je er bent.")
    await expect(chat_panel(page).locator(".msg.own .state")).to_have_text(["verzonden"])
    await tabs.nth(0).click()
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Goed dat je schrijft. Wat is er gebeurd?")
    await box.press("Enter")
    await v1.wait(type="message", sender="counselor", text="Goed dat je schrijft. Wat is er gebeurd?")

    # The visitor types and writes in the tab not shown: an indicator there, and an unread count on its tab.
    await v2.send({"type": "typing", "active": True})
    await v2.send({"type": "message", "client_id": "v2-1", "text": "Ik durf het niet te zeggen"})
    await expect(tabs.nth(1).locator(".badge.unread")).to_contain_text("1")
    await expect(page).to_have_title("(1) Chatconsole")
    await v1.send({"type": "typing", "active": True})
    await expect(chat_panel(page).locator(".typing")).to_have_text("De bezoeker typt…")
    await tabs.nth(1).click()
    await expect(tabs.nth(1).locator(".badge.unread")).to_have_count(0)
    await expect(chat_panel(page).locator(".msg.from-visitor .text")).to_have_text(["Ik durf het niet te zeggen"])
    # Presence: the visitor drops and comes back.
    await v2.ws.close()
    await expect(chat_panel(page).locator(".presence")).to_have_text("Bezoeker offline")
    v2 = await resume(env, v2)
    await expect(chat_panel(page).locator(".presence")).to_have_text("Bezoeker online")
    await axe_check(env, page, "two chats")
    await shoot(page, "02-two-chats", tablet=True)

    # A snippet with the keyboard only: open the picker, type to filter, Enter sends it as a resource.
    await page.keyboard.press("Alt+K")
    search = page.get_by_role("combobox", name="Zoek een hulpbron")
    await expect(search).to_be_focused()
    await expect(page.locator(".picker .hint").nth(1)).to_have_text("Getoond: Nederlands, Jongeren")
    options = page.get_by_role("listbox", name="Hulpbronnen").get_by_role("option")
    await expect(options.first).to_be_visible()
    await page.keyboard.type("kindertel")
    await expect(options).to_have_count(1)
    await expect(page.locator(".preview .card-title")).to_contain_text("Kindertelefoon")
    await axe_check(env, page, "snippet picker")
    await shoot(page, "03-snippet-picker", tablet=True)
    await page.keyboard.press("Enter")
    resource = await v2.wait(type="resource")
    assert resource["snippet"]["id"] == "kindertelefoon-nl" and resource["sender"] == "counselor"
    await expect(chat_panel(page).locator(".msg.resource .card-title")).to_contain_text("Kindertelefoon")
    await expect(chat_panel(page).get_by_label("Bericht aan de bezoeker")).to_be_focused()

    # End the first chat with a wrap-up: `end`, then `wrapup`; the chat leaves the tab bar.
    await tabs.nth(0).click()
    await page.keyboard.press("Alt+W")
    dialog = page.get_by_role("dialog", name="Chat afronden")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Onderwerp")).to_be_focused()
    await dialog.get_by_label("Onderwerp").select_option("worry_about_child")
    await dialog.get_by_label("Risico").select_option("medium")
    await dialog.get_by_label("Doorverwezen naar").select_option("veilig_thuis")
    await axe_check(env, page, "wrap-up form")
    await shoot(page, "04-wrapup")
    await dialog.get_by_role("button", name="Chat beëindigen en opslaan").click()
    assert (await v1.wait(type="ended"))["reason"] == "counselor"
    await expect(tabs).to_have_count(1)
    await expect(page.locator(".chat-area .flash")).to_have_text("Afronding opgeslagen.")
    await expect(page.locator(".load")).to_have_text("1 van 3 chats")
    v1_events = v1.events()
    assert [e["seq"] for e in v1_events] == list(range(1, len(v1_events) + 1))

    # The archiver takes the wrapped-up chat; an admin's statistics count it (and only it).
    assert await archive(env, redactor) == 1
    admin = await open_console("root")
    await admin.page.get_by_role("button", name="Beheer").click()
    await admin.page.get_by_role("button", name="Statistieken").click()
    await expect(admin.page.locator('[data-stat="total"]')).to_have_text(str(archived_before + 1))
    by_category = admin.page.locator("table.grid").filter(has_text="Per onderwerp")
    await expect(by_category).to_contain_text("Zorgen om een kind")
    await axe_check(env, admin.page, "admin statistics")
    await shoot(admin.page, "05-admin-stats", tablet=True)
    stats_text = await admin.page.locator(".stats").inner_text()
    assert "zorgen om mijn zoon" not in stats_text.lower()
    await leave(v1, v2)


async def archive(env: Env, redactor: Any, until_one: bool = True) -> int:
    """Run the archiver in this process (with the session's redactor) until the ended chat is archived
    (or, with ``until_one=False``, once: whatever is ready now)."""
    client = Redis.from_url(REDIS_URL)
    engine = make_engine(env.settings.sqlalchemy_url)
    try:
        archiver = Archiver(env.settings, client, engine, redactor)
        done = 0
        for _ in range(50 if until_one else 1):
            done += await archiver.run_once()
            if done:
                return done
            await asyncio.sleep(0.1)
        return done
    finally:
        await client.aclose()
        await engine.dispose()


async def test_urgent_visitor_is_offered_first(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("anna")
    page = console.page
    calm = [await visitor(env, first_message="Ik heb een vraag over mijn dochter") for _ in range(2)]
    urgent = await visitor(env, audience="parent", first_message="hij staat voor de deur")
    await queue_total(page, "Totaal: 3 wachtend, waarvan 1 urgent")
    row = page.locator('tr[data-queue="parent/nl"]')
    await expect(row).to_have_class(re.compile(r"\burgent\b"))
    await expect(row.locator(".badge.urgent")).to_have_text("1")
    await expect(row.locator(".categories")).to_contain_text("direct gevaar")
    await axe_check(env, page, "urgent waiting")
    await shoot(page, "06-urgent-waiting")
    await page.get_by_role("button", name="Volgende aannemen").click()
    tab = page.get_by_role("tab")
    await expect(tab).to_have_count(1)
    await expect(tab.locator(".badge.urgent")).to_have_text("Urgent")
    await expect(chat_panel(page).locator(".chat-title .badge.urgent")).to_have_text("Urgent: direct gevaar")
    await expect(chat_panel(page).locator(".msg.from-visitor .text")).to_have_text(["hij staat voor de deur"])
    await urgent.wait(type="paired")
    assert not any(f.get("type") == "paired" for v in calm for f in v.frames)
    await queue_total(page, "Totaal: 2 wachtend, waarvan 0 urgent")

    # Past capacity the server refuses, and the console says so.
    await page.get_by_label("Chats tegelijk").select_option("1")
    await expect(page.locator(".load")).to_have_text("1 van 1 chats")
    await page.keyboard.press("Alt+N")
    await expect(page.locator(".queue-msg")).to_contain_text("maximum aantal chats")
    await page.get_by_label("Chats tegelijk").select_option("3")
    # Unavailable: no accepting, and no beeping.
    await page.get_by_role("switch", name="Beschikbaar").uncheck()
    await expect(page.locator(".warn")).to_be_visible()
    await page.keyboard.press("Alt+N")
    await expect(page.locator(".queue-msg")).to_contain_text("niet beschikbaar")
    await page.get_by_role("switch", name="Beschikbaar").check()
    await expect(page.locator(".warn")).to_be_hidden()
    await leave(urgent, *calm)


async def test_danger_in_an_active_chat_flags_it_with_the_reason_and_alerts_a_supervisor(
    env: Env, open_console: Callable[..., Any]
) -> None:
    counselor = await open_console("anna")
    supervisor = await open_console("sara")
    v = await visitor(env, first_message="Mag ik iets vragen over mijn zoon?")
    page = counselor.page
    await page.get_by_role("button", name="Volgende aannemen").click()
    tab = page.get_by_role("tab")
    await expect(tab).to_have_count(1)
    await expect(tab.locator(".badge.urgent")).to_have_count(0)
    await v.wait(type="paired")
    # Later in the chat the visitor writes what triage recognises as danger.
    await v.send(
        {"type": "message", "client_id": "v-risk", "text": "sorry, ik moet stoppen. hij staat nu voor de deur"}
    )
    await expect(tab.locator(".badge.urgent")).to_have_text("Urgent")
    badge = chat_panel(page).locator(".chat-title .badge.urgent")
    await expect(badge).to_have_text("Urgent: direct gevaar")
    await expect(page.locator("#announce-urgent")).to_contain_text("risico-signaal (direct gevaar)")
    # The supervisor, in another console, is alerted at once: the reason and whose chat, never the words.
    alert = supervisor.page.locator('.alert[data-reason="risk"]')
    await expect(alert).to_contain_text("Risico in een lopende chat")
    await expect(alert).to_contain_text("chat van Anna: direct gevaar")
    await expect(alert).not_to_contain_text("deur")
    await axe_check(env, supervisor.page, "risk alert")
    await shoot(supervisor.page, "11-risk-alert")
    await leave(v)


async def test_a_whisper_reaches_the_supervisor_and_never_the_visitors_widget(
    env: Env, open_console: Callable[..., Any]
) -> None:
    # The visitor uses the real widget on the demo page, in a browser context of their own.
    context = await env.browser.new_context(viewport=DESKTOP, locale="nl-NL")
    visitor_page = await context.new_page()
    await visitor_page.goto(env.server.http + "/")
    frame = await open_widget(visitor_page)
    await start_chat(frame, first="Ik weet niet of ik hier goed zit")
    counselor = await open_console("anna")
    supervisor = await open_console("sara")
    page = counselor.page
    await page.get_by_role("button", name="Volgende aannemen").click()
    await expect(page.get_by_role("tab")).to_have_count(1)
    await expect(frame.locator(".msg.from-visitor .text")).to_have_text(["Ik weet niet of ik hier goed zit"])
    panel = chat_panel(page)
    await panel.get_by_label("Bericht aan de bezoeker").fill("Je zit goed. Vertel maar.")
    await panel.get_by_label("Bericht aan de bezoeker").press("Enter")
    await expect(frame.locator(".msg.from-counselor .text")).to_have_text(["Je zit goed. Vertel maar."])

    # The counselor asks a supervisor, privately.
    await panel.get_by_text("Vraag een supervisor").click()
    await panel.get_by_label("Notitie aan supervisors").fill("Ze klinkt erg bang, kun je meelezen?")
    await panel.get_by_role("button", name="Stuur naar supervisor").click()
    note = panel.locator(".msg.whisper")
    await expect(note.locator(".text")).to_have_text("Ze klinkt erg bang, kun je meelezen?")
    await expect(note).to_contain_text("alleen team")
    # The supervisor is alerted (who, not what), opens the chat from the alert and answers privately.
    alert = supervisor.page.locator('.alert[data-reason="whisper"]')
    await expect(alert).to_contain_text("Anna vraagt om hulp in een chat")
    await expect(alert).not_to_contain_text("bang")
    await alert.get_by_role("button", name="Meelezen").click()
    monitor = supervisor.page.locator(".monitor")
    await expect(monitor.locator(".msg.whisper .text")).to_have_text(["Ze klinkt erg bang, kun je meelezen?"])
    await expect(monitor.locator(".msg.from-counselor .text")).to_have_text(["Je zit goed. Vertel maar."])
    await monitor.get_by_label("Antwoord aan Anna").fill("Ik lees mee. Vraag of ze nu veilig is.")
    await monitor.get_by_role("button", name="Antwoord privé").click()
    await expect(note.locator(".text")).to_have_text(
        ["Ze klinkt erg bang, kun je meelezen?", "Ik lees mee. Vraag of ze nu veilig is."]
    )
    await expect(note.last).to_contain_text("Supervisor Sara")
    await axe_check(env, page, "whisper in a chat")
    await axe_check(env, supervisor.page, "whisper answered while monitoring")
    await shoot(page, "12-whisper")

    # The visitor's widget shows the conversation and nothing of the notes, now or after a reload.
    await panel.get_by_label("Bericht aan de bezoeker").fill("Ben je nu veilig?")
    await panel.get_by_label("Bericht aan de bezoeker").press("Enter")
    await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Ben je nu veilig?")
    for _ in range(2):
        text = await frame.locator("body").inner_text()
        assert "bang" not in text and "meelezen" not in text.lower() and "veilig is" not in text
        html = await frame.locator("body").inner_html()
        assert "whisper" not in html
        await visitor_page.reload()  # the widget comes back open, resuming the chat
        frame = widget_chat(visitor_page)
        await expect(frame.locator(".msg.from-counselor .text").last).to_have_text("Ben je nu veilig?")
    await frame.locator("#msg").fill("ja")
    await frame.locator("#msg").press("Enter")
    await expect(panel.locator(".msg.from-visitor .text").last).to_have_text("ja")
    await context.close()


async def test_skills_route_a_visitor_to_the_right_counselor(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("bram")
    page = console.page
    # Bram takes young people only: he unticks parents in the queue panel.
    await page.get_by_role("checkbox", name="Ouders").uncheck()
    await expect(page.get_by_role("checkbox", name="Jongeren")).to_be_disabled()  # at least one audience stays
    parent = await visitor(env, audience="parent", first_message="Ik maak me zorgen")
    await queue_total(page, "Totaal: 1 wachtend, waarvan 0 urgent")
    row = page.locator('tr[data-queue="parent/nl"]')
    await expect(row).to_contain_text("niet jouw wachtrij")
    await expect(row).to_contain_text("niemand online voor deze wachtrij")
    await expect(row.get_by_role("button")).to_have_count(0)
    await expect(page).to_have_title("Chatconsole")  # a queue he does not take does not call him
    await page.get_by_role("button", name="Volgende aannemen").click()
    await expect(page.locator(".queue-msg")).to_contain_text("Er wacht niemand")
    youth = await visitor(env, audience="youth", first_message="hoi")
    await expect(page).to_have_title(re.compile(r"Wachtend|wachtend"))
    await page.get_by_role("button", name="Volgende aannemen").click()
    tab = page.get_by_role("tab")
    await expect(tab).to_have_count(1)
    await expect(tab).to_contain_text("Jongere")
    await youth.wait(type="paired")
    assert not any(f.get("type") == "paired" for f in parent.frames)
    await axe_check(env, page, "skills")
    await shoot(page, "13-skills")
    await page.get_by_role("checkbox", name="Ouders").check()  # as it was, for the other tests
    await leave(parent, youth)


async def test_transfer_between_counselors(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("anna")
    page = console.page
    bram = Peer(await counselor_ws(env.server, await token(env, "bram"), capacity=3))
    v = await visitor(env, first_message="Mijn dochter heeft een nieuwe vriend van 19")
    await queue_total(page, "Totaal: 1 wachtend, waarvan 0 urgent")
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(1)
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Ik ben Anna. Vertel eens?")
    await box.press("Enter")
    await v.wait(type="message", sender="counselor", text="Ik ben Anna. Vertel eens?")
    await v.send({"type": "message", "client_id": "v-1", "text": "Ze is 15"})
    await expect(chat_panel(page).locator(".msg.from-visitor .text").last).to_have_text("Ze is 15")

    # Anna hands the chat to Bram by username (a plain counselor has no colleague list), with a note.
    await page.keyboard.press("Alt+T")
    dialog = page.get_by_role("dialog", name="Chat overdragen")
    await dialog.get_by_label("Naar een collega").check()
    await dialog.get_by_label("Gebruikersnaam van de collega").fill("nobody")
    await dialog.get_by_role("button", name="Overdragen").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Dat mag nu niet")
    await dialog.get_by_label("Gebruikersnaam van de collega").fill("bram")
    await dialog.get_by_label(re.compile("Interne notitie")).fill("Moeder, dochter 15, loverboy?")
    await axe_check(env, page, "transfer form")
    await shoot(page, "07-transfer")
    await dialog.get_by_role("button", name="Overdragen").click()
    await expect(page.get_by_role("tab")).to_have_count(0)
    await expect(page.locator(".chat-area .flash")).to_have_text("Chat overgedragen aan bram.")
    assigned = await bram.wait(type="assigned", session_id=v.sid)
    assert assigned["transfer"] == {"from": "Anna", "note": "Moeder, dochter 15, loverboy?"}
    await bram.wait(type="message", session_id=v.sid, text="Ze is 15")
    await v.wait(type="paired", counselor_name="Bram")
    handover = await v.wait(type="handover")
    assert handover["counselor_name"] == "Bram"
    await bram.send({"type": "message", "session_id": v.sid, "client_id": "b-1", "text": "Hoi, ik ben Bram."})
    await v.wait(type="message", text="Hoi, ik ben Bram.")

    # And back again: Bram to Anna, whose console opens the chat with its history and the note.
    await bram.send({"type": "transfer", "session_id": v.sid, "to": "anna", "note": "Terug naar jou"})
    await bram.wait(type="transferred", session_id=v.sid)
    await expect(page.get_by_role("tab")).to_have_count(1)
    await expect(chat_panel(page).locator(".transfer-note")).to_contain_text("Overgedragen door Bram.")
    await expect(chat_panel(page).locator(".transfer-note")).to_contain_text("Terug naar jou")
    await expect(chat_panel(page).locator(".msg .text")).to_have_text(
        ["Mijn dochter heeft een nieuwe vriend van 19", "Ik ben Anna. Vertel eens?", "Ze is 15", "Hoi, ik ben Bram."]
    )
    await v.wait(type="paired", counselor_name="Anna")
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Ik ben er weer.")
    await box.press("Enter")
    await v.wait(type="message", text="Ik ben er weer.")
    await shoot(page, "08-transferred-back")

    # The visitor's socket never closed, and its events have no gap.
    assert v.closed_with is None
    seqs = [e["seq"] for e in v.events()]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 7
    shown = await seqs_shown(page)
    assert shown == seqs

    # Back to the head of the queue: the next accept takes it.
    await page.keyboard.press("Alt+T")
    dialog = page.get_by_role("dialog", name="Chat overdragen")
    await expect(dialog.get_by_label("Terug naar de wachtrij (vooraan)")).to_be_checked()
    await dialog.get_by_role("button", name="Overdragen").click()
    await expect(page.locator(".chat-area .flash")).to_have_text("Chat teruggezet in de wachtrij.")
    await v.wait(type="handover", counselor_name=None)
    await queue_total(page, "Totaal: 1 wachtend, waarvan 0 urgent")
    await bram.send({"type": "accept"})
    # It answers his accept, and carries the kept note of the last transfer (Anna's, without a note).
    await bram.wait(type="assigned", session_id=v.sid, transfer={"from": "Anna", "note": ""}, **{"for": "accept"})
    assert v.closed_with is None
    await bram.close()
    await leave(v)


async def test_supervisor_monitors_and_counselor_is_refused(env: Env, open_console: Callable[..., Any]) -> None:
    anna = Peer(await counselor_ws(env.server, await token(env, "anna"), capacity=3))
    v = await visitor(env, first_message="Iemand volgt mijn dochter")
    await anna.send({"type": "accept"})
    await anna.wait(type="assigned", session_id=v.sid)
    waiting = await visitor(env, language="en", first_message="Hello?")

    console = await open_console("sara")
    page = console.page
    await expect(page.locator(".role")).to_have_text("Supervisor")
    # A wait past the threshold reaches supervisors as an alert.
    alert = page.locator(".alert")
    await expect(alert.first).to_contain_text("Lange wachttijd", timeout=15_000)
    await expect(alert.first).to_contain_text("Ouders · EN")
    await page.get_by_role("button", name="Supervisie").click()
    row = page.locator(f'tr[data-sid="{v.sid}"]')
    await expect(row).to_contain_text("Anna")
    await expect(page.locator('tr[data-username="anna"]')).to_contain_text("1 van 3 chats")
    await axe_check(env, page, "supervisor overview")
    await shoot(page, "09-supervisor", tablet=True)
    await row.get_by_role("button", name="Meelezen").click()
    monitor = page.locator(f'.monitor[data-sid="{v.sid}"]')
    await expect(monitor.locator(".msg .text")).to_have_text(["Iemand volgt mijn dochter"])
    await v.send({"type": "message", "client_id": "v-1", "text": "Wat moet ik doen?"})
    await expect(monitor.locator(".msg .text").last).to_have_text("Wat moet ik doen?")
    await anna.send({"type": "message", "session_id": v.sid, "client_id": "k-1", "text": "Bel 112 bij gevaar."})
    await expect(monitor.locator(".msg .text").last).to_have_text("Bel 112 bij gevaar.")
    # Read-only towards the visitor: no composer, no typing from here; the one box answers the counselor privately.
    await expect(monitor.get_by_label("Bericht aan de bezoeker")).to_have_count(0)
    await expect(monitor.locator("textarea")).to_have_count(1)
    await expect(monitor.get_by_label("Antwoord aan Anna (de bezoeker ziet dit niet)")).to_have_count(1)
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, 'sara')}"}
    ) as client:
        entries = (await client.get("/api/audit")).json()
    assert any(e["action"] == "monitor" and e["session_id"] == v.sid and e["actor"] == "sara" for e in entries)
    assert all(set(e) == {"at", "actor", "action", "session_id"} for e in entries)
    await expect(page.locator("table.grid").filter(has_text="Wanneer")).to_contain_text(v.sid, timeout=10_000)
    await axe_check(env, page, "supervisor monitoring")
    await shoot(page, "10-monitoring", tablet=True)
    await monitor.get_by_role("button", name="Stop met meelezen").click()
    await expect(monitor).to_have_count(0)

    # A plain counselor has no supervisor or admin view, and the API refuses them whatever the page does.
    plain = await open_console("bram")
    await expect(plain.page.get_by_role("button", name="Supervisie")).to_have_count(0)
    await expect(plain.page.get_by_role("button", name="Beheer")).to_have_count(0)
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, 'bram')}"}
    ) as client:
        for path in ("/api/supervisor/overview", "/api/audit", "/api/admin/counselors", "/api/admin/stats"):
            assert (await client.get(path)).status_code == 403, path
        assert (
            await client.post(
                "/api/admin/counselors", json={"username": "x", "display_name": "X", "password": "y" * 12}
            )
        ).status_code == 403
    status = await plain.page.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem('hlc-console')).token;
        const r = await fetch('/api/supervisor/overview', { headers: { Authorization: 'Bearer ' + token } });
        return r.status; }""")
    assert status == 403
    await anna.close()
    await leave(v, waiting)
    # Nobody waits any more: the alert goes away by itself.
    await expect(alert).to_have_count(0)


async def test_reconnect_restores_every_chat(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("anna")
    page = console.page
    v1 = await visitor(env, first_message="Eerste chat")
    v2 = await visitor(env, audience="youth", first_message="Tweede chat")
    await queue_total(page, "Totaal: 2 wachtend, waarvan 0 urgent")
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(1)
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(2)
    await v1.wait(type="paired")
    await v2.wait(type="paired")
    for i, v in enumerate((v1, v2)):
        await v.send({"type": "message", "client_id": f"before-{i}", "text": f"Voor de storing {i}"})
    await expect(page.get_by_role("tab").nth(0).locator(".badge.unread")).to_have_text(re.compile("1"))

    # The server goes away (close 1012) and comes back on the same port, with the same Redis and database.
    env.server.stop()
    await expect(page.locator(".conn")).to_contain_text("Geen verbinding")
    await axe_check(env, page, "connection lost")
    await shoot(page, "11-offline")
    # Written while offline: shown as "sending", sent after the reconnect, stored once.
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Tijdens de storing geschreven")
    await box.press("Enter")
    await expect(chat_panel(page).locator(".state.sending")).to_have_text("wordt verzonden…")
    await asyncio.to_thread(env.restart)
    v1 = await resume(env, v1)
    v2 = await resume(env, v2)
    await expect(page.locator(".conn")).to_have_text("Verbonden", timeout=20_000)
    await v2.wait(type="message", sender="counselor", text="Tijdens de storing geschreven")
    await expect(chat_panel(page).locator(".state.sending")).to_have_count(0)
    for i, v in enumerate((v1, v2)):
        await v.send({"type": "message", "client_id": f"after-{i}", "text": f"Na de storing {i}"})
        await v.wait(type="ack", client_id=f"after-{i}")

    tabs = page.get_by_role("tab")
    await expect(tabs).to_have_count(2)
    for index, v in ((1, v2), (0, v1)):
        await tabs.nth(index).click()
        texts = [e["text"] for e in v.events() if e["type"] == "message"]
        await expect(chat_panel(page).locator(".msg .text")).to_have_text(texts)
        seqs = [e["seq"] for e in v.events()]
        assert seqs == list(range(1, len(seqs) + 1))
        assert await seqs_shown(page) == seqs
    assert [e["text"] for e in v2.events() if e.get("sender") == "counselor"] == ["Tijdens de storing geschreven"]
    await shoot(page, "12-restored")

    # Switching the interface language rebuilds the page from what the console holds: nothing is lost.
    await page.get_by_label("Taal van de console").select_option("en")
    await expect(tabs).to_have_count(2)
    await expect(tabs.nth(0)).to_contain_text("Parent · NL")
    await expect(chat_panel(page).locator(".msg .text")).to_have_text(
        [e["text"] for e in v1.events() if e["type"] == "message"]
    )
    await expect(chat_panel(page).get_by_label("Message to the visitor")).to_be_visible()
    await axe_check(env, page, "chats in English")
    await shoot(page, "12-restored-en")
    await page.get_by_label("Console language").select_option("nl")
    await expect(tabs).to_have_count(2)
    await leave(v1, v2)


async def replayed(page: Page) -> None:
    """The console is connected and the server's replay of this counselor's chats is complete."""
    await expect(page.locator(".conn")).to_have_text("Verbonden")
    await expect(page.locator("html")).to_have_attribute("data-replay", "done")


async def test_chat_ended_while_away_comes_back_for_its_wrapup(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("bram")
    page = console.page
    sent: list[dict[str, Any]] = []  # every frame the page sends, on any of its sockets

    def watch(ws: Any) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)) if isinstance(payload, str) else None)

    page.on("websocket", watch)
    await replayed(page)
    v1 = await visitor(env, topic="thuis", first_message="Ik maak me zorgen over mijn zoon")
    v2 = await visitor(env, audience="youth", first_message="Hoi")
    await queue_total(page, "Totaal: 2 wachtend, waarvan 0 urgent")
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(1)
    await v1.wait(type="paired", counselor_name="Bram")
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Ik lees mee. Vertel maar.")
    await box.press("Enter")
    await v1.wait(type="message", sender="counselor", text="Ik lees mee. Vertel maar.")
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(2)
    await v2.wait(type="paired")
    tab1 = page.locator(f'.tab[data-sid="{v1.sid}"]')
    tab2 = page.locator(f'.tab[data-sid="{v2.sid}"]')
    panel1 = page.locator(f'.chat[data-sid="{v1.sid}"]')
    panel2 = page.locator(f'.chat[data-sid="{v2.sid}"]')
    await expect(panel2.get_by_label("Bericht aan de bezoeker")).to_be_focused()

    # Live: the visitor in the chat shown ends it. The tab is marked, the composer goes, focus to the wrap-up.
    await v2.send({"type": "end"})
    await expect(tab2.locator(".ended-mark")).to_have_text("Gesprek beëindigd — rond af")
    await expect(panel2.locator(".ended-box")).to_contain_text("De bezoeker heeft de chat beëindigd.")
    await expect(panel2.locator(".composer")).to_be_hidden()
    await expect(panel2.get_by_role("button", name="Afrondformulier invullen (Alt+W)")).to_be_focused()
    await expect(tab1.locator(".ended-mark")).to_have_count(0)
    await expect(page.locator(".load")).to_have_text("1 van 3 chats")

    # The console goes away (a reload, a closed laptop) and meanwhile the other visitor writes and ends.
    await page.goto("about:blank")
    await v1.send({"type": "message", "client_id": "v1-1", "text": "Ben je er nog?"})
    await v1.wait(type="ack", client_id="v1-1")
    await v1.send({"type": "end"})
    assert (await v1.wait(type="ended"))["reason"] == "visitor"
    await page.goto(env.server.http + "/console")
    await replayed(page)

    # Both come back, marked ended, with their history, and nothing to write with.
    await expect(page.get_by_role("tab")).to_have_count(2)
    for tab in (tab1, tab2):
        await expect(tab.locator(".ended-mark")).to_have_text("Gesprek beëindigd — rond af")
    await expect(page.locator(".load")).to_have_text("0 van 3 chats")
    # To the chat that ended while away, with the keyboard (whichever of the two came back first).
    for _ in range(2):
        await page.keyboard.press("Alt+PageDown")
        if await tab1.get_attribute("aria-selected") == "true":
            break
    await expect(tab1).to_be_focused()
    await expect(panel1.locator(".msg .text")).to_have_text(
        ["Ik maak me zorgen over mijn zoon", "Ik lees mee. Vertel maar.", "Ben je er nog?"]
    )
    await expect(panel1.locator(".sys.ended")).to_contain_text("De bezoeker heeft de chat beëindigd.")
    await expect(panel1.locator(".ended-title")).to_have_text("Gesprek beëindigd — rond af")
    await expect(panel1.locator(".composer")).to_be_hidden()
    await expect(panel1.locator(".chat-actions")).to_be_hidden()
    assert await seqs_shown(page) == [e["seq"] for e in v1.events()]
    for keys in ("Alt+K", "Alt+T", "Alt+M"):  # no snippet picker, no transfer, no message box
        await page.keyboard.press(keys)
        await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(tab1).to_be_focused()
    await axe_check(env, page, "ended chats awaiting their wrap-up")
    await shoot(page, "17-ended-awaiting-wrapup", tablet=True)

    # The wrap-up with the keyboard only; it sends `wrapup` (the chat has ended: no `end`).
    await page.keyboard.press("Alt+W")
    dialog = page.get_by_role("dialog", name="Chat afronden")
    await expect(dialog.get_by_label("Onderwerp")).to_be_focused()
    await expect(dialog.get_by_role("button", name="Chat beëindigen en opslaan")).to_have_count(0)
    await page.keyboard.type("Geweld")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_label("Risico")).to_be_focused()
    await page.keyboard.type("Hoog")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_label("Doorverwezen naar")).to_be_focused()
    await page.keyboard.type("Veilig")
    await expect(dialog.get_by_label("Onderwerp")).to_have_value("abuse_at_home")
    await expect(dialog.get_by_label("Risico")).to_have_value("high")
    await expect(dialog.get_by_label("Doorverwezen naar")).to_have_value("veilig_thuis")
    await axe_check(env, page, "wrap-up of an ended chat")
    await shoot(page, "18-ended-wrapup-form")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Opslaan")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(".chat-area .flash")).to_have_text("Afronding opgeslagen.")
    await expect(page.get_by_role("tab")).to_have_count(1)
    await expect(tab1).to_have_count(0)
    await expect(tab2).to_be_focused()
    assert {
        "type": "wrapup",
        "session_id": v1.sid,
        "category": "abuse_at_home",
        "risk": "high",
        "referral": "veilig_thuis",
    } in sent
    assert not [f for f in sent if f.get("type") == "end"], "an ended chat was ended again"

    # A further reload: only the chat still without a wrap-up comes back.
    await page.reload()
    await replayed(page)
    await expect(page.get_by_role("tab")).to_have_count(1)
    await expect(tab2.locator(".ended-mark")).to_have_text("Gesprek beëindigd — rond af")
    await panel2.get_by_role("button", name="Afrondformulier invullen (Alt+W)").click()
    dialog = page.get_by_role("dialog", name="Chat afronden")
    await dialog.get_by_label("Onderwerp").select_option("information")
    await dialog.get_by_label("Risico").select_option("none")
    await dialog.get_by_label("Doorverwezen naar").select_option("none")
    await dialog.get_by_role("button", name="Opslaan").click()
    await expect(page.get_by_role("tab")).to_have_count(0)
    await expect(page.get_by_role("button", name="Volgende aannemen")).to_be_focused()
    await page.reload()
    await replayed(page)
    await expect(page.get_by_role("tab")).to_have_count(0)
    await expect(page.locator(".chats-view .empty")).to_be_visible()
    assert not [f for f in sent if f.get("type") == "end"]
    await leave(v1, v2)


async def test_chat_ended_while_the_socket_was_cut(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console()
    # Playwright's routed socket (the cut below) can still read OPEN to the page for a moment after the
    # route closed it, and Chromium then logs a send on it; the console itself checks readyState first.
    console.allowed.append("WebSocket is already in CLOSING or CLOSED state")
    page = console.page
    cut = {"on": False}
    routes: list[tuple[Any, Any]] = []  # (the page's side, the server's side) of every counselor socket

    async def through(ws: Any) -> None:
        """The counselor socket, through a switch: while it is off, every connection is refused at once."""
        if cut["on"]:
            await ws.close(code=4001, reason="cut")
            return
        server = ws.connect_to_server()
        routes.append((ws, server))

    await page.route_web_socket(re.compile(r"/ws/counselor$"), through)
    await log_in(page, "anna")
    await replayed(page)
    v = await visitor(env, first_message="Ik weet niet of ik dit mag vragen")
    await page.keyboard.press("Alt+N")
    await expect(page.get_by_role("tab")).to_have_count(1)
    await v.wait(type="paired", counselor_name="Anna")

    # The socket is cut; written meanwhile, the message waits; the visitor ends the chat before it is back.
    cut["on"] = True
    for ws, server in routes:
        await server.close()
        await ws.close(code=4001, reason="cut")
    await expect(page.locator(".conn")).to_contain_text("Geen verbinding")
    box = chat_panel(page).get_by_label("Bericht aan de bezoeker")
    await box.fill("Dat mag zeker.")
    await box.press("Enter")
    await expect(chat_panel(page).locator(".state.sending")).to_have_text("wordt verzonden…")
    await v.send({"type": "end"})
    await v.wait(type="ended")
    cut["on"] = False
    await expect(page.locator(".conn")).to_have_text("Verbonden", timeout=20_000)
    await replayed(page)

    tab = page.get_by_role("tab")
    await expect(tab).to_have_count(1)
    await expect(tab.locator(".ended-mark")).to_have_text("Gesprek beëindigd — rond af")
    await expect(chat_panel(page).locator(".sys.ended")).to_contain_text("De bezoeker heeft de chat beëindigd.")
    await expect(chat_panel(page).locator(".state.failed")).to_have_text("niet verzonden: de chat was al beëindigd")
    await expect(chat_panel(page).get_by_role("button", name="Opnieuw")).to_have_count(0)
    await expect(chat_panel(page).locator(".composer")).to_be_hidden()
    assert not [e for e in v.events() if e.get("sender") == "counselor"]
    await page.keyboard.press("Alt+W")
    dialog = page.get_by_role("dialog", name="Chat afronden")
    await dialog.get_by_label("Onderwerp").select_option("information")
    await dialog.get_by_label("Risico").select_option("low")
    await dialog.get_by_label("Doorverwezen naar").select_option("none")
    await dialog.get_by_role("button", name="Opslaan").click()
    await expect(page.locator(".chat-area .flash")).to_have_text("Afronding opgeslagen.")
    await expect(tab).to_have_count(0)
    await page.reload()
    await replayed(page)
    await expect(tab).to_have_count(0)
    await leave(v)


async def test_admin_manages_counselors_and_snippets(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("root")
    page = console.page
    await page.get_by_role("button", name="Beheer").click()
    await expect(page.locator('tr[data-username="anna"]')).to_contain_text("Anna")
    await axe_check(env, page, "admin counselors")
    await shoot(page, "13-admin-counselors", tablet=True)

    form = page.locator("form.inline-form")
    await form.get_by_label("Gebruikersnaam").fill("cato")
    await form.get_by_label(re.compile("Weergavenaam")).fill("Cato")
    await form.get_by_label("Wachtwoord", exact=False).fill("a long enough password")
    await form.get_by_role("button", name="Toevoegen").click()
    await expect(page.locator(".admin-view .flash")).to_have_text("Cato is toegevoegd.")
    row = page.locator('tr[data-username="cato"]')
    await row.get_by_label("Rol van Cato").select_option("supervisor")
    await expect(page.locator(".admin-view .flash")).to_have_text("Cato is opgeslagen.")
    await row.get_by_role("button", name="Wachtwoord opnieuw instellen").click()
    reset = page.get_by_role("dialog", name="Nieuw wachtwoord voor Cato")
    await reset.get_by_label(re.compile("Nieuw wachtwoord")).fill("another long password")
    await reset.get_by_role("button", name="Opslaan").click()
    await expect(page.locator(".admin-view .flash")).to_contain_text("wachtwoord van Cato is gewijzigd")
    await row.get_by_role("button", name="Uitschakelen").click()
    await expect(row.get_by_role("button", name="Inschakelen")).to_be_visible()
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, 'root')}"}
    ) as client:
        cato = [c for c in (await client.get("/api/admin/counselors")).json() if c["username"] == "cato"][0]
        assert cato == {
            "username": "cato",
            "display_name": "Cato",
            "role": "supervisor",
            "active": False,
            "audiences": ["parent", "youth"],
            "languages": ["en", "nl"],
        }
        assert (
            await client.post("/api/auth/login", json={"username": "cato", "password": "another long password"})
        ).status_code == 401

    # Snippets: create, edit, reorder, deactivate.
    await page.get_by_role("button", name="Hulpbronnen").click()
    await page.get_by_role("button", name="Nieuwe hulpbron").click()
    dialog = page.get_by_role("dialog", name="Nieuwe hulpbron")
    await dialog.get_by_label("Titel").fill("Offlimits: beelden online")
    await dialog.get_by_label("Tekst").fill("Staan er beelden van je online? Offlimits helpt.")
    await dialog.get_by_label("Doelgroep").select_option("youth")
    await dialog.get_by_label("Soort").select_option("online_abuse")
    await dialog.get_by_label(re.compile("Website")).fill("https://offlimits.nl")
    await axe_check(env, page, "admin snippet form")
    await shoot(page, "14-admin-snippet-form")
    await dialog.get_by_role("button", name="Opslaan").click()
    row = page.locator("tr", has_text="Offlimits: beelden online")
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Bewerken: Offlimits: beelden online").click()
    dialog = page.get_by_role("dialog", name="Hulpbron bewerken")
    await dialog.get_by_label("Titel").fill("Offlimits")
    await dialog.get_by_role("button", name="Opslaan").click()
    row = page.locator("tr", has_text="Offlimits")
    await expect(row).to_have_count(1)
    snippet_id = await row.get_attribute("data-id")
    assert snippet_id
    ids_before = await page.locator("tr[data-id]").evaluate_all("(els) => els.map(e => e.dataset.id)")
    await row.get_by_role("button", name="Omlaag: Offlimits").click()
    await expect(page.locator("tr[data-id]").nth(ids_before.index(snippet_id) + 1)).to_have_attribute(
        "data-id", snippet_id
    )
    await row.get_by_role("button", name="Uitschakelen").click()
    await expect(row.locator(".badge.muted")).to_have_text("uitgeschakeld")
    await axe_check(env, page, "admin snippets")
    await shoot(page, "15-admin-snippets", tablet=True)
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, 'anna')}"}
    ) as client:
        offered = {s["id"] for s in (await client.get("/api/snippets")).json()}
    assert snippet_id not in offered

    # English, then back; the choice survives a reload, and so does the login (this tab only).
    await page.get_by_label("Taal van de console").select_option("en")
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.reload()
    await expect(page.locator(".conn")).to_have_text("Connected")
    await page.get_by_role("button", name="Shortcuts").click()
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_contain_text("Accept the next chat")
    await axe_check(env, page, "shortcuts, English")
    await shoot(page, "16-shortcuts-en")
    await page.keyboard.press("Escape")
    await page.get_by_label("Console language").select_option("nl")

    # Logging out kills the token at once and forgets it.
    page_token = json.loads(await page.evaluate("() => sessionStorage.getItem('hlc-console')"))["token"]
    await page.get_by_role("button", name="Uitloggen").click()
    await expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
    await expect(page.locator(".login .flash")).to_have_text("Je bent uitgelogd.")
    assert json.loads(await page.evaluate("() => sessionStorage.getItem('hlc-console') || '{}'")).get("token") is None
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {page_token}"}
    ) as client:
        assert (await client.get("/api/auth/me")).status_code == 401


async def test_the_console_acknowledges_delivered_and_read(env: Env, open_console: Callable[..., Any]) -> None:
    console = await open_console("anna")
    page = console.page
    await page.bring_to_front()
    peer = await visitor(env, first_message="Is daar iemand?")
    await expect(page.locator(".queue-total")).to_contain_text("Totaal: 1 wachtend")
    await page.get_by_role("button", name="Volgende aannemen").click()
    await expect(chat_panel(page).locator(".msg.from-visitor .text")).to_have_text(["Is daar iemand?"])
    # On the screen of a visible, focused console, in the selected chat: delivered and read.
    await peer.wait(type="receipt", delivered=1, read=1)

    # The console is hidden (another window in front): what arrives is delivered, not read, until it is back.
    await set_hidden(page, True)
    await peer.send({"type": "message", "client_id": "v-2", "text": "Hallo?"})
    await peer.wait(type="receipt", delivered=2, read=1)
    await expect(chat_panel(page).locator(".msg.from-visitor .text")).to_have_text(["Is daar iemand?", "Hallo?"])
    await set_hidden(page, False)
    await peer.wait(type="receipt", delivered=2, read=2)
    receipts = [f for f in peer.frames if f["type"] == "receipt"]
    assert receipts == [
        {"type": "receipt", "delivered": 1, "read": 1},
        {"type": "receipt", "delivered": 2, "read": 1},
        {"type": "receipt", "delivered": 2, "read": 2},
    ], "each mark once, and only upwards"
    await leave(peer)


async def set_hidden(page: Page, hidden: bool) -> None:
    await page.evaluate(
        """(hidden) => {
        const state = hidden ? 'hidden' : 'visible';
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        document.dispatchEvent(new Event('visibilitychange'));
    }""",
        hidden,
    )
