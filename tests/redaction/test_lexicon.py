"""The unknown-word rules of chat.redaction.lexicon (wordfreq's Dutch and English frequencies, no deduce):
names and organisations no list has are found where a name goes; ordinary words, typos, compounds,
brands and sentence-initial words are left alone."""

from __future__ import annotations

import pytest

from chat.redaction.lexicon import find_unknown_names, lexicon


def _found(text: str) -> list[str]:
    return [text[i.start : i.end] for i in find_unknown_names(text)]


def test_lexicon_knows_both_languages() -> None:
    lex = lexicon()
    assert lex["heimwee"] > 3 and lex["house"] > 3
    assert "thandeka" not in lex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik ben bang voor Gunnhild, hij weet waar ik woon", ["Gunnhild"]),
        ("Thandeka zei dat ik niks mocht zeggen", ["Thandeka"]),
        ("ik ben bang voor adjoa oudshoorn, hij weet waar ik woon", ["adjoa oudshoorn"]),
        ("mn beste vriendin kealoha kaya is sinds vrijdag weg", ["kealoha kaya"]),
        ("oisin and his cousin picked me up", ["oisin"]),
        ("samen met Tupac Jhinkoe moest ik pakketjes wegbrengen", ["Tupac Jhinkoe"]),
        ("i was at Noa Wiśniewska's place", ["Wiśniewska"]),
        ("ze hebben mij opgehaald bij bezorgdienst Snelbox", ["bezorgdienst Snelbox"]),
        ("ik zit bij manege de vossenhoeve en de begeleider", ["manege de vossenhoeve"]),
        ("hij heeft een baantje via zorginstelling meerwaarde", ["zorginstelling meerwaarde"]),
        ("ik woon op de groep bij Amaryllis in Zwolle", ["Amaryllis"]),
    ],
)
def test_unknown_names_are_found(text: str, expected: list[str]) -> None:
    assert all(any(e in f for f in _found(text)) for e in expected), _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hij zei Sorry maar deed het daarna gewoon weer",
        "Ik heb Heimwee naar mijn oude huis",
        "en iemnad dreigt mijn vidoes te lekken",  # a typo of "iemand"
        "mijn vriendje zecht dat ik moet komen",  # a typo of "zegt"
        "de pleegvader slaat hem",  # a compound of ordinary words
        "Mag ik vragen waarom jullie mijn IP-adres niet opslaan?",
        "Haar ex-vriend stuurt haar berichten",
        "mijn tiktok is privé en hij stuurt me dm's",
        "ik werd aangesproken in winkelcentrum het plein",
        "ik woon in Kanaleneiland op de Marshalllaan",
        "kenteken begon met GZ- en meer weet ik niet",
        "hij zei 'je bent nu van mij' en toen ging hij",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    found = _found(text)
    assert not any(
        w in f
        for f in found
        for w in (
            "Sorry",
            "Heimwee",
            "iemnad",
            "zecht",
            "pleegvader",
            "IP",
            "ex",
            "tiktok",
            "winkelcentrum",
            "op",
            "GZ",
            "mij",
        )
    ), found


def test_particles_join_a_name_but_prepositions_do_not() -> None:
    assert _found("gisteren zag ik Folkert van der Tjalsma bij de bushalte") == ["Folkert van der Tjalsma"]
