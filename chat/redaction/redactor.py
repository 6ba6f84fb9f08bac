"""Personal data out of chat text: names, addresses, numbers, accounts, schools...

`Redactor.redact` runs deduce (Dutch de-identification, `chat.redaction.deduce_engine`)
and our own rules (`chat.redaction.rules`) over a message, merges what they find,
and replaces each item with a typed Dutch placeholder such as ``[NAAM]`` or
``[TELEFOON]``. Public helpline numbers and web sites are kept.

The rules are plain functions over text (`chat.redaction.rules` for numbers and
contacts, `chat.redaction.names` for people, places, addresses and schools), so they
are tested without deduce. Importing this module is cheap: deduce is imported and loaded on first use, once
per process. Redaction runs in the archiver and in ``chat redact``, never in the
websocket server.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import pathlib
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chat.redaction.cues import (
    extend_items,
    find_cued_organisations,
    find_listed_streets,
    find_named_places_in_any_case,
    find_named_stays,
    find_preposition_names,
    find_quoted_nicknames,
    find_titled_names,
    street_names,
)
from chat.redaction.institutions import (
    find_chains,
    find_landmarks,
    find_named_schools,
    find_organisations,
    find_streets,
    known_institutions,
    known_landmarks,
)
from chat.redaction.lexicon import find_unknown_names, lexicon
from chat.redaction.names import (
    find_addresses,
    find_initialled_names,
    find_institutions,
    find_names,
    find_places,
)
from chat.redaction.persons import find_persons, surnames
from chat.redaction.places import find_places_by_gazetteer, gazetteer
from chat.redaction.rules import (
    Item,
    find_accounts,
    find_bsns,
    find_dates,
    find_emails,
    find_ibans,
    find_ips,
    find_phones,
    find_plates,
    find_postcodes,
    find_urls,
    protected_spans,
)

if TYPE_CHECKING:
    from chat.redaction.deduce_engine import DeduceEngine

__all__ = ["Item", "Redacted", "Redactor", "find_all", "merge", "apply", "run_cli"]


@dataclass(frozen=True)
class Redacted:
    """The redacted text and what was taken out (offsets into the original text)."""

    text: str
    items: list[Item]


_RULES: tuple[Callable[[str], list[Item]], ...] = (
    find_phones,
    find_emails,
    find_urls,
    find_accounts,
    find_bsns,
    find_ibans,
    find_postcodes,
    find_plates,
    find_ips,
    find_dates,
    find_addresses,
    find_institutions,
    find_places_by_gazetteer,
    find_organisations,
    find_streets,
    find_named_schools,
    find_landmarks,
    find_chains,
    find_initialled_names,
    find_cued_organisations,
    find_quoted_nicknames,
    find_listed_streets,
    find_named_places_in_any_case,
    find_preposition_names,
    find_unknown_names,
)


@functools.cache
def extra_first_names() -> frozenset[str]:
    """``chat/data/first_names.txt``: first names deduce's Dutch list lacks ("ilias", "tesfay", "kacper")."""
    lines = (Path(__file__).resolve().parent.parent / "data" / "first_names.txt").read_text(encoding="utf-8")
    return frozenset(w for line in lines.splitlines() if not line.startswith("#") for w in line.split())


@functools.cache
def with_extra_first_names(first_names: frozenset[str]) -> frozenset[str]:
    """deduce's first names and ours, built once (a frozenset keeps its hash, so the cache hit is cheap)."""
    return first_names | extra_first_names()


def find_all(text: str, first_names: Container[str] = frozenset(), places: Container[str] = frozenset()) -> list[Item]:
    """Everything our own rules find, overlapping and unsorted. `first_names` and
    `places` are deduce's lists in lowercase, for names and places written in lowercase."""
    found = [item for rule in _RULES for item in rule(text)]
    found += find_names(text, first_names)
    found += find_places(text, places)
    found += find_titled_names(text, first_names)
    found += find_named_stays(text, places)
    found += find_persons(text, first_names, capitalised=extra_first_names())
    return found


# When two findings cover the same characters, the more specific type names them.
_SPECIFICITY = {
    kind: rank
    for rank, kind in enumerate(
        reversed(
            [
                "IBAN",
                "BSN",
                "EMAIL",
                "IP",
                "KENTEKEN",
                "POSTCODE",
                "TELEFOON",
                "URL",
                "ACCOUNT",
                "DATUM",
                "ADRES",
                "INSTELLING",
                "NAAM",
                "PLAATS",
                "NUMMER",
            ]
        )
    )
}


def merge(items: Iterable[Item], protected: Iterable[tuple[int, int]] = ()) -> list[Item]:
    """Resolve overlapping findings into disjoint items, sorted by position.

    Items wholly inside a protected span (a helpline number) are dropped. Overlapping
    items become one item covering all of them, named after the longest (then the
    most specific): a partial overlap is never resolved by giving back characters
    that one of the findings called personal.
    """
    # Linear after sorting: a prefix maximum of the protected spans' ends answers "is this
    # item inside one?" by bisection, and each cluster keeps its end as it grows.
    keep = sorted(protected)
    keep_starts = [s for s, _ in keep]
    reach = list(itertools.accumulate((e for _, e in keep), max))

    def protected_item(item: Item) -> bool:
        at = bisect.bisect_right(keep_starts, item.start) - 1
        return at >= 0 and reach[at] >= item.end

    candidates = sorted(
        (item for item in items if item.end > item.start and not protected_item(item)),
        key=lambda item: (item.start, -item.end),
    )
    merged: list[Item] = []
    cluster: list[Item] = []
    cluster_end = -1
    for item in candidates:
        if cluster and item.start < cluster_end:
            cluster.append(item)
            cluster_end = max(cluster_end, item.end)
            continue
        if cluster:
            merged.append(_name_cluster(cluster))
        cluster = [item]
        cluster_end = item.end
    if cluster:
        merged.append(_name_cluster(cluster))
    return merged


def _name_cluster(cluster: list[Item]) -> Item:
    best = max(cluster, key=lambda i: (i.end - i.start, _SPECIFICITY.get(i.type, -1)))
    return Item(best.type, min(i.start for i in cluster), max(i.end for i in cluster))


def apply(text: str, items: list[Item]) -> str:
    """Replace each (disjoint, sorted) item in `text` with its placeholder."""
    parts = []
    position = 0
    for item in items:
        parts.append(text[position : item.start])
        parts.append(f"[{item.type}]")
        position = item.end
    parts.append(text[position:])
    return "".join(parts)


class Redactor:
    """Redacts personal data from text with deduce plus our own rules.

    `cache_dir` is where deduce's lookup structures are cached (the app's data
    folder, e.g. ``<CHAT_DATA_DIR>/deduce-cache``). Without one every process builds
    them from scratch, which takes 1-2 minutes. The first `redact` or `warm` call
    loads deduce; later Redactors in the same process share it.
    """

    def __init__(self, cache_dir: pathlib.Path | None = None) -> None:
        self._cache_dir = cache_dir

    def warm(self) -> None:
        """Load (or build and cache) deduce, and our gazetteer and lists, now rather than on the first message."""
        self._engine()
        gazetteer()
        known_institutions()
        known_landmarks()
        street_names()
        surnames()
        lexicon()
        with_extra_first_names(self._engine().first_names)

    def redact(self, text: str) -> Redacted:
        """Find personal data in `text` and replace it with typed placeholders."""
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        engine = self._engine()
        found = find_all(text, with_extra_first_names(engine.first_names), engine.places) + engine.annotate(text)
        protected = protected_spans(text)
        items = merge(extend_items(text, merge(found, protected), protected), protected)
        return Redacted(apply(text, items), items)

    def _engine(self) -> DeduceEngine:
        from chat.redaction.deduce_engine import load_engine

        return load_engine(self._cache_dir)


def run_cli(stdin: TextIO, stdout: TextIO, *, jsonl: bool, cache_dir: Path | None) -> int:
    """``chat redact``: redact stdin to stdout.

    Plain mode redacts all of stdin as one text. With `jsonl`, each line is a JSON
    object ``{"text": ...}`` and gets a line ``{"text": ..., "items": [...]}``; a line
    that is not such an object gets ``{"error": ...}`` and the rest still runs.
    Blank lines are skipped. Returns 1 if any line failed, else 0. Error messages
    never quote the input: it is personal data until proven otherwise.
    """
    redactor = Redactor(cache_dir)
    if not jsonl:
        stdout.write(redactor.redact(stdin.read()).text)
        stdout.flush()
        return 0

    failed = False
    for line in stdin:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            failed = True
            _write_line(stdout, {"error": "invalid JSON"})
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            failed = True
            _write_line(stdout, {"error": 'expected an object with a string "text"'})
            continue
        result = redactor.redact(record["text"])
        _write_line(
            stdout,
            {
                "text": result.text,
                "items": [{"type": i.type, "start": i.start, "end": i.end} for i in result.items],
            },
        )
    return 1 if failed else 0


def _write_line(stdout: TextIO, record: dict[str, object]) -> None:
    stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    stdout.flush()
