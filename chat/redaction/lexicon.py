"""Names and organisations that no list has, told apart from ordinary words by how often
a word occurs in Dutch and English.

A visitor writes about "Thandeka", "kealoha kaya", "fitnesscentrum brons" or "bij
Amaryllis": names no first-name, surname or institution list holds. What sets them
apart is that they are not ordinary words of either language. `wordfreq` (Dutch and
English word frequencies, offline package data) gives each word its Zipf frequency
(log10 of occurrences per billion words; ordinary words are 3 and up, "heimwee" 3.5).
A word below the thresholds here, in a place where a name goes, is taken out:

- a capitalised word that does not begin a sentence, with the capitalised words next to it;
- a word of any case after a strong cue ("met", "bij", "heet", "tante", "I met", ...);
- a word at the start of a sentence, or anywhere, followed by what people do ("zei", "appt", "and his");
- a word after an organisation's kind word ("bezorgdienst snelbox", "manege de vossenhoeve").

Without wordfreq installed the lexicon is empty and these rules find nothing (the
others still run). The lexicon comes in as an argument: the rules are pure functions.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from chat.redaction.rules import LETTER, Item, sentence_start
from chat.redaction.words import COMMON, COUNTRIES, INTERFIXES, SENTENCE_INITIAL

Lexicon = Mapping[str, float]

# Below this a capitalised word inside a sentence is no ordinary word ("Mentor" 3.9, "Heimwee" 3.5 stay;
# "Tupac" 3.0, "Mensah" 2.4 go).
CAPITALISED_BELOW = 3.0
# A word of any case after a strong cue, or before a verb.
CUED_BELOW = 2.5
# A word starting a sentence with a verb after it (typos and compounds are left alone there too).
START_BELOW = 2.5
# Neighbours joined to a found name ("Tupac" 3.0 in "Tupac Jhinkoe").
NEIGHBOUR_BELOW = 3.5
# A lowercase word before a capitalised name found ("noortje" 2.8 in "noortje Melnyk").
LEFT_FIRST_NAME_BELOW = 3.0
# A lowercase word after an organisation's kind word ("fitnesscentrum brons", "zorginstelling meerwaarde").
AFTER_KIND_BELOW = 4.5


@functools.cache
def lexicon() -> Lexicon:
    """Lowercase word -> highest Zipf frequency in Dutch or English; empty without wordfreq."""
    try:
        from wordfreq import get_frequency_dict
    except ImportError:  # pragma: no cover - wordfreq is a dependency; the rules degrade to nothing
        return {}
    merged: dict[str, float] = {}
    for lang in ("nl", "en"):
        for word, freq in get_frequency_dict(lang).items():
            if freq > 0:
                zipf = math.log10(freq) + 9
                if zipf >= 1.0 and zipf > merged.get(word, 0.0):
                    merged[word] = zipf
    return merged


def zipf(word: str, lex: Lexicon) -> float:
    return lex.get(word.lower().replace("’", "'"), 0.0)


_TOKEN = re.compile(rf"(?<![\w'’@#./-]){LETTER}[\w'’-]*(?![\w@/]|\.\w)")

# A word that is a name when nothing else is: a cue for the word after it.
_CUE_BEFORE = re.compile(
    r"(?i:(?:\b(?:samen\s+met|met|bij|heet|heette|heten|noemt\s+zichzelf|noemen\s+hem|noemen\s+haar|naam\s+is"
    r"|ken\s+hem\s+als|ken\s+haar\s+als|kennen\s+hem\s+als|genaamd|ene|vriend|vriendin|vriendje|vriendinnetje"
    r"|broer|zus|zusje|broertje|neef|nicht|tante|oom|opa|oma|juf|meester|mentor|trainer|coach|stiefvader"
    r"|stiefmoeder|stiefbroer|stiefzus|pleegvader|pleegmoeder|vader|moeder|ex|buurman|buurvrouw|baas"
    r"|mevrouw|meneer|dhr\.?|mw\.?|mevr\.?|i\s+met|with|named|called|friend|boyfriend|girlfriend|sister|brother"
    r"|cousin|uncle|aunt|stepdad|stepmom|coach|teacher|mr\.?|mrs\.?|ms\.?|bang\s+voor|afraid\s+of|aan|nee|via|van|naar|at|from|voor|en|and)"
    r")['’\"]?\s+)$"
)
_CUE_WINDOW = 24
# What people do: a word before one of these is someone ("Thandeka zei", "oisin and his cousin").
_VERB_AFTER = frozenset(
    "zei zegt zeggen appt appte appen belt belde stuurt stuurde heeft had wil wilde komt kwam werkt woont"
    " dreigt dreigde slaat sloeg vroeg vraagt kent kende doet deed is was said says texts texted keeps"
    " kept has wants wanted told tells sent sends works lives hit hits threatened +company".split()
)
# Organisation kind words written before a name, as whole words or as the end of one ("bezorgdienst").
_KIND = re.compile(
    r"(?i:(?:[a-z]{3,}(?:dienst|groep|centrum|shop|salon|studio|bureau|bedrijf|instelling|vereniging|boerderij"
    r"|opvang|kerk|club|school|zaak|winkel|kantoor|praktijk|hoeve|huis|erij)"
    r"|manege|shoarma|stichting|toko|camping|hotel|restaurant|café|cafe|snackbar|pizzeria|gym|moskee|kapsalon"
    r"|wasstraat|supermarkt|fitness|zorggroep))"
)
# "oisin and his cousin", "Thandeka en haar zus": someone with someone of theirs.
_COMPANY_AFTER = frozenset("his her zijn haar".split())
_ARTICLES = frozenset({"de", "het", "'t", "the"})
# Kind words that name a place, not an organisation: "winkelcentrum Zuidplein" is a street item without it.
_PLACE_KINDS = frozenset("winkelcentrum station treinstation metrostation stadspark".split())
# Particles inside a name: "Folkert van der Tjalsma" (not "op" or "in": "Kanaleneiland op de Marshalllaan").
_NAME_PARTICLES = frozenset("van de der den ter ten te 't el al la le du da von".split())
# Platforms, brands and services visitors write in any case; never a name of a person.
_BRANDS = frozenset(
    "tiktok onlyfans snapchat snap insta instagram whatsapp discord roblox fortnite xbox playstation netflix"
    " spotify iphone samsung vinted marktplaats tinder grindr telegram youtube twitch minecraft paypal tikkie"
    " digid childline moncler nikes bol.com facebook messenger signal wechat kik omegle".split()
)
# Frequent words: a lowercase word one slip from one of these is a typo ("iemnad", "zecht"), not a name.
FREQUENT = 4.0
COMPOUND_PART = 3.5


def _kind(word: str) -> bool:
    return word.lower() not in _PLACE_KINDS and _KIND.fullmatch(word) is not None


@functools.cache
def _frequent_words() -> tuple[frozenset[str], frozenset[str], frozenset[tuple[int, str]]]:
    """Frequent words, their one-letter deletions, and those deletions with the position of the letter."""
    frequent = frozenset(w for w, z in lexicon().items() if z >= FREQUENT and w.isalpha())
    at = frozenset((i, w[:i] + w[i + 1 :]) for w in frequent if len(w) >= 4 for i in range(len(w)))
    return frequent, frozenset(d for _, d in at), at


def _typo(word: str) -> bool:
    """One letter added, dropped, changed or two swapped from a frequent word ("iemnad", "zecht", "dochtr")."""
    if len(word) < 4:
        return False
    frequent, deletes, at = _frequent_words()
    if word in frequent or word in deletes:
        return True
    for i in range(len(word)):
        rest = word[:i] + word[i + 1 :]
        if rest in frequent or (i, rest) in at:
            return True
        if i + 1 < len(word) and word[:i] + word[i + 1] + word[i] + word[i + 2 :] in frequent:
            return True
    return False


def _compound(word: str, lex: Lexicon) -> bool:
    """Two ordinary words glued ("modellencontract", "pleegvader", "meegegaan")."""
    for i in range(3, len(word) - 2):
        head, tail = word[:i], word[i:]
        if len(tail) >= 4 and zipf(tail, lex) >= FREQUENT + 0.5:
            return True  # "pleegvader", "overblijfmoeder": the head is ordinary whatever comes before it
        if zipf(tail, lex) >= COMPOUND_PART and (
            zipf(head, lex) >= COMPOUND_PART or (head[-1] in "s" and zipf(head[:-1], lex) >= COMPOUND_PART)
        ):
            return True
    return False


def _ordinary_lowercase(word: str, lex: Lexicon) -> bool:
    """A lowercase word that is a typo of a frequent word or a compound of two ordinary ones."""
    lowered = word.lower()
    return _typo(lowered) or _compound(lowered, lex)


def _after_kind(word: str, lex: Lexicon) -> bool:
    """A name after a kind word: capitalised and no listed ordinary word, or lowercase and not frequent."""
    lowered = word.lower()
    if lowered in COMMON or lowered in _ARTICLES:
        return False
    return _capitalised(word) or _unknown(word, lex, AFTER_KIND_BELOW)


def _unknown(word: str, lex: Lexicon, below: float) -> bool:
    lowered = word.lower()
    if "-" in lowered:
        # The head of a hyphenated word decides: "IP-adres", "ex-vriend" are words, "Al-Furqan" a name.
        lowered = lowered.rsplit("-", 1)[1]
        word = word.rsplit("-", 1)[1]
    return (
        len(word) >= 3
        and lowered not in _BRANDS
        and lowered not in COMMON
        and lowered not in COUNTRIES
        and lowered not in INTERFIXES
        and lowered not in SENTENCE_INITIAL
        and not any(c.isdigit() for c in word)
        and zipf(word, lex) < below
    )


_TRAIL = re.compile(r"(?:['’]s|['’]+|-+)$")


def _trimmed(start: int, word: str) -> tuple[int, int, str]:
    """A token without a possessive or closing quote ("Thijs's" -> "Thijs", "mij'" -> "mij")."""
    m = _TRAIL.search(word)
    if m and m.start() > 0:
        word = word[: m.start()]
    return start, start + len(word), word


def _capitalised(word: str) -> bool:
    return word[0].isupper() and not word.isupper()


def find_unknown_names(text: str, lex: Lexicon | None = None) -> list[Item]:
    """Names and organisations that are no ordinary Dutch or English word, where a name goes (module doc)."""
    lex = lexicon() if lex is None else lex
    if not lex:
        return []
    tokens = [_trimmed(m.start(), m.group()) for m in _TOKEN.finditer(text)]
    hit = [False] * len(tokens)
    for i, (start, _end, word) in enumerate(tokens):
        starts = sentence_start(text, start)
        cued = _CUE_BEFORE.search(text, max(0, start - _CUE_WINDOW), start) is not None and not starts
        nxt = tokens[i + 1][2].lower() if i + 1 < len(tokens) and _adjacent(text, tokens[i], tokens[i + 1]) else ""
        if nxt in ("and", "en") and i + 2 < len(tokens) and tokens[i + 2][2].lower() in _COMPANY_AFTER:
            nxt = "+company"
        plain = not _capitalised(word)
        if word.isupper() and len(word) <= 3:
            pass
        elif not plain and not starts and _unknown(word, lex, CAPITALISED_BELOW):
            hit[i] = True
        elif (cued or nxt in _VERB_AFTER) and _unknown(word, lex, START_BELOW if starts else CUED_BELOW):
            hit[i] = not (plain or starts) or not _ordinary_lowercase(word, lex)
        # An organisation's kind word before a name joins it: "bezorgdienst Snelbox", "manege de vossenhoeve".
        if i > 0 and _kind(tokens[i - 1][2]) and _adjacent(text, tokens[i - 1], tokens[i]):
            if hit[i] or _after_kind(word, lex):
                hit[i] = hit[i - 1] = True
        elif (
            i > 1
            and tokens[i - 1][2].lower() in _ARTICLES
            and _kind(tokens[i - 2][2])
            and _adjacent(text, tokens[i - 2], tokens[i - 1])
            and _adjacent(text, tokens[i - 1], tokens[i])
            and (hit[i] or _after_kind(word, lex))
        ):
            hit[i] = hit[i - 1] = hit[i - 2] = True
    found: list[Item] = []
    i = 0
    while i < len(tokens):
        if not hit[i]:
            i += 1
            continue
        first = last = i
        while True:
            if last + 1 < len(tokens) and (hit[last + 1] or _joins(text, tokens, last, last + 1, lex)):
                last += 1
                continue
            after = _particles_after(text, tokens, last, hit)
            if after == last:
                break
            last = after
        while first > 0 and _joins(text, tokens, first, first - 1, lex):
            first -= 1
        first = _particles_before(text, tokens, first)
        found.append(Item("NAAM", tokens[first][0], tokens[last][1]))
        i = last + 1
    return found


def _adjacent(text: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    """Only spaces between two tokens (a before b)."""
    return b[0] - a[1] <= 2 and text[a[1] : b[0]].strip(" ") == ""


def _joins(text: str, tokens: list[tuple[int, int, str]], near: int, far: int, lex: Lexicon) -> bool:
    """Whether token `far`, next to a found name at `near`, belongs to it: a capitalised rare word or an unknown one."""
    a, b = sorted((near, far))
    if not _adjacent(text, tokens[a], tokens[b]):
        return False
    word = tokens[far][2]
    if _capitalised(word):
        return _unknown(word, lex, NEIGHBOUR_BELOW)
    # A lowercase word joins a lowercase name rightwards ("kealoha kaya", not "Doekhie meegegaan"), and a
    # rare lowercase first name a surname leftwards ("noortje Melnyk").
    if far > near:
        return not _capitalised(tokens[near][2]) and _unknown(word, lex, NEIGHBOUR_BELOW) and not _typo(word.lower())
    return _unknown(word, lex, LEFT_FIRST_NAME_BELOW) and not _ordinary_lowercase(word, lex)


def _particles_after(text: str, tokens: list[tuple[int, int, str]], last: int, hit: list[bool]) -> int:
    """Run on over "van der" to a found surname: "Folkert van der Tjalsma" is one name."""
    j = last
    while (
        j + 1 < len(tokens)
        and j - last < 3
        and tokens[j + 1][2].lower() in _NAME_PARTICLES
        and _adjacent(text, tokens[j], tokens[j + 1])
    ):
        j += 1
    if j > last and j + 1 < len(tokens) and hit[j + 1] and _adjacent(text, tokens[j], tokens[j + 1]):
        return j + 1
    return last


def _particles_before(text: str, tokens: list[tuple[int, int, str]], first: int) -> int:
    """Take in "van der" and a capitalised first name before them: "Folkert van der Tjalsma"."""
    j = first
    while (
        j > 0
        and first - j < 3
        and tokens[j - 1][2].lower() in _NAME_PARTICLES
        and _adjacent(text, tokens[j - 1], tokens[j])
    ):
        j -= 1
    if j < first and j > 0 and _adjacent(text, tokens[j - 1], tokens[j]):
        head = tokens[j - 1][2]
        if _capitalised(head) and head.lower() not in COMMON:
            return j - 1
    return first
