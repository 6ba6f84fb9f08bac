"""People named the way chat names them: lowercase full names, lowercase initials, a
first name the lists know at any place in the sentence, a family by its surname.

deduce finds capitalised names from its Dutch lists. A visitor writes "liban warsame",
"kasia nowak", "m. de jong", "j. smit", "bij de familie wiersma", "Filmon and his
friends". These rules pair the first-name list (deduce's and ``chat/data/first_names.txt``)
with the surname list (deduce's ~10,000 Dutch surnames and ``chat/data/surnames.txt``):
two words that are a first name and a surname are a person whatever their case. Pure
functions over text, like the other rules; the lists come in as arguments.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Container
from pathlib import Path

from chat.redaction.names import is_first_name
from chat.redaction.rules import LETTER, Item, sentence_start
from chat.redaction.words import COMMON, COUNTRIES, INTERFIXES

DATA = Path(__file__).resolve().parent.parent / "data"

# Surname shapes of Polish, Ukrainian, Turkish, Balkan and Romanian families: a lowercase word with one of
# these endings after a first name is a surname even when no list has it ("dmytro hnatyuk", "piotr zawadzki").
_SURNAME_ENDING = re.compile(
    r"(?:ski|ska|cki|cka|dzki|dzka|wicz|czyk|czak|enko|chuk|czuk|yuk|oglu|oğlu|ović|ovic|escu)$"
)
_PARTICLES = r"(?:van|de|der|den|ter|ten|te|el|al|la|le|du|da|von|di|bin|ben|ibn|abu|ait|'t|van\s+'t)"
_WORD = rf"{LETTER}[\w'’-]*"
# "liban warsame", "rami al-hassan", "mo el idrissi", "kasia nowak": two lowercase words, or three with particles.
_LOWER_PAIR = re.compile(
    rf"(?<![\w'’@#./-])(?P<first>[a-zà-ÿ][\w'’-]+)\s+"
    rf"(?=(?P<rest>(?:{_PARTICLES}\s+){{0,2}}(?P<last>[a-zà-ÿ][\w'’-]+))(?![\w'’@-]))"
)
# "m. de jong", "a.k. mulder", "j. smit": lowercase initials, particles and a surname.
_LOWER_INITIALS = re.compile(
    rf"(?<![\w.'’-])(?P<initials>(?:[a-z]\.\s?){{1,3}})\s*(?P<particles>(?:{_PARTICLES}\s+){{0,3}})"
    rf"(?P<last>[a-zà-ÿ][\w'’-]+)(?![\w'’-])"
)
# "B. Visser", "A. Bakker": capitalised initials before a surname that is also a word ("visser", "bakker").
_CAPITAL_INITIALS = re.compile(
    rf"(?<![\w.'’-])(?:[A-Z]\.\s?){{1,3}}\s*(?:{_PARTICLES}\s+){{0,3}}(?P<last>[A-Z][\w'’-]+)(?![\w'’-])"
)
# "bij de familie wiersma", "fam. el khatib": a family by its surname, any case.
_FAMILY = re.compile(
    rf"(?<![\w'’-])(?i:familie|fam\.?|gezin|family)\s+(?P<name>(?:{_PARTICLES}\s+){{0,3}}(?P<last>{_WORD}))"
)
# "Nassim al-Sayed", "El-Khatib": a capitalised name after a glued Arabic article is a surname.
_ARABIC_SURNAME = re.compile(
    r"(?<![\w'’-])(?:(?P<first>[A-Z][a-z][\w'’]*)\s+)?(?P<last>(?:[Aa]l|[Ee]l|[Aa]bu|[Bb]in|[Bb]en)-[A-Z][a-z][\w'’-]*)"
)
# Abbreviated titles end in a dot that is no sentence end: "mw. k. pauwels", "dhr. j. smit".
_TITLE_BEFORE = re.compile(r"(?i:\b(?:mw|mevr|dhr|hr|fam|mr|dr|drs|ir|mrs|ms|prof)\.\s*)$")


def _after_title(text: str, pos: int) -> bool:
    return _TITLE_BEFORE.search(text, max(0, pos - 8), pos) is not None


_TOKEN = re.compile(rf"(?<![\w'’@#./-]){LETTER}[\w'’-]*")


@functools.cache
def surnames() -> frozenset[str]:
    """deduce's Dutch surnames (its package data, read without importing deduce) and ours, lowercase."""
    names: set[str] = set()
    spec = importlib.util.find_spec("deduce")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src" / "names" / "lst_surname"
        names.update(line.strip().lower() for line in (root / "items.txt").read_text(encoding="utf-8").splitlines())
    lines = (DATA / "surnames.txt").read_text(encoding="utf-8").splitlines()
    names.update(w for line in lines if not line.startswith("#") for w in line.split())
    return frozenset(n for n in names if len(n) >= 3)


def _surname(word: str, known: Container[str], common: Container[str]) -> bool:
    lowered = word.lower()
    if lowered in common or lowered in COUNTRIES:
        return False
    return lowered in known or _SURNAME_ENDING.search(lowered) is not None or _hyphenated_arabic(lowered)


def _hyphenated_arabic(word: str) -> bool:
    """An Arabic article glued to a name: "al-hassan", "el-khatib", "abu-bakr"."""
    head, _, tail = word.partition("-")
    return head in ("al", "el", "abu", "bin", "ben") and len(tail) >= 3


def find_persons(
    text: str,
    first_names: Container[str] = frozenset(),
    known_surnames: Container[str] | None = None,
    common: Container[str] = COMMON,
    *,
    capitalised: Container[str] = frozenset(),
) -> list[Item]:
    """Lowercase full names ("liban warsame"), lowercase initials ("m. de jong", "a.k. mulder"),
    initials before a surname that is also a word ("B. Visser"), families ("familie wiersma"), and
    capitalised first names from `capitalised` anywhere, the start of a sentence included ("Filmon and ...").
    `capitalised` is our own list (chat/data/first_names.txt), not deduce's: deduce finds its own names
    where they count, and its list holds English words that start sentences ("May", "Hope", "Mark")."""
    known = surnames() if known_surnames is None else known_surnames
    found = []
    for m in _LOWER_PAIR.finditer(text):
        first = m.group("first")
        if first in common or first in INTERFIXES or not is_first_name(first, first_names):
            continue
        particles = len(m.group("rest").split()) > 1
        if _surname(m.group("last"), known, common) or (particles and m.group("last") not in common):
            found.append(Item("NAAM", m.start(), m.end("rest")))
    for m in _LOWER_INITIALS.finditer(text):
        last = m.group("last")
        initials = m.group("initials").count(".")
        if (
            last in common
            or last in INTERFIXES
            or (sentence_start(text, m.start()) and not _after_title(text, m.start()))
        ):
            continue
        if m.group("particles") or initials >= 2 or _surname(last, known, common) or _after_title(text, m.start()):
            found.append(Item("NAAM", m.start(), m.end()))
    for m in _CAPITAL_INITIALS.finditer(text):
        if m.group("last").lower() in known and m.group("last").lower() not in COUNTRIES:
            found.append(Item("NAAM", m.start(), m.end()))
    for m in _ARABIC_SURNAME.finditer(text):
        first = m.group("first")
        start = m.start() if first and first.lower() not in common else m.start("last")
        found.append(Item("NAAM", start, m.end()))
    for m in _FAMILY.finditer(text):
        last = m.group("last")
        if last[0].isupper() and last.lower() not in common or _surname(last, known, common):
            found.append(Item("NAAM", m.start("name"), m.end("name")))
    for m in _TOKEN.finditer(text):
        word = m.group()
        lowered = word.lower()
        if word[0].isupper() and not word.isupper() and lowered not in common and lowered in capitalised:
            found.append(Item("NAAM", m.start(), m.end()))
    return found
