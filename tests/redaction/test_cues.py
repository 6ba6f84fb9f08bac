"""The context rules of chat.redaction.cues, without deduce: each finds its item and leaves ordinary text."""

from __future__ import annotations

import pytest

from chat.redaction.cues import (
    extend_items,
    find_cued_organisations,
    find_listed_streets,
    find_named_places_in_any_case,
    find_quoted_nicknames,
    find_titled_names,
)
from chat.redaction.places import Gazetteer
from chat.redaction.rules import Item, find_accounts, find_postcodes


def _found(items: list[Item], text: str) -> list[str]:
    return [text[i.start : i.end] for i in items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mijn zoon traint bij Sparta Nijkerk sinds de zomer", "Sparta Nijkerk"),
        ("she is staying at Fier in Leeuwarden", "Fier"),
        ("ik werk bij Bakkerij Van der Meulen in Zwolle", "Bakkerij Van der Meulen"),
    ],
)
def test_organisations_after_a_cue(text: str, expected: str) -> None:
    assert expected in _found(find_cued_organisations(text), text)


def test_no_organisation_after_a_cue_without_a_name() -> None:
    text = "ik werk bij de bakker in het dorp. Werk bij Ons is leuk"
    assert find_cued_organisations(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ze noemen me hier 'lola' maar", "lola"),
        ("he calls me his 'little angel'", "little angel"),
        ("een berichtje van ene 'Mr. Cash' op Telegram", "Mr. Cash"),
    ],
)
def test_quoted_nicknames(text: str, expected: str) -> None:
    assert _found(find_quoted_nicknames(text), text) == [expected]


def test_scare_quotes_are_no_nickname() -> None:
    text = "Hij heeft haar uitgenodigd voor een 'fotoshoot' en wil 'op een andere manier' betaald worden"
    assert find_quoted_nicknames(text) == []


def test_titled_and_lowercase_particle_names() -> None:
    text = "mijn mentor is mevrouw ter horst, ik ben sophie van 't hof. His name is Mr. Thompson"
    assert _found(find_titled_names(text, frozenset({"sophie"})), text) == [
        "ter horst",
        "Mr. Thompson",
        "sophie van 't hof",
    ]


def test_listed_streets_after_a_cue() -> None:
    streets = frozenset({"oude delft", "vondelpark", "dam", "markt", "1e constantijn huygensstraat"})
    text = "we hangen in het vondelpark, op de Oude Delft, bij de ingang van de 1e constantijn huygensstraat"
    assert _found(find_listed_streets(text, streets), text) == [
        "vondelpark",
        "Oude Delft",
        "1e constantijn huygensstraat",
    ]
    # A single lowercase word without a street ending is an ordinary noun: "naar de markt".
    assert find_listed_streets("mijn ouders gaan naar de markt", streets) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik zit in havo 3 op het corderius college", "corderius college"),
        ("op het hogeschool inholland in diemen", "hogeschool inholland"),
        ("i go to brixton academy and", "brixton academy"),
        ("ik zit op de uva en", "uva"),
        ("die man van de moskee al fourkaan zegt", "moskee al fourkaan"),
        ("they meet at windrush square every night", "windrush square"),
        ("ik werk op de vaartsche rijn", "vaartsche rijn"),
    ],
)
def test_named_places_in_any_case(text: str, expected: str) -> None:
    assert expected in _found(find_named_places_in_any_case(text), text)


@pytest.mark.parametrize(
    "text",
    [
        "Jeugdzorg helpt niet en ik zit op de bank",
        "morgen moet ik weer naar hem toe na school",
        "the mosque is pushing her",
    ],
)
def test_ordinary_text_has_no_named_places(text: str) -> None:
    assert find_named_places_in_any_case(text) == []


def test_extend_items_with_grade_town_and_surname() -> None:
    text = "zit in 4 havo op het Lyceum Zeist en haar vader, Ronald Sleutel, weet het"
    school = text.index("Lyceum")
    town = text.index("Zeist")
    name = text.index("Ronald")
    items = [Item("INSTELLING", school, school + 6), Item("PLAATS", town, town + 5), Item("NAAM", name, name + 6)]
    grown = extend_items(text, items)
    assert _found(grown, text)[0] == "4 havo op het Lyceum Zeist"
    assert _found(grown, text)[2] == "Ronald Sleutel"


def test_shortened_city_names() -> None:
    places = Gazetteer.of(["Rotterdam", "Den Bosch", "Amsterdam"], fuzzy=["Rotterdam", "Den Bosch", "Amsterdam"])
    assert places.elided("rdam") and places.elided("dbosch") and places.elided("adam")
    assert not places.elided("huis") and not places.elided("thuis")


def test_discord_tags_and_cued_postcodes() -> None:
    text = "zijn naam daar is Ghost#4471, wij wonen in Sint-Niklaas, postcode 9100"
    assert "Ghost#4471" in _found(find_accounts(text), text)
    assert "9100" in _found(find_postcodes(text), text)
