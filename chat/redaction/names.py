"""Our own redaction rules for things with a name: people, places, addresses, schools.

Pure functions from text to items, like `chat.redaction.rules`. They cover what
deduce cannot see: names and places written in lowercase ("ik ben lisa", "ik woon
in drachten"), names given by context ("noemt zich KingKash"), school names, street
names without a house number, neighbourhoods. Where a rule needs deduce's lists
(first names, place names) it takes them as an argument, lowercase, so that it can
be tested with a handful of words.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Container

from chat.redaction.rules import LETTER, Item, items_matching, sentence_start
from chat.redaction.words import COMMON, COUNTRIES, INTERFIXES

# --- Addresses --------------------------------------------------------------------

_STREET_SUFFIX = (
    r"straat|straatweg|laan|weg|plein|gracht|kade|singel|dijk|dreef|hof|park|pad|steeg|markt|baan|wal"
    r"|zijde|burgwal|haven|veld|erf|plantsoen|boulevard|allee|promenade|ring|wetering|vaart|dam|kanaal"
    r"|hoven|stede|straatje|pleintje|rak|weide|akker|berg|heuvel|tuin|hage|oord|horst|lei|poort|wijk"
    r"|straße|strasse|platz|gasse"
)
_STRONG_STREET_SUFFIX = r"straat|straatweg|laan|gracht|plein|kade|singel|dreef|steeg|plantsoen|boulevard|park"
# What may follow the number: "8 bis", "60 II", "40 2 hoog", "97 3hg", "321 3-hoog", "44 bus 2", "9 hs".
_NUMBER_TAIL = (
    r"(?:\s(?:bis|hs|huis|boven|beneden|hoog|I{1,3}|IV)(?![\w-])|\s\d\s?-?\s?(?:hoog|hg)(?![\w-])"
    r"|\s(?:bus|box)\s\d{1,4}(?![\w-]))?"
)
_HOUSE_NUMBER = rf"\d{{1,5}}(?:\s?[A-Za-z](?![\w])|[-/]\d{{1,4}}|-?(?:bis|[A-Za-z]{{1,2}})(?![\w]))?{_NUMBER_TAIL}"
# The postcode and town after an address: "Hoogstraat 14, 3011 PN Rotterdam", "Hauptstraße 7, 47533 Kleve".
# In lowercase too ("4a, 3012 kl rotterdam"), but not before a two-letter word ("12, 2012 en toen").
# Without a postcode, a capitalised town after a comma: "Vondelstraat 110, Haarlem".
_POSTCODE_TOWN = re.compile(
    r",?\s(?:[1-9]\d{3}\s?(?:[A-Z]{2}|(?!(?:en|in|op|is|om|te|ik|je|we|ze|at|of|to|as|it|my|me|he|al|nu|na|ja|zo"
    r"|er|uw|tv|de|an|or|so|no|do|go|be|by|ok)(?![\w]))[a-z]{2})|\d{5})"
    r"(?:\s(?P<town>[A-Za-zà-ÿ][a-zà-ÿ]+(?:[ -][A-Za-z][a-zà-ÿ]+)?))?(?![\w-])"
    r"|,\s(?P<comma_town>[A-Z][a-zà-ÿ]{2,}+(?:[ -][A-Z][a-zà-ÿ]+)?)(?![\w-])"
)
# "aan de dorpsweg op nummer 12", "op nummer 23 van de esdoornlaan"
_NUMBER_WORD_ADDRESS = re.compile(
    rf"(?<![\w'’-])(?:[A-Za-z][\w'’-]*?(?:{_STREET_SUFFIX})\s+op\s+(?i:nummer|nr\.?|no\.?)\s*\d{{1,5}}[a-z]?"
    rf"|(?i:nummer|nr\.?)\s*\d{{1,5}}[a-z]?\s+(?:van|in|aan|op)\s+(?:de|het)\s+[A-Za-z][\w'’-]*?(?:{_STREET_SUFFIX}))"
    r"(?![\w-])"
)
_STREET_LEAD = (
    r"(?:(?:Van|De|Den|Der|Het|'t|Burgemeester|Burg\.|Dokter|Dr\.|Prins|Prinses|Koning|Koningin|Sint|St\."
    r"|Oude|Nieuwe|Nieuw|Lange|Korte|Hoge|Lage|Grote|Kleine|Eerste|Tweede|Derde|Noord|Zuid|Oost|West|\d{1,2}e"
    r"|Laan\s+van|van(?=\s+[a-z]+\w*(?:straat|laan|weg|plein|gracht|kade|singel)\b)|Jan|Jacob|Willem|Johan"
    r"|(?i:pr|burg|bgm|prof|mr|dr|st)\.?(?=\s+[a-z]+(?:straat|laan|weg|plein|gracht|kade|singel)\b))\s+){0,3}"
)
# Every pattern that starts with a word begins where no word character precedes, apostrophes
# included: with "(?<![\w-])" alone, "a'a'a'..." starts a match at every letter and each
# runs to the end of the token (quadratic time).
_ADDRESS = re.compile(
    rf"(?<![\w'’-]){_STREET_LEAD}(?P<street>[A-Z][\w'’-]*|[a-z][\w'’-]*(?:{_STREET_SUFFIX}))"
    rf"\s+(?:(?i:nummer|nr\.?|no\.?|huisnummer)\s*)?{_HOUSE_NUMBER}(?![\w-])"
)
_BARE_STREET = re.compile(rf"(?<![\w'’-]){_STREET_LEAD}[A-Z]\w{{2,}}(?:{_STRONG_STREET_SUFFIX})(?![\w-])")
# "42 Elm Grove", "17b Station Road", "flat 4 27 kingsland rd", "Flat 12, 8 Victoria Road, Leeds LS6 1DR":
# a number, one to three words and a street type in any case, after an optional flat number.
_ENGLISH_ADDRESS_ANY_CASE = re.compile(
    r"(?<![\w'’-])(?:(?i:flat|apartment|apt\.?|unit)\s+\d{1,4}[a-z]?,?\s+)?\d{1,5}[a-z]?\s+"
    r"(?P<name>(?:[A-Za-z][\w'’-]*+\s+){1,3}?)(?i:street|road|avenue|lane|drive|close|way|court|place"
    r"|square|grove|crescent|gardens|terrace|mews|row|hill|walk|rise|parade|green|(?:st|rd|ave|ln|dr)\.?)(?![\w-])"
)
_UK_TOWN_POSTCODE = re.compile(
    r",\s?[A-Za-z][a-z]+(?:\s[A-Z][a-z]+)?(?:\s[A-Za-z]{1,2}\d[A-Za-z\d]?\s?\d[A-Za-z]{2})?(?![\w-])"
)
# French, Spanish, Italian and Portuguese streets with their number: "Rue de la Loi 52", "Calle Mayor 12".
_ROMANCE_ADDRESS = re.compile(
    r"(?<![\w'’-])(?:Rue|Avenue|Boulevard|Chaussée|Place|Calle|Avenida|Carrer|Plaza|Paseo|Via|Viale|Piazza|Corso"
    r"|Rua|Praça)\s+(?:(?:de|del|de\s+la|la|le|les|des|du|di|della|dos|das|da|d')\s*){0,2}"
    r"[A-Z][\w'’-]*(?:\s[A-Z][\w'’-]*)?,?\s\d{1,4}[a-z]?(?![\w-])"
)
# The same in lowercase, for the kind words that are no Dutch or English word: "rue de la paix 8".
_ROMANCE_ADDRESS_LOWER = re.compile(
    r"(?<![\w'’-])(?:rue|chaussée|calle|avenida|carrer|paseo|viale|piazza|rua)\s+"
    r"(?:(?:de|del|de\s+la|la|le|les|des|du|di|della|dos|das|da|d')\s*){0,2}"
    r"[a-zà-ÿ][\w'’-]*(?:\s[a-zà-ÿ][\w'’-]*)?,?\s\d{1,4}[a-z]?(?![\w-])"
)
# "huisnummer 15", "huisnr. 8a": the number is part of the address even without its street.
_HOUSE_NUMBER_WORD = re.compile(r"(?i:\b(?:huisnummer|huisnr\.?|house\s+number)\s*:?\s*)(\d{1,5}[a-z]?)(?![\w-])")
_STREET_WORD_END = re.compile(rf"(?:{_STREET_SUFFIX})$")
_ADDRESS_CUE = re.compile(
    r"(?i)\b(?:woon|woont|wonen|woonde|adres|address|lives?|living|op|aan)\s*:?\s*(?:de\s+|het\s+|at\s+)?$"
)


def find_addresses(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Street and house number ("Kerkstraat 12", "Van Hogendorplaan 14", "Prinsengracht 263-1"),
    and a bare street name with an unmistakable ending ("de Stationsstraat")."""
    found: list[Item] = []
    for m in _ADDRESS.finditer(text):
        street = m.group("street")
        if street.lower() in common:
            continue
        # "Kerkstraat 12" is an address; "Daan 16" or "Zeynep 14" is a name and an age,
        # which other rules decide about. A capitalised word counts as a street only
        # with a street ending or after an address cue.
        if not _STREET_WORD_END.search(street.lower()) and not _ADDRESS_CUE.search(
            text[max(0, m.start() - 25) : m.start()]
        ):
            continue
        end = m.end()
        tail = _POSTCODE_TOWN.match(text, end)
        if tail and tail.group("comma_town"):
            if not _ordinary(tail.group("comma_town").split(), common):
                end = tail.end()
        elif tail:
            town = tail.group("town")
            # "Den Haag" stays whole; "3012 AB en" loses the "en".
            dropped = town and " " not in town and "-" not in town and town.lower() in common
            end = tail.start("town") - 1 if dropped else tail.end()
        found.append(Item("ADRES", m.start(), end))
    # Addresses are disjoint and in order: look up the one that could hold a bare street.
    starts = [i.start for i in found]
    for m in _BARE_STREET.finditer(text):
        at = bisect.bisect_right(starts, m.start()) - 1
        inside = at >= 0 and m.end() <= found[at].end
        if m.group().lower() not in common and not inside:
            found.append(Item("ADRES", m.start(), m.end()))
    for m in _ENGLISH_ADDRESS_ANY_CASE.finditer(text):
        if _ordinary(m.group("name").split(), common):
            continue
        end = m.end()
        tail = _UK_TOWN_POSTCODE.match(text, end)
        if tail and tail.group().strip(", ").split()[0].lower() not in common:
            end = tail.end()
        found.append(Item("ADRES", m.start(), end))
    found += items_matching("ADRES", _ROMANCE_ADDRESS, text)
    found += items_matching("ADRES", _NUMBER_WORD_ADDRESS, text)
    found += items_matching("ADRES", _ROMANCE_ADDRESS_LOWER, text)
    found += items_matching("ADRES", _HOUSE_NUMBER_WORD, text, group=1)
    return found


def _ordinary(words: list[str], common: Container[str]) -> bool:
    return all(w.lower() in common for w in words)


# --- Schools and other institutions ------------------------------------------------

_SCHOOL_WORD = (
    r"(?:(?:[^\W\d_][\w'’-]*?)?(?i:school|scholengemeenschap|scholengroep|college|lyceum|gymnasium|atheneum|academie"
    r"|akademie|universiteit|university|campus|kindcentrum))"
)
# Abbreviations only in capitals: "vu" or "sg" in lowercase are something else.
_SCHOOL_ABBREVIATION = r"(?:ROC|MBO|OBS|CBS|RKBS|PCBS|IKC|CSG|KSG|UvA|VU|TU)"
_SCHOOL_KEYWORD = re.compile(rf"{_SCHOOL_WORD}|{_SCHOOL_ABBREVIATION}")
_NAME_PART = r"(?:[A-Z][\w'’-]*)"
_CONNECTOR = r"(?:van|de|der|den|het|'t|of|the|voor|for|aan|op|in\s+de|en|and)"
# Bounded, so that a long run of capitalised words costs linear time, not quadratic.
_NAME_RUN = rf"{_NAME_PART}(?:\s+(?:{_CONNECTOR}\s+)?{_NAME_PART}){{0,4}}"
_SCHOOL = re.compile(
    rf"(?<![\w'’-])(?:{_NAME_RUN}\s+)?(?:{_SCHOOL_WORD}|{_SCHOOL_ABBREVIATION})"
    rf"(?:\s+(?:{_CONNECTOR}\s+)?{_NAME_RUN})?(?![\w-])"
)
_ARTICLES = frozenset({"de", "het", "'t", "the", "een", "a", "an", "of"})
# Compounds that name a kind of school, not a school: "naar de Basisschool".
_GENERIC_SCHOOLS = frozenset(
    """
    school basisschool middelbareschool hogeschool universiteit college lyceum gymnasium atheneum academie
    akademie campus kindcentrum scholengemeenschap scholengroep dansschool rijschool zomerschool sportschool
    zwemschool muziekschool taalschool highschool praktijkschool vrijeschool montessorischool daltonschool
    jenaplanschool kunstacademie politieacademie brugklas internaatschool kostschool
    """.split()
)
_SCHOOL_SUFFIX = re.compile(
    r"(?i)(?:school|college|lyceum|gymnasium|atheneum|academie|akademie|universiteit|scholengemeenschap)$"
)


def find_institutions(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Named schools and colleges ("het Stedelijk Gymnasium", "ROC Mondriaan", "De Regenboog
    basisschool", "Hogeschool van Amsterdam"). The bare word ("naar school") is left alone:
    a school needs a name of its own to identify anyone."""
    found = []
    for m in _SCHOOL.finditer(text):
        tokens = list(re.finditer(r"[\w'’-]+", m.group()))
        keyword = next((i for i, t in enumerate(tokens) if _SCHOOL_KEYWORD.fullmatch(t.group())), None)
        if keyword is None:  # the keyword glued to something, as in "de VU's"
            continue
        # Ordinary words at either end are not part of the name ("Vandaag school",
        # "ROC Mondriaan Mijn ..."); a capitalised article is ("De Regenboog").
        first, last = 0, len(tokens) - 1
        while first < keyword and _outside_name(tokens[first].group(), common, keyword - first):
            first += 1
        while last > keyword and _outside_name(tokens[last].group(), common, 0):
            last -= 1
        named = [
            t.group()
            for i, t in enumerate(tokens[first : last + 1], start=first)
            if (i != keyword and t.group().lower() not in _ARTICLES | INTERFIXES)
            or (i == keyword and _named_compound(t.group()))
        ]
        if named:
            found.append(Item("INSTELLING", m.start() + tokens[first].start(), m.start() + tokens[last].end()))
    return found


def _named_compound(word: str) -> bool:
    """A capitalised compound with a name in front: "Hanzehogeschool", "Sint-Janscollege"."""
    suffix = _SCHOOL_SUFFIX.search(word)
    return word[0].isupper() and suffix is not None and suffix.start() >= 3 and word.lower() not in _GENERIC_SCHOOLS


def _outside_name(word: str, common: Container[str], words_to_keyword: int) -> bool:
    lowered = word.lower()
    if lowered in _ARTICLES | INTERFIXES:
        # Keep "De" in "De Regenboog basisschool", drop "het" before "Stedelijk Gymnasium".
        return not (word[0].isupper() and words_to_keyword > 1)
    return lowered in common


# --- Names from context ------------------------------------------------------------

_INTERFIX_RE = "|".join(sorted(INTERFIXES - {"in", "op"}))
# A surname or the second half of a nickname ("Big D"), but not the pronoun "I".
_NAME = rf"(?P<name>{LETTER}[\w'’-]*)(?P<surname>(?:\s+(?:{_INTERFIX_RE}))*\s+(?!I\b)[A-Z][\w'’-]*)?"
_FILLER = (
    r"(?:(?:daar|zelf|ook|gewoon|dan|toen|there|just|alleen|online|volgens\s+mij|geloof\s+ik|denk\s+ik|eigenlijk"
    r"|echt|officieel|really|actually|officially|hier|here|thuis|at\s+home|op\s+school|at\s+school"
    r"|I\s+think|maar|ook\s+wel|wel|altijd|always|zijn|haar|mijn|his|her|my)\s+){0,2}"
    # A nickname is often quoted, with an article: "ze noemen hem 'de Chef'".
    r"(?:['\"‘“]\s?)?(?:(?i:de|het|the)\s+)?"
)
_STRONG_NAME_CUES = re.compile(
    # "X heet Y" after any word but the ones that make "heet" mean hot ("het is heet")
    # or introduce a term ("dat heet grooming").
    r"(?i:\b(?:(?!(?:is|was|zo|te|erg|heel|best|echt|niet|nog|wel|al|super|dat|dit|het|hoe|wat)\b)\w+\s+heet"
    r"|naam\s+(?:daar\s+|there\s+|online\s+)?(?:is|was)|name\s+(?:there\s+)?(?:is|was)|my\s+name's"
    r"|call\s+(?:me|him|her)|calls\s+(?:me|him|her)|noem(?:t|en|de|den)?\s+(?:me|mij|hem|haar)"
    r"|noem(?:t|en|de|den)\s+(?:ze|zij|hij|iedereen|ze\s+op\s+school|ze\s+hier)\s+(?:me|mij|hem|haar)"
    r"|noem(?:t|en|de|den)\s+(?:ze|zij|ze\s+hem|ze\s+haar)"
    r"|noemt\s+zich(?:zelf)?|noemde\s+zich(?:zelf)?|calls\s+(?:him|her)self"
    r"|called\s+(?:him|her)self|called|named|genaamd|alias|bijnaam|goes\s+by|known\s+as|bekend\s+als"
    r"|(?:ken|kent|kennen|kende|kenden)\s+(?:hem|haar|me|mij|ons)\s+(?:alleen\s+|gewoon\s+|hier\s+|daar\s+)?als"
    r"|knows?\s+(?:him|her|me)\s+as|zeg\s+maar(?=\s+(?:gewoon\s+)?\w+(?:\s+[A-Z]\w*)?\s+tegen\s+(?:me|mij)\b))(?:\s*:)?\s+)"
    rf"{_FILLER}{_NAME}"
)
# Dutch puts the name before the verb in a subordinate clause: "een jongen die Dylan heet".
_NAME_BEFORE_CUE = re.compile(
    rf"(?i:\b(?:die|hij|ze|zij|ik|ie)\s+(?:zich\s+)?)['\"‘“]?{_NAME}['\"’”]?(?i:\s+(?:heet|heette|noemt|noemde|genoemd)\b)"
)
# "de anderen hem Djimairo noemen", "die iedereen 'Queen B' noemt"
_NAME_BEFORE_CALL = re.compile(
    rf"(?i:\b(?:hem|haar|me|mij|iedereen|everyone)\s+)['\"‘“]?{_NAME}['\"’”]?"
    r"(?i:\s+(?:noemen|noemt|noemde|noemden|calls?|called)\b)"
)
# Whom a name belongs to: "mijn vader Hüseyin", "haar vriend Gerard", "my son Ethan".
_RELATIONS = (
    r"vader|moeder|man|vrouw|vriend|vriendin|vriendje|vriendinnetje|zus|zusje|broer|broertje|neef|nicht"
    r"|nichtje|oom|tante|juf|meester|mentor|buurman|buurvrouw|stiefvader|stiefmoeder|stiefbroer|stiefzus|ex"
    r"|opa|oma|kleinzoon|kleindochter|pleegdochter|pleegzoon|dochter|zoon|father|mother|dad|mum|mom|friend"
    r"|sister|brother|boyfriend|girlfriend|cousin|uncle|aunt|niece|nephew|son|daughter|stepdad|stepmom"
    r"|stepfather|stepmother|teacher|coach|maat|maatje|mattie|matties|bestie|homie|bff|bae|crush|mate|bestfriend"
)
_RELATION_NAME = re.compile(
    rf"(?i:\b(?:{_RELATIONS})(?:\s*,\s*|\s+))(?P<name>[A-Z][\w'’-]+)(?P<second>\s+[A-Z][\w'’-]+)?"
)
# Words that lead a nickname and take the next word with them, in any case: "lil sis", "big mo", "dikke dennis".
_NICKNAME_LEADS = frozenset(
    "lil little big kleine klein dikke dikke grote baby mister miss queen king lady young yung prins prinses prince"
    " princess sweet".split()
)
_WEAK_NAME_CUES = re.compile(
    r"(?i:\b(?:ik\s+ben|i'm|i\s+am|im|this\s+is|dit\s+is|met|bij|en|van|voor|aan|tegen|naar"
    r"|vriend|vriendin|vriendje|vriendinnetje|zus|zusje|broer|broertje|neef|nicht|nichtje|oom|tante|juf"
    r"|meester|mentor|buurman|buurvrouw|friend|sister|brother|boyfriend|girlfriend|cousin|uncle|aunt|niece"
    r"|nephew|son|daughter|dochter|zoon|stiefvader|stiefmoeder|stiefbroer|stiefzus|ex|mama|papa|opa|oma"
    r"|dad|mum|mom|stepdad|step\s+dad|stepmum|stepmom|vader|moeder|zeg\s+maar|door|bf|gf|bff)"
    r"(?:\s*,\s*|\s+))"
    rf"{_NAME}"
)
# "calls himself 'Oom Henk'": kin and titles before a name are not part of a nickname.
_KIN_AND_TITLES = frozenset("oom tante opa oma meneer mevrouw juf meester uncle aunt mister mr mrs miss".split())
_LOWERCASE_WORD = re.compile(rf"(?<![\w'’@.#/-]){LETTER}[\w'’-]{{3,}}")
# "ik ben het, jayden, van gisteren": a name set off by commas.
_APPOSITION = re.compile(rf"(?<=,\s)(?P<name>{LETTER}[\w'’-]{{2,}})(?=\s*(?:[,.!?]|$))")


# "J. de Vries", "Mr. A. Okafor", "J.P. van Leeuwen"; bare initials "M.B." but not "P.S." or "N.B.".
_INITIALS_NAME = re.compile(rf"(?<![\w.])(?:[A-Z]\.\s?){{1,3}}(?:(?:{_INTERFIX_RE})\s+){{0,3}}[A-Z][a-z][\w'’-]*")
_BARE_INITIALS = re.compile(r"(?<![\w.])[A-Z]\.[A-Z]\.(?:[A-Z]\.)?(?!\w)")
_NOT_INITIALS = frozenset(
    {"P.S.", "N.B.", "U.S.", "U.K.", "E.U.", "A.M.", "P.M.", "O.K.", "V.S.", "B.V.", "T.V.", "D.J."}
)
# "van den Heuvel", "el Amrani" after a capitalised first name or a title; "Liam O'Connor".
_TITLE = r"(?:meneer|mevrouw|mevr\.?|dhr\.?|mw\.?|juf|meester|familie|fam\.?|mr\.?|mrs\.?|ms\.?|dr\.?|miss)"
_PARTICLE_NAME = re.compile(
    rf"(?<![\w'’-])(?P<first>[A-Z][a-z][\w'’-]*|(?i:{_TITLE}))\s+"
    rf"(?P<rest>(?:(?:van|de|der|den|ter|ten|el|al|la|le|du|da|von|'t|ben|bin|ibn|abu|bint|dos|das|del|della|di)\s+){{1,3}}"
    r"[A-Z][\w'’-]+)"
)
_GAELIC_NAME = re.compile(r"(?<![\w'’-])(?:[A-Z][a-z]+\s+)?(?:O['’]|Mc|Mac)[A-Z][a-z]{2,}")


def find_initialled_names(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Names written with initials or particles that deduce misses: "J. de Vries",
    "A. Okafor", "M.B.", "meneer van den Heuvel", "Rick el Amrani", "Liam O'Connor"."""
    found = []
    for m in _INITIALS_NAME.finditer(text):
        surname = m.group().split()[-1].split(".")[-1]
        if surname.lower() not in common:
            found.append(Item("NAAM", m.start(), m.end()))
    found += [Item("NAAM", m.start(), m.end()) for m in _BARE_INITIALS.finditer(text) if m.group() not in _NOT_INITIALS]
    for m in _PARTICLE_NAME.finditer(text):
        first = m.group("first")
        surname = m.group("rest").split()[-1]
        if surname.lower() in common or surname.lower() in COUNTRIES:
            continue
        if first.lower() in common and not re.fullmatch(_TITLE, first, re.IGNORECASE):
            continue
        titled = re.fullmatch(_TITLE, first, re.IGNORECASE) is not None
        found.append(Item("NAAM", m.start("rest") if titled else m.start(), m.end()))
    found += items_matching("NAAM", _GAELIC_NAME, text)
    return found


def is_first_name(word: str, first_names: Container[str]) -> bool:
    """Lowercase `word` in the list, also without its accents ("hüseyin" -> "huseyin")."""
    if word in first_names:
        return True
    folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    if folded != word and folded in first_names:
        return True
    # Dutch pet forms: "noortje" (Noor), "lotje" (Lot), "annemiekje", "saartje" (Saar), "pietje" (Piet).
    for ending in ("tje", "je"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 3 and (stem in first_names or stem[:-1] in first_names):
            return stem[-1] == stem[-2] or stem in first_names
    return False


def find_names(text: str, first_names: Container[str] = frozenset(), common: Container[str] = COMMON) -> list[Item]:
    """Names deduce cannot see: after "ik heet", "my name is", "noemt zich"... any word
    that is not an ordinary one; after a weaker cue ("ik ben", "bij", "mijn zus") or at
    the start of a sentence, a word from the first-name list (`first_names`, lowercase),
    which catches "ik ben lisa" and "bram zei dat...".

    English "and", "with", "to" are no cue: the first-name list holds English words
    ("carry", "will") that follow them far more often than a lowercase name does."""
    found = []
    for pattern in (_STRONG_NAME_CUES, _NAME_BEFORE_CUE, _NAME_BEFORE_CALL):
        for m in pattern.finditer(text):
            name = m.group("name").lower()
            # "noem me maar Baby Face", "ze noemen hem Kleine Mo": a word and a capitalised one are a nickname.
            nickname = m.group("surname") is not None and m.group("name")[0].isupper() and name not in _KIN_AND_TITLES
            if (name in common and not nickname) or name in INTERFIXES:
                continue
            end = m.end("surname") if m.group("surname") else m.end("name")
            if not m.group("surname") and name in _NICKNAME_LEADS:
                # "noemen ze me lil sis", "ze noemen hem big mo": the lead takes the next word along.
                tail = re.match(r"\s([^\W\d_][\w'’-]*)", text[end : end + 40])
                if tail and tail.group(1).lower() not in common:
                    end += tail.end()
            while text[end - 1] in "'’":  # the closing quote of "'de Chef'"
                end -= 1
            found.append(Item("NAAM", m.start("name"), end))
    for m in _RELATION_NAME.finditer(text):
        if m.group("second") and m.group("name").lower() in _NICKNAME_LEADS:
            # "mn maatje Dikke Dennis": a nickname lead and a name.
            found.append(Item("NAAM", m.start("name"), m.end("second")))
        elif m.group("name").lower() not in common:
            found.append(Item("NAAM", m.start("name"), m.end("name")))
    for m in _WEAK_NAME_CUES.finditer(text):
        name = m.group("name").lower()
        if is_first_name(name, first_names) and name not in common:
            # "met noortje el Bakkali": a capitalised surname after the first name goes with it.
            surname = m.group("surname")
            whole = surname is not None and surname.split()[-1].lower() not in common
            found.append(Item("NAAM", m.start("name"), m.end("surname") if whole else m.end("name")))
    # deduce only knows capitalised names; "bram zei dat..." needs the list in lowercase.
    for m in _LOWERCASE_WORD.finditer(text):
        word = m.group()
        if (
            word.islower()
            and word not in common
            and is_first_name(word, first_names)
            and sentence_start(text, m.start())
        ):
            found.append(Item("NAAM", m.start(), m.end()))
    for m in _APPOSITION.finditer(text):
        name = m.group("name").lower()
        if is_first_name(name, first_names) and name not in common:
            found.append(Item("NAAM", m.start(), m.end()))
    return found


# --- Places deduce drops ------------------------------------------------------------

# deduce removes place names that are also frequent Dutch words; of the municipalities
# only Leiden ("leiden", to lead) is lost that way.
_WORD_PLACES = re.compile(r"\bLeiden\b")
# Neighbourhoods deduce does not list: "de Schilderswijk", "de Vogelbuurt".
_NEIGHBOURHOOD = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]{2,}(?:wijk|buurt|kwartier)(?![\w-])")
# deduce matches place names only as written; "ik woon in drachten" needs the list in
# lowercase, and a cue that says a place follows.
_RESIDENCE_CUE = re.compile(
    r"(?i:\b(?:woon|woont|wonen|woonde|woonden|kom|komt|kwam|ben|zit|verhuisd|live|lives|living|from)"
    r"\s+(?:nu\s+|now\s+|ook\s+)?(?:in|uit|naar|te|from)\s+|\buit\s+|\bfrom\s+)"
    rf"(?P<place>{LETTER}[\w'’-]*(?:\s+{LETTER}[\w'’-]*){{0,2}})"
)


def find_places(text: str, places: Container[str] = frozenset(), common: Container[str] = COMMON) -> list[Item]:
    """Places deduce misses: Leiden mid-sentence (at the start it may be the verb),
    neighbourhoods by their endings, and lowercase places from `places` (lowercase)
    after "woon in", "kom uit", "live in"..."""
    found = [
        Item("PLAATS", m.start(), m.end()) for m in _WORD_PLACES.finditer(text) if not sentence_start(text, m.start())
    ]
    found += items_matching("PLAATS", _NEIGHBOURHOOD, text)
    for m in _RESIDENCE_CUE.finditer(text):
        words = m.group("place").split()
        for n in range(len(words), 0, -1):
            candidate = " ".join(words[:n])
            # Not "in de buurt" or "in het bos", though hamlets with those names exist.
            if words[0] in _ARTICLES:
                break
            if candidate.islower() and candidate in places and candidate not in common and candidate not in COUNTRIES:
                start = m.start("place")
                found.append(Item("PLAATS", start, start + len(candidate)))
                break
    return found
