"""Triage quality on the TEST split of the evaluation set (tests/quality.py): the figure that counts.

Target (issue 14): recall >= 0.95 with false alarms <= 0.10. The bounds below are
the figures reached when this was written, rounded down to the percent, so that
any regression fails; raise them as triage improves, never tune on this split.
"""

from __future__ import annotations

from chat.triage import Triage
from tests.quality import TRIAGE_MAX_FALSE_ALARMS, TRIAGE_MIN_RECALL, TRIAGE_SET, evaluate_triage, load

# Round 5 (session 4): recall 0.966 (169/175), false alarms 0.063 (9/142) on the test split.
MIN_RECALL = 0.96
MAX_FALSE_ALARMS = 0.07


def test_triage_quality_on_the_test_split() -> None:
    triage = Triage.load()
    report = evaluate_triage(load(TRIAGE_SET, "test"), lambda text: triage.check(text).urgent)
    # Figures only: never the messages of the test split.
    assert MIN_RECALL >= TRIAGE_MIN_RECALL and MAX_FALSE_ALARMS <= TRIAGE_MAX_FALSE_ALARMS
    assert report.recall.value >= MIN_RECALL, f"recall {report.recall}"
    assert report.false_alarms.value <= MAX_FALSE_ALARMS, f"false alarms {report.false_alarms}"
