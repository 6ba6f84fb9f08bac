"""Safety-resource snippets: the validated shape, the seed, and the tel: link.

Pure core. Snippets live in the database and admins edit them; this module
says what a valid one is and reads the seed (``chat/data/snippets_seed.json``)
that an operator reviews before the first start.

``phone`` is kept as people read it ("0800-2000"); ``tel_href`` builds the
dialable link, so the two can never disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SEED_PATH = Path(__file__).parent / "data" / "snippets_seed.json"

Language = Literal["nl", "en"]
Audience = Literal["parent", "youth", "both"]
Category = Literal[
    "emergency", "exploitation", "abuse_at_home", "suicide_prevention", "online_abuse", "police", "other"
]
LANGUAGES: tuple[str, ...] = get_args(Language)
AUDIENCES: tuple[str, ...] = get_args(Audience)
CATEGORIES: tuple[str, ...] = get_args(Category)

# Digits with spaces or dashes between, an optional leading '+': "112",
# "0800-2000", "+31 20 123 4567". Letters ("0800-HELP") are refused: tel:
# links cannot dial them on every phone.
_PHONE_RE = re.compile(r"^\+?[0-9](?:[0-9 \-]*[0-9])?$")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MIN_PHONE_DIGITS = 3  # 112 and 113 are the shortest we dial
_MAX_PHONE_DIGITS = 15  # E.164


class SnippetIn(BaseModel):
    """A snippet as an admin submits it, or as a seed row gives it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # A stable slug ("emergency-112-nl") so that seeding twice updates, not
    # duplicates; None when an admin creates one and the store picks the id.
    id: str | None = Field(default=None, min_length=1, max_length=64)
    language: Language
    audience: Audience
    category: Category
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=1000)
    phone: str | None = Field(default=None, max_length=32)
    url: str | None = Field(default=None, max_length=500)
    sort_order: int = 0
    active: bool = True

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG_RE.match(value):
            raise ValueError("id must be lower-case letters and digits joined by '-', like 'veilig-thuis-nl'")
        return value

    @field_validator("phone", "url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # An admin form sends "" for an empty field; that means no phone/url.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = sum(ch.isdigit() for ch in value)
        if not _PHONE_RE.match(value) or not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
            raise ValueError("phone must be digits with optional spaces or dashes, like '0800-2000' or '112'")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Only web links: a javascript: or data: URL here would run in the
        # visitor's page when the card is clicked.
        if not re.match(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", value, flags=re.IGNORECASE):
            raise ValueError("url must be a web address starting with https:// (or http://)")
        return value


def tel_href(phone: str) -> str:
    """The ``tel:`` link for a displayed number: "0800-2000" -> "tel:08002000".

    Keeps a leading '+' (international form) and drops everything else that
    is not a digit.
    """
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        raise ValueError(f"no digits in phone number {phone!r}")
    return "tel:" + ("+" if phone.strip().startswith("+") else "") + digits


def load_seed(path: Path | None = None) -> list[SnippetIn]:
    """Read and validate the seed file; ValueError names the row that is wrong.

    Every seed row needs an ``id``, unique in the file, so that seeding is
    idempotent.
    """
    source = path if path is not None else SEED_PATH
    try:
        rows = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise ValueError(f"{source}: the seed must be a JSON list of snippets")
    snippets: list[SnippetIn] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        label = row.get("id", f"#{index}") if isinstance(row, dict) else f"#{index}"
        try:
            snippet = SnippetIn.model_validate(row)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'row'}: {error['msg']}" for error in exc.errors()
            )
            raise ValueError(f"{source}: snippet {label}: {problems}") from None
        if snippet.id is None:
            raise ValueError(f"{source}: snippet {label}: a seed row needs an id")
        if snippet.id in seen:
            raise ValueError(f"{source}: snippet id {snippet.id!r} appears twice")
        seen.add(snippet.id)
        snippets.append(snippet)
    return snippets
