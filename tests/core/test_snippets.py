"""Snippets core: the model's validation, the shipped seed, and tel: links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chat.snippets import CATEGORIES, SnippetIn, load_seed, tel_href


def valid(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "veilig-thuis-nl",
        "language": "nl",
        "audience": "both",
        "category": "abuse_at_home",
        "title": "Veilig Thuis",
        "body": "Bel gratis 0800-2000.",
        "phone": "0800-2000",
        "url": "https://veiligthuis.nl",
        "sort_order": 40,
        "active": True,
    }
    row.update(changes)
    return row


# --- the seed ----------------------------------------------------------------------------------------------


def test_seed_loads_and_covers_the_spec_list_in_both_languages() -> None:
    seed = load_seed()
    phones = {(s.language, s.phone) for s in seed}
    for phone in ("112", "0900-8844", "0800-7000", "0800-2000", "0800-0432", "0800-0113"):
        assert ("nl", phone) in phones
        assert ("en", phone) in phones
    assert len({s.id for s in seed}) == len(seed)


def test_seed_every_row_has_a_counterpart_in_the_other_language() -> None:
    seed = load_seed()
    by_id = {s.id: s for s in seed}
    for snippet in seed:
        assert snippet.id is not None and snippet.id.endswith("-" + snippet.language)
        other = snippet.id[: -len(snippet.language)] + ("en" if snippet.language == "nl" else "nl")
        twin = by_id[other]
        assert (twin.phone, twin.url, twin.category, twin.audience, twin.sort_order) == (
            snippet.phone,
            snippet.url,
            snippet.category,
            snippet.audience,
            snippet.sort_order,
        )


def test_seed_is_active_short_and_links_are_https() -> None:
    for snippet in load_seed():
        assert snippet.active
        assert len(snippet.body) <= 300  # short enough for a card on a phone
        assert snippet.url is None or snippet.url.startswith("https://")
        assert snippet.phone is not None or snippet.url is not None
        if snippet.phone is not None:
            assert tel_href(snippet.phone).startswith("tel:")


def test_emergency_comes_first() -> None:
    seed = load_seed()
    for language in ("nl", "en"):
        first = min((s for s in seed if s.language == language), key=lambda s: s.sort_order)
        assert first.category == "emergency" and first.phone == "112"


# --- the model ---------------------------------------------------------------------------------------------


def test_valid_row() -> None:
    snippet = SnippetIn.model_validate(valid(title="  Veilig Thuis  "))
    assert snippet.title == "Veilig Thuis"  # whitespace stripped


def test_optional_fields() -> None:
    snippet = SnippetIn.model_validate(valid(id=None, phone="", url=None))
    assert snippet.id is None and snippet.phone is None and snippet.url is None


@pytest.mark.parametrize(
    "changes",
    [
        {"language": "de"},
        {"audience": "teacher"},
        {"category": "misc"},
        {"title": ""},
        {"title": "x" * 121},
        {"body": ""},
        {"body": "x" * 1001},
        {"phone": "0800-HELP"},
        {"phone": "12"},
        {"phone": "-0800"},
        {"phone": "+31 6 1234 5678 9012 345"},
        {"url": "javascript:alert(1)"},
        {"url": "ftp://example.nl"},
        {"url": "https://"},
        {"url": "veiligthuis.nl"},
        {"id": "Veilig Thuis"},
        {"sort_order": "first"},
        {"colour": "red"},
    ],
)
def test_invalid_rows(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SnippetIn.model_validate(valid(**changes))


@pytest.mark.parametrize("phone", ["112", "113", "0800-0113", "0900 8844", "+31 20 123 4567", "088-2080000"])
def test_phone_forms_accepted(phone: str) -> None:
    assert SnippetIn.model_validate(valid(phone=phone)).phone == phone


def test_categories_are_the_documented_set() -> None:
    assert set(CATEGORIES) == {
        "emergency",
        "exploitation",
        "abuse_at_home",
        "suicide_prevention",
        "online_abuse",
        "police",
        "other",
    }


# --- tel: links --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "href"),
    [
        ("112", "tel:112"),
        ("0800-2000", "tel:08002000"),
        ("0900 8844", "tel:09008844"),
        ("+31 20 123 4567", "tel:+31201234567"),
        (" +31-800-0113 ", "tel:+318000113"),
    ],
)
def test_tel_href(phone: str, href: str) -> None:
    assert tel_href(phone) == href


def test_tel_href_needs_digits() -> None:
    with pytest.raises(ValueError):
        tel_href("bel ons")


# --- loading errors ----------------------------------------------------------------------------------------


def write(path: Path, rows: object) -> Path:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_seed_errors_name_the_row(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"snippet bad-row: phone"):
        load_seed(write(tmp_path / "a.json", [valid(), valid(id="bad-row", phone="call us")]))
    with pytest.raises(ValueError, match="appears twice"):
        load_seed(write(tmp_path / "b.json", [valid(), valid()]))
    with pytest.raises(ValueError, match="needs an id"):
        load_seed(write(tmp_path / "c.json", [valid(id=None)]))
    with pytest.raises(ValueError, match="JSON list"):
        load_seed(write(tmp_path / "d.json", {"snippets": []}))
    broken = tmp_path / "e.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_seed(broken)


def test_custom_seed(tmp_path: Path) -> None:
    rows = [valid(id="only-one-nl")]
    assert [s.id for s in load_seed(write(tmp_path / "seed.json", rows))] == ["only-one-nl"]
