"""The people rules of chat.redaction.persons and the session-4 cues, without deduce: each finds its item
and leaves ordinary text alone."""

from __future__ import annotations

import pytest

from chat.redaction.cues import extend_items, find_preposition_names
from chat.redaction.institutions import find_streets
from chat.redaction.names import find_addresses, find_names, is_first_name
from chat.redaction.persons import find_persons
from chat.redaction.places import find_places_by_gazetteer
from chat.redaction.rules import Item, find_plates, protected_spans

FIRST = frozenset({"liban", "kasia", "rami", "mo", "noor", "sanne", "filmon", "bram"})
SURNAMES = frozenset({"warsame", "nowak", "jansen", "smit", "mulder", "visser", "idrissi", "wiersma"})


def _found(items: list[Item], text: str) -> list[str]:
    return [text[i.start : i.end] for i in items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mijn dochter gaat om met liban warsame, een jongen", "liban warsame"),
        ("heb je gehoord van kasia nowak?", "kasia nowak"),
        ("rami al-hassan zei dat ik niks mocht zeggen", "rami al-hassan"),
        ("ik zag piotr zawadzki gisteren", None),  # "piotr" is not in this test's list
        ("ik was met mo el idrissi", "mo el idrissi"),
        ("de mentor heet m. de jong en die weet ervan", "m. de jong"),
        ("een brief van a.k. mulder van de gemeente", "a.k. mulder"),
        ("de jeugdbeschermer j. smit belt nooit terug", "j. smit"),
        ("de mentor, mw. k. pauwels, weet het", "k. pauwels"),
        ("my son's coach is B. Visser and he gives him money", "B. Visser"),
        ("bij de familie wiersma in joure", "wiersma"),
        ("heeft iemand last van Nassim al-Sayed?", "Nassim al-Sayed"),
    ],
)
def test_people_in_any_case(text: str, expected: str | None) -> None:
    found = _found(find_persons(text, FIRST, SURNAMES), text)
    if expected is None:
        assert found == []
    else:
        assert expected in found


def test_capitalised_names_from_our_list_only() -> None:
    text = "Filmon and his friends wait. May I ask something? Hope you can help."
    assert _found(find_persons(text, FIRST, SURNAMES, capitalised=frozenset({"filmon"})), text) == ["Filmon"]


@pytest.mark.parametrize(
    "text",
    [
        "ik ben van plan om morgen te gaan",
        "sanne gaat naar huis en bram ook",
        "zie je a. dat bedoel ik",
        "de familie thuis weet van niks",
    ],
)
def test_ordinary_text_has_no_people(text: str) -> None:
    assert find_persons(text, FIRST, SURNAMES) == []


def test_dutch_pet_forms_are_first_names() -> None:
    assert is_first_name("noortje", FIRST)
    assert not is_first_name("huisje", FIRST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iedereen kent hem als Bossman", "Bossman"),
        ("noem me maar Baby Face", "Baby Face"),
        ("zeg maar gewoon Kimmie tegen me", "Kimmie"),
        ("op snap noemen ze me lil sis", "lil sis"),
        ("mn maatje Dikke Dennis zegt dat het veilig is", "Dikke Dennis"),
    ],
)
def test_nicknames(text: str, expected: str) -> None:
    assert expected in _found(find_names(text, FIRST), text)


def test_calls_himself_oom_henk_keeps_the_kin_word() -> None:
    text = "One of them calls himself 'Oom Henk' online"
    assert "Oom Henk" not in _found(find_names(text, FIRST), text)


def test_name_tails_and_councils() -> None:
    text = "een vriend, Tarik B., en Lady B zegt het. Hij werkt bij de gemeente haarlem."
    tarik, lady, town = text.index("Tarik"), text.index("Lady"), text.index("haarlem")
    items = [Item("NAAM", tarik, tarik + 5), Item("NAAM", lady, lady + 4), Item("PLAATS", town, town + 7)]
    grown = extend_items(text, items)
    assert _found(grown, text) == ["Tarik B.", "Lady B", "gemeente haarlem"]
    assert grown[-1].type == "INSTELLING"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zijn auto heeft kenteken K AB 123", "K AB 123"),
        ("het nummerbord was B-MW 1234 ik heb het opgeschreven", "B-MW 1234"),
        ("een zwarte bmw met HH-XY 789 rijdt langs", "HH-XY 789"),
        ("polish plates, PO 4X812", "PO 4X812"),
        ("het kenteken begon met 47-HBL maar de rest weet ik niet", "47-HBL"),
    ],
)
def test_foreign_plates_after_a_cue(text: str, expected: str) -> None:
    assert expected in _found(find_plates(text), text)


def test_no_plate_inside_a_town_name() -> None:
    text = "He lives in Oxford, OX4 1HP."
    assert find_plates(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hij woont op kastanjelaan nummer 14", "kastanjelaan nummer 14"),
        ("my daughter stays at Kastanjelaan nr 14 now", "Kastanjelaan nr 14"),
        ("de feestjes zijn op pr hendrikkade 45", "pr hendrikkade 45"),
        ("postcode is 1092AD, huisnummer 15", "15"),
    ],
)
def test_addresses_in_unusual_shapes(text: str, expected: str) -> None:
    assert expected in _found(find_addresses(text), text)


def test_names_after_bij_and_voor() -> None:
    text = "mam denkt dat ik bij Quick Boys ben, niet bij Veel Later of bij Sanne"
    assert _found(find_preposition_names(text), text) == ["Quick Boys"]


def test_a_brand_is_protected_but_not_its_shop() -> None:
    assert protected_spans("ik draag Zara") != []
    assert protected_spans("hij wacht bij de Zara op mij") == []


def test_lowercase_street_with_its_leading_words() -> None:
    text = "bij de ingang van de 1e constantijn huygensstraat, niet in de mooie kerkstraat"
    assert _found(find_streets(text), text) == ["1e constantijn huygensstraat", "kerkstraat"]


def test_a_five_letter_place_with_a_letter_dropped() -> None:
    assert _found(
        find_places_by_gazetteer("we zijn in arnhm bij zijn vrienden"), "we zijn in arnhm bij zijn vrienden"
    ) == ["arnhm"]
    assert find_places_by_gazetteer("is hij nog in leven?") == []
