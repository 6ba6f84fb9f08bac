"""Personal data found by its context rather than its spelling.

A name the lists do not know still stands where names stand: after "werkt bij",
"traint bij", "plays for", "staying at" comes an employer, a club or a shelter; a
quoted word after "noemen me", "calls me his" is a nickname; "meneer", "Mr." and a
surname particle ("ter", "van 't") lead a surname, also in lowercase; a street from
deduce's Dutch street list (about 150,000 names) after "op de", "in de", "aan de",
"on" is a street, also in lowercase. And a school or institution carries the words
around it that make it identifying: "groep 8 van", "4 havo op", "year 10 at", the
town right after it ("het Christelijk Lyceum Zeist").

Pure functions over text, like the other rules; `extend_items` runs after the merge.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Container, Sequence
from pathlib import Path

from chat.redaction.rules import LETTER, Item, sentence_start
from chat.redaction.words import COMMON, COUNTRIES, INTERFIXES

# --- Organisations after a cue -------------------------------------------------------

# Where someone works, trains, plays, lives or is placed: what follows is an organisation.
_ORGANISATION_CUE = (
    r"werk|werkt|werken|werkte|werkten|traint|train|trainen|voetbalt|speelt|speel|hockeyt|turnt|zwemt"
    r"|sport|stage|stageloopt|geplaatst|verblijft|verblijf|opvang|lid|works|work|working|worked|plays|play"
    r"|playing|trains|training|staying|stays|stay|placed|member|volunteers|volunteer|intern|interns"
    r"|behandeling|behandeld|ingeschreven|aangemeld|intake|begeleid|begeleiding|begeleider|hulpverlener"
    r"|jeugdbeschermer|behandelaar|psycholoog|therapeut|opgenomen|doorverwezen|patient|treated|referred"
    r"|worker|carer|therapist|counsellor|counselor|nurse|caseworker"
    # Who runs or works in it: "de trainer van Quick '20", "eigenaar van Tattoo Palace", "the owner of Nando's".
    r"|trainer|trainster|coach|baas|eigenaar|manager|leiding|leider|begeleider|directeur|chef|collega|uitsmijter"
    r"|jongerenraad|bijles|aangenomen|keuken|slaap|slaapt|sliep|owner|boss|leader|staff|workers|run\s+by"
    # Who delivers or drives for it: "ik bezorg voor Picnic", "i do deliveries for DHL", "rider for Deliveroo".
    r"|bezorg|bezorgt|bezorgde|bezorgen|bezorger|koerier|chauffeur|rijd|rijdt|deliveries|delivery|deliver|delivers"
    r"|delivering|driver|drivers|rider|riders|courier|shifts|diensten|uitzendkracht|bijbaan|bijbaantje|vakantiewerk"
    r"|stagiair|stagiaire|employed|employer|werkgever|job"
)
_CUED_ORGANISATION = re.compile(
    rf"(?<![\w'’-])(?i:{_ORGANISATION_CUE})\s+(?:(?i:hier|daar|nu|now|there)\s+)?"
    r"(?i:bij|van|voor|at|for|with|of|in|door|naar|to|from)\s+(?:(?i:de|het|the)\s+)?"
    rf"(?P<name>[A-Z][\w'’&-]*(?:\s+(?:(?:{'|'.join(sorted(INTERFIXES - {'in', 'op'}))}|of|the|and|&)\s+)?"
    r"[A-Z][\w'’&-]*){0,3}(?:\s+['’]\d{2}(?![\w'’-]))?)"
)


def find_cued_organisations(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Capitalised names after "werkt bij", "traint bij", "speelt bij", "plays for",
    "works at", "staying at", "opvang van": "Sparta Nijkerk", "Bakkerij Van der Meulen"."""
    found = []
    for m in _CUED_ORGANISATION.finditer(text):
        words = list(re.finditer(r"[\w'’&-]+", m.group("name")))
        while words and (words[-1].group().lower() in common or words[-1].group().lower() in INTERFIXES):
            words.pop()
        if not words or words[0].group().lower() in common or words[0].group().lower() in COUNTRIES:
            continue
        start = m.start("name")
        found.append(Item("INSTELLING", start + words[0].start(), start + words[-1].end()))
    return found


# "bij de Opbouw", "in De Herberg", "naar het Kamp": where someone stays, goes or is placed, a capitalised
# word after a preposition and an article, mid-sentence, is a name (a shelter, club, venue). Languages,
# nationalities, holy books and feasts are capitalised too and are left alone.
_PLACE_PREPOSITION_NAME = re.compile(
    r"(?<![\w'’-])(?i:bij|in|naar|van|uit|at|to)\s+(?P<article>de|het|De|Het)\s+(?P<name>[A-Z][a-zà-ÿ][\w'’-]*+)(?![\w'’-])"
)
_NOT_PLACE_NAMES = frozenset(
    """
    nederlands engels duits frans turks arabisch marokkaans spaans pools berbers koerdisch somalisch
    surinaams papiaments tigrinya russisch oekraïens koran bijbel ramadan kerst pasen suikerfeest offerfeest
    randstad noordzee waddenzee rijn maas veluwe
    """.split()
)


# "een opvang in Zwolle, De Herberg,", "the youth centre, Kiddies Corner": a name set off after its kind.
_KIND_APPOSITION = re.compile(
    r"(?<![\w'’-])(?i:opvang|woongroep|leefgroep|instelling|centrum|centre|center|club|gym|sportschool|kerk|moskee"
    r"|home|hostel|shelter|bedrijf|company|salon|kapsalon|barbershop|winkel|shop|restaurant|hotel|school|college)"
    r"(?:\s+(?i:in|at)\s+[A-Z][\w'’-]*+)?,\s+(?P<name>(?:De\s+|Het\s+|The\s+)?[A-Z][\w'’-]*+(?:\s+[A-Z][\w'’-]*+){0,2})"
)


def find_named_stays(text: str, places: Container[str] = frozenset(), common: Container[str] = COMMON) -> list[Item]:
    """Capitalised names after "bij de", "in het", "naar de" that are no known place, language or ordinary
    word, and names set off by a comma after their kind ("een opvang in Zwolle, De Herberg,")."""
    found = []
    for m in _KIND_APPOSITION.finditer(text):
        words = m.group("name").split()
        if not _ordinary(words, common) and words[-1].lower() not in places:
            found.append(Item("INSTELLING", m.start("name"), m.end("name")))
    for m in _PLACE_PREPOSITION_NAME.finditer(text):
        word = m.group("name").lower()
        if word in common or word in COUNTRIES or word in _NOT_PLACE_NAMES or word in places:
            continue
        start = m.start("article") if m.group("article")[0].isupper() else m.start("name")
        found.append(Item("INSTELLING", start, m.end("name")))
    return found


# "op voetbal bij Quick Boys", "ik werk voor Start People": two or three capitalised words right after "bij" or
# "voor", mid-sentence, none an ordinary word, name an organisation (a person so named is redacted either way).
_PREPOSITION_NAMES = re.compile(
    r"(?<![\w'’-])(?:bij|voor|at|for)\s+(?P<name>[A-Z][a-z][\w'’&-]*+(?:\s+[A-Z][a-z][\w'’&-]*+){1,2})(?![\w'’-])"
)


def find_preposition_names(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Capitalised names of two or three words after "bij", "voor", "at", "for": "bij Quick Boys"."""
    found = []
    for m in _PREPOSITION_NAMES.finditer(text):
        words = m.group("name").split()
        if any(w.lower() in common or w.lower() in COUNTRIES for w in words):
            continue
        end = m.end("name")
        if text[end - 2 : end] in ("'s", "’s"):  # "at Noa Wiśniewska's place": the possessive is no part of it
            end -= 2
        found.append(Item("INSTELLING", m.start("name"), end))
    return found


# --- Nicknames in quotes ------------------------------------------------------------------

# "ze noemen me hier 'lola'", "he calls me his 'little angel'", "van ene 'Mr. Cash'",
# "zijn tiktok heet iets met 'the real mister b'": a quoted phrase of one to four words
# within three words after a naming cue.
_QUOTED_NICKNAME = re.compile(
    r"(?i:\b(?:(?:noem\w*|call\w*|heet|heette|heten|named|genaamd|bijnaam|nickname|ene|a\s+certain|zeggen|say)"
    r"\s+(?:[\w'’]+\s+){0,3}?|(?:his|her|zijn|haar|mijn|my)\s+))"
    rf"['\"‘“](?P<name>{LETTER}[\w.'’-]*(?:\s[\w.'’-]+){{0,3}})['\"’”]"
)
# Kept out of a quoted nickname: "'de Chef'" is Chef, "'Oom Henk'" is Henk; "'Uncle T'" is the whole nickname.
_NICKNAME_LEAD = re.compile(r"(?:de|het|De|Het|oom|Oom|tante|Tante|opa|Opa|oma|Oma)\s+(?=\w)")


def find_quoted_nicknames(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Quoted nicknames after a naming cue: "'lola'", "'little angel'", "'Mr. Cash'"."""
    found = []
    for m in _QUOTED_NICKNAME.finditer(text):
        name = m.group("name")
        if len(name) > 30 or all(w.lower() in common for w in name.split()):
            continue
        lead = _NICKNAME_LEAD.match(name)
        found.append(Item("NAAM", m.start("name") + (lead.end() if lead else 0), m.end("name")))
    return found


# --- Titles and particles ---------------------------------------------------------------

_PARTICLES = r"(?:van|de|der|den|ter|ten|te|van\s+'t|in\s+'t|op\s+'t|el|al|la|le|du|da|von|di|'t|v\.?\s?d\.?|vd|v\.)"
# "mevrouw ter horst", "meneer van dijk", "juf de wit": a title, particles, a surname in any case.
_PARTICLE_WORDS = frozenset("van de der den ter ten te el al la le du da von di vd v".split())
_TITLED_LOWER = re.compile(
    r"(?<![\w'’-])(?i:meneer|mevrouw|mevr\.?|dhr\.?|mw\.?|juf|meester|familie|fam\.?)\s+"
    rf"(?P<name>(?i:{_PARTICLES})(?:\s+(?i:{_PARTICLES}))*\s+{LETTER}[\w'’-]+)"
)
# "juf sanne", "meester tom", "mevrouw jansen", "mr smith": a title and one lowercase word.
_TITLED_WORD = re.compile(
    r"(?<![\w'’-])(?i:meneer|mevrouw|mevr\.?|dhr\.?|mw\.?|juf|juffrouw|meester|mr\.?|mrs\.?|ms\.?|miss|sir)\s+"
    rf"(?P<name>{LETTER}[\w'’-]+)"
)
# "Mr. Thompson", "Mrs Patel", "Dr. Okafor": the English title belongs to the name.
_ENGLISH_TITLED = re.compile(r"(?<![\w'’-])(?:Mr|Mrs|Ms|Miss|Dr|Sir)\.?\s+[A-Z][\w'’-]+")
# "sophie van 't hof", "jan de vries": a first name, particles and a surname, all lowercase.
_LOWER_PARTICLE_NAME = re.compile(
    rf"(?<![\w'’-])(?P<first>[a-zà-ÿ][\w'’-]+)\s+(?P<rest>{_PARTICLES}(?:\s+{_PARTICLES})*\s+[a-zà-ÿ][\w'’-]+)"
)


def find_titled_names(
    text: str, first_names: Container[str] = frozenset(), common: Container[str] = COMMON
) -> list[Item]:
    """Surnames after a title or a first name with particles, in any case:
    "mevrouw ter horst", "Mr. Thompson", "sophie van 't hof"."""
    found = []
    for m in _TITLED_LOWER.finditer(text):
        if m.group("name").split()[-1].lower() not in common:
            found.append(Item("NAAM", m.start("name"), m.end("name")))
    for m in _TITLED_WORD.finditer(text):
        word = m.group("name").lower()
        # Capitalised ones are deduce's and the English rule's ("Mr. Thompson" whole).
        if m.group("name")[0].islower() and word not in common and word not in _PARTICLE_WORDS:
            found.append(Item("NAAM", m.start("name"), m.end("name")))
    for m in _ENGLISH_TITLED.finditer(text):
        if m.group().split()[-1].lower() not in common:
            found.append(Item("NAAM", m.start(), m.end()))
    for m in _LOWER_PARTICLE_NAME.finditer(text):
        first = m.group("first")
        rest = m.group("rest").split()
        # "van der meer": after two particles even an ordinary word is a surname.
        if first in first_names and first not in common and (rest[-1] not in common or len(rest) >= 3):
            found.append(Item("NAAM", m.start(), m.end()))
    return found


# --- Streets from deduce's list -----------------------------------------------------------

_STREET_CUE = re.compile(
    r"(?i:\b(?:op|in|aan|bij|naar|langs|door|over|via|achter|voor|richting|vanaf|van|woon|woont|on|at|near|along|to)"
    r"\s+(?:de|het|'t|the)?\s*)$"
)
_STREET_ENDING = re.compile(
    r"(?:straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|pad|hof|markt|park|baan|wal|haven|plantsoen"
    r"|boulevard|allee|dam|poort|brug|kwartier)$"
)
_STREET_TOKEN = re.compile(r"(?<![\w'’-])[\w'’.-]+")
_LONGEST_STREET = 4
# A street starts after the cue and its article, and no cue is inside one.
_NOT_STREET_START = frozenset("de het 't the een a op in aan bij naar met".split())


@functools.cache
def street_names() -> frozenset[str]:
    """deduce's Dutch street names (its package data, read without importing deduce), lowercase."""
    spec = importlib.util.find_spec("deduce")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src" / "locations" / "lst_street"
    names = set()
    for line in (root / "items.txt").read_text(encoding="utf-8").splitlines():
        name = line.strip().lower()
        if len(name) >= 4:
            names.add(name)
    return frozenset(names)


def find_listed_streets(
    text: str, streets: Container[str] | None = None, common: Container[str] = COMMON
) -> list[Item]:
    """Streets from deduce's list after a street cue ("op de", "aan de", "in het", "on"),
    in any case: "op de Oude Delft", "on Lange Poten", "in het vondelpark", "de 1e
    constantijn huygensstraat". A lowercase name must have a street ending or more than
    one word; a capitalised one of one word must not be an ordinary word."""
    streets = street_names() if streets is None else streets
    tokens = list(_STREET_TOKEN.finditer(text))
    found = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if _STREET_CUE.search(text, max(0, token.start() - 16), token.start()) is None:
            index += 1
            continue
        best = None
        if token.group().lower() in _NOT_STREET_START:
            index += 1
            continue
        for last in range(index, min(len(tokens), index + _LONGEST_STREET)):
            if last > index and text[tokens[last - 1].end() : tokens[last].start()] != " ":
                break
            written = text[token.start() : tokens[last].end()].rstrip(".,")
            key = written.lower()
            if key not in streets or key in common:
                continue
            words = written.split()
            if any(w.lower() in _NOT_STREET_START for w in words[1:]):
                break
            ending = _STREET_ENDING.search(key)
            if ending and ending.start() < 3 and len(words) == 1:
                continue
            capitalised = all(w[0].isupper() or w[0].isdigit() or w.lower() in INTERFIXES for w in words)
            if len(words) > 1 or ending or (capitalised and not sentence_start(text, token.start())):
                best = (last, len(written))
        if best is None:
            index += 1
            continue
        found.append(Item("ADRES", token.start(), token.start() + best[1]))
        index = best[0] + 1
    return found


# --- Extending what was found ---------------------------------------------------------------

# What makes a school identifying besides its name: "groep 8 van", "havo 3 op", "4 vwo op",
# "year 10 at", "de brugklas van", and after it "4e klas".
_GRADE_BEFORE = re.compile(
    r"(?i:(?:groep|klas|leerjaar|havo|vwo|vmbo|mavo|atheneum|gymnasium|mbo|year|grade|form)\s+\d{1,2}[a-z]?"
    r"|\d{1,2}(?:e|de|ste)?\s+(?:havo|vwo|vmbo|mavo|atheneum|gymnasium|gym|klas|mbo)|brugklas|eindexamenklas"
    r"|sixth\s+form|(?:havo|vwo|vmbo|mavo)(?=\s+op))"
    r"\s+(?i:van|op|at|on|in|of|bij|aan)\s+(?:(?i:de|het|the)\s+)?(?:(?i:basisschool|school)\s+)?$"
)
_GRADE_AFTER = re.compile(
    r"\s+(?i:(?:in\s+)?\d{1,2}(?:e|de|ste)?\s+klas|(?:in\s+)?klas\s+\d{1,2}|(?:in\s+)?groep\s+\d{1,2})(?![\w-])"
)


# A kind word right before a listed name is part of it: "gymnasium haganum", "stichting Timon".
_KIND_BEFORE = re.compile(
    r"(?<![\w'’-])(?i:gymnasium|lyceum|college|basisschool|hogeschool|roc|stichting|moskee|kerk|ziekenhuis"
    r"|jeugdzorg|jeugdhulp|ggz)\s$"
)


_NAME_TAIL = re.compile(r" ([A-Z][a-z][\w'’-]*|(?!I(?![\w.]))[A-Z](?:\.|(?![\w'’.-])))(?![\w'’-])")
_COUNCIL_BEFORE = re.compile(
    r"(?i:\b(?:bij|van|voor|naar|at|for)\s+(?:de\s+|het\s+|the\s+)?)(?P<council>(?i:gemeente|council\s+of))\s+$"
)


def extend_items(text: str, items: list[Item], protected: Sequence[tuple[int, int]] = ()) -> list[Item]:
    """Grow merged items by the words around them that identify: a grade before or after a
    school, the town right after a school or institution ("Christelijk Lyceum Zeist"),
    and a capitalised surname right after a name ("Ronald Sleutel")."""
    grown = []
    for index, item in enumerate(items):
        start, end = item.start, item.end
        if item.type == "INSTELLING":
            kind = _KIND_BEFORE.search(text, max(0, start - 20), start)
            if kind:
                start = kind.start()
            before = _GRADE_BEFORE.search(text, max(0, start - 40), start)
            if before:
                start = before.start()
            after = _GRADE_AFTER.match(text, end)
            if after:
                end = after.end()
            following = items[index + 1] if index + 1 < len(items) else None
            if following is not None and following.type == "PLAATS" and text[end : following.start] == " ":
                end = following.end
        elif item.type == "NAAM":
            # "Ronald Sleutel", "Tarik B.", "Lady B", "Tjon A Fong": up to three capitalised words or
            # single capitals (not the pronoun "I") after a name.
            for _ in range(3):
                after = _NAME_TAIL.match(text, end, min(len(text), end + 40))
                word_start = end + 1
                if (
                    after is None
                    or after.group(1).lower() in common_or_countries()
                    or sentence_start(text, word_start)
                    or any(s <= word_start < e for s, e in protected)
                ):
                    break
                end = after.end()
            # "Tarik B.": the dot of an initial that ends the name.
            if end < len(text) and text[end] == "." and text[end - 1].isupper() and (end < 2 or text[end - 2] == " "):
                end += 1
        elif item.type == "PLAATS":
            # "werkt bij de gemeente haarlem", "een brief van de gemeente Utrecht": the council, an employer.
            council = _COUNCIL_BEFORE.search(text, max(0, start - 30), start)
            if council:
                start = council.start("council")
                grown.append(Item("INSTELLING", start, end))
                continue
        grown.append(Item(item.type, start, end))
    return grown


@functools.cache
def common_or_countries() -> frozenset[str]:
    return frozenset(COMMON | COUNTRIES)


# --- Schools, institutions and landmarks named in lowercase ----------------------------------

_NON_NAME = r"(?:[a-zà-ÿ0-9][\w'’.-]*+|[A-Z][\w'’.-]*+)"
# A school keyword, misspellings included; the words before it name the school.
_SCHOOL_KIND = (
    r"college|colege|collage|collge|colllege|lyceum|lycium|gymnasium|school|scool|skool|hogeschool|academy"
    r"|academie|uni|university|sixth\s+form"
    r"|univeristy|universiteit|univ|scholengemeenschap|basisschool|basischool|[\w-]+(?:college|colege|school|lyceum)"
)
# Where a pupil is: "zit op (het)", "ga naar (de)", "at", "go(es) to (the)", "attends".
_SCHOOL_CUE = r"(?:zit|zat|zitten|ga|gaat|gaan|ging|naar|op|bij|at|to|attends|attend|van|go|goes|went)"
_CUED_SCHOOL = re.compile(
    rf"(?<![\w'’-])(?i:{_SCHOOL_CUE})\s+(?:(?i:de|het|the|'t)\s+)?"
    rf"(?P<name>(?:{_NON_NAME}\s+){{0,3}}(?i:{_SCHOOL_KIND})(?:\s+(?i:of|van)\s+{_NON_NAME})?)(?![\w-])"
)
# A kind word that leads its name: "hogeschool inholland", "roc da vinci", "vmbo het kwadrant",
# "obs De Vlieger", "university of leeds", "azc ter apel", "moskee al fourkaan", "kv wageningen".
_LEADING_KIND = (
    r"hogeschool|universiteit|university|univeristy|roc|mbo|vmbo|obs|cbs|ikc|basisschool|basischool"
    r"|scholengemeenschap|azc|moskee|mosque|kerk|parochie|buurthuis|jongerencentrum|jeugdhonk|sportcentrum"
    r"|zwembad|kapsalon|kebabzaak|shishalounge|shisha\s+lounge|lounge|café|cafe|pizzeria|bakkerij|restaurant"
    r"|tattooshop|gym|sportschool|[\w-]*vereniging|[\w-]*club|[\w-]*praktijk|[\w-]*kliniek|[\w-]*zorg"
    r"|jeugdhulp|pleegzorg|modellenbureau|mavo|gymnasium|lyceum|youth\s+prison|youth\s+centre|youth\s+club|foster\s+care\s+with"
    r"|hotel|pizzaria|nagelsalon|barbershop|shoarmazaak|slagerij|bloemenhandel|rijschool|dansschool|stichting"
    r"|buurtteam|wijkteam|jeugdteam|jeugdbescherming|welzijn|jongerenwerk|voedselbank|huisartsenpost|spoedpost"
    r"|politiebureau|ggz|jji"
)
_NOT_NAME_LEADS = frozenset("in op bij aan at on to voor for met with en and".split())
_LED_NAME = re.compile(
    rf"(?<![\w'’-])(?P<kind>(?i:{_LEADING_KIND}))\s+(?P<name>(?:(?i:van|of|de|het|'t|the|al|el|da|ter|ten)\s+)?"
    rf"['‘]?{_NON_NAME}(?:\s+{_NON_NAME})?)"
)
# Kinds after which a lowercase word is a name ("hogeschool inholland", "azc budel").
_LOWER_NAME_KINDS = frozenset(
    "hogeschool universiteit university univeristy roc mbo vmbo obs cbs ikc basisschool basischool azc"
    " hotel pizzaria pizzeria voedselbank jji gymnasium lyceum atheneum".split()
)
# Teams and services named by the part of town they serve: "buurtteam oost", "Jeugdbescherming west".
_DISTRICT_TEAM = re.compile(
    r"(?<![\w'’-])(?i:(?:sociaal\s+)?(?:wijkteam|buurtteam|jeugdteam|gebiedsteam|jeugdbescherming|jeugdzorg"
    r"|jongerenwerk|welzijn|ggz|politie|wijkagent|stichting\s+jongerenwerk)\s+(?:regio\s+)?"
    r"(?:noord|oost|zuid|west|centrum|midden|noordoost|noordwest|zuidoost|zuidwest))(?:[\s-][A-Z][\w-]+)?(?![\w-])"
)
# "zit op de uva", "op het barlaeus", "mijn school is het gsr": a word after "zit op" is a school.
_ATTENDS = re.compile(
    r"(?<![\w'’-])(?i:zit|zat|zitten|zitte)\s+(?:(?i:nu|ook|al|nog|wel|daar|hier)\s+)?(?i:op)\s+(?i:de|het|'t)\s+"
    rf"(?P<name>{_NON_NAME})(?![\w-])|(?i:mijn|my|haar|zijn)\s+(?i:school)\s+(?i:is|heet)\s+(?:(?i:de|het|the)\s+)?"
    rf"(?P<school>{_NON_NAME})"
)
# Capitalised names after "zit op", "gaat naar", "my school is": "zit op Pro Rege", "zit op Het Baken
# Almere", "gaat naar De Kleine Prins", "mijn school is Stad en Esch". After "naar" or "to" a name without
# a capitalised article may be a town, which the place rules name better.
_ATTENDS_NAMED = re.compile(
    r"(?<![\w'’-])(?:(?P<sits>(?i:zit|zat|zitten|zitte)\s+(?:(?i:nu|ook|al|nog|wel|daar|hier)\s+)?(?i:op)"
    r"|\d{1,2}(?:e|de)?\s+(?i:havo|vwo|vmbo|mavo|gym|atheneum|gymnasium)\s+(?i:op)"
    r"|(?i:havo|vwo|vmbo|mavo|groep|klas)\s+\d{1,2}[a-z]?\s+(?i:op|van)"
    r"|(?i:mijn|my|haar|zijn|his|her)\s+(?i:school|uni|college)\s+(?i:is|heet|was))"
    r"|(?i:gaat|ga|gaan|ging|goes|go|went)\s+(?:(?i:nu|ook|al|nog)\s+)?(?i:naar|to))\s+(?:(?:de|het|'t|the)\s+)?"
    r"(?P<name>(?P<article>(?:De|Het|'t)\s+)?[A-Z][\w'’-]*+"
    r"(?:\s+(?:(?:en|van|de|der|den|het|voor|for|of|in\s+the|in\s+de)\s+)?[A-Z][\w'’-]*+){0,4})"
)


# Things one sits on, not schools.
_NOT_ATTENDED = frozenset(
    """
    bank bed stoel grond vloer trein bus tram metro kamer wc toilet dak balkon stage voetbal hockey les straat
    fiets scooter brommer bank telefoon computer laptop app chat hoek trap trappen muur schoot rand achterbank
    """.split()
)
# "windrush square", "whitechapel road", "Leicester square", "Westfield shopping centre", "bijlmer arena".
_ANY_CASE_LANDMARK = re.compile(
    rf"(?<![\w'’.-])(?P<name>{_NON_NAME}(?:\s+{_NON_NAME})?)\s+(?P<kind>(?i:square|road|street|lane|avenue|circus"
    r"|crescent|terrace|shopping\s+centre|shopping\s+center|shopping\s+mall|mall|arena|boulevard|station|tube\s+station"
    r"|high\s+st|high\s+street|rd))(?![\w-])"
)
# "de vaartsche rijn", "de Hoornse Vaart", "de Grote Merkt": an adjective of place and a waterway or square.
_PLACE_ADJECTIVE = re.compile(
    r"(?<![\w'’-])(?i:[a-zà-ÿ]{3,}(?:se|sche)|grote|kleine|oude|nieuwe)\s+"
    r"(?i:rijn|vaart|bos|weg|dijk|markt|merkt|plein|poort|haven|kade|singel|gracht|dreef|wetering|vest)(?![\w-])"
)
_GENERIC_LANDMARK_NAMES = frozenset(
    "town main market village high car bus train big small new old local nearby skate city the this that"
    " centraal central shopping".split()
)


def _ordinary(words: list[str], common: Container[str]) -> bool:
    return all(w.lower().strip("'’.") in common or w.lower() in INTERFIXES for w in words)


def find_named_places_in_any_case(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Schools, institutions and landmarks whose name is lowercase, misspelt or unknown,
    recognised by a kind word or a cue: "op het corderius college", "hogeschool
    inholland", "at brixton academy", "zit op de uva", "moskee al fourkaan", "kapsalon
    Bella", "windrush square", "de vaartsche rijn"."""
    found = []
    for m in _CUED_SCHOOL.finditer(text):
        words = m.group("name").split()
        start = m.start("name")
        # The words before the keyword: drop ordinary ones at the front ("naar de stomme school").
        while len(words) > 1 and words[0].lower() in common:
            start = text.index(words[1], start + len(words[0]))
            words.pop(0)
        named = words[:-1] if len(words) > 1 else []
        keyword = words[-1].lower()
        compound = len(words) == 1 and not re.fullmatch(rf"(?i:{_SCHOOL_KIND.split('|[')[0]})", keyword)
        if re.search(r"\s(?i:of|van)\s", m.group("name")):
            named = [m.group("name").split()[-1]]
        if (named and not any(w.lower() in common for w in named)) or (compound and keyword not in _GENERIC_COMPOUNDS):
            found.append(Item("INSTELLING", start, m.end("name")))
    for m in _LED_NAME.finditer(text):
        words = m.group("name").split()
        while words and (words[-1].lower() in common or words[-1].lower() in INTERFIXES):
            words.pop()
        core = [w for w in words if w.lower() not in INTERFIXES | {"of", "the"}]
        if not words or words[0][0].isdigit() or words[0].lower() in _NOT_NAME_LEADS:
            continue  # "mavo 4", "Gymnasium in Groningen": a grade or a town, not a name
        if not core or _ordinary(words, common) or core[0].lower() in common:
            continue
        particle = m.group("name").split()[0].lower() in INTERFIXES | {"of", "the"}
        if words[0].strip("'‘")[:1].islower() and not particle and m.group("kind").lower() not in _LOWER_NAME_KINDS:
            continue  # "Jeugdzorg helpt", "the mosque is pushing": a verb, not a name
        end = (
            m.start("name") + len(" ".join(words))
            if len(words) > 1
            else text.index(words[0], m.start("name")) + len(words[0])
        )
        found.append(Item("INSTELLING", m.start(), end))
    for m in _ATTENDS.finditer(text):
        group = "name" if m.group("name") else "school"
        word = m.group(group).lower().strip("'’.")
        if word not in common and word not in _NOT_ATTENDED and len(word) >= 2:
            found.append(Item("INSTELLING", m.start(group), m.end(group)))
    for m in _ATTENDS_NAMED.finditer(text):
        words = [w for w in m.group("name").split() if w.lower() not in INTERFIXES | {"en", "voor", "for", "of", "the"}]
        if not words or _ordinary(words, common) or " ".join(words).lower() in COUNTRIES:
            continue
        if m.group("sits") or m.group("article") or re.search(rf"(?i:{_SCHOOL_KIND})$", words[-1]):
            found.append(Item("INSTELLING", m.start("name"), m.end("name")))
    for m in _ANY_CASE_LANDMARK.finditer(text):
        words = m.group("name").split()
        while words and (words[0].lower() in common or words[0].lower() in _GENERIC_LANDMARK_NAMES):
            words.pop(0)
        if not words or _ordinary(words, common):
            continue
        if m.group("kind").lower().endswith("station") and not all(w[0].isupper() for w in words):
            continue  # "Brixton station" is a name; "near the station", "vlakbij het station" are not
        start = m.end("name") - len(" ".join(words))
        found.append(Item("ADRES", start, m.end()))
    found += [Item("ADRES", m.start(), m.end()) for m in _PLACE_ADJECTIVE.finditer(text)]
    found += [Item("INSTELLING", m.start(), m.end()) for m in _DISTRICT_TEAM.finditer(text)]
    return found


_GENERIC_COMPOUNDS = frozenset(
    """
    basisschool basischool middelbareschool hogeschool school college lyceum gymnasium dansschool rijschool
    zomerschool sportschool zwemschool muziekschool taalschool highschool praktijkschool vrijeschool
    montessorischool daltonschool jenaplanschool kunstacademie politieacademie internaatschool kostschool
    scholengemeenschap universiteit university uni academy academie kindercollege boarding-school
    """.split()
)
