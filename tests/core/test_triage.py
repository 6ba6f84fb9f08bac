"""Triage: the shipped term lists against messages that must and must not flag, and the file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.triage import NOT_URGENT, Triage, TriageResult, normalise, parse_terms

SHIPPED = Triage.load()

# (message, the category it must flag, or None when it must flag nothing)
CASES: list[tuple[str, str | None]] = [
    # Dutch: suicide and self-harm, with the spellings people really use.
    ("ik wil dood", "suicide_selfharm"),
    ("Ik wil doood...", "suicide_selfharm"),
    ("k wil dood", "suicide_selfharm"),
    ("ZELFMOORD", "suicide_selfharm"),
    ("ik denk aan zelfmoordd", "suicide_selfharm"),
    ("ik heb zelfmoordgedachten", "suicide_selfharm"),
    ("ik denk aan zelf moord", "suicide_selfharm"),
    ("ik ben suïcidaal", "suicide_selfharm"),
    ("denk aan suicide", "suicide_selfharm"),
    ("ik wil niet meer leven", "suicide_selfharm"),
    ("ik wil er een einde aan maken", "suicide_selfharm"),
    ("ik ga er vanavond een eind aan maken", "suicide_selfharm"),
    ("ik wil mezelf iets aandoen", "suicide_selfharm"),
    ("ik snijd mezelf", "suicide_selfharm"),
    ("ik heb weer in m'n armen gesneden", "suicide_selfharm"),
    ("ik ga pillen slikken", "suicide_selfharm"),
    ("ik doe aan selfharm", "suicide_selfharm"),
    # Dutch: danger now, violence, held or followed, sexual violence.
    ("hij staat voor de deur!!", "immediate_danger"),
    ("hij staat vd deur", "immediate_danger"),
    ("HIJ STAAT NU AL VOOR DE DEUR", "immediate_danger"),
    ("ze staan voor de deur", "immediate_danger"),
    ("hij heeft een mes", "immediate_danger"),
    ("ik ben in gevaar", "immediate_danger"),
    ("help nu", "immediate_danger"),
    ("hij gaat me vermoorden", "immediate_danger"),
    ("hij slaat me", "violence"),
    ("mijn stiefvader slaat mij elke dag", "violence"),
    ("ik word geslagen", "violence"),
    ("ik wordt mishandeld", "violence"),
    ("ik word gevolgd", "held_or_taken"),
    ("ik word vastgehouden", "held_or_taken"),
    ("ik mag niet weg", "held_or_taken"),
    ("ze hebben me opgesloten", "held_or_taken"),
    ("ik ben verkracht", "acute_sexual_violence"),
    ("ik moet met mannen naar bed", "acute_sexual_violence"),
    ("er zijn mannen die mij dwingen seks te hebben", "acute_sexual_violence"),
    ("hij is boos en staat beneden te wachten", "immediate_danger"),
    # English.
    ("I want to kill myself", "suicide_selfharm"),
    ("i wanna kill my self", "suicide_selfharm"),
    ("I've been thinking about suicide", "suicide_selfharm"),
    ("I just want to end it all", "suicide_selfharm"),
    ("i want to die", "suicide_selfharm"),
    ("I hurt myself again last night", "suicide_selfharm"),
    ("self-harm", "suicide_selfharm"),
    ("selfharm", "suicide_selfharm"),
    ("he's at the door", "immediate_danger"),
    ("hes outside", "immediate_danger"),
    ("I'm in danger", "immediate_danger"),
    ("he has a knife", "immediate_danger"),
    ("I'm scared he'll kill me", "immediate_danger"),
    ("he hits me", "violence"),
    ("my dad beat me up", "violence"),
    ("I'm locked in my room", "held_or_taken"),
    ("I can't leave", "held_or_taken"),
    ("I think I'm being followed", "held_or_taken"),
    ("he raped me", "acute_sexual_violence"),
    # Near misses that must stay quiet.
    ("ik ben doodmoe", None),
    ("ik ga dood van het lachen", None),
    ("ik ga dood van de honger", None),
    ("ik schrok me dood", None),
    ("ik lach me dood haha", None),
    ("dat was sociale zelfmoord", None),
    ("de zomervakantie staat voor de deur", None),
    ("mijn moeder komt me zo halen", None),
    ("ze volgt me op insta", None),
    ("ik ben niet in gevaar hoor", None),
    ("that movie killed me", None),
    ("my phone is dead", None),
    ("I'm dead 😂😂", None),
    ("you're killing it!", None),
    ("I'm dying to see that film", None),
    ("I want to die my hair blue", None),
    ("hit me up later", None),
    ("what the hell is going on", None),
    ("she follows me on tiktok", None),
    ("I almost killed myself laughing", None),
    ("my diet is going well", None),
    ("we moeten het snijden van groenten oefenen", None),
    ("hoi, ik heb een vraag over mijn dochter", None),
    ("hello, I have a question about my son", None),
]


@pytest.mark.parametrize(("message", "category"), CASES)
def test_shipped_lists(message: str, category: str | None) -> None:
    result = SHIPPED.check(message)
    if category is None:
        assert result == NOT_URGENT, f"{message!r} flagged {result.categories}"
    else:
        assert category in result.categories, f"{message!r} gave {result.categories}"
        assert result.urgent


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert sum(category is None for _, category in CASES) >= 15


def test_non_urgent_categories_report_without_urgency() -> None:
    result = SHIPPED.check("hij dreigt mijn naaktfoto's te verspreiden, het is een loverboy")
    assert result == TriageResult(urgent=False, categories=("sexual_exploitation",))


def test_several_categories_are_all_reported_sorted() -> None:
    result = SHIPPED.check("hij slaat me en ik wil dood")
    assert result == TriageResult(urgent=True, categories=("suicide_selfharm", "violence"))


def test_exclusion_only_removes_the_idiom() -> None:
    assert SHIPPED.check("ik ga dood van het lachen maar eigenlijk wil ik dood").urgent
    assert SHIPPED.check("I'm dying to tell someone: I want to die").urgent


def test_every_language_runs_whatever_the_visitor_picked() -> None:
    # People mix languages: an English message in a Dutch chat must still flag.
    for language in ("nl", "en", None, "fr"):
        assert SHIPPED.check("I want to kill myself", language).urgent
        assert SHIPPED.check("ik denk aan zelfmoord", language).urgent


def test_result_never_carries_the_text() -> None:
    result = SHIPPED.check("ik wil dood")
    assert "dood" not in repr(result)


def test_shipped_urgency() -> None:
    assert SHIPPED.urgent_categories == {
        "suicide_selfharm",
        "immediate_danger",
        "violence",
        "held_or_taken",
        "acute_sexual_violence",
        "threat_to_family",
        "missing_child",
    }
    assert {"sexual_exploitation", "criminal_exploitation", "being_watched"} <= SHIPPED.categories
    assert SHIPPED.languages == ("en", "nl")


def test_empty_and_odd_input() -> None:
    assert SHIPPED.check("") == NOT_URGENT
    assert SHIPPED.check("   \n\t ") == NOT_URGENT
    assert SHIPPED.check("😂" * 500) == NOT_URGENT
    assert SHIPPED.check("\u0000\ufffd") == NOT_URGENT
    assert SHIPPED.check("x" * 4000 + " ik wil dood").urgent


# --- normalisation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Suïcide!!", "suicide"),
        ("DOOOOOD", "dod"),
        ("he's", "hes"),
        ("he\u2019s", "hes"),
        ("z'n", "zn"),
        ("self-harm", "self harm"),
        ("  veel   ruimte  ", "vel ruimte"),
        ("ﬁne", "fine"),  # ligature, via NFKD
        ("İK WİL DOOD", "ik wil dod"),  # Turkish dotted capital I: case-folded before accents go
        ("ＨＥＬＰ", "help"),  # full-width letters
        ("112", "112"),  # digits are not collapsed
        ("snake_case", "snake case"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_ascii_fast_path_agrees_with_unicode_path() -> None:
    samples = ["He's at the DOOR!!", "ik wil dooood...", "self-harm & co_op", "a''b `c` 1000", "Zelfmoordd?"]
    for sample in samples:
        # The trailing 'é' forces the Unicode path; it normalises to a final ' e'.
        assert normalise(sample + " é") == (normalise(sample) + " e").strip()


def test_spelling_applies_to_text() -> None:
    # Repeated letters count once, in the spelling's result too.
    assert normalise("hij staat vd deur", {"vd": "vor de"}) == "hij stat vor de deur"


# --- the file format ---------------------------------------------------------------------------------------


def build(text: str, language: str = "nl") -> Triage:
    return Triage.from_texts({language: text})


def test_comments_blank_lines_and_headers() -> None:
    triage = build(
        """
        # a comment
        [danger]            # urgent by default

        help nu             # trailing comment
          bel 112

        [signal] not urgent
        loverboy*
        """
    )
    assert triage.check("help nu!") == TriageResult(urgent=True, categories=("danger",))
    assert triage.check("BEL 112") == TriageResult(urgent=True, categories=("danger",))
    assert triage.check("een loverboyachtige jongen") == TriageResult(urgent=False, categories=("signal",))
    assert triage.check("# a comment") == NOT_URGENT


def test_whole_words_wildcards_and_gaps() -> None:
    triage = build("[d]\ndood\nstaat ... deur\nzelfmoord*\n")
    assert triage.check("dood").urgent
    assert not triage.check("doodmoe").urgent
    assert not triage.check("zelfdood").urgent
    assert triage.check("zelfmoordpoging").urgent
    assert triage.check("staat deur").urgent
    assert triage.check("staat een twee drie deur").urgent
    assert not triage.check("staat een twee drie vier deur").urgent  # at most three words in a gap


def test_exclude_and_spelling_sections() -> None:
    triage = build("[spelling]\nvd = voor de\n[d]\nvoor de deur\n[exclude]\nstaat voor de deur\n")
    assert triage.check("hij wacht vd deur").urgent
    assert not triage.check("de zomer staat vd deur").urgent


def test_exclusion_is_a_barrier_for_phrases() -> None:
    # Removing an idiom must not glue the words around it into a new phrase.
    triage = build("[d]\nik wil dood\n[exclude]\nniet\n")
    assert not triage.check("ik wil niet dood").urgent


def test_categories_merge_across_languages(tmp_path: Path) -> None:
    (tmp_path / "nl.txt").write_text("[d]\nhelp nu\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("[d]\nhelp now\n[x] not urgent\nloverboy\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a list", encoding="utf-8")
    triage = Triage.load(tmp_path)
    assert triage.languages == ("en", "nl")
    assert triage.check("help nu", "nl").categories == ("d",)
    assert triage.check("help now").categories == ("d",)
    assert triage.urgent_categories == {"d"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("help nu\n", r"<nl>:1: 'help nu' comes before any \[category\] header"),
        ("[Danger Now]\nhelp\n", r"<nl>:1: bad section name"),
        ("[d] maybe urgent\nhelp\n", r"only 'urgent' or 'not urgent'"),
        ("[d]\n", r"\[d\] has no terms"),
        ("[d]\nhelp\n[d] not urgent\nnu\n", "marked both urgent and not urgent"),
        ("[d\nhelp\n", "a section header looks like"),
        ("[d]\n... help\n", r"'\.\.\.' must stand between two words"),
        ("[d]\nhelp ...\n", r"'\.\.\.' must stand between two words"),
        ("[d]\nhe*lp\n", r"'\*' may only end a word"),
        ("[d]\nab*\n", r"'\*' needs at least 3 letters"),
        ("[d]\n😂\n", "has no letters or digits"),
        ("[spelling]\nvoor de = vd\n", "maps one written word"),
        ("[spelling]\nvd\n", "a spelling line looks like"),
        ("[spelling]\nk = ik\nk = ok\n", "given two meanings"),
        ("[exclude] not urgent\nx\n", "takes no 'urgent' option"),
    ],
)
def test_bad_files_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_terms(text, "nl", "<nl>")


def test_bad_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Triage.load(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no term lists \(\*\.txt\)"):
        Triage.load(tmp_path)
    (tmp_path / "Dutch terms.txt").write_text("[d]\nhelp\n", encoding="utf-8")
    with pytest.raises(ValueError, match="name a term list after its language"):
        Triage.load(tmp_path)


def test_bad_file_names_the_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "nl.txt").write_text("[d]\nhelp\n[bad name]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"nl\.txt:3: bad section name"):
        Triage.load(tmp_path)


def test_urgency_conflict_across_languages() -> None:
    with pytest.raises(ValueError, match="urgent in one language and not urgent in another"):
        Triage.from_texts({"nl": "[d]\nhelp\n", "en": "[d] not urgent\nhelp\n"})
