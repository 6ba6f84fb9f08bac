"""Review, ratings, statistics and staffing in the console, in a real headless Chromium (issue 15).

The environment (a real server, accounts, Chromium, axe-core) is the one of tests/console/test_browser.py,
started once more for this module.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chat.store.sql import ChatSummary, make_engine, make_sessionmaker
from tests.console import test_browser as base
from tests.console.test_browser import Env, Peer, archive, axe_check, expect, leave, shoot, token, visitor
from tests.helpers import counselor_ws

# One worker runs the whole module (pytest -n ... --dist loadgroup): its server and Chromium start once.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("review-browser")]

# The fixtures of the console's browser tests, for this module: its own server, accounts and Chromium.
env = base.env
isolated = base.isolated
open_console = base.open_console

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


async def api(env: Env, name: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=env.server.http, timeout=10, headers={"Authorization": f"Bearer {await token(env, name)}"}
    ) as client:
        return await client.request(method, path, **kwargs)


async def audit_count(env: Env, sid: str) -> int:
    entries = (await api(env, "sara", "GET", "/api/audit?limit=1000")).json()
    return sum(1 for e in entries if e["session_id"] == sid and e["action"] == "transcript")


async def test_supervisor_opens_a_transcript_and_each_opening_is_audited(
    env: Env, open_console: Any, redactor: Any
) -> None:
    anna = Peer(await counselor_ws(env.server, await token(env, "anna"), capacity=3))
    v = await visitor(env, audience="youth", first_message="Ik ben Sanne de Vries en mijn vader slaat me")
    await anna.send({"type": "accept"})
    await anna.wait(type="assigned", session_id=v.sid)
    await anna.send({"type": "message", "session_id": v.sid, "client_id": "k-1", "text": "Wat naar. Ben je veilig?"})
    await anna.wait(type="ack", client_id="k-1")
    await anna.send({"type": "end", "session_id": v.sid})
    await anna.wait(type="ended", session_id=v.sid)
    wrapup = {"category": "abuse_at_home", "risk": "high", "referral": "veilig_thuis"}
    await anna.send({"type": "wrapup", "session_id": v.sid, **wrapup})
    await anna.wait(type="wrapup_saved", session_id=v.sid)
    await archive(env, redactor)
    # The visitor rates the chat from the widget: it counts for Anna, and nothing names the visitor.
    async with httpx.AsyncClient(base_url=env.server.http, timeout=10) as widget:
        assert (await widget.post("/api/rating", json={"score": 5, "token": v.token})).status_code == 204
    await leave(v)
    await anna.close()

    console = await open_console("sara")
    page = console.page
    await page.get_by_role("button", name="Terugkijken").click()
    await page.locator(".review-search").get_by_label("Risico").select_option("high")
    await page.locator(".review-search").get_by_label("Hulpverlener").select_option("anna")
    await page.get_by_role("button", name="Zoeken").click()
    row = page.locator(f'.review-results tr[data-sid="{v.sid}"]')
    await expect(row).to_contain_text("Anna")
    await expect(row).to_contain_text("Geweld of misbruik thuis")
    assert "Sanne" not in await page.locator(".review-results").inner_text()
    # Ratings per counselor and per day, for supervisors.
    await expect(page.locator('.review-ratings tr[data-username="anna"]')).to_contain_text("5")
    await axe_check(env, page, "review search")

    before = await audit_count(env, v.sid)
    await row.get_by_role("button", name=re.compile("^Transcript van .* openen$")).click()
    transcript = page.locator(f'.transcript[data-sid="{v.sid}"]')
    await expect(transcript.locator(".msg .text").first).to_contain_text("[NAAM]")
    await expect(transcript).to_contain_text("Wat naar. Ben je veilig?")
    await expect(transcript).to_contain_text("Veilig Thuis")
    assert "Sanne" not in await transcript.inner_text()
    assert await audit_count(env, v.sid) == before + 1
    await axe_check(env, page, "review transcript")
    await shoot(page, "20-review-transcript", tablet=True)
    await transcript.get_by_role("button", name="Sluiten").click()
    await expect(page.locator(".transcript")).to_be_hidden()
    await row.get_by_role("button", name=re.compile("^Transcript van .* openen$")).click()
    await expect(page.locator(f'.transcript[data-sid="{v.sid}"]')).to_be_visible()
    assert await audit_count(env, v.sid) == before + 2

    # Anna sees her own wrap-up and may open her own transcript (audited too); no ratings for her.
    own = await open_console("anna")
    await own.page.get_by_role("button", name="Terugkijken").click()
    mine = own.page.locator(f'.review-mine tr[data-sid="{v.sid}"]')
    await expect(mine).to_contain_text("Hoog")
    await expect(mine).to_contain_text("Veilig Thuis")
    await expect(own.page.locator(".review-ratings")).to_have_count(0)
    await expect(own.page.locator(".review-search").get_by_label("Hulpverlener")).to_have_count(0)
    await mine.get_by_role("button", name=re.compile("openen$")).click()
    await expect(own.page.locator(f'.transcript[data-sid="{v.sid}"]')).to_contain_text("[NAAM]")
    assert await audit_count(env, v.sid) == before + 3
    await axe_check(env, own.page, "review, counselor")
    await shoot(own.page, "21-review-counselor")


async def test_admin_sees_ratings_statistics_and_staffing(env: Env, open_console: Any) -> None:
    # Three weeks and five hours ago (Amsterdam wall-clock time), three chats began; one gave up after 12 min.
    began = (datetime.now(UTC) - timedelta(weeks=3, hours=5)).astimezone(AMSTERDAM).replace(minute=10)
    engine = make_engine(env.settings.sqlalchemy_url)
    tag = began.strftime("%H%M%S")
    async with make_sessionmaker(engine)() as db:
        for i, (paired, wait) in enumerate(((True, 45), (False, 720), (True, 130))):
            db.add(
                ChatSummary(
                    session_id=f"s_staff_{tag}_{i}",
                    day=began.date(),
                    audience="parent",
                    language="nl",
                    urgent=False,
                    paired=paired,
                    wait_seconds=wait,
                    end_reason="counselor" if paired else "visitor",
                    messages=3,
                    opened_hour=began.astimezone(UTC).replace(minute=0, second=0, microsecond=0),
                )
            )
        await db.commit()
    await engine.dispose()
    async with httpx.AsyncClient(base_url=env.server.http, timeout=10) as widget:
        assert (await widget.post("/api/rating", json={"score": 4})).status_code == 204

    console = await open_console("root")
    page = console.page
    await page.get_by_role("button", name="Terugkijken").click()
    await expect(page.locator('[data-stat="ratings-total"]')).to_contain_text("beoordelingen")
    today = datetime.now(AMSTERDAM).date().isoformat()
    await expect(page.locator(f'.review-ratings tr[data-day="{today}"]')).to_be_visible()

    await page.get_by_role("button", name="Beheer").click()
    await page.get_by_role("button", name="Statistieken").click()
    await expect(page.locator('[data-stat="abandoned"]')).to_contain_text("%")
    await expect(page.locator(".stats")).to_contain_text("iedereen die wachtte")

    await page.get_by_role("button", name="Bezetting").click()
    week = page.locator('figure[data-chart="week"] svg.chart')
    await expect(week).to_be_visible()
    assert await week.get_attribute("role") == "img"
    await expect(week.locator("rect.bar-abandoned")).not_to_have_count(0)
    await expect(page.locator('figure[data-chart="days"] svg.chart rect.bar-chats')).not_to_have_count(0)
    await axe_check(env, page, "admin staffing chart")
    await shoot(page, "22-admin-staffing", tablet=True)
    # The same numbers as a table: the hour those chats began, three chats, one abandoned, 12 minutes.
    await page.get_by_text(re.compile("^Als tabel: Per uur van de week")).click()
    slot = page.locator(f'tr[data-slot="{began.weekday()}-{began.hour}"]')
    await expect(slot).to_be_visible()
    cells = await slot.locator("td").all_inner_texts()
    assert cells[1:] == ["3", "1", "12:00 min"], cells
    await page.get_by_text(re.compile("^Als tabel: Per dag")).click()
    await expect(page.locator(f'.staffing tr[data-day="{today}"]')).to_be_visible()
    await axe_check(env, page, "admin staffing tables")
    await shoot(page, "23-admin-staffing-tables")
