"""Named institutions: sports clubs, businesses, care homes, places of worship, asylum
centres, schools known by name alone, and streets and squares named without a number.

A visitor who says where she trains, works, prays or lives ("bij VV De Meeuwen",
"Restaurant De Gouden Leeuw", "de Mevlana moskee", "AZC Budel", "op het Albeda",
"op de Grote Markt") is found by it as surely as by her address. Each rule pairs a
kind word with a name: the name is capitalised words (articles and particles inside
allowed), trimmed of ordinary words at its ends. Pure functions, like the other rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from chat.redaction.cues import street_names
from chat.redaction.rules import Item, sentence_start
from chat.redaction.words import COMMON

DATA = Path(__file__).resolve().parent.parent / "data"

_WORD = r"[A-Z][\w'’&-]*+"
_JOIN = r"(?:de|het|van|der|den|en|'t|of|the)"
# One to four capitalised words, possibly with articles between: "De Gouden Leeuw".
_NAME = rf"(?:(?:De|Het|The|'t)\s+)?{_WORD}(?:\s+(?:{_JOIN}\s+)?{_WORD}){{0,3}}"

# Club and centre abbreviations written before the name: "VV De Meeuwen", "AZC Budel".
_PREFIX_ABBREVIATIONS = r"VV|SV|HC|MHC|ZPC|FC|AFC|SC|RKSV|RKVV|VVV|KV|HV|HSV|CVV|SVV|ZV|DZC|BC|AZC|AZ|COA"
# Kind words written before the name: "Restaurant De Gouden Leeuw", "judoclub Kenamju".
_PREFIX_WORDS = (
    r"stichting|buurthuis|wijkcentrum|jongerencentrum|jeugdhuis|restaurant|café|cafe|bar|snackbar|shishalounge"
    r"|shishabar|lounge|kapsalon|kapperszaak|barbershop|garage|autobedrijf|tuincentrum|hotel|hostel|moskee"
    r"|kerk|pinkstergemeente|gemeente|hockeyclub|voetbalclub|voetbalvereniging|judoclub|judoschool|boksschool"
    r"|boksclub|kickboksclub|sportclub|zwemclub|zwemvereniging|sportschool|vereniging|club|gym|fitness"
    r"|opvang|zorginstelling|instelling|ziekenhuis|kliniek|uitzendbureau|[a-z]*bedrijf|nagelstudio|massagesalon"
    r"|coffeeshop|escortbureau|modellenbureau|leefgroep|woongroep|internaat|hospital|clinic|mosque|church"
    r"|academy|winkelcentrum|station|metrostation|treinstation|park|stadspark|bushalte|halte|markt"
    r"|politiebureau|bureau|wijkteam|buurtteam|jeugdteam|gebiedsteam|jeugdbescherming|jeugdzorg|jeugdzorg\s+plus"
    r"|welzijn|jongerenwerk|voedselbank|kinderdagverblijf|kdv|bso|peuterspeelzaal|huisartsenpost|huisartsenpraktijk"
    r"|gezondheidscentrum|spoedpost|schoonmaakbedrijf|nagelsalon|shoarmazaak|pizzeria|pizzaria|slagerij|bakkerij"
    r"|bloemenhandel|bloemist|rijschool|dansschool|muziekschool|theater|theatergroep|jji|ggz|scouting"
    r"|[a-z]*vereniging|zorgboerderij|dagbesteding|crisisopvang|nachtopvang|vrouwenopvang|jeugdinrichting"
    r"|gezinshuis|supermarkt|cafetaria|lunchroom|eetcafé|discotheek|nachtclub|sauna|wasstraat|fabriek"
    r"|opvanghuis|veilig\s+thuis|ggd|politie"
)
# Kind words written after the name: "Mevlana moskee", "Mater Hospital", "Flexwork Polska BV".
_SUFFIX_WORDS = (
    r"moskee|mosque|kerk|church|cathedral|kathedraal|hospital|ziekenhuis|gym|groep|jeugdzorg|jeugdhulp"
    r"|kliniek|clinic|BV|B\.V\.|VOF|Holding|Academy|Grammar|Institute|Instituut|Centre|Center|Markt|Plein"
    r"|Club|Services|Police|Infirmary|Council|Fostering|Trust|Foundation|Theater|Theatre|Hogescholen|Gasthuis"
    r"|Hotel|nachtopvang|opvang|Ministries|Boxing|FC|Hostel|parochie|parish|pub|bar|café|cafe|restaurant"
)
# "Sint-Janskathedraal", "Westerkerk", "Ayasofyamoskee": a place of worship or hospital in one word.
_COMPOUND_INSTITUTION = re.compile(
    r"(?<![\w'’-])[A-Z][\w'’-]{2,}(?:kathedraal|kerk|moskee|ziekenhuis|gasthuis|basiliek|kapel|synagoge|klooster)(?![\w-])"
)
_PREFIXED = re.compile(
    rf"(?<![\w'’-])(?:(?P<abbr>{_PREFIX_ABBREVIATIONS})|(?P<kind>(?i:{_PREFIX_WORDS})))\s+(?P<name>{_NAME})"
)
_NAME_ALONE_KINDS = frozenset("winkelcentrum bushalte halte markt gemeente".split())
_PLACE_KINDS = frozenset("winkelcentrum station metrostation treinstation park stadspark bushalte halte markt".split())
_SUFFIXED = re.compile(rf"(?<![\w'’-])(?P<name>{_NAME})\s+(?P<kind>(?i:{_SUFFIX_WORDS}))(?![\w-])")
_AFTER_PLACE_WORD = re.compile(
    r"(?<![\w'’-])(?i:park|station|winkelcentrum)\s+(?P<name>[a-z][\w'’-]{4,}(?:\s+(?:noord|zuid|oost|west|centraal))?)(?![\w-])"
)
# "groep 7 van de Klimop", "klas 2 van het Lorentz"
_SCHOOL_CLASS = re.compile(
    rf"(?<![\w'’-])(?i:groep|klas)\s+\d{{1,2}}\s+(?i:van|op)\s+(?i:de|het)\s+(?P<name>{_WORD}(?:\s+{_WORD}){{0,2}})"
)
# Lowercase schools: "op het roc mondriaan", "zit op het summa college".
_LOWER_SCHOOL = re.compile(
    r"(?<![\w'’-])(?:(?P<roc>roc|mbo)\s+(?P<rocname>[a-z][\w'’-]{2,})"
    r"|(?i:op|naar|van)\s+(?:het|de)\s+(?P<name>[a-z][\w'’-]{2,})\s+(?:college|lyceum|school|academie))(?![\w-])"
)
# "op de Grote Markt", "the Haagse Markt"
_ADJECTIVE_SQUARE = re.compile(
    r"(?<![\w'’-])(?:Grote|Kleine|Oude|Nieuwe|[A-Z][a-z]+se)\s+(?:Markt|Plein|Kade|Gracht|Haven|Dijk|Weg|Straat)(?![\w-])"
)
# Streets named without a number: capitalised compounds with a street ending ("Vischmarkt",
# "Turnhoutsebaan", "West-Kruiskade"), English ones ("Briggate", "Cowley Road").
_STREET_ENDINGS = (
    r"straat|straatweg|laan|gracht|plein|kade|singel|dreef|steeg|plantsoen|boulevard|weg|markt|baan|brink"
    r"|dijk|wal|burgwal|haven|hof|kwartier"
)
_STREET_WORD = re.compile(rf"(?<![\w'’-])(?:[A-Z][a-z]+-)?[A-Z][a-z]{{3,}}(?:{_STREET_ENDINGS})(?![\w-])")
# "on Brixton Hill", "Elm Grove", "Tanners Close": English street types that are also words, after a name.
_ENGLISH_STREET_WORDS = re.compile(
    r"(?<![\w'’-])(?P<name>[A-Z][a-z]{2,})\s+(?:Hill|Grove|Close|Rise|Mews|Parade|Row|Walk|Way)(?![\w'’-])"
)
_ENGLISH_STREET = re.compile(
    r"(?<![\w'’-])(?:[A-Z][a-z]+\s+){1,2}(?:Street|Road|Lane|Avenue|Drive|Square|Crescent|Terrace|Gardens)\b"
    r"|(?<![\w'’-])[A-Z][a-z]{2,}gate(?![\w-])"
)
_LOWER_STREET = re.compile(
    r"(?<![\w'’-])(?i:de|het|op|aan|door|langs|in)\s+(?P<lead>(?:(?:\d{1,2}e|eerste|tweede|derde|[a-z]{3,})\s+){0,2})"
    r"(?P<street>[a-z]{4,}(?:straat|staat|laan|gracht|singel|kade|brink|dreef|plantsoen|plein))(?![\w-])"
)
_ORDINALS = {"1e": "eerste", "2e": "tweede", "3e": "derde", "4e": "vierde", "5e": "vijfde"}
_ORDINAL = re.compile(r"^[1-5]e(?= )")
_GENERIC_STREETS = frozenset(
    "zijstraat winkelstraat woonstraat hoofdstraat achterstraat dorpsstraat schoolplein speelplein marktplein"
    " parkeerplein binnenplein".split()
)
# Names known from the institutions list may stand alone: "op het Albeda", "via Spirit".
_LIST_CUE = re.compile(r"(?i:\b(?:op|bij|via|van|naar|at|from|to|in|aan|het|de|the)\s+)$")
_LIST_TOKEN = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*+")


def _read_list(name: str) -> tuple[frozenset[str], frozenset[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    every = frozenset(n.rstrip("?").lower() for n in names)
    ordinary = frozenset(n.rstrip("?").lower() for n in names if n.endswith("?"))
    return every, ordinary


@functools.cache
def known_institutions() -> tuple[frozenset[str], frozenset[str]]:
    """The names in ``chat/data/institutions.txt`` (lowercase), and those of them that are also ordinary words."""
    return _read_list("institutions.txt")


@functools.cache
def known_chains() -> tuple[frozenset[str], frozenset[str]]:
    """The names in ``chat/data/chains.txt`` (lowercase), and those of them that are also ordinary words."""
    return _read_list("chains.txt")


@functools.cache
def known_landmarks() -> tuple[frozenset[str], frozenset[str]]:
    """The names in ``chat/data/landmarks.txt`` (lowercase), and those of them that are also ordinary words."""
    return _read_list("landmarks.txt")


def _trim(text: str, start: int, end: int, common: Container[str]) -> tuple[int, int] | None:
    """Drop ordinary words and trailing articles from the ends of text[start:end]."""
    tokens = [m.span() for m in re.finditer(r"[\w'’&.-]+", text[start:end])]
    while tokens and text[start + tokens[-1][0] : start + tokens[-1][1]].lower() in common:
        tokens.pop()
    # A capitalised article belongs to the name ("De Gouden Leeuw"), a lowercase one does not.
    while tokens and (word := text[start + tokens[0][0] : start + tokens[0][1]]).lower() in common:
        if word in ("De", "Het", "The") and len(tokens) > 1:
            break
        tokens.pop(0)
    if not tokens or all(text[start + s : start + e].lower() in common for s, e in tokens):
        return None
    return start + tokens[0][0], start + tokens[-1][1]


def find_organisations(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Clubs, businesses, care homes, mosques, churches, hospitals, asylum centres and
    squares or stations with a name ("VV De Meeuwen", "Restaurant De Gouden Leeuw",
    "Mevlana moskee", "AZC Budel", "Station Sloterdijk", "park sonsbeek")."""
    found: list[Item] = []
    for m in _PREFIXED.finditer(text):
        trimmed = _trim(text, m.start("name"), m.end("name"), common)
        if trimmed is None:
            continue
        kind = m.group("kind") or ""
        place_like = kind.lower() in _PLACE_KINDS
        # "Restaurant De Gouden Leeuw", "kapsalon Bella", "station Sloterdijk": the kind word is part of
        # the name; "winkelcentrum Zuidplein" is the centre's name alone.
        start = trimmed[0] if kind in _NAME_ALONE_KINDS else m.start()
        found.append(Item("ADRES" if place_like else "INSTELLING", start, trimmed[1]))
    for m in _SUFFIXED.finditer(text):
        trimmed = _trim(text, m.start("name"), m.end("name"), common)
        if trimmed is None:
            continue
        kind = m.group("kind")
        place_like = kind.lower() in {"markt", "plein"}
        found.append(Item("ADRES" if place_like else "INSTELLING", trimmed[0], m.end()))
    for m in _COMPOUND_INSTITUTION.finditer(text):
        if m.group().lower() not in common and not sentence_start(text, m.start()):
            found.append(Item("INSTELLING", m.start(), m.end()))
    for m in _AFTER_PLACE_WORD.finditer(text):
        name = m.group("name")
        # "naar het station brengen": a lowercase infinitive is no name.
        if name.lower() not in common and not name.endswith("en"):
            # "park Sonsbeek" is the park's name; "winkelcentrum" alone names no centre.
            start = m.start() if m.group().lower().startswith(("park", "station")) else m.start("name")
            found.append(Item("ADRES", start, m.end("name")))
    return found


def find_streets(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Streets and squares named without a house number: "de Vischmarkt", "op de Grote
    Markt", "on Briggate", "door de kalverstaat"."""
    found = []
    for m in _STREET_WORD.finditer(text):
        if m.group().lower() not in common and not sentence_start(text, m.start()):
            found.append(Item("ADRES", m.start(), m.end()))
    found += [Item("ADRES", m.start(), m.end()) for m in _ADJECTIVE_SQUARE.finditer(text)]
    found += [Item("ADRES", m.start(), m.end()) for m in _ENGLISH_STREET.finditer(text)]
    for m in _ENGLISH_STREET_WORDS.finditer(text):
        if m.group("name").lower() not in common and not sentence_start(text, m.start()):
            found.append(Item("ADRES", m.start(), m.end()))
    for m in _LOWER_STREET.finditer(text):
        if m.group("street") in _GENERIC_STREETS:
            continue
        # "de 1e constantijn huygensstraat", "de jan van galenstraat": the words before the street word belong
        # to it when the whole is a listed street (deduce's list), not in "de mooie kerkstraat".
        start = m.start("street")
        streets = street_names()
        for lead in re.finditer(r"\S+", m.group("lead")):
            written = text[m.start("lead") + lead.start() : m.end("street")]
            if written in streets or _ORDINAL.sub(lambda o: _ORDINALS[o.group()], written, 1) in streets:
                start = m.start("lead") + lead.start()
                break
        found.append(Item("ADRES", start, m.end("street")))
    return found


def find_named_schools(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Schools and care organisations known by name alone ("op het Albeda", "via Spirit",
    misspelt by one letter after a cue: "op het zadkien"), "groep 7 van de Klimop", and
    lowercase schools ("op het roc mondriaan", "het summa college")."""
    every, ordinary = known_institutions()
    singles = _singles(every)
    found = []
    for m in _SCHOOL_CLASS.finditer(text):
        found.append(Item("INSTELLING", m.start(), m.end()))
    for m in _LOWER_SCHOOL.finditer(text):
        group = "rocname" if m.group("roc") else "name"
        if m.group(group).lower() in common:
            continue
        start = m.start() if m.group("roc") else m.start("name")
        found.append(Item("INSTELLING", start, m.end()))
    found += _listed(text, every, ordinary, "INSTELLING", singles, common)
    return found


def find_landmarks(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Squares, stations, shopping centres and venues from ``chat/data/landmarks.txt`` ("bij de neude",
    "in Hoog Catharijne", "at the Bullring"), and "Utrecht Centraal", "Rotterdam Centraal"."""
    every, ordinary = known_landmarks()
    found = _listed(text, every, ordinary, "ADRES", [], common)
    for m in _CENTRAL_STATION.finditer(text):
        if m.group("town").lower() not in common:
            found.append(Item("ADRES", m.start(), m.end()))
    return found


def find_chains(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Shops and chains where something happened, from ``chat/data/chains.txt`` ("bij de jumbo",
    "in de McDonald's", "at the tesco"), and kind words in lowercase before a lowercase name
    ("snackbar de smikkel", "dansschool pirouette", "vv sparta nijkerk")."""
    every, ordinary = known_chains()
    found = _listed(text, every, ordinary, "INSTELLING", [], common)
    # A chain whose name is also a word, lowercase right after "bij de", "van de", "at the": "bij de plus".
    for m in _ARTICLE_CUED_WORD.finditer(text):
        if m.group("name").lower() in ordinary and " " not in m.group("name"):
            found.append(Item("INSTELLING", m.start("name"), m.end("name")))
    for m in _LOWER_PREFIXED.finditer(text):
        first = m.group("first")
        if first in common or (first.endswith("en") and not m.group("article")):
            continue
        end = m.end("first")
        second = m.group("second")
        if second and second not in common and not second.endswith(("en", "de", "te")):
            end = m.end("second")
        # "kapsalon hair by nora": a connector and one more name word.
        if m.group("third") and m.group("third") not in common and (end == m.end("second") or not second):
            end = m.end("third")
        found.append(Item("INSTELLING", m.start(), end))
    found += [Item("INSTELLING", m.start(), m.end()) for m in _CONGREGATION.finditer(text)]
    found += [Item("INSTELLING", m.start(), m.end()) for m in _DISTRICT_BUREAU.finditer(text)]
    return found


# "Hervormde Gemeente Ede", "de pinkstergemeente in": a congregation by its denomination and town.
_CONGREGATION = re.compile(
    r"(?<![\w'’-])(?i:hervormde|gereformeerde|christelijke|evangelische|protestantse|katholieke|baptisten"
    r"|vrij-evangelische|evangelie|rk|pkn|pinkster|volle\s+evangelie|baptisten)\s+(?i:gemeente|kerk|parochie)"
    r"(?:\s+(?:te\s+)?(?:De\s+|Het\s+)?[A-Z][\w'’-]++)?(?![\w-])"
)
# "bij bureau zuid", "politiebureau noord": a police station by its district.
_DISTRICT_BUREAU = re.compile(
    r"(?<![\w'’-])(?i:politiebureau|bureau)\s+(?i:noord|zuid|oost|west|centrum|centraal)(?![\w-])"
)
_ARTICLE_CUED_WORD = re.compile(r"(?<![\w'’-])(?i:bij|van|naar|at)\s+(?i:de|the)\s+(?P<name>[a-z][\w'’&-]*+)")
# Kind words that, in lowercase, name a club, shop or care service when a lowercase name follows.
_LOWER_KINDS = (
    r"vv|sv|fc|afc|rksv|rkvv|vvv|hc|mhc|kv|hv|zv|zpc|bc|snackbar|cafetaria|dansschool|rijschool|autorijschool|muziekschool"
    r"|boksschool|judoschool|sportschool|kinderopvang|gastouderbureau|gezondheidscentrum|huisartsenpraktijk"
    r"|hockeyclub|voetbalclub|voetbalvereniging|judoclub|boksclub|kickboksclub|zwemclub|sportclub|tennisclub"
    r"|[a-z]*vereniging|scouting|scoutinggroep|jeugdzorg|jeugdhulp|buurthuis|jongerencentrum|wijkcentrum|kapsalon"
    r"|barbershop|nagelstudio|nagelsalon|massagesalon|shishalounge|shishabar|coffeeshop|stichting|moskee|kerkgemeente"
    r"|zorgboerderij|woongroep|leefgroep|gezinshuis|uitzendbureau|modellenbureau|fotostudio|restaurant|pizzeria"
    r"|shoarmazaak|lunchroom|discotheek|nachtclub|sportcentrum|zwembad|kinderdagverblijf"
)
_LOWER_PREFIXED = re.compile(
    rf"(?<![\w'’-])(?:{_LOWER_KINDS})\s+(?P<article>(?:de|het|'t)\s+)?(?P<first>[a-z][\w'’&-]{{2,}}+)"
    r"(?:\s(?P<second>[a-z][\w'’&-]{2,}+))?(?:\s(?P<by>by|of|van|de|and|en|&)\s(?P<third>[a-z][\w'’&-]{2,}+))?(?![\w-])"
)


# "Utrecht Centraal", "Den Bosch Centraal": a town and its main station.
_CENTRAL_STATION = re.compile(r"(?<![\w'’-])(?P<town>(?:Den\s+|De\s+)?[A-Z][\w'’-]+)\s+Centraal(?![\w-])")


def _listed(
    text: str, every: frozenset[str], ordinary: frozenset[str], kind: str, singles: list[str], common: Container[str]
) -> list[Item]:
    """The names of a list in `text` (up to four words): capitalised anywhere, lowercase after a cue;
    a name that is also an ordinary word only capitalised, after a cue, mid-sentence. With `singles`,
    one word after a cue one letter off a listed one-word name counts too ("op het zadkien")."""
    found = []
    firsts = _first_words(every)
    tokens = list(_LIST_TOKEN.finditer(text))
    for index, token in enumerate(tokens):
        head = token.group().lower()
        fuzzy = bool(singles) and len(head) >= 6 and head not in common
        if head not in firsts and not fuzzy:
            continue
        cued = _LIST_CUE.search(text[max(0, token.start() - 12) : token.start()]) is not None
        # The words of a name are one space apart: "Leger des Heils", not "Leger, des".
        width = 1
        while (
            width < 4
            and index + width < len(tokens)
            and text[tokens[index + width - 1].end() : tokens[index + width].start()] == " "
        ):
            width += 1
        for size in range(width, 0, -1):
            last = tokens[index + size - 1]
            written = text[token.start() : last.end()]
            key = written.lower()
            if key in every:
                if key in ordinary and not (written[0].isupper() and cued and not sentence_start(text, token.start())):
                    continue
                if not written[0].isupper() and not cued:
                    continue
                found.append(Item(kind, token.start(), last.end()))
                break
            if size == 1 and fuzzy and cued:
                first = [n for n in singles if n[0] == key[0] and abs(len(n) - len(key)) <= 1]
                if first and process.extractOne(key, first, scorer=OSA.distance, score_cutoff=1) is not None:
                    found.append(Item(kind, token.start(), last.end()))
    return found


@functools.cache
def _singles(names: frozenset[str]) -> list[str]:
    return sorted(n for n in names if " " not in n and len(n) >= 6)


@functools.cache
def _first_words(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.split()[0] for name in names)
