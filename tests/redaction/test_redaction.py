"""Redaction: our own rules one by one (pure, fast), then the whole Redactor with the
real deduce over a labelled corpus, the cache, and `chat redact`.

The deduce-backed tests use the session's `redactor` and `deduce_cache` fixtures
(tests/conftest.py): the first run on a machine builds deduce's lookup structures
(1.5-2.5 minutes), later runs load them from the cache in seconds.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import pickle
import random
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest

from chat.redaction import Item, Redacted, Redactor, apply, find_all, merge, run_cli
from chat.redaction.deduce_engine import MAX_CHUNK, build_model, chunks, trim_ordinary_words
from chat.redaction.names import find_addresses, find_institutions, find_names, find_places
from chat.redaction.rules import (
    eleven_test,
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
    iban_valid,
    protected_spans,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "redaction_corpus.jsonl"
REPO = Path(__file__).resolve().parents[2]


def found(items: list[Item], text: str) -> list[str]:
    return sorted({text[i.start : i.end] for i in items})


# --- Phone numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "06-12345678",
        "06 1234 5678",
        "0612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06 - 123 456 78",
        "+31 6 12345678",
        "+31612345678",
        "+31 (0)6 1234 5678",
        "0031612345678",
        "0031 6 2345 6789",
        "020-1234567",
        "(020) 123 45 67",
        "010-4567890",
        "+44 20 7946 0958",
        "07700 900123",
        "+32 470 12 34 56",
        "+212 6 12 34 56 78",
        "+90 532 123 45 67",
        "+597 812 3456",
        "0049 151 12345678",
    ],
)
def test_phone_forms(number: str) -> None:
    text = f"bel me op {number}, na 8 uur"
    assert found(find_phones(text), text) == [number]


def test_two_phone_numbers_side_by_side_are_two() -> None:
    text = "06-12345678 020-1234567"
    assert found(find_phones(text), text) == ["020-1234567", "06-12345678"]


def test_number_without_prefix_needs_a_cue() -> None:
    assert found(find_phones("mijn nummer is 612345678"), "mijn nummer is 612345678") == ["612345678"]
    assert find_phones("ik heb 1.500.000 views") == []


@pytest.mark.parametrize("text", ["geboren 12-03-2009", "ip 192.168.1.10", "01-02-2009 was het"])
def test_dates_and_ips_are_not_phones(text: str) -> None:
    assert find_phones(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Bel 112 bij acuut gevaar",
        "Bel 113 of 0800-0113",
        "Veilig Thuis: 0800-2000 of 0800 2000",
        "De Kindertelefoon 0800-0432",
        "Politie 0900-8844, Meld Misdaad Anoniem 0800-7000",
        "chat via 113.nl of www.helpwanted.nl",
    ],
)
def test_helplines_are_protected_and_not_phones(text: str) -> None:
    assert find_phones(text) == []
    numbers = re.findall(r"[\d.][\d\s.-]*\d|\w+\.nl", text)
    spans = protected_spans(text)
    for number in numbers:
        start = text.index(number)
        assert any(s <= start and start + len(number) <= e for s, e in spans), number


def test_short_helpline_inside_a_phone_number_is_not_protected() -> None:
    text = "bel 06 113 45678"
    assert found(find_phones(text), text) == ["06 113 45678"]
    assert merge(find_phones(text), protected_spans(text)) == [Item("TELEFOON", 4, 16)]


# --- E-mail, URLs, accounts -------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["lisa@gmail.com", "m.janssen@hotmail.nl", "j.smith1987@yahoo.co.uk", "lisa (at) gmail.com"]
)
def test_emails(address: str) -> None:
    text = f"mail {address}."
    assert found(find_emails(text), text) == [address]


@pytest.mark.parametrize(
    "url",
    [
        "https://example.nl/pad?x=1",
        "www.snapleaks-nl.com/sofie",
        "www.x.nl",
        "instagram.com/naam",
        "tiktok.com/@exposed_zwolle",
        "facebook.com/dennis.kok.75",
    ],
)
def test_urls(url: str) -> None:
    text = f"kijk op {url}."
    assert found(find_urls(text), text) == [url]


def test_resource_sites_are_protected() -> None:
    text = "kijk op www.veiligthuis.nl of 113.nl"
    items = find_urls(text)
    assert len(items) == 2
    assert merge(items, protected_spans(text)) == []


@pytest.mark.parametrize(
    ("text", "handle"),
    [
        ("volg @naam_09 maar", "@naam_09"),
        ("mijn snap is lisa2009", "lisa2009"),
        ("mijn snapchat is lisadevries", "lisadevries"),
        ("insta: jaydenn.x hij stuurt", "jaydenn.x"),
        ("tiktok: sarahh_x06", "sarahh_x06"),
        ("mijn discord is shadowwolf#2231", "shadowwolf#2231"),
        ("hij gebruikt wickr, naam: darkangel_31", "darkangel_31"),
        ("Hij noemde zich xXdragonXx2011 op Roblox", "xXdragonXx2011"),
    ],
)
def test_accounts(text: str, handle: str) -> None:
    assert found(find_accounts(text), text) == [handle]


@pytest.mark.parametrize(
    "text",
    [
        "mijn insta is privé",
        "het begon op Snapchat, daarna WhatsApp",
        "I met him on Snapchat, his name was Ryan",
        "ik heb een nieuwe iphone12 en covid19 gehad",
        "mail me op lisa2009@gmail.com",
    ],
)
def test_not_accounts(text: str) -> None:
    assert find_accounts(text) == []


# --- BSN, IBAN, postcodes, plates, IPs ---------------------------------------------


def test_eleven_test() -> None:
    assert eleven_test("123456782")
    assert eleven_test("111222333")
    assert not eleven_test("123456789")
    assert not eleven_test("000000000")
    assert not eleven_test("12345678")


def test_bsn_passing_eleven_test_is_found_anywhere() -> None:
    text = "het nummer 637337670 stond op het pasje"
    assert found(find_bsns(text), text) == ["637337670"]


def test_bsn_with_separators() -> None:
    text = "mijn bsn is 111 222 333"
    assert found(find_bsns(text), text) == ["111 222 333"]


def test_nine_digits_failing_eleven_test_only_when_called_bsn() -> None:
    assert found(find_bsns("Haar BSN is 123456789"), "Haar BSN is 123456789") == ["123456789"]
    assert found(find_bsns("sofinummer: 123456789"), "sofinummer: 123456789") == ["123456789"]
    assert find_bsns("bestelnummer 123456789") == []


@pytest.mark.parametrize(
    "iban",
    [
        "NL91ABNA0417164300",
        "NL91 ABNA 0417 1643 00",
        "nl91abna0417164300",
        "BE68 5390 0754 7034",
        "DE89 3704 0044 0532 0130 00",
        "GB29NWBK60161331926819",
    ],
)
def test_valid_ibans(iban: str) -> None:
    assert iban_valid(iban)
    text = f"stort op {iban} op naam van"
    assert found(find_ibans(text), text) == [iban]


def test_iban_checksum() -> None:
    assert not iban_valid("DE89370400440532013001")
    assert find_ibans("DE89 3704 0044 0532 0130 01") == []
    # A mistyped Dutch IBAN is still somebody's account.
    assert found(find_ibans("NL92ABNA0417164300"), "NL92ABNA0417164300") == ["NL92ABNA0417164300"]


@pytest.mark.parametrize("postcode", ["1234 AB", "1234AB", "1234ab", "3811ab", "9999 ZZ"])
def test_postcodes(postcode: str) -> None:
    text = f"ik woon in {postcode}, Utrecht"
    assert found(find_postcodes(text), text) == [postcode]


@pytest.mark.parametrize(
    "text", ["neem 1000mg paracetamol", "in 2019 en 2020", "1234 SS", "het was 2000 km", "0123 AB", "12345 AB"]
)
def test_not_postcodes(text: str) -> None:
    assert find_postcodes(text) == []


@pytest.mark.parametrize(
    "plate",
    [
        "AB-12-34",
        "12-34-AB",
        "12-AB-34",
        "AB-12-CD",
        "AB-CD-12",
        "12-AB-CD",
        "12-ABC-3",
        "1-ABC-23",
        "AB-123-C",
        "F-123-BD",
        "ABC-12-D",
        "A-12-BCD",
        "1-AB-234",
        "123-AB-4",
        "gf-34-71",
        "GF3471",
    ],
)
def test_plates_every_sidecode(plate: str) -> None:
    text = f"kenteken {plate}, een witte Golf"
    assert found(find_plates(text), text) == [plate]


@pytest.mark.parametrize("text", ["mijn ID-kaart", "12-03-2009", "ABC123", "gf3471", "5-vwo"])
def test_not_plates(text: str) -> None:
    assert find_plates(text) == []


@pytest.mark.parametrize(
    "ip", ["84.241.192.17", "192.168.178.23", "2001:db8:85a3::8a2e:370:7334", "2a02:a210:2b40::1", "::1"]
)
def test_ips(ip: str) -> None:
    text = f"het IP was {ip}."
    assert found(find_ips(text), text) == [ip]


@pytest.mark.parametrize("text", ["om 12:30:45 uur", "999.1.1.1", "versie 1.2.3", "a:b:c"])
def test_not_ips(text: str) -> None:
    assert find_ips(text) == []


# --- Dates, addresses, institutions, places, names ---------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("geboren op 12-03-2009 in", "12-03-2009"),
        ("born 05/11/2008, in", "05/11/2008"),
        ("op 12 maart 2009 geboren", "12 maart 2009"),
        ("op 24 december is het", "24 december"),
        ("born on March 12, 2009 and", "March 12, 2009"),
        ("born on the 3rd of June 2010.", "3rd of June 2010"),
        ("op 3 mrt. 2009", "3 mrt. 2009"),
        ("sinds 2009-03-12 al", "2009-03-12"),
    ],
)
def test_dates(text: str, date: str) -> None:
    assert found(find_dates(text), text) == [date]


@pytest.mark.parametrize("text", ["in 2009 geboren", "op maandag", "ik ben 14", "in May", "om 22:00", "2 jan"])
def test_not_dates(text: str) -> None:
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("ik woon op de Kerkstraat 12 in", "Kerkstraat 12"),
        ("adres: Van Hogendorplaan 14", "Van Hogendorplaan 14"),
        ("My address is Prinsengracht 263-1, 1016 GV", "Prinsengracht 263-1, 1016 GV"),
        ("Het is Wilhelminastraat 7a in Venlo", "Wilhelminastraat 7a"),
        ("ik woon: Westzijde 120.", "Westzijde 120"),
        ("hij wacht op de Stationsstraat in", "Stationsstraat"),
        ("He lives at 221 Baker Street.", "221 Baker Street"),
        ("we wonen op de Laan van Meerdervoort 150 hoog", "Laan van Meerdervoort 150 hoog"),
        ("zijn huis is vinkenstraat 4a, 3012 kl rotterdam", "vinkenstraat 4a, 3012 kl rotterdam"),
        ("mijn oma woont op de Rijksstraatweg 301bis", "Rijksstraatweg 301bis"),
        ("adres: Vondelstraat 110, Haarlem", "Vondelstraat 110, Haarlem"),
        ("we wonen aan het Spui 21 2511 BL Den Haag", "Spui 21 2511 BL Den Haag"),
        ("hij woont aan de dorpsweg op nummer 12", "dorpsweg op nummer 12"),
        ("hij woont op nummer 23 van de esdoornlaan", "nummer 23 van de esdoornlaan"),
        ("het is rue de la paix 8 in brussel", "rue de la paix 8"),
        ("Kerkstraat 12, 2012 en toen", "Kerkstraat 12"),
        ("he lives at 8 church lane, bristol", "8 church lane, bristol"),
        ("he lives at 8 church lane, and he", "8 church lane"),
    ],
)
def test_addresses(text: str, address: str) -> None:
    assert found(find_addresses(text), text) == [address]


@pytest.mark.parametrize("text", ["Zeynep 14 jaar", "in groep 8", "Op 24 december", "Ik ben Milan, 17"])
def test_not_addresses(text: str) -> None:
    assert find_addresses(text) == []


@pytest.mark.parametrize(
    ("text", "school"),
    [
        ("ze zit op het Stedelijk Gymnasium in Leiden", "Stedelijk Gymnasium"),
        ("op het Montessori College Oost", "Montessori College Oost"),
        ("zit op De Regenboog basisschool in", "De Regenboog basisschool"),
        ("Mijn zoon zit op ROC Mondriaan en", "ROC Mondriaan"),
        ("sinds ze op Hogeschool Utrecht zit", "Hogeschool Utrecht"),
        ("He goes to Hogeschool van Amsterdam, he", "Hogeschool van Amsterdam"),
        ("I go to the International School of Amsterdam and", "International School of Amsterdam"),
        ("Ik zit op OBS De Springplank in groep 8", "OBS De Springplank"),
        ("Hij zit op de Hanzehogeschool in", "Hanzehogeschool"),
        ("het Sint-Janscollege.", "Sint-Janscollege"),
        ("Hij studeert aan de Universiteit Utrecht en", "Universiteit Utrecht"),
    ],
)
def test_institutions(text: str, school: str) -> None:
    assert found(find_institutions(text), text) == [school]


@pytest.mark.parametrize(
    "text",
    ["ik ga niet naar school", "De school belde", "Vandaag school gehad", "op de Basisschool", "5 havo", "vu"],
)
def test_not_institutions(text: str) -> None:
    assert find_institutions(text) == []


PLACES = frozenset({"drachten", "den haag", "tiel", "ede", "best", "de buurt"})


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("ik woon in Leiden.", ["Leiden"]),
        ("in de Schilderswijk of de Vogelbuurt", ["Schilderswijk", "Vogelbuurt"]),
        ("ik woon in drachten en", ["drachten"]),
        ("ik kom uit den haag", ["den haag"]),
        ("ik ben anouk, 15, uit tiel.", ["tiel"]),
        ("we wonen nu in ede", ["ede"]),
    ],
)
def test_places(text: str, places: list[str]) -> None:
    assert found(find_places(text, PLACES), text) == places


@pytest.mark.parametrize(
    "text", ["Leiden tot niets, zulke gesprekken", "ik woon in de buurt", "ik woon in best", "de buurt"]
)
def test_not_places(text: str) -> None:
    assert find_places(text, PLACES) == []


NAMES = frozenset({"lisa", "bram", "kevin", "sanne", "dave", "carry", "jayden", "huseyin"})


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("ik heet Imane en ik", ["Imane"]),
        ("mijn broer heet soufiane", ["soufiane"]),
        ("een jongen die Dylan heet", ["Dylan"]),
        ("hij zei dat hij kees heette", ["kees"]),
        ("a man named Peter de Boer.", ["Peter de Boer"]),
        ("De man noemt zichzelf Big D en", ["Big D"]),
        ("Ik ken hem alleen als Mo, hij", ["Mo"]),
        ("hoi ik ben lisa en ik ben 14", ["lisa"]),
        ("gister was ik bij kevin thuis", ["kevin"]),
        ("bram zei dat ik het niet mocht", ["bram"]),
        ("mijn ex, dave, heeft alles", ["dave"]),
        ("ik ben het, jayden, van gisteren", ["jayden"]),
        ("mn moeder heet ingrid en", ["ingrid"]),
        ("De man heet volgens mij Ahmed, rond de 30", ["Ahmed"]),
        ("Mijn vader Hüseyin weet niet", ["Hüseyin"]),
        ("mijn vriend, Jurre, zegt", ["Jurre"]),
        ("hoi ik ben hüseyin", ["hüseyin"]),
    ],
)
def test_names_from_context(text: str, names: list[str]) -> None:
    assert found(find_names(text, NAMES), text) == names


@pytest.mark.parametrize(
    "text",
    [
        "ik ben bang",
        "my name is not important",
        "I called the police",
        "he pays me to carry bags",
        "ik heet niet zo",
        "hij heet ook niet",
        "het water is heet genoeg",
        "dat heet grooming",
        "my son Is here",
    ],
)
def test_no_names_from_context(text: str) -> None:
    assert find_names(text, NAMES) == []


# --- Merging and placing ------------------------------------------------------------


def test_merge_prefers_longest_then_most_specific() -> None:
    items = [Item("PLAATS", 10, 17), Item("INSTELLING", 0, 17), Item("NAAM", 20, 25), Item("ACCOUNT", 20, 25)]
    assert merge(items) == [Item("INSTELLING", 0, 17), Item("ACCOUNT", 20, 25)]


def test_merge_unions_partial_overlaps() -> None:
    # Giving back characters that one finding called personal would leak them.
    assert merge([Item("NAAM", 0, 8), Item("ADRES", 5, 15)]) == [Item("ADRES", 0, 15)]


def test_merge_drops_items_inside_protected_spans() -> None:
    assert merge([Item("NUMMER", 4, 12), Item("NAAM", 20, 24)], [(4, 13)]) == [Item("NAAM", 20, 24)]


def test_rules_never_fail_on_odd_text() -> None:
    # Fragments chosen to trigger every rule, glued together at random.
    rng = random.Random(4)
    fragments = list("aA0 .,-'’@#:/_()[]!?\n+éü") + [
        "school", "College", "VU", "'s", "heet ", "snap is ", "06", "NL91", "straat ", "Van ", " de ",
        "0800", "113", "www.", ".nl", "ik ben ", "Lisa", "12-", "maart", "::", "1234",
    ]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(fragments) for _ in range(rng.randint(0, 30)))
        items = merge(find_all(text, NAMES, PLACES), protected_spans(text))
        assert all(0 <= i.start < i.end <= len(text) for i in items)
        assert all(a.end <= b.start for a, b in zip(items, items[1:], strict=False))
        apply(text, items)


def test_apply() -> None:
    text = "Lisa belt 06-12345678."
    items = [Item("NAAM", 0, 4), Item("TELEFOON", 10, 21)]
    assert apply(text, items) == "[NAAM] belt [TELEFOON]."


@pytest.mark.parametrize(
    "text",
    ["", "kort", "Hoi. " * 100, "woord " * 80, "x" * 450, "Een zin.\nNog een zin! " * 30 + "y" * 300],
)
def test_chunks_cover_the_text_within_the_limit(text: str) -> None:
    pieces = chunks(text)
    assert "".join(piece for _, piece in pieces) == text
    assert all(text[offset : offset + len(piece)] == piece for offset, piece in pieces)
    assert all(len(piece) <= MAX_CHUNK for _, piece in pieces)


def test_chunks_cut_after_a_sentence() -> None:
    text = "a" * 150 + ". " + "b" * 100
    assert [piece for _, piece in chunks(text)] == ["a" * 150 + ". ", "b" * 100]


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ("Hi Emma. My mum", (0, 11), "Emma"),
        ("Meneer de Vries zei", (0, 15), "de Vries"),
        ("Thanks Jack!", (0, 11), "Jack"),
        ("Well, I know", (0, 4), None),
        ("in Goes wonen", (3, 7), "Goes"),
    ],
)
def test_trim_ordinary_words(text: str, span: tuple[int, int], kept: str | None) -> None:
    trimmed = trim_ordinary_words(text, *span, only_sentence_initial=kept == "Goes")
    assert (text[trimmed[0] : trimmed[1]] if trimmed else None) == kept


# --- The whole Redactor, with the real deduce ---------------------------------------


def test_redact_replaces_items_with_offsets_in_the_original(redactor: Redactor) -> None:
    text = "Hoi, ik ben Fatima Bouzid uit Zwolle, bel 06-12345678 of mail fatima@gmail.com."
    result = redactor.redact(text)
    assert isinstance(result, Redacted)
    assert result.text == "Hoi, ik ben [NAAM] uit [PLAATS], bel [TELEFOON] of mail [EMAIL]."
    assert [(i.type, text[i.start : i.end]) for i in result.items] == [
        ("NAAM", "Fatima Bouzid"),
        ("PLAATS", "Zwolle"),
        ("TELEFOON", "06-12345678"),
        ("EMAIL", "fatima@gmail.com"),
    ]


def test_redact_empty_and_clean_text(redactor: Redactor) -> None:
    assert redactor.redact("") == Redacted("", [])
    assert redactor.redact("ik durf niet naar huis") == Redacted("ik durf niet naar huis", [])


@pytest.mark.parametrize(
    "text",
    [
        "Hi, my name is not important. My mum doesn't know.",
        "Hello? Please help. Just tell me what to do. Well, I don't know. Look, will you help me?",
        "Will he go to jail? May I ask something? Hope you can help. Mark my words.",
        "You said he was 19. Do you think I should tell Mum? Dad hits me.",
        "Born in the summer. Son of a teacher. Best regards.",
        "Hoi. Ik weet het niet. Mijn moeder weet niks. Mama en Papa ook niet. Hee, ben je er nog?",
        "Oke dankjewel. Mam weet van niks. Sws, idk wat ik moet doen. Omg.",
        "Jeugdzorg helpt niet en Veilig Thuis ook niet. De Kindertelefoon wel.",
        "Het begon op Snapchat, daarna WhatsApp en Instagram. Hij draagt Nike.",
        "Hij rijdt in een zwarte Mercedes.",
    ],
)
def test_ordinary_words_survive(redactor: Redactor, text: str) -> None:
    result = redactor.redact(text)
    assert result.items == [], [(i.type, text[i.start : i.end]) for i in result.items]


def test_helpline_numbers_survive(redactor: Redactor) -> None:
    text = (
        "Bel 112 bij gevaar. Veilig Thuis 0800-2000, De Kindertelefoon 0800-0432, 113 of 0800-0113, "
        "politie 0900-8844, Meld Misdaad Anoniem 0800-7000, of kijk op www.113.nl."
    )
    assert redactor.redact(text).text == text


def test_names_that_are_words(redactor: Redactor) -> None:
    result = redactor.redact("Roos zegt dat Sky en Jade het ook weten. Noor niet. Bram ook.")
    assert result.text == "[NAAM] zegt dat [NAAM] en [NAAM] het ook weten. [NAAM] niet. [NAAM] ook."


def test_long_run_of_names(redactor: Redactor) -> None:
    # Unchunked, deduce needs about 25 s for this (its name growing is about cubic).
    text = "Lisa Jansen " * 200
    result = redactor.redact(text)
    assert "Lisa" not in result.text and "Jansen" not in result.text


def test_redaction_logs_no_text(redactor: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        redactor.redact("Mijn naam is Zoltan Vermeer, 06-87654321")
    assert "Zoltan" not in caplog.text and "87654321" not in caplog.text


def _corpus() -> list[dict[str, object]]:
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_corpus_is_well_formed() -> None:
    corpus = _corpus()
    assert len(corpus) >= 150
    for record in corpus:
        text, pii = record["text"], record["pii"]
        assert isinstance(text, str) and isinstance(pii, list)
        for item in pii:
            assert isinstance(item, str) and item in text, (item, text)
    assert sum(1 for r in corpus if not r["pii"]) >= 30


def test_corpus_recall_and_kept(redactor: Redactor) -> None:
    """Recall: a labelled item counts as removed when every letter and digit of each of
    its occurrences lies inside a redacted item, and the string no longer appears in
    the output. Kept: a word of the original outside every labelled item counts as
    kept when no redacted item touches it."""
    removed = total = kept = words = 0
    misses: list[str] = []
    false_positives: list[str] = []
    for record in _corpus():
        text = str(record["text"])
        pii = [str(p) for p in record["pii"]]  # type: ignore[attr-defined]
        result = redactor.redact(text)
        covered = [False] * len(text)
        for item in result.items:
            covered[item.start : item.end] = [True] * (item.end - item.start)
        pii_spans = [m.span() for p in pii for m in re.finditer(re.escape(p), text)]
        for p in pii:
            for m in re.finditer(re.escape(p), text):
                total += 1
                gone = p not in result.text and all(covered[k] for k in range(*m.span()) if text[k].isalnum())
                removed += gone
                if not gone:
                    misses.append(f"{p!r} in {result.text!r}")
        for m in re.finditer(r"\w+", text):
            if any(s < m.end() and m.start() < e for s, e in pii_spans):
                continue
            words += 1
            if any(covered[m.start() : m.end()]):
                false_positives.append(f"{m.group()!r} in {result.text!r}")
            else:
                kept += 1
    recall, kept_ratio = removed / total, kept / words
    print(f"\nredaction corpus: recall {removed}/{total} = {recall:.1%}, kept {kept}/{words} = {kept_ratio:.1%}")
    for line in misses:
        print("  missed:", line)
    for line in false_positives:
        print("  over-redacted:", line)
    assert recall >= 0.98
    assert kept_ratio >= 0.90


# --- Cache and process behaviour ----------------------------------------------------


def test_one_engine_per_cache_and_process(redactor: Redactor, deduce_cache: Path) -> None:
    version = importlib.metadata.version("deduce")
    assert (deduce_cache / f"deduce-{version}" / "cache" / "lookup_structs.pickle").is_file()
    assert Redactor(deduce_cache)._engine() is redactor._engine()


class _FakeDeduce:
    """Stands in for the deduce module in the cache-file tests: the real build takes
    two minutes, and what is tested here is only where files go and when a build
    happens. Like deduce, it writes <cache_path>/cache/lookup_structs.pickle when
    building and fails on a cache it cannot read."""

    __version__ = "9.9.9"

    def __init__(self) -> None:
        self.builds = 0
        fake = self

        class Deduce:
            def __init__(self, cache_path: Path, build_lookup_structs: bool = False) -> None:
                cache_file = cache_path / "cache" / "lookup_structs.pickle"
                if build_lookup_structs or not cache_file.exists():
                    fake.builds += 1
                    cache_file.parent.mkdir(parents=True, exist_ok=True)
                    cache_file.write_bytes(b"lookup structures")
                elif cache_file.read_bytes() != b"lookup structures":
                    raise pickle.UnpicklingError("truncated")

        self.Deduce = Deduce


def test_cache_is_built_once_into_a_versioned_directory(tmp_path: Path) -> None:
    fake = _FakeDeduce()
    build_model(cast(ModuleType, fake), tmp_path / "cache")
    cache_file = tmp_path / "cache" / "deduce-9.9.9" / "cache" / "lookup_structs.pickle"
    assert cache_file.read_bytes() == b"lookup structures"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["deduce-9.9.9"]  # no .build-* left behind
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"
    build_model(cast(ModuleType, fake), tmp_path / "cache")
    assert fake.builds == 1


def test_unreadable_cache_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache_file = tmp_path / "deduce-9.9.9" / "cache" / "lookup_structs.pickle"
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"trunc")
    fake = _FakeDeduce()
    build_model(cast(ModuleType, fake), tmp_path)
    assert fake.builds == 1
    assert cache_file.read_bytes() == b"lookup structures"
    assert "rebuilding" in caplog.text


def test_without_a_cache_directory_nothing_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fake = _FakeDeduce()
    build_model(cast(ModuleType, fake), None)
    assert fake.builds == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_in_a_fresh_process_loads_from_cache(redactor: Redactor, deduce_cache: Path) -> None:
    """Importing chat.redaction must not import deduce, the warm load must use the cache
    (not rebuild it), and deduce's logging set-up must not leak into stdout."""
    version = importlib.metadata.version("deduce")
    cache_file = deduce_cache / f"deduce-{version}" / "cache" / "lookup_structs.pickle"
    before = cache_file.stat().st_mtime_ns
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import chat.redaction
        assert "deduce" not in sys.modules
        sys.exit(chat.redaction.run_cli(sys.stdin, sys.stdout, jsonl=False, cache_dir=Path({str(deduce_cache)!r})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="Mijn naam is Lisa en mijn snap is lisa2009\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Mijn naam is [NAAM] en mijn snap is [ACCOUNT]\n"
    assert cache_file.stat().st_mtime_ns == before


def test_cli_plain(redactor: Redactor, deduce_cache: Path) -> None:
    stdout = io.StringIO()
    code = run_cli(io.StringIO("Bel Kevin op 06-12345678.\nOf 112.\n"), stdout, jsonl=False, cache_dir=deduce_cache)
    assert code == 0
    assert stdout.getvalue() == "Bel [NAAM] op [TELEFOON].\nOf 112.\n"


def test_cli_jsonl_with_a_malformed_line(redactor: Redactor, deduce_cache: Path) -> None:
    lines = [
        json.dumps({"text": "ik ben Sanne, 06-12345678"}),
        "{not json, Lisa 06-87654321",
        json.dumps({"tekst": "Lisa"}),
        "",
        json.dumps({"text": "niks persoonlijks"}),
    ]
    stdout = io.StringIO()
    code = run_cli(io.StringIO("\n".join(lines) + "\n"), stdout, jsonl=True, cache_dir=deduce_cache)
    assert code == 1
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert out[0] == {
        "text": "ik ben [NAAM], [TELEFOON]",
        "items": [{"type": "NAAM", "start": 7, "end": 12}, {"type": "TELEFOON", "start": 14, "end": 25}],
    }
    assert set(out[1]) == {"error"} and "Lisa" not in out[1]["error"]
    assert set(out[2]) == {"error"}
    assert out[3] == {"text": "niks persoonlijks", "items": []}
    assert len(out) == 4


def test_cli_jsonl_all_good_exits_zero(redactor: Redactor, deduce_cache: Path) -> None:
    stdout = io.StringIO()
    assert run_cli(io.StringIO('{"text": "hoi"}\n'), stdout, jsonl=True, cache_dir=deduce_cache) == 0
    assert json.loads(stdout.getvalue()) == {"text": "hoi", "items": []}


def test_chunks_end_after_a_run_of_hyphenated_names() -> None:
    # deduce's context patterns grow with the names in a row; "Jan-Jan-Jan-..." is one long run without spaces.
    text = "Jan-" * 1000
    pieces = chunks(text)
    assert "".join(p for _, p in pieces) == text
    assert max(len(p) for _, p in pieces) <= 4 * len("Jan-")
