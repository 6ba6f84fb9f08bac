"""Adversarial benchmark: the worst-case time per 4,000-character message for triage and redaction.

    python bench/bench_adversarial.py [--repeat 3] [--cache-dir DIR]

Runs every input of tests/adversarial.py (shaped against backtracking regexes) through
``chat.triage.Triage.check`` and ``chat.redaction.Redactor.redact`` and prints the CPU time
(``time.process_time``) of each, the worst of `--repeat` runs, beside a plain 4,000-character
sentence as the baseline. The target is under 20 ms for the worst input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_MS = 20.0


def worst_ms(fn: Callable[[str], object], text: str, repeat: int) -> float:
    worst = 0.0
    for _ in range(repeat):
        started = time.process_time()
        fn(text)
        worst = max(worst, time.process_time() - started)
    return worst * 1000


def main() -> int:
    from chat.redaction import Redactor
    from chat.triage import Triage
    from tests.adversarial import LENGTH, adversarial_inputs

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".cache" / "deduce")
    args = parser.parse_args()

    triage = Triage.load()
    redactor = Redactor(args.cache_dir)
    redactor.warm()
    inputs = {"baseline-sentence": ("Ik wil graag met iemand praten over thuis. " * 100)[:LENGTH]}
    inputs.update(adversarial_inputs())
    print(f"{'input':28} {'triage ms':>10} {'redact ms':>10}")
    worst = {"triage": ("", 0.0), "redact": ("", 0.0)}
    for name, text in inputs.items():
        t = worst_ms(lambda s: triage.check(s, None), text, args.repeat)
        r = worst_ms(redactor.redact, text, args.repeat)
        print(f"{name:28} {t:10.1f} {r:10.1f}", flush=True)
        if name != "baseline-sentence":
            for kind, value in (("triage", t), ("redact", r)):
                if value > worst[kind][1]:
                    worst[kind] = (name, value)
    for kind, (name, value) in worst.items():
        verdict = "ok" if value < TARGET_MS else f"OVER the {TARGET_MS:g} ms target"
        print(f"worst {kind}: {value:.1f} ms ({name}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
