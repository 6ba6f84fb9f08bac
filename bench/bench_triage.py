"""Triage benchmark: CPU time of ``chat.triage.Triage.check`` per message, on typical chat messages.

    python bench/bench_triage.py [--rounds 5] [--profile]

The messages are the texts of the labelled triage set (tests/data/triage_eval.jsonl,
both splits) and the training corpus (chat/data/triage/train_parts/*.jsonl): typical
chat lengths, Dutch, English and mixed, urgent and not. Nothing of them is printed;
the verdicts are only counted.

Each round runs every message once through a warm ``Triage`` (the typo cache and the
model's word cache filled by a first, untimed round, as on a running server), and the
best round counts (``time.process_time``). Also timed: the same messages on a cold
``Triage`` each round (caches empty: the first message of a new word), and the
normalisation, list matching and model alone, to see where the time goes.
``--profile`` prints cProfile's top functions for one warm round.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def messages() -> list[str]:
    from chat.triage import DEFAULT_DIR
    from tests.quality import TRIAGE_SET, load

    texts = [row["text"] for row in load(TRIAGE_SET)]
    for path in sorted((DEFAULT_DIR / "train_parts").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def best_us(run: Callable[[], object], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main() -> int:
    from chat.triage import Triage, model_asked

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    texts = messages()
    triage = Triage.load()
    flagged = sum(triage.check(text, None).urgent for text in texts)  # warms the caches
    chars = sum(map(len, texts)) / len(texts)
    load = os.getloadavg()[0]
    print(f"{len(texts)} messages, {chars:.0f} characters on average, {flagged} flagged; load average {load:.2f}")

    def warm() -> None:
        for text in texts:
            triage.check(text, None)

    def cold() -> None:
        fresh = Triage.load()
        started = time.process_time()
        for text in texts:
            fresh.check(text, None)
        cold_times.append(time.process_time() - started)

    cold_times: list[float] = []
    for _ in range(max(1, args.rounds // 2)):
        cold()
    bases = [triage.normalised(text) for text in texts]

    def normalise() -> None:
        for text in texts:
            triage.normalised(text)

    def lists() -> None:
        for base in bases:
            triage._found(base)

    asked = [(triage._model_text(base), found) for base in bases if model_asked(base, found := triage._found(base))]

    def model() -> None:
        score = triage.model.score_text if triage.model is not None else None
        if score is not None:
            for text, found in asked:
                score(text, found)

    print(f"{'part':34} {'µs/message':>11}")
    print(f"{'Triage.check, warm':34} {best_us(warm, len(texts), args.rounds):11.1f}")
    print(f"{'Triage.check, cold caches':34} {min(cold_times) / len(texts) * 1e6:11.1f}")
    print(f"{'  normalised (clauses, typos)':34} {best_us(normalise, len(texts), args.rounds):11.1f}")
    print(f"{'  lists and rules (_found)':34} {best_us(lists, len(texts), args.rounds):11.1f}")
    print(
        f"{'  model (per message asked)':34} {best_us(model, max(1, len(asked)), args.rounds):11.1f}"
        f"   ({len(asked)} of {len(texts)} asked)"
    )
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(warm)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
