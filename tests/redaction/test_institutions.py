"""chat.redaction.institutions and the new name and handle rules: one rule at a time."""

from __future__ import annotations

import pytest

from chat.redaction.institutions import find_chains, find_named_schools, find_organisations, find_streets
from chat.redaction.names import find_initialled_names, find_names
from chat.redaction.rules import Item, find_accounts, find_emails, find_plates, find_postcodes


def spans(items: list[Item], text: str) -> list[str]:
    return sorted(text[i.start : i.end] for i in items)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik train bij VV De Meeuwen en", ["VV De Meeuwen"]),
        ("ik werk bij Restaurant De Gouden Leeuw in Oud-Beijerland", ["Restaurant De Gouden Leeuw"]),
        ("trainer bij judoclub Kenamju in Haarlem", ["judoclub Kenamju"]),
        ("hij werkt bij kapsalon Bella", ["kapsalon Bella"]),
        ("ik sta bij winkelcentrum Zuidplein", ["Zuidplein"]),
        ("Er was een man bij de Mevlana moskee die", ["Mevlana moskee"]),
        ("I live in AZC Budel now", ["AZC Budel"]),
        ("at the boxing gym, Team Pinas Gym, keeps", ["Team Pinas Gym"]),
        ("The uitzendbureau, Flexwork Polska BV, keeps", ["Flexwork Polska BV"]),
        ("ik zit nu in park sonsbeek", ["park sonsbeek"]),
        ("bij de ingang van Station Sloterdijk", ["Station Sloterdijk"]),
    ],
)
def test_organisations(text: str, expected: list[str]) -> None:
    assert spans(find_organisations(text), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hij wacht bij de Albert Heijn op", ["Albert Heijn"]),
        ("die man van de jumbo bleef", ["jumbo"]),
        ("my manager at starbucks keeps", ["starbucks"]),
        ("in de McDonald's op het station", ["McDonald's"]),
        ("bij de Action op de hoek", ["Action"]),
        ("ik werk bij de plus in de avond", ["plus"]),
        ("hij is ouderling in de Hervormde Gemeente Ede en", ["Hervormde Gemeente Ede"]),
        ("hij is agent bij bureau zuid en", ["bureau zuid"]),
        ("de eigenaar van snackbar de smikkel geeft", ["snackbar de smikkel"]),
        ("mn trainer bij vv sparta nijkerk wil", ["vv sparta nijkerk"]),
    ],
)
def test_chains_where_something_happened(text: str, expected: list[str]) -> None:
    assert spans(find_chains(text), text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "we need action now",
        "een jumbo pak chips",
        "ik ga naar de snackbar en dan",
        "Action is wat we nodig hebben",
        "we staan in de plus",
    ],
)
def test_chains_need_a_cue_or_capital(text: str) -> None:
    assert find_chains(text) == []


@pytest.mark.parametrize(
    "text", ["ik ga naar de kerk", "een jongen van de groep", "naar het station brengen", "bij de club"]
)
def test_organisations_need_a_name(text: str) -> None:
    assert find_organisations(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in Harderwijk bij de Vischmarkt", ["Vischmarkt"]),
        ("Op de Grote Markt in Breda", ["Grote Markt"]),
        ("He waits for her on Briggate every Friday", ["Briggate"]),
        ("een kapperszaak op de West-Kruiskade", ["West-Kruiskade"]),
        ("ik loop door de kalverstaat", ["kalverstaat"]),
    ],
)
def test_streets_without_a_number(text: str, expected: list[str]) -> None:
    assert spans(find_streets(text), text) == expected


def test_generic_streets_kept() -> None:
    assert find_streets("ik woon in een zijstraat van de snelweg") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hij zit op het Albeda in Rotterdam", ["Albeda"]),
        ("ik zit op het zadkien", ["zadkien"]),  # one transposition
        ("ik zat op het roc mondriaan maar", ["roc mondriaan"]),
        ("ze zit op het summa college in eindhoven", ["summa college"]),
        ("mijn meester van groep 7 van de Klimop heeft", ["groep 7 van de Klimop"]),
        ("pleegkind via Spirit.", ["Spirit"]),
    ],
)
def test_named_schools(text: str, expected: list[str]) -> None:
    assert spans(find_named_schools(text), text) == expected


def test_ordinary_institution_names_need_a_cue() -> None:
    assert find_named_schools("Spirit is what you need, summa cum laude") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("noem me maar Vlinder, ik wil", ["Vlinder"]),
        ("ik heet Elif maar iedereen noemt me Lifa", ["Elif", "Lifa"]),
        ("ze noemen hem ook wel 'de Chef'.", ["Chef"]),
        ("dat de andere hem Djimairo noemen", ["Djimairo"]),
        ("everyone calls him Trigger, and", ["Trigger"]),
        ("een jongen die Shaq genoemd wordt", ["Shaq"]),
    ],
)
def test_nicknames(text: str, expected: list[str]) -> None:
    assert spans(find_names(text), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My maths tutor, Mr. A. Okafor, asked", ["A. Okafor"]),
        ("one of our girls, M.B., is", ["M.B."]),
        ("her abuser is J.P. van Leeuwen.", ["J.P.", "J.P. van Leeuwen"]),  # merged into one later
        ("meneer van den Heuvel zei", ["van den Heuvel"]),
        ("My ex, Liam O'Connor, has", ["Liam O'Connor"]),
        ("P.S. ik ben er morgen", []),
    ],
)
def test_initialled_names(text: str, expected: list[str]) -> None:
    assert spans(find_initialled_names(text), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tagged me as lisa.denhaag", ["lisa.denhaag"]),
        ("heb n tiktok accnt dylan.mp4 en", ["dylan.mp4"]),
        ("zijn naam daar is xXShadowWolfXx en", ["xXShadowWolfXx"]),
        ("ok.dan zie ik je", []),
        ("ik heb een iPhone en WhatsApp", []),
    ],
)
def test_new_handles(text: str, expected: list[str]) -> None:
    assert spans(find_accounts(text), text) == expected


def test_foreign_postcodes_and_plates() -> None:
    text = "He lives in Oxford, OX4 1HP, drives KX17 HBD; the Belgian car was 1-ABC-234."
    assert spans(find_postcodes(text), text) == ["OX4 1HP"]
    assert spans(find_plates(text), text) == ["1-ABC-234", "KX17 HBD"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mijn mail is sanne.devries at gmail punt com", ["sanne.devries at gmail punt com"]),
        ("stuur naar noor apenstaartje hotmail dot com", ["noor apenstaartje hotmail dot com"]),
        ("mail me op lisa_x_03 @ live.nl", ["lisa_x_03 @ live.nl"]),
        ("mijn tiktok is @lisa.dance.09 en", []),
        ("ik ben at home punt", []),
    ],
)
def test_spelt_emails(text: str, expected: list[str]) -> None:
    assert spans(find_emails(text), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nummerplaat 34xkpl", ["34xkpl"]),
        ("zijn busje 8vhl34 staat", ["8vhl34"]),
        ("de auto had kenteken xn 123 b", ["xn 123 b"]),
        ("ik ben 12 en ab 12 cd", []),
        ("ik heb 12uur gewerkt", []),
    ],
)
def test_plates_lowercase_and_spaced(text: str, expected: list[str]) -> None:
    assert spans(find_plates(text), text) == expected
