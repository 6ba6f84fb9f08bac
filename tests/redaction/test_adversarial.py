"""Adversarial inputs (tests/adversarial.py) under a CPU-time budget: no regex of triage or redaction may take
super-linear time on a 4,000-character message. Budgets are generous (far above the 20 ms target that
bench/bench_adversarial.py prints against) so that only backtracking, not a slow machine, fails them."""

from __future__ import annotations

import time
from typing import Any

from chat.triage import Triage
from tests.adversarial import adversarial_inputs

TRIAGE_BUDGET_S = 0.25
REDACT_BUDGET_S = 0.5  # deduce alone takes ~25 ms for a plain 4,000-character sentence


def _over_budget(fn: Any, budget: float) -> dict[str, float]:
    over = {}
    for name, text in adversarial_inputs().items():
        started = time.process_time()
        fn(text)
        spent = time.process_time() - started
        if spent > budget:
            over[name] = round(spent, 3)
    return over


def test_triage_is_linear_on_adversarial_inputs() -> None:
    triage = Triage.load()
    assert _over_budget(lambda text: triage.check(text, None), TRIAGE_BUDGET_S) == {}


def test_redaction_is_linear_on_adversarial_inputs(redactor: Any) -> None:
    assert _over_budget(redactor.redact, REDACT_BUDGET_S) == {}
