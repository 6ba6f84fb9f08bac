"""docs/architecture.md names only files and functions that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

# `path/to/file.py` or `path/to/file.py::name` or `path/to/file.js::Class.method`, inside backticks.
_REF = re.compile(r"`((?:chat|counselor_ui|client_widget|tests|migrations|docs)/[\w/.-]*)(?:::([\w.]+))?`")
_DEFINES = {
    ".py": r"^\s*(?:async\s+def|def|class)\s+{name}\b",
    ".js": r"^\s*(?:export\s+)?(?:async\s+)?(?:function\s+{name}\b|class\s+{name}\b|{name}\s*\([^)]*\)\s*{{)",
}


def references() -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _REF.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_page_names_code() -> None:
    refs = references()
    assert len({path for path, _ in refs}) >= 20
    assert sum(1 for _, name in refs if name) >= 20


@pytest.mark.parametrize(("path", "name"), sorted(set(references()), key=lambda r: (r[0], r[1] or "")))
def test_reference_exists(path: str, name: str | None) -> None:
    target = ROOT / path
    assert target.exists(), f"{path} does not exist"
    if name is None:
        return
    source = target.read_text(encoding="utf-8")
    for part in name.split("."):
        pattern = _DEFINES[target.suffix].format(name=re.escape(part))
        assert re.search(pattern, source, re.M), f"{path} defines no {part!r}"
