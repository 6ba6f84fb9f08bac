"""The widget over HTTP: files, headers, CSP, caching, the size budget, and the widget's public calls."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from chat.store.sql import Rating, make_engine, make_sessionmaker
from tests.conftest import REDIS_URL, MakeServer
from tests.helpers import (
    UNSAFE_SINKS,
    ServerThread,
    assert_page_headers,
    follow_imports,
    recv_until,
    visitor_hello,
)
from tests.helpers import csp_directives as policy

WIDGET = Path(__file__).resolve().parents[2] / "client_widget"
# What a visitor's browser downloads: the loader, the frame and everything the frame loads.
BUDGET_FILES = [
    "widget.js",
    "frame.html",
    "widget.css",
    "app.js",
    "connection.js",
    "stream.js",
    "i18n/nl.js",
    "i18n/en.js",
]
BUDGET_BYTES = 30 * 1024
EMBEDDER = "https://www.example.org"


@pytest.fixture
def widget_server(make_server: MakeServer) -> ServerThread:
    return make_server(allowed_origins=[EMBEDDER, "https://bad; script-src *"])


def referenced_files() -> set[str]:
    """The loader, the frame, and everything the frame loads, following the module imports."""
    found = set(re.findall(r'(?:src|href)="([\w/.-]+)"', (WIDGET / "frame.html").read_text()))
    return follow_imports(WIDGET, found) | {"widget.js", "frame.html"}


def test_size_budget() -> None:
    assert referenced_files() == set(BUDGET_FILES)
    sizes = {name: len(gzip.compress((WIDGET / name).read_bytes(), 9)) for name in BUDGET_FILES}
    total = sum(sizes.values())
    assert total < BUDGET_BYTES, f"loader plus widget is {total} bytes gzipped (budget {BUDGET_BYTES}): {sizes}"


def test_no_third_party_and_no_unsafe_sinks() -> None:
    allowed_urls = {
        "https://www.google.com/search?q=weer",
        "https://www.google.com/search?q=weather",
        "https://chat.example.org/widget.js",
    }
    for path in WIDGET.rglob("*"):
        if path.suffix not in (".js", ".css", ".html") or path.name.startswith("demo"):
            continue
        text = path.read_text()
        for url in re.findall(r"https?://[^\s'\"`)<>]+", text):
            assert url in allowed_urls, f"{path.name} refers to {url}"
        for sink in UNSAFE_SINKS:
            assert sink not in text, f"{path.name} uses {sink}"
        assert not re.search(r"\bon[a-z]+=", text) or path.suffix == ".js", f"{path.name} has an inline handler"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.srcs: list[str] = []
        self.styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if any(name.startswith("on") or name == "style" for name in names):
            self.styles += 1
        if tag == "style":
            self.styles += 1
        if tag == "script":
            self._in_script = "src" not in names
            if names.get("src"):
                self.srcs.append(str(names["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


async def test_frame_headers_csp_and_no_store(widget_server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=widget_server.http) as client:
        frame = await client.get("/widget/frame.html")
    # Embeddable by our own origin and the configured host pages; a malformed entry cannot inject a directive.
    csp = assert_page_headers(frame, widget_server.port, default_src="'none'", frame_ancestors=["'self'", EMBEDDER])
    assert "*" not in frame.headers["content-security-policy"]
    assert csp["form-action"] == ["'none'"]
    page = _Scripts()
    page.feed(frame.text)
    assert page.inline == [] and page.styles == 0 and page.srcs == ["app.js"]
    assert "<title>Chat</title>" in frame.text  # a neutral title


async def test_frame_not_embeddable_elsewhere_without_configuration(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        frame = await client.get("/widget/frame.html")
    assert policy(frame.headers["content-security-policy"])["frame-ancestors"] == ["'self'"]


async def test_static_files_revalidate_and_compress(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        loader = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
        assert loader.status_code == 200
        assert loader.headers["content-type"] == "text/javascript; charset=utf-8"
        assert loader.headers["cache-control"] == "no-cache"
        assert loader.headers["content-encoding"] == "gzip"
        assert loader.headers["cross-origin-resource-policy"] == "cross-origin"
        assert loader.headers["x-content-type-options"] == "nosniff"
        assert loader.text == (WIDGET / "widget.js").read_text()
        etag = loader.headers["etag"]
        again = await client.get("/widget.js", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == (WIDGET / "widget.js").read_bytes()
        head = await client.head("/widget.js")
        assert head.status_code == 200
        for name, media in (
            ("app.js", "text/javascript"),
            ("widget.css", "text/css"),
            ("i18n/en.js", "text/javascript"),
        ):
            response = await client.get(f"/widget/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"] == f"{media}; charset=utf-8"
            assert response.headers["cache-control"] == "no-cache"


async def test_demo_page(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        demo = await client.get("/")
    assert demo.status_code == 200
    assert demo.headers["cache-control"] == "no-store"
    assert '<script src="/widget.js" data-language="nl" defer></script>' in demo.text
    csp = policy(demo.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"] and csp["frame-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    page = _Scripts()
    page.feed(demo.text)
    assert page.inline == [] and page.styles == 0


async def test_only_widget_files_are_served(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        for path in (
            "/widget/../chat/settings.py",
            "/widget/%2e%2e/chat/server/app.py",
            "/widget/..%2fpyproject.toml",
            "/widget/.hidden.js",
            "/widget/missing.js",
            "/widget/i18n/../../pyproject.toml",
            "/widget/demo.py",
            "/widget/",
            "/widget/i18n",
            "/widget//etc/passwd",
        ):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.text[:200])


async def test_resources_for_the_widget(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        english = await client.get("/api/resources", params={"language": "en"})
        dutch = await client.get("/api/resources")
        wrong = await client.get("/api/resources", params={"language": "de"})
    assert english.headers["cache-control"] == "no-store"
    ids = [r["id"] for r in english.json()]
    assert ids[0] == "emergency-112-en" and "113-suicide-prevention-en" in ids
    assert all(r["id"].endswith("-nl") for r in dutch.json())
    assert set(english.json()[0]) == {"id", "title", "body", "phone", "url"}
    assert wrong.status_code == 422


async def test_quick_exit_beacon(server: ServerThread) -> None:
    visitor, session = await visitor_hello(server, first_message="Hallo")
    async with httpx.AsyncClient(base_url=server.http) as client:
        # sendBeacon sends a string as text/plain; the token travels in the body, never in the URL.
        sent = await client.post(
            "/api/visitor/quick-exit",
            content=f'{{"token":"{session["token"]}"}}',
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        assert sent.status_code == 204
        ended = await recv_until(visitor, "ended")
        assert ended["reason"] == "quick_exit" and ended["seq"] == 2
        await visitor.wait_closed()
        assert visitor.close_code == 1000
        # Again, or with a made-up token: the same answer, and nothing changes.
        assert (await client.post("/api/visitor/quick-exit", json={"token": session["token"]})).status_code == 204
        assert (await client.post("/api/visitor/quick-exit", json={"token": "made-up"})).status_code == 204
        assert (await client.post("/api/visitor/quick-exit", content=b"not json")).status_code == 400
        assert (await client.post("/api/visitor/quick-exit", json={"token": 5})).status_code == 400
        huge = '{"token":"' + "x" * 100_000 + '"}'
        assert (await client.post("/api/visitor/quick-exit", content=huge)).status_code == 400
    info = await _session_meta(server, session["session_id"])
    assert info["status"] == "ended" and info["end_reason"] == "quick_exit" and info["seq"] == "2"


async def _session_meta(server: ServerThread, sid: str) -> dict[str, str]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        meta: dict[str, str] = await client.hgetall(server.settings.redis_prefix + ":{" + sid + "}:meta")
        return meta
    finally:
        await client.aclose()


@pytest.fixture
def rating_server(make_server: MakeServer, database_url: str) -> ServerThread:
    return make_server(database_url)


async def test_anonymous_rating(rating_server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=rating_server.http) as client:
        for body in ({"score": 4}, {"score": 4, "language": "nl"}, {"score": 5, "language": "en"}):
            response = await client.post("/api/rating", json=body)
            assert response.status_code == 204, response.text
            assert response.headers["cache-control"] == "no-store"
        for bad in (
            {"score": 0},
            {"score": 6},
            {"score": "4"},
            {"score": 4.0},
            {},
            {"score": 3, "session_id": "s_x"},
            {"score": 3, "language": "de"},
        ):
            assert (await client.post("/api/rating", json=bad)).status_code == 422, bad
        # Ten an hour from one address; the rest is refused.
        statuses = [(await client.post("/api/rating", json={"score": 3})).status_code for _ in range(8)]
        assert statuses == [204] * 7 + [429]
    engine = make_engine(rating_server.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = (await db.execute(select(Rating).order_by(Rating.language, Rating.score))).scalars().all()
    finally:
        await engine.dispose()
    # Counts per day, language and score: nothing that could tie an answer to a chat.
    assert [(r.language, r.score, r.count) for r in rows] == [("en", 5, 1), ("nl", 3, 7), ("nl", 4, 2)]
    assert len({r.day for r in rows}) == 1
