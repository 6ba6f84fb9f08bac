"""Redaction benchmark: deduce's cold and warm start, messages per second, peak memory.

    python bench/bench_redaction.py [--messages 5000] [--cache-dir DIR]

Each phase runs in a child process of its own, so that one phase's memory and
caches do not colour the next: a cold build into an empty cache directory (skipped
when --cache-dir already holds a cache), then a warm load from that cache followed
by redacting the labelled corpus, repeated to --messages messages.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "redaction_corpus.jsonl"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _child(phase: str, cache_dir: Path, messages: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO))
    from chat.redaction import Redactor

    redactor = Redactor(cache_dir)
    started = time.perf_counter()
    redactor.warm()
    result = {"init_s": time.perf_counter() - started, "rss_after_warm_mb": _peak_rss_mb()}
    if phase == "cold":
        return result

    with CORPUS.open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    batch = (texts * (messages // len(texts) + 1))[:messages]
    latencies = []
    started = time.perf_counter()
    for text in batch:
        t0 = time.perf_counter()
        redactor.redact(text)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    result.update(
        messages=len(batch),
        chars=sum(map(len, batch)),
        elapsed_s=elapsed,
        per_s=len(batch) / elapsed,
        mean_ms=statistics.fmean(latencies) * 1000,
        p99_ms=statistics.quantiles(latencies, n=100)[98] * 1000,
        rss_after_run_mb=_peak_rss_mb(),
    )
    return result


def _run_child(phase: str, cache_dir: Path, messages: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", phase, "--cache-dir", str(cache_dir), "--messages", str(messages)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args.child, args.cache_dir, args.messages)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-deduce-") as scratch:
        cache_dir = args.cache_dir or Path(scratch)
        if list(cache_dir.glob("deduce-*/cache/lookup_structs.pickle")):
            print("cold start: skipped, the cache directory already holds a cache")
        else:
            cold = _run_child("cold", cache_dir, args.messages)
            print(
                f"cold start (build + write cache): {cold['init_s']:.1f} s, peak RSS {cold['rss_after_warm_mb']:.0f} MB"
            )
        warm = _run_child("warm", cache_dir, args.messages)

    print(f"warm start (load from cache):     {warm['init_s']:.1f} s, peak RSS {warm['rss_after_warm_mb']:.0f} MB")
    print(
        f"redaction: {warm['messages']:.0f} messages ({warm['chars'] / warm['messages']:.0f} chars on average) "
        f"in {warm['elapsed_s']:.2f} s = {warm['per_s']:.0f} messages/s; "
        f"mean {warm['mean_ms']:.2f} ms, p99 {warm['p99_ms']:.2f} ms per message"
    )
    print(f"peak RSS after the run:           {warm['rss_after_run_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
