"""Triage internals: the typo pass, concepts and rules, negation, idioms, the model file and adversarial input."""

from __future__ import annotations

import time

import pytest

from chat.triage import NOT_URGENT, Triage, TriageResult, parse_rules
from chat.triage_model import dump_model, features, parse_model
from chat.triage_text import Speller, clauses

SHIPPED = Triage.load()


# --- normalisation: clauses, typos, leetspeak, symbols -----------------------------------------------------


def test_clauses_split_at_punctuation_and_but() -> None:
    assert clauses("hoi. ik ben bang, hij is hier!! maar nu") == ["hoi", " ik ben bang", " hij is hier", "nu"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("vanavnd", "vanavond"),  # a dropped letter
        ("statoin", "station"),  # two letters swapped
        ("daugther", "daughter"),
        ("z3lfm00rd", "zelfmord"),  # leetspeak, then repeated letters once
        ("mogen", "mogen"),  # a real word (words.lst) is left alone
        ("iemand", "iemand"),  # never read as a negation
        ("5am", "5am"),  # digits at the edge are not leetspeak
    ],
)
def test_typo_pass(typed: str, meant: str) -> None:
    assert SHIPPED.normalised(typed) == meant


def test_speller_splits_two_words_run_together_and_leaves_long_words() -> None:
    speller = Speller(["wil", "dood", "pillen"])
    assert speller.correct("wildood") == "wil dood"
    assert speller.correct("pilen") == "pillen"
    assert speller.correct("x" * 30) == "x" * 30


def test_symbols_stand_for_words() -> None:
    assert "pilen" in SHIPPED.normalised("💊💊 vanavond")
    assert SHIPPED.check("💊💊💊 + 🍷 vanavond. sorry mam").urgent


# --- concepts, rules, negation, idioms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("heb alle pilen van mn moedr verzameld. vanavond als iedereen slaapt", "suicide_selfharm"),
        ("ik sta op het dak van de flat", "suicide_selfharm"),
        ("ze zeiden dat ze mn zusje gaan pakken als ik stop", "threat_to_family"),
        ("my little brother is next if i stop, they said", "threat_to_family"),
        ("mn zusje van 14 is sinds gisteren nie thuis en neemt nie op", "missing_child"),
        ("my daughter is not answering since this morning", "missing_child"),
        ("they took my phone and passport, i do not know what city this is", "held_or_taken"),
        ("ik verstop me, ze zoeken me nu met de auto", "immediate_danger"),
        ("he hit me again tonight", "violence"),
        ("ze hebben me gisteravond gedwongen", "acute_sexual_violence"),
    ],
)
def test_concepts_combine(message: str, category: str) -> None:
    result = SHIPPED.check(message)
    assert result.urgent and category in result.categories, result


@pytest.mark.parametrize(
    "message",
    [
        "ik denk NIET aan zelfmoord hoor",
        "I'm not going to kill myself, I just want information",
        "I could kill for a pizza",
        "ik ga dood van het lachen",
        "3 jaar geleden ben ik verkracht, nu gaat het goed en ik ben veilig",
        "in dat boek pleegt de hoofdpersoon zelfmoord en nu moeten we een essay schrijven",
    ],
)
def test_negation_idioms_past_and_stories_stay_quiet(message: str) -> None:
    assert not SHIPPED.check(message).urgent


def test_negation_ends_at_a_stop_word() -> None:
    triage = Triage.from_texts({"nl": "[d]\nzusje iets\n[negation]\nniet\n[negation_stop]\ndan\n"})
    assert not triage.check("niet zusje iets").urgent
    assert triage.check("als ik niet kom dan zusje iets").urgent


def test_rules_combine_concepts_and_quiet_drops_urgency() -> None:
    lists = {"nl": "[d]\nhelp\n[pil] concept\npillen\n[nu] concept\nvanavond\n[toen] concept\nvroeger\n"}
    triage = Triage.from_texts(lists, rules="d = pil + nu\nquiet = toen\n")
    assert triage.check("pillen vanavond") == TriageResult(urgent=True, categories=("d",))
    assert triage.check("pillen") == NOT_URGENT  # a concept alone reports nothing
    assert triage.check("vroeger help") == TriageResult(urgent=False, categories=())


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("d = x\n", "'x' is no concept or category"),
        ("e = pil\n", "not a category of the lists"),
        ("d pil\n", "a rule looks like"),
        ("d = !pil\n", "at least one name without '!'"),
    ],
)
def test_bad_rules(rules: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Triage.from_texts({"nl": "[d]\nhelp\n[pil] concept\npillen\n"}, rules=rules)


def test_parse_rules() -> None:
    (rule,) = parse_rules("a = b + !c  # comment\n")
    assert rule.target == "a" and rule.required == {"b"} and rule.absent == {"c"}


# --- the model ---------------------------------------------------------------------------------------------


def test_model_file_round_trip_and_scoring() -> None:
    text = "classes\tnone\td\nthreshold\t0.5\nbias\t0.0\t-2.0\nw=help\t0.0\t5.0\n"
    model = parse_model(text)
    assert parse_model(dump_model(model, "a header")) == model
    triage = Triage.from_texts({"nl": "[d]\nnooit dit\n"}, model=text)
    # Only the model fires: its likeliest kind is the reason.
    assert triage.check("help help help help help help help") == TriageResult(urgent=True, categories=("d",))
    assert triage.check("hallo hallo hallo hallo hallo hallo hallo") == NOT_URGENT
    assert triage.check("help") == NOT_URGENT  # too short to ask the model, and no evidence


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bias\t0\n", "'classes' line must come first"),
        ("classes\td\n", "must start with 'none'"),
        ("classes\tnone\td\nthreshold\t2\nbias\t0\t0\n", "between 0 and 1"),
        ("classes\tnone\td\nthreshold\t0.5\nbias\t0\n", "2 weights expected"),
        ("classes\tnone\td\nthreshold\t0.5\n", "needs 'classes', 'threshold' and 'bias'"),
        ("classes\tnone\td\nthreshold\tx\n", "not a number"),
    ],
)
def test_bad_model_files(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_model(text)


def test_features_stay_inside_clauses() -> None:
    names = features("ik wil | dood")
    assert "b=ik wil" in names and "b=wil dood" not in names and "c= do" in names


def test_shipped_model_only_predicts_urgent_categories() -> None:
    assert SHIPPED.model is not None
    assert set(SHIPPED.model.classes[1:]) <= SHIPPED.urgent_categories


# --- adversarial input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "crafted",
    [
        "a" * 20_000,
        "a'" * 10_000,
        "dood " * 4_000,
        "ik wil " * 2_800,
        " " * 20_000,
        "😂" * 20_000,
        "staat " * 3_000 + "voor de deur",
        "x1" * 10_000,
        "abcdefghijklmnopqrstuvwxyz" * 770,
        ".," * 10_000,
    ],
)
def test_crafted_input_is_checked_in_linear_time(crafted: str) -> None:
    started = time.perf_counter()
    SHIPPED.check(crafted)
    # Measured well under 0.1 s each; the bound only catches a blow-up, not a slowdown.
    assert time.perf_counter() - started < 2.0
