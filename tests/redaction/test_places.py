"""chat.redaction.places: the gazetteer rule, with the real lists and with a small one."""

from __future__ import annotations

import pytest

from chat.redaction.places import Gazetteer, find_places_by_gazetteer, normalise


def found(text: str, places: Gazetteer | None = None) -> list[str]:
    return [text[i.start : i.end] for i in find_places_by_gazetteer(text, places)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik woon in drachten", ["drachten"]),  # Dutch residence, lowercase after a cue
        ("hij komt uit aleppo", ["aleppo"]),  # world city, lowercase
        ("Ze is naar Krakau vertrokken", ["Krakau"]),  # Dutch exonym from the alternate names
        ("in de bijlmer bij de metro van ganzenhoef", ["bijlmer", "ganzenhoef"]),  # neighbourhoods
        ("ik woon in kanaleneilnad", ["kanaleneilnad"]),  # one transposition
        ("naar paramaibo", ["paramaibo"]),  # one letter missing
        ("een jongen uit Rotterdam-Zuid", ["Rotterdam-Zuid"]),
        ("we wonen in Den Haag", ["Den Haag"]),
        ("Ik woon in Best", ["Best"]),  # an ordinary word, capitalised after a cue
        ("ik woon op texel en", ["texel"]),  # an island after "op"
        ("het feest was te ede", ["ede"]),  # three letters after "te"
        ("uit een klein dorp, schinveld", ["schinveld"]),  # a place noun and a comma
        ("we zijn naar 020 gegaan", ["020"]),  # a city by its dialling code
        ("hij zegt dat ik naar dordt moet", ["dordt"]),  # slang from places.txt
        ("hij woont in antwerpen noord", ["antwerpen noord"]),
        (
            "mn moeder werkt in hoorn en ze",
            ["hoorn"],
        ),  # a town that is a word, before a function word  # a district apart from its city
    ],
)
def test_places_found(text: str, expected: list[str]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Best wishes to you",  # sentence start, ordinary word
        "ik kom uit polen",  # a country
        "ik kom uit Polen",
        "ik moet naar huis",
        "bel naar 020 1234567",  # a phone number, not the city
        "ik kom op tijd",
        "ze zaten in houten kisten",  # a word, a noun follows
        "ik woon in de wijk",  # the hamlet De Wijk is not meant
        "hij wil dat ik te bellen",  # weak cue, fuzzy match refused
        "he wants me to come",
        "in paniek en in de war",
        "that is in danger",
    ],
)
def test_ordinary_words_kept(text: str) -> None:
    assert found(text) == []


def test_belgian_postcode_next_to_a_place() -> None:
    text = "ik woon in borgerhout (2140) sinds 2019"
    items = find_places_by_gazetteer(text)
    assert sorted(text[i.start : i.end] for i in items) == ["2140", "borgerhout"]


def test_small_gazetteer() -> None:
    places = Gazetteer.of(["Zwolle", "Goes", "Ter Apel"], ordinary=["goes"], fuzzy=["Zwolle"])
    assert found("ik zit in ter apel", places) == ["ter apel"]
    assert found("he goes to Zwolle", places) == ["Zwolle"]
    assert found("he goes home, naar Goes", places) == ["Goes"]
    # Five letters count only as a six-letter place with a letter dropped; four are too short.
    assert found("naar zwole", places) == ["zwole"]
    assert found("naar zwol", places) == []
    assert found("in Zwollle", places) == ["Zwollle"]


def test_normalise() -> None:
    assert normalise("'s-Hertogenbosch") == "s hertogenbosch"
    assert normalise("Sloterdijk") == normalise("sloterdyk")
    assert normalise("Gdańsk") == "gdansk"
