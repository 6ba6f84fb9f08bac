"""Our own redaction rules for numbers and contacts: pure functions from text to
items, no I/O and no deduce.

deduce is built for Dutch clinical notes. Chat messages carry things it does not
know (social-media handles, IBANs, licence plates, IP addresses, English dates) and
write phone numbers in more ways than its pattern allows. Each rule returns `Item`s
with offsets into the text it was given; `chat.redaction` merges them with the
rules for names and places (`chat.redaction.names`) and deduce's annotations.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Container
from dataclasses import dataclass

import phonenumbers

from chat.redaction.words import (
    COMMON,
    NOT_ACCOUNTS,
    NOT_POSTCODE_LETTERS,
)


@dataclass(frozen=True)
class Item:
    """One piece of personal data: its placeholder type and where it is in the original text."""

    type: str
    start: int
    end: int


# Letters in any script, for names such as "Chloë" or "Büşra".
LETTER = r"[^\W\d_]"


def items_matching(kind: str, pattern: re.Pattern[str], text: str, group: int = 0) -> list[Item]:
    """Every match of `pattern` (or of its `group`) as an item of type `kind`."""
    return [Item(kind, m.start(group), m.end(group)) for m in pattern.finditer(text)]


def sentence_start(text: str, pos: int) -> bool:
    """Whether `pos` begins a sentence: start of text or after . ! ? or a newline."""
    # Walk back instead of slicing text[:pos]: rules call this for every word, and a
    # slice per word costs quadratic time on a long message.
    while pos > 0 and text[pos - 1] in " \t\"'“‘(":
        pos -= 1
    return pos == 0 or text[pos - 1] in ".!?\n:"


# --- Safety resources that must survive --------------------------------------------

# Public helplines counselors send (SPEC "Safety resources to seed"), plus the EU
# child-helpline numbers. Long ones are distinctive enough to match anywhere.
_HELPLINE_LONG = re.compile(r"(?<![\d+])(?:0800\s?[-.]?\s?(?:2000|0432|0113|7000|1113)|0900\s?[-.]?\s?8844)(?!\d)")
# Short ones only when they stand alone, so that "113" inside "06 113 45678" stays a phone.
_HELPLINE_SHORT = re.compile(r"(?<![\d+])(?<!\d[ .-])(?:112|113|116\s?111|116\s?123)(?![ .-]?\d)")

RESOURCE_DOMAINS = frozenset(
    {
        "113.nl",
        "kindertelefoon.nl",
        "veiligthuis.nl",
        "fier.nl",
        "chatmetfier.nl",
        "politie.nl",
        "meldmisdaadanoniem.nl",
        "helpwanted.nl",
        "slachtofferhulp.nl",
        "centrumseksueelgeweld.nl",
        "rijksoverheid.nl",
        "government.nl",
        "112.nl",
        "watwerktbijdepressie.nl",
        "mindkorrelatie.nl",
        "jouwggd.nl",
        "ggd.nl",
    }
)

_RESOURCE_NAMES = re.compile(
    r"\b(?:Veilig\s+Thuis|(?:De\s+)?Kindertelefoon|Jeugdzorg|Meld\s+Misdaad\s+Anoniem|Slachtofferhulp"
    r"(?:\s+Nederland)?|Centrum\s+Seksueel\s+Geweld|Helpwanted|Fier|GGD|Politie|Zelfmoordpreventie"
    r"|Zorg-\s+en\s+Veiligheidshuis)\b",
    re.IGNORECASE,
)


# Platforms, brands and car makes that deduce knows as surnames or first names ("Zara",
# "een zwarte Mercedes"): what a loverboy wears or drives is not who he is. Shops and chains are
# no longer here: where something happened ("bij de Jumbo") is an institution (chat/data/chains.txt).
# A shop of the brand is a place where something happened: "bij de Zara", "in de Nike store" are not protected.
_BRANDS = re.compile(
    r"(?<!bij )(?<!bij de )(?<!in de )(?<!naar de )(?<!van de )(?<!voor de )(?<!at the )(?<!in the )"
    r"\b(?:Snapchat|Instagram|TikTok|Tiktok|WhatsApp|Whatsapp|Facebook|Telegram|Discord|Roblox|Fortnite|YouTube"
    r"|Youtube|Google|Netflix|Tinder|Nike|Adidas|Puma|Gucci|Zara|Grindr|Bol\.com|Marktplaats|Vinted)\b"
)
_CAR = re.compile(
    r"(?i:\b(?:een|zijn|haar|a|his|her|zwarte|witte|grijze|blauwe|rode|zilveren|black|white|grey|gray|blue"
    r"|red|silver)\s+)(?P<make>Mercedes|Audi|BMW|Opel|Volkswagen|Toyota|Tesla|Peugeot|Renault|Ford|Kia|Seat"
    r"|Skoda|Fiat|Volvo|Mini|Porsche|Range\s+Rover)\b"
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Spans that are public safety resources, never personal data: helpline numbers,
    the helplines' web sites and names. Anything found wholly inside one is kept."""
    spans = [m.span() for m in _HELPLINE_LONG.finditer(text)]
    masked = _mask(text, spans)
    spans += [m.span() for m in _HELPLINE_SHORT.finditer(masked)]
    spans += [m.span() for m in _RESOURCE_NAMES.finditer(text)]
    spans += [m.span() for m in _BRANDS.finditer(text)]
    spans += [m.span("make") for m in _CAR.finditer(text)]
    for m in _URL.finditer(text):
        start, end = m.start(), _trim_url_end(text, m.start(), m.end())
        if _url_host(text[start:end]) in RESOURCE_DOMAINS:
            spans.append((start, end))
    return spans


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank out spans while keeping every offset in place."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


# --- Phone numbers ---------------------------------------------------------------

_PHONE_CUE = re.compile(
    r"(?i)\b(?:nummer|telefoon|tel|mobiel|gsm|bel|bellen|app|whatsapp|sms|number|phone|call|text|mobile)"
    r"\W{0,3}(?:\w+\W+){0,3}$"
)
_DATE_LIKE = re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_IPV4_LIKE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def find_phones(text: str) -> list[Item]:
    """Phone numbers in any Dutch or international notation, found and checked by
    `phonenumbers`. Helpline numbers are masked first so that a list such as
    "bel 113 of 0800-0113" is not read as one long number."""
    if sum(c.isdigit() for c in text) < 7:
        return []
    masked = _mask(text, protected_spans(text))
    found: list[Item] = []
    for region in ("NL", "GB"):
        for match in phonenumbers.PhoneNumberMatcher(masked, region, leniency=phonenumbers.Leniency.POSSIBLE):
            raw: str = match.raw_string
            if _DATE_LIKE.fullmatch(raw) or _IPV4_LIKE.fullmatch(raw):
                continue
            if region == "GB" and not raw.startswith("07"):
                # UK mobiles are the one national notation a visitor is likely to use here.
                continue
            prefixed = raw[0] in "+0("
            cued = bool(_PHONE_CUE.search(masked[max(0, match.start - 40) : match.start]))
            if prefixed or (cued and phonenumbers.is_valid_number(match.number)):
                found.append(Item("TELEFOON", match.start, match.end))
    return found


# --- E-mail, URLs, accounts -------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+(?:@|\s?[(\[](?:at|@)[)\]]\s?)[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")

_TLDS = (
    "nl|com|net|org|be|eu|de|uk|co|io|me|tv|app|info|biz|xyz|ly|gg|to|fm|site|online|shop|live|link"
    "|club|nu|fr|es|it|ch|at|pl|tr|ma|sr|cc|ru|dev|page|social|chat|fans|vip|sex|xxx|porn|cam"
    "|ee|bio|gd|gl|sh|ai|us|ca|au|ws|cz|se|no|dk|fi|pt|gr|ro|lu|nz|za|br|mx|tk|ml|top|icu|store|tech"
    "|space|website|fun|life|world|today|news|blog|art|studio|media|pro|mobi|cw|aw|moe|lol|ninja|wtf|tube"
    "|gy|su|pw|cx|lk|gs|bz|cl|lt|lv|mk|rs|ua|vn|tw|nyc|amsterdam|frl"
)
_URL = re.compile(
    # Starts only where no URL character precedes: after "\b" alone, "www.www.www..." would
    # start a match at every "www." and each would run to the end (quadratic time).
    # App deep links ("snapchat://add/x", "tg://resolve?domain=x", "whatsapp://send?phone=...") too.
    r"(?i)(?:(?<![\w.@/-])(?:https?://|www\.|(?:snapchat|tg|whatsapp|instagram|tiktok|fb|discord|telegram"
    r"|twitter|signal|skype|viber|kik|onlyfans|intent|sms|mailto)://?)[^\s<>\"']+"
    rf"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?::\d+)?(?![\w-])(?:/[^\s<>\"']*)?)"
)


def _trim_url_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in ".,;:!?)]}'\"":
        end -= 1
    return end


def _url_host(url: str) -> str:
    host = re.sub(r"(?i)^https?://", "", url).split("/", 1)[0].split(":", 1)[0].lower()
    return host.removeprefix("www.")


# Spelt out to slip past filters, with a mail provider's name as the anchor: "sanne.devries at gmail punt com",
# "noor apenstaartje hotmail dot com", "lisa_x_03 @ live.nl".
_MAIL_HOSTS = (
    r"gmail|googlemail|hotmail|outlook|live|msn|yahoo|icloud|me|ziggo|kpnmail|kpnplanet|planet|home|xs4all"
    r"|telfort|tele2|caiway|protonmail|proton|telenet|skynet|gmx|web|aol|mail"
)
_SPELT_EMAIL = re.compile(
    r"(?i)(?<![\w.+@-])[\w.+-]{2,64}+\s(?:at|apenstaartje|apestaartje|apenstaart)\s"
    rf"(?:{_MAIL_HOSTS})(?:\.|\s?[(\[]?(?:punt|dot)[)\]]?\s?)(?:co\.uk|nl|com|net|be|de|fr|uk|org|eu)(?![\w-])"
    r"|(?<![\w.+@-])[\w.+-]{1,64}+\s@\s[\w-]++(?:\.[\w-]++)*?\.[A-Za-z]{2,}(?![\w-])"
)


def find_emails(text: str) -> list[Item]:
    """E-mail addresses, also the "naam (at) gmail.com" and "naam at gmail punt com" ways of writing them."""
    return items_matching("EMAIL", _EMAIL, text) + items_matching("EMAIL", _SPELT_EMAIL, text)


# Web addresses spelt out to slip past filters: "sexymeiden010 punt nl", "jouwnaam dot com slash
# lisa", "onlyfans (dot) com / romy". The spelt-out dot and a top-level domain anchor the match;
# one host word before it (with "www." or further dotted parts) and "slash x" parts after it.
_SPELT_DOT = r"(?:\s*(?:\(dot\)|\[dot\]|\(punt\)|\[punt\])\s*|\s+(?:dot|punt)\s+)"
# Only domains that are no word, so that "een goed punt de..." or "dot to" stays text.
_SPELT_TLDS = r"nl|com|net|org|be|eu|uk|co\.uk|io|tv|xyz|ly|gg|fm|ee|bio|ru|fans|vip|sex|xxx|porn|cam|online|site"
_SPELT_URL = re.compile(
    rf"(?i)(?<![\w@.-])(?:www(?:\.|{_SPELT_DOT}))?[a-z0-9][a-z0-9_-]*+(?:\.[a-z0-9][a-z0-9_-]*+)*+"
    rf"{_SPELT_DOT}(?:{_SPELT_TLDS})(?![\w-])(?:\s*(?:/|\bslash\b)\s*[\w.@+-]++){{0,3}}"
)
_NOT_SPELT_HOSTS = frozenset({"het", "de", "een", "dat", "die", "dit", "en", "of", "is", "the", "a", "and", "or"})


def find_urls(text: str) -> list[Item]:
    """Web addresses with or without scheme ("www.x.nl", "instagram.com/naam"), also spelt
    out ("sexymeiden010 punt nl", "onlyfans dot com slash romy")."""
    found = []
    for m in _URL.finditer(text):
        end = _trim_url_end(text, m.start(), m.end())
        if end > m.start():
            found.append(Item("URL", m.start(), end))
    for m in _SPELT_URL.finditer(text):
        host = re.split(r"[\s.(\[]", m.group(), maxsplit=1)[0].lower()
        if host in _NOT_SPELT_HOSTS:
            continue
        end = _trim_url_end(text, m.start(), m.end())
        found.append(Item("URL", m.start(), end))
    return found


_PLATFORMS = (
    r"snap|snapchat|sc|insta|instagram|ig|tiktok|tt|twitter|telegram|discord|facebook|fb|kik|wickr"
    r"|signal|threads|youtube|twitch|roblox|fortnite|steam|psn|xbox|gamertag|onlyfans|linkedin"
    r"|pinterest|reddit|bereal|wechat|skype|account|accountnaam|gebruikersnaam|username|user\s?name|handle"
)
_HANDLE = r"@?[\w](?:[\w.]*[\w])?(?:#\d{4})?"
_AT_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?")
_PLATFORM_HANDLE = re.compile(
    rf"(?i)\b(?:{_PLATFORMS})\b,?(?:\s+(?:account|naam|name|id|username|gebruikersnaam))?"
    r"(?P<sep>\s*(?::|=|-|\bis\b|\bheet\b|\bwas\b|\bnamed\b|\bcalled\b|\bals\b|\bas\b)|,?\s+(?:naam|name):)?"
    rf"\s*(?P<handle>{_HANDLE})"
)
_NOT_ACCOUNT = re.compile(r"(?i)(?:iphone|ipad|galaxy|pixel|ps|xbox|fifa|gta|windows|win|covid|mp|h)\d+")
# A whole token (possessive: no backtracking into it), checked in code for three letters and
# an underscore or two digits in a row. Nested "\w*" inside lookaheads cost cubic time on
# "aaa" + 4,000 underscores + "@".
_USERNAME = re.compile(r"(?<![\w@./-])[^\W\d_][\w.]*+(?:#\d{4})?(?![\w@/-])")
_USERNAME_MARK = re.compile(r"_|\d\d")


# "lisa.denhaag", "karim.bxl", "dylan.mp4", "kash.010": dotted lowercase tokens that are no
# web address (find_urls takes those) and not two ordinary words run together ("ok.dan").
_DOTTED = re.compile(r"(?<![\w@./-])[a-z][a-z0-9_]{2,}+(?:\.[a-z0-9_]+){1,3}+(?![\w@/-]|\.\w)")
# "xXShadowWolfXx", "KingKashDon": gamer tags with capitals inside the word.
_CAMEL = re.compile(r"(?<![\w@./-])(?:x+X[A-Za-z0-9]{2,}|[A-Za-z]*[a-z][A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)(?![\w@/-])")
_NOT_CAMEL = frozenset({"mcdonalds", "mcdonald's", "youtuber", "playstation"})


def _dotted_handle(token: str, common: Container[str]) -> bool:
    parts = token.split(".")
    if any(not part for part in parts):
        return False
    return not all(part in common or part.isdigit() for part in parts) and len(token) >= 6


def _username_shaped(token: str) -> bool:
    """At least three letters, and an underscore or two digits in a row after the first letter."""
    name = token.split("#", 1)[0]
    return sum(c.isalpha() for c in name) >= 3 and _USERNAME_MARK.search(name, 1) is not None


def _handle_like(token: str) -> bool:
    return token.startswith("@") or any(c.isdigit() or c in "_.#" for c in token)


# Discord's "name#1234" tags.
_DISCORD_TAG = re.compile(r"(?<![\w@./#-])[^\W_][\w.]{1,31}#\d{4}(?![\w#])")


def find_accounts(text: str, common: Container[str] = COMMON) -> list[Item]:
    """Social-media handles: "@naam", "mijn snap is lisa2009", "insta: jaydenn.x",
    "Ghost#4471", and user-name-looking tokens such as "xXdragonXx2011" wherever they stand."""
    found = items_matching("ACCOUNT", _AT_HANDLE, text)
    found += items_matching("ACCOUNT", _DISCORD_TAG, text)
    for m in _PLATFORM_HANDLE.finditer(text):
        handle = m.group("handle").rstrip(".")
        lowered = handle.lower().lstrip("@")
        if lowered in common or lowered.isdigit() or re.fullmatch(_PLATFORMS, lowered, re.IGNORECASE):
            continue
        if _handle_like(handle) or (m.group("sep") and len(lowered) >= 3):
            found.append(Item("ACCOUNT", m.start("handle"), m.start("handle") + len(handle)))
    for m in _DOTTED.finditer(text):
        if _dotted_handle(m.group(), common) and not _URL.fullmatch(m.group()):
            found.append(Item("ACCOUNT", m.start(), m.end()))
    for m in _CAMEL.finditer(text):
        if m.group().lower() not in _NOT_CAMEL:
            found.append(Item("ACCOUNT", m.start(), m.end()))
    for m in _USERNAME.finditer(text):
        token = m.group().rstrip(".")
        if not _username_shaped(token):
            continue
        if token.lower() not in NOT_ACCOUNTS and not _NOT_ACCOUNT.fullmatch(token) and len(token) >= 6:
            found.append(Item("ACCOUNT", m.start(), m.start() + len(token)))
    return found


# --- Numbers with a checksum or a fixed shape -------------------------------------

_NINE_DIGITS = re.compile(r"(?<![\w.,+-])\d(?:[ .-]?\d){8}(?![\w]|[.,-]\d)")
_BSN_CUE = re.compile(
    r"(?i)\b(?:bsn|burgerservicenummer|burger\s?service\s?nummer|sofi-?nummer|sofi|citizen service number"
    r"|social security)\b"
)


def eleven_test(digits: str) -> bool:
    """The BSN "elfproef": 9a + 8b + ... + 2h - i is divisible by 11."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return (total - int(digits[8])) % 11 == 0


def find_bsns(text: str) -> list[Item]:
    """Nine-digit numbers that pass the eleven-test, and any nine-digit number that is
    called a BSN (a mistyped one still identifies the person to whoever holds it)."""
    found = []
    for m in _NINE_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) != 9:
            continue
        if eleven_test(digits) or _BSN_CUE.search(text[max(0, m.start() - 40) : m.start()]):
            found.append(Item("BSN", m.start(), m.end()))
    return found


# Groups of four, so that "NL91ABNA0417164300 op naam" does not run on into the next words.
_IBAN = re.compile(r"(?i)(?<![\w])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w])")
_NL_IBAN_SHAPE = re.compile(r"NL\d{2}[A-Z]{4}\d{10}")


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, read letters as
    10..35, and the number must leave 1 when divided by 97."""
    compact = re.sub(r"\s", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[Item]:
    """IBANs that pass mod-97, and Dutch-shaped ones that do not (a typo is still an account)."""
    found = []
    for m in _IBAN.finditer(text):
        raw = m.group()
        # The match may have run on into a short next word ("BE68 5390 0754 7034 op"):
        # drop trailing chunks until the checksum holds.
        while len(raw) >= 15:
            compact = re.sub(r"\s", "", raw).upper()
            if iban_valid(compact) or _NL_IBAN_SHAPE.fullmatch(compact):
                found.append(Item("IBAN", m.start(), m.start() + len(raw)))
                break
            if " " not in raw:
                break
            raw = raw.rsplit(" ", 1)[0]
    return found


_POSTCODE = re.compile(r"(?<![\w-])[1-9]\d{3}(?:\s?(?P<upper>[A-Z]{2})|(?P<lower>[a-z]{2}))(?![\w])")


# British postcodes, capitals only: "OX4 1HP", "TN23 5PQ", "SW1A 1AA".
_UK_POSTCODE = re.compile(r"(?<![\w-])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?![\w-])")


# Belgian and other four-digit postcodes when called one: "postcode 9100".
_CUED_POSTCODE = re.compile(
    r"(?i:\b(?:postcode|postal\s+code|zip(?:\s+code)?|code\s+postal)\s*(?:is\s*)?:?\s*)(\d{4}\s?[A-Za-z]{2}|\d{4,5})(?![\w-])"
)


def find_postcodes(text: str) -> list[Item]:
    """Dutch postcodes: "1234 AB", "1234AB", "1234ab" (but not "1000mg" or "2019 en"),
    and British ones ("OX4 1HP")."""
    found = items_matching("POSTCODE", _UK_POSTCODE, text)
    found += items_matching("POSTCODE", _CUED_POSTCODE, text, 1)
    for m in _POSTCODE.finditer(text):
        letters = m.group("upper") or m.group("lower")
        if letters.upper() in {"SA", "SD", "SS"} or letters.lower() in NOT_POSTCODE_LETTERS:
            continue
        found.append(Item("POSTCODE", m.start(), m.end()))
    return found


# The Dutch "sidecodes" 1-14: X letter, 9 digit.
_SIDECODES = (
    "XX-99-99 99-99-XX 99-XX-99 XX-99-XX XX-XX-99 99-XX-XX 99-XXX-9 9-XXX-99 XX-999-X X-999-XX "
    "XXX-99-X X-99-XXX 9-XX-999 999-XX-9"
).split()


def _sidecode_regex(sep: str) -> str:
    def part(group: str) -> str:
        kind = "[A-Z]" if group[0] == "X" else r"\d"
        return f"{kind}{{{len(group)}}}"

    return "|".join(sep.join(part(g) for g in code.split("-")) for code in _SIDECODES)


_PLATE_DASHED = re.compile(rf"(?i)(?<![\w-])(?:{_sidecode_regex('-')})(?![\w-])")
# Without dashes only in capitals, where a six-character mix of letters and digits is rarely anything else.
_PLATE_BARE = re.compile(rf"(?<![\w-])(?:{_sidecode_regex('')})(?![\w-])")


# Belgian ("1-ABC-234") and current British ("KX17 HBD") plates.
_PLATE_FOREIGN = re.compile(r"(?<![\w-])(?:\d-[A-Z]{3}-\d{3}|[A-Z]{2}\d{2}\s?[A-Z]{3})(?![\w-])")


# Lowercase without dashes ("34xkpl", "8vhl34"): a sidecode with at least three letters, rarely a word.
_PLATE_BARE_LOWER = re.compile(
    rf"(?<![\w-])(?=(?:\d*[a-z]){{3}})(?:{_sidecode_regex('').replace('[A-Z]', '[a-z]')})(?![\w-])"
)
# With spaces, after a plate cue: "kenteken xn 123 b", "plate AB 12 CD".
_PLATE_SPACED = re.compile(
    rf"(?i:kenteken|nummerbord|nummerplaat|plate|reg)\w*\s*:?\s*(?P<plate>(?i:{_sidecode_regex(' ')}))(?![\w-])"
)


# Any other country's plate after a plate cue or a car ("kenteken K AB 123", "nummerbord B-MW 1234",
# "polish plates, PO 4X812", "een bmw met HH-XY 789", "een witte golf, WX 12345"): two or three groups of
# capitals and digits, with both a letter and a digit.
_PLATE_CUE = (
    r"(?i:kenteken|kentekenplaat|nummerbord|nummerplaat|plates?|reg|registration|number\s+plate|license|licence)"
    r"\w*(?:\s+(?i:is|was|van|:|begon\s+met|begint\s+met|eindigt\s+op|started\s+with|starts\s+with))?"
    r"|(?i:auto|car|bmw|audi|mercedes|golf|polo|opel|ford|toyota|volkswagen|vw|van|bus|busje|scooter|renault"
    r"|peugeot|kia|seat|skoda|tesla|fiat|citroen|volvo|mini|range\s+rover|porsche|jeep|truck)"
    r"(?:\s*,|\s+(?i:met|with|nummer|number))"
)
_PLATE_CUED_FOREIGN = re.compile(
    rf"(?<![\w'’-])(?:{_PLATE_CUE})\s*[:,]?\s*(?P<plate>(?=[A-Z\d -]{{4,11}}(?![\w-]))(?=[A-Z -]*\d)(?=[\d -]*[A-Z])"
    r"[A-Z\d]{1,4}(?:[ -][A-Z\d]{1,5}){1,2})(?![\w-])"
)


def find_plates(text: str) -> list[Item]:
    """Dutch licence plates in any sidecode: "12-ABC-3", "XX-99-99", "1-ABC-23", "34xkpl", "kenteken xn 123 b";
    Belgian ("1-ABC-234") and British ("KX17 HBD") ones."""
    return (
        items_matching("KENTEKEN", _PLATE_DASHED, text)
        + items_matching("KENTEKEN", _PLATE_BARE, text)
        + items_matching("KENTEKEN", _PLATE_BARE_LOWER, text)
        + items_matching("KENTEKEN", _PLATE_SPACED, text, group=1)
        + items_matching("KENTEKEN", _PLATE_FOREIGN, text)
        + items_matching("KENTEKEN", _PLATE_CUED_FOREIGN, text, group=1)
    )


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def find_ips(text: str) -> list[Item]:
    """IPv4 and IPv6 addresses (IPv6 candidates are checked with `ipaddress`, so "12:30:45" is not one)."""
    found = items_matching("IP", _IPV4, text)
    for m in _IPV6_CANDIDATE.finditer(text):
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        found.append(Item("IP", m.start(), m.end()))
    return found


# --- Dates ------------------------------------------------------------------------

_MONTHS_FULL = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
    "|january|february|march|may|june|july|august|october"
)
_MONTHS_ABBR = r"jan|feb|mrt|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_YEAR = r"(?:(?:19|20)\d{2}|['’]\d{2})"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
_DATES = [
    # "12-03-2009", "05/11/2008", "1.2.09"
    re.compile(rf"(?<![\d.,/-]){_DAY}([-/.]){_MONTH_NUMBER}\1(?:(?:19|20)?\d{{2}}|['’]\d{{2}})(?![\d/-]|\.\d)"),
    re.compile(r"(?<![\d.,/-])(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)"),
    # "12 maart 2009", "3 mei", "24 december", "12th of March 2009", "3 mrt. 2009"
    re.compile(
        rf"(?i)(?<![\d.,])\b{_DAY}(?:e|ste|de|st|nd|rd|th)?\s*(?:of\s+)?"
        rf"(?:(?:{_MONTHS_FULL})\b(?:,?\s+{_YEAR})?|(?:{_MONTHS_ABBR})\.?,?\s+{_YEAR})(?!\d)"
    ),
    # "March 12, 2009", "May 5th"
    re.compile(rf"(?i)\b(?:{_MONTHS_FULL}|(?:{_MONTHS_ABBR})\.?)\s+{_DAY}(?:st|nd|rd|th)?\b(?:,?\s+{_YEAR})?(?!\d)"),
]


def find_dates(text: str) -> list[Item]:
    """Calendar dates, numeric or with a Dutch or English month. A bare year or a
    weekday is left alone: it does not point at a person the way a birthday does."""
    return [item for pattern in _DATES for item in items_matching("DATUM", pattern, text)]
