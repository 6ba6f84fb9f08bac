"""Every benchmark at a small size, one after the other (about a minute and a half), so that they cannot rot.

    python bench/quick.py        # what .ci/run runs

It prints each benchmark's figures beside the bare relay's, like the full
runs, and fails only when a benchmark itself fails (never on a figure), or
when the soak (bench/soak.py --quick) finds an acknowledged message lost,
doubled or reordered.
The sizes are too small for the figures to mean much: bench/README.md has
the real runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = [
    ["bench_relay.py", "--pairs", "10", "--rate", "100", "--rate-seconds", "1", "--windows", "4", "--max-seconds", "2"],
    ["bench_pairing.py", "--visitors", "100", "--counselors", "10"],
    ["bench_idle.py", "--connections", "200", "--settle", "0.5"],
    ["bench_workers.py", "--pairs", "10", "--windows", "4", "--seconds", "1.5", "--servers", "chatN,baseline"],
    # Not a figure but a check: exit 1 when an acked message was lost, doubled or reordered.
    ["soak.py", "--quick"],
]


def main() -> int:
    started = time.monotonic()
    failed = []
    for run in RUNS:
        print(f"== {' '.join(run)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / run[0]), *run[1:]], timeout=120).returncode != 0:
            failed.append(run[0])
    print(f"quick benchmarks: {len(RUNS) - len(failed)}/{len(RUNS)} ran in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
