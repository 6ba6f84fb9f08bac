"""Redaction quality on the held-out TEST split of tests/data/redaction_eval.jsonl.

The bars of issue 14 (tests/quality.py): item recall >= 0.98, kept words >= 0.97,
recall per kind >= 0.95. Kept words meets its bar. Recall does not yet: the
assertions below hold the figures reached when this file was written (rounded down
to the percent), so that any regression fails; each names its gap to the target.
Raise them as the rules improve, and never tune on the test split's texts.
"""

from __future__ import annotations

import pytest

from chat.redaction import Redactor
from tests.quality import (
    REDACTION_MIN_KEPT,
    REDACTION_MIN_RECALL,
    REDACTION_MIN_RECALL_PER_KIND,
    REDACTION_SET,
    RedactionReport,
    evaluate_redaction,
    load,
)

# Target REDACTION_MIN_RECALL (0.98); reached 0.977 (508/520) in session 5 (0.973 in session 4, 0.971 in session 3):
# a gap of 0.3 points.
MIN_RECALL = 0.97
# Per kind: the target REDACTION_MIN_RECALL_PER_KIND (0.95) unless listed here with
# the figure reached (floored). Institutions named without a kind word, a cue or a list
# entry remain the gap.
MIN_RECALL_BY_KIND = {
    "institution": 0.93,  # reached 0.931 (27/29), target 0.95
}
# Names reached the target in session 5 (0.954, 125/131, by word frequency: chat/redaction/lexicon.py).


# One worker runs the module (pytest -n ... --dist loadgroup): the evaluation is computed once.
pytestmark = pytest.mark.xdist_group("redaction-quality")


@pytest.fixture(scope="module")
def report(redactor: Redactor) -> RedactionReport:
    def spans(text: str) -> list[tuple[int, int]]:
        return [(i.start, i.end) for i in redactor.redact(text).items]

    return evaluate_redaction(load(REDACTION_SET, "test"), spans)


def test_item_recall(report: RedactionReport) -> None:
    assert MIN_RECALL <= REDACTION_MIN_RECALL
    assert report.recall.value >= MIN_RECALL, str(report.recall)


def test_kept_words(report: RedactionReport) -> None:
    assert report.kept.value >= REDACTION_MIN_KEPT, str(report.kept)


def test_recall_per_kind(report: RedactionReport) -> None:
    low = {
        kind: str(rate)
        for kind, rate in report.by_kind.items()
        if rate.value < MIN_RECALL_BY_KIND.get(kind, REDACTION_MIN_RECALL_PER_KIND)
    }
    assert not low
