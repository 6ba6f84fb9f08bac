"""The counselor console over HTTP: its files, caching, security headers, and what its sources may not do."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx

from tests.helpers import UNSAFE_SINKS, ServerThread, assert_page_headers, follow_imports
from tests.helpers import csp_directives as policy

CONSOLE = Path(__file__).resolve().parents[2] / "counselor_ui"


def referenced_files() -> set[str]:
    """The page and everything it loads, following the module imports."""
    page = (CONSOLE / "index.html").read_text()
    found = {name.removeprefix("/console/") for name in re.findall(r'(?:src|href)="(/console/[\w/.-]+)"', page)}
    follow_imports(CONSOLE, found)
    for name in list(found):
        if name.endswith(".js"):
            text = (CONSOLE / name).read_text()
            found |= {p.removeprefix("/console/") for p in re.findall(r"'(/console/[\w/.-]+)'", text)}
    return found | {"index.html"}


def test_every_file_is_used_and_served_from_here() -> None:
    files = {p.relative_to(CONSOLE).as_posix() for p in CONSOLE.rglob("*") if p.is_file()}
    assert referenced_files() == files


def test_no_third_party_and_no_unsafe_sinks() -> None:
    for path in CONSOLE.rglob("*"):
        if path.suffix not in (".js", ".css", ".html", ".svg"):
            continue
        text = path.read_text()
        urls = [u for u in re.findall(r"https?://[^\s'\"`)<>]+", text) if u != "http://www.w3.org/2000/svg"]
        # The snippet form's placeholder text is the one exception: it names no host.
        assert all(u == "https://" or u.startswith("https://…") for u in urls), f"{path.name} refers to {urls}"
        for sink in (*UNSAFE_SINKS, "url(http", "fonts.googleapis"):
            assert sink not in text, f"{path.name} uses {sink}"
        if path.suffix == ".html":
            assert not re.search(r"\son[a-z]+=", text), f"{path.name} has an inline handler"
            assert not re.search(r"<script(?![^>]*\ssrc=)", text), f"{path.name} has an inline script"
            assert "style=" not in text and "<style" not in text, f"{path.name} has inline style"
        if path.suffix == ".js":
            assert ".style." not in text and "setAttribute('style'" not in text, f"{path.name} sets inline style"


def test_the_two_languages_have_the_same_keys() -> None:
    def keys(name: str) -> list[str]:
        text = (CONSOLE / "i18n" / name).read_text()
        return re.findall(r"^\s+'?(\w+)'?:", text, flags=re.MULTILINE)

    assert keys("nl.js") == keys("en.js")


def test_page_headers(server: ServerThread) -> None:
    with httpx.Client(base_url=server.http) as client:
        for path in ("/console", "/console/", "/console/index.html"):
            page = client.get(path)
            csp = assert_page_headers(page, server.port, default_src="'self'", frame_ancestors=["'none'"])
            assert page.headers["x-frame-options"] == "DENY" and csp["object-src"] == ["'none'"]
            assert "<title>Console</title>" in page.text
        # A made-up Host header cannot write itself into the policy.
        odd = client.get("/console", headers={"Host": "evil.example; script-src *"})
        assert policy(odd.headers["content-security-policy"])["connect-src"] == ["'self'"]
        head = client.head("/console")
        assert head.status_code == 200 and head.headers["cache-control"] == "no-store"


def test_static_files_are_revalidated(server: ServerThread) -> None:
    with httpx.Client(base_url=server.http) as client:
        for path, kind in (
            ("/console/app.js", "text/javascript"),
            ("/console/console.css", "text/css"),
            ("/console/i18n/en.js", "text/javascript"),
            ("/console/favicon.svg", "image/svg+xml"),
        ):
            first = client.get(path, headers={"Accept-Encoding": "gzip"})
            assert first.status_code == 200, path
            assert first.headers["content-type"].startswith(kind)
            assert first.headers["cache-control"] == "no-cache"
            assert first.headers["content-encoding"] == "gzip"
            assert first.content == (CONSOLE / path.removeprefix("/console/")).read_bytes()
            again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304
        plain = client.get("/console/app.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert gzip.compress(plain.content)  # served as it is on disk


def test_nothing_else_is_served(server: ServerThread) -> None:
    with httpx.Client(base_url=server.http) as client:
        for path in (
            "/console/../chat/server/app.py",
            "/console/..%2Fchat%2Fapp.py",
            "/console/.hidden.js",
            "/console/nope.js",
            "/console/i18n",
            "/console/app.py",
            "/console/other.html",
            "/console/%2e%2e/pyproject.toml",
        ):
            assert client.get(path).status_code == 404, path
