"""Redaction takes linear time on adversarial input.

A message is whatever a visitor types or pastes, so a regular expression that
backtracks (a quantifier inside a quantifier, a lookbehind that lets a match start
at every letter of a long token) or a loop over pairs of findings turns 20,000
crafted characters into minutes of CPU in the archiver. Each input below once took
seconds at a fifth of this length; every rule alone and the whole Redactor (with the
real deduce) must now take well under 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from chat.redaction import Redactor
from chat.redaction.cues import (
    find_cued_organisations,
    find_listed_streets,
    find_named_places_in_any_case,
    find_quoted_nicknames,
    find_titled_names,
    street_names,
)
from chat.redaction.deduce_engine import chunks
from chat.redaction.institutions import (
    find_chains,
    find_landmarks,
    find_named_schools,
    find_organisations,
    find_streets,
    known_chains,
    known_institutions,
    known_landmarks,
)
from chat.redaction.lexicon import find_unknown_names, lexicon
from chat.redaction.names import find_addresses, find_initialled_names, find_institutions, find_names, find_places
from chat.redaction.places import find_places_by_gazetteer, gazetteer
from chat.redaction.redactor import find_all, merge
from chat.redaction.rules import find_accounts, find_emails, find_phones, find_plates, find_urls, protected_spans

LENGTH = 20_000
LIMIT_S = 2.0


def _repeat(unit: str) -> str:
    return (unit * (LENGTH // len(unit) + 1))[:LENGTH]


CRAFTED = {
    "apostrophes": _repeat("a'"),
    "capital apostrophes": _repeat("A'"),
    "underscores then @": "aaa" + "_" * (LENGTH - 4) + "@",
    "name run": _repeat("Lisa Jansen "),
    "first names": _repeat("lisa "),
    "www": _repeat("www."),
    "dots": _repeat("a."),
    "digits and spaces": _repeat("1 "),
    "helplines and names": _repeat("113 Lisa "),
    "streets": _repeat("Kerkstraat 12 "),
    "schools": _repeat("Het Stedelijk Gymnasium "),
    "hyphens": _repeat("Aa-"),
    "at signs": _repeat("a@"),
    "place cues": _repeat("in de "),
    "quotes": _repeat("noem me 'a "),
    "place cues lowercase": _repeat("naar amsterdm "),
    "clubs": _repeat("VV De Aa "),
    "initials": _repeat("A. B. "),
    "dotted": _repeat("abc.def."),
    "camel": _repeat("aBcD"),
    "street words": _repeat("Aaaastraat "),
    "work cues": _repeat("werkt bij Aa "),
    "quoted cues": _repeat("noemt me 'a "),
    "school cues": _repeat("zit op het a "),
    "landmarks": _repeat("a a square "),
    "particles": _repeat("lisa van de "),
    "spelt urls": _repeat("a punt nl slash "),
    "addresses abroad": _repeat("Rue de la A 1 "),
    "english addresses": _repeat("flat 1 2 a a road, A "),
    "attends": _repeat("zit op De A en A van "),
    "landmarks list": _repeat("bij de neude Hoog "),
    "stays": _repeat("bij de Aa opvang, De A "),
    # Round 4 (three mixed inputs, to keep the module fast): e-mails spelt out, plates, chains, number words.
    "emails and plates": _repeat("a.b at gmail punt a @ b.c. kenteken ab 12 12abc "),
    "chains and churches": _repeat("bij de albert bij de jumbo snackbar de a hervormde kerk Aa bureau zuid "),
    "addresses and codes": _repeat("aastraat op nummer 1 nummer 2 van de a rue de la a Kerkstraat 1, Aa, naar 020 "),
    # Round 5: unknown words in name slots, kind words, particles and capitalised runs.
    "unknown words": _repeat("met xqzv Qwxz van der Zqxw bij manege de vqxz zei bezorgdienst Qq-Zx's "),
    "one long unknown word": "Q" + "x" * (LENGTH - 1),
}

RULES: list[Callable[[str], object]] = [
    find_all,
    find_accounts,
    find_emails,
    find_phones,
    find_urls,
    find_addresses,
    find_institutions,
    find_names,
    find_places,
    find_places_by_gazetteer,
    find_organisations,
    find_streets,
    find_named_schools,
    find_landmarks,
    find_chains,
    find_plates,
    find_initialled_names,
    find_cued_organisations,
    find_quoted_nicknames,
    find_titled_names,
    find_listed_streets,
    find_named_places_in_any_case,
    find_unknown_names,
    protected_spans,
    chunks,
    lambda text: merge(find_all(text), protected_spans(text)),
]


@pytest.fixture(scope="module", autouse=True)
def _lists_loaded() -> None:
    """Load the gazetteer and the institution list first: their one-off load is not the rule's time."""
    gazetteer()
    known_institutions()
    known_landmarks()
    known_chains()
    street_names()
    lexicon()


def _seconds(call: Callable[[str], object], text: str) -> float:
    # CPU time, not wall time: the cost of the algorithm, whatever else the machine runs.
    started = time.process_time()
    call(text)
    return time.process_time() - started


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_rules_take_linear_time(name: str) -> None:
    text = CRAFTED[name]
    for rule in RULES:
        assert _seconds(rule, text) < LIMIT_S, (name, getattr(rule, "__name__", rule))


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_redactor_takes_linear_time(redactor: Redactor, name: str) -> None:
    text = CRAFTED[name]
    assert _seconds(redactor.redact, text) < LIMIT_S, name
