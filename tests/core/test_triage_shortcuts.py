"""Triage's shortcuts give what the plain way gives (issue 11).

``Triage.check`` tries a category's pattern only at the words where one of its
terms may start (``_Starts``), replaces idioms only where one may start, keeps
each typed token's normalised form, and the model sums a word's weights once and
takes shared features off again. Each test here computes the same thing the
plain way (every pattern at every word start, every substitution, the model's
``score`` over the full feature set) on the dev split, the training corpus,
shuffled words from them and crafted input. Failures name counts, never texts.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from chat.triage import _BARRIER, DEFAULT_DIR, GAP_TOKEN, Triage, _apply_spelling, _term_tokens, parse_terms
from chat.triage_model import features
from chat.triage_text import base_normalise, clauses, replace_symbols
from tests.adversarial import adversarial_inputs
from tests.quality import TRIAGE_SET, load

SHIPPED = Triage.load()
_WORD_START = re.compile(r"(?<!\w)\w")


def _every_term() -> list[str]:
    """Each term of the shipped lists written out: a stem with an ending, a gap with a word in it."""
    texts = []
    for path in sorted(DEFAULT_DIR.glob("*.txt")):
        terms = parse_terms(path.read_text(encoding="utf-8"), path.stem)
        for line in [*terms.exclude, *(line for lines in terms.categories.values() for line in lines)]:
            tokens = _term_tokens(line, path.name, terms.spelling)
            words = [token[:-1] + "en" if token.endswith("*") else token for token in tokens if token != GAP_TOKEN]
            gapped = ["heel" if token == GAP_TOKEN else token for token in tokens]
            texts.append(" ".join(words))
            texts.append("ik denk " + " ".join(gapped).replace("*", "") + " nu")
    return texts


def _messages() -> list[str]:
    texts = _every_term()
    texts += [row["text"] for row in load(TRIAGE_SET, "dev")]
    for path in sorted((DEFAULT_DIR / "train_parts").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(11)
    words = [word for text in texts for word in text.split()]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(1500)]
    texts += [a + ". " + b for a, b in zip(texts[:300], texts[300:600], strict=True)]
    texts += list(adversarial_inputs().values())
    return texts


MESSAGES = _messages()


def _plain_normalised(triage: Triage, text: str) -> str:
    text = replace_symbols(text, triage._symbols)
    correct = triage._speller.correct
    pieces = (" ".join(correct(word) for word in base_normalise(clause).split()) for clause in clauses(text))
    return _BARRIER.join(piece for piece in pieces if piece)


def _plain_found(triage: Triage, base: str) -> set[str]:
    found: set[str] = set()
    for language in triage._languages.values():
        text = _apply_spelling(base, language.spelling)
        if language.exclude is not None:
            text = language.exclude.sub(_BARRIER, text)
        for start in _WORD_START.finditer(text):
            for name, pattern in language.patterns.items():
                if pattern.match(text, start.start()) and not triage._negation.before(text, start.start()):
                    found.add(name)
    return found


def _plain_model_text(triage: Triage, base: str) -> str:
    for language in triage._languages.values():
        if language.exclude is not None:
            base = language.exclude.sub(_BARRIER, base)
    return base


def test_normalised_is_the_clause_by_clause_normalisation() -> None:
    fresh = Triage.load()  # its token cache fills as it goes: first and second sight both count
    wrong = sum(fresh.normalised(text) != _plain_normalised(fresh, text) for text in MESSAGES * 2)
    assert wrong == 0, f"{wrong} of {2 * len(MESSAGES)} messages normalised otherwise"


def test_lists_find_what_every_pattern_at_every_word_finds() -> None:
    wrong = 0
    for text in MESSAGES:
        base = SHIPPED.normalised(text)
        found: set[str] = set()
        for language in SHIPPED._languages.values():
            language.found(base, SHIPPED._negation, found)
        wrong += found != _plain_found(SHIPPED, base)
        wrong += SHIPPED._model_text(base) != _plain_model_text(SHIPPED, base)
    assert wrong == 0, f"{wrong} differences over {len(MESSAGES)} messages"


def test_model_score_text_is_the_score_of_all_features() -> None:
    model = SHIPPED.model
    assert model is not None
    worst, kinds = 0.0, 0
    for text in MESSAGES:
        base = SHIPPED.normalised(text)
        found = SHIPPED._found(base)
        model_text = SHIPPED._model_text(base)
        fast, kind = model.score_text(model_text, found)
        plain, plain_kind = model.score(features(model_text, found))
        worst = max(worst, abs(fast - plain))
        kinds += kind != plain_kind
    assert worst < 1e-9 and kinds == 0, f"largest difference {worst}, {kinds} kinds differ"


@pytest.mark.parametrize("repeat", ["ik ", "in it to ", "niet dood van ", "zelfmoord ", "hij staat voor de "])
def test_shortcuts_hold_on_long_repetitive_input(repeat: str) -> None:
    text = (repeat * 2000)[:4000]
    base = SHIPPED.normalised(text)
    found: set[str] = set()
    for language in SHIPPED._languages.values():
        language.found(base, SHIPPED._negation, found)
    assert found == _plain_found(SHIPPED, base)
