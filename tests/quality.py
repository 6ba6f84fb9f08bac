"""Quality figures for triage and redaction on the labelled evaluation sets.

The sets (``tests/data/triage_eval.jsonl``, ``tests/data/redaction_eval.jsonl``)
were written by people who never saw the rules, and split into ``dev`` and
``test`` before any tuning. Tune on ``dev`` only; ``test`` is what counts.

Run ``scripts/evaluate triage`` or ``scripts/evaluate redaction`` (add
``--misses dev`` to list what the dev split misses; the test split's misses are
never printed, so that nobody tunes on them by accident).

Redaction also has a training set, ``tests/data/redaction_train.jsonl``: messages
written later, for tuning, in the same format (split ``train``). ``scripts/evaluate
redaction --set train`` measures it (``--misses train`` lists its misses);
``--merge-train`` first rebuilds it from the writers' parts in
``tests/data/redaction_train_parts/*.jsonl``.

Triage: recall (urgent messages flagged) per kind of danger, false-alarm rate
(near-misses flagged) per kind of near-miss. Redaction: item recall (an item
counts as removed only when every character of it is inside a redacted span)
per kind of item, and the kept-word rate (words outside every marked item that
no redacted span touches).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
TRIAGE_SET = DATA / "triage_eval.jsonl"
REDACTION_SET = DATA / "redaction_eval.jsonl"
REDACTION_TRAIN_SET = DATA / "redaction_train.jsonl"
REDACTION_TRAIN_PARTS = DATA / "redaction_train_parts"
# Written blind (session 3: redaction_holdout.jsonl; session 4: redaction_holdout2.jsonl and
# triage_holdout.jsonl); never tuned on, never inspected for misses (each header says how it is used).
REDACTION_HOLDOUT_SET = DATA / "redaction_holdout.jsonl"


def holdout_sets(what: str) -> list[Path]:
    """The blind held-out files of triage or redaction, oldest first."""
    return sorted(DATA.glob(f"{what}_holdout*.jsonl"))


SPLITS = ("dev", "test")

# The quality bars (SPEC.md, issue 14), on the test split.
TRIAGE_MIN_RECALL = 0.95
TRIAGE_MAX_FALSE_ALARMS = 0.10
REDACTION_MIN_RECALL = 0.98
REDACTION_MIN_KEPT = 0.97
REDACTION_MIN_RECALL_PER_KIND = 0.95

_WORD = re.compile(r"\w+")


def load(path: Path, split: str | None = None) -> list[dict[str, Any]]:
    """The records of one evaluation file ('#' lines are its header), optionally of one split."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                row = json.loads(line)
                if split is None or row["split"] == split:
                    rows.append(row)
    return rows


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool, n: int = 1) -> None:
        self.hits += n if hit else 0
        self.total += n

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.value * 100:5.1f}% ({self.hits}/{self.total})"


# --- Triage ---------------------------------------------------------------------


@dataclass
class TriageReport:
    recall: Rate = field(default_factory=Rate)
    false_alarms: Rate = field(default_factory=Rate)
    by_kind: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    by_lang: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    misses: list[dict[str, Any]] = field(default_factory=list)


def evaluate_triage(rows: Iterable[dict[str, Any]], flag: Callable[[str], bool]) -> TriageReport:
    """Recall on urgent messages and false alarms on the others; `flag(text)` is the triage under test."""
    report = TriageReport()
    for row in rows:
        flagged = flag(row["text"])
        if row["urgent"]:
            report.recall.add(flagged)
            report.by_kind[row["kind"]].add(flagged)
            report.by_lang[row["lang"]].add(flagged)
            wrong = not flagged
        else:
            report.false_alarms.add(flagged)
            report.by_kind[row["kind"]].add(flagged)
            wrong = flagged
        if wrong:
            report.misses.append(row)
    return report


def default_triage_flag() -> Callable[[str], bool]:
    from chat.triage import Triage

    triage = Triage.load()
    return lambda text: triage.check(text).urgent


# --- Redaction ------------------------------------------------------------------


@dataclass
class RedactionReport:
    recall: Rate = field(default_factory=Rate)
    kept: Rate = field(default_factory=Rate)
    by_kind: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    kept_by_lang: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    leaks: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)
    lost: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def _occurrences(text: str, needle: str) -> Iterator[int]:
    start = text.find(needle)
    while start >= 0:
        yield start
        start = text.find(needle, start + 1)


def evaluate_redaction(
    rows: Iterable[dict[str, Any]], spans: Callable[[str], list[tuple[int, int]]]
) -> RedactionReport:
    """Item recall and kept words; `spans(text)` gives the redacted (start, end) spans of the redaction under test."""
    report = RedactionReport()
    for row in rows:
        text = row["text"]
        covered = [False] * len(text)
        for start, end in spans(text):
            for i in range(max(0, start), min(len(text), end)):
                covered[i] = True
        marked = [False] * len(text)
        for item in row["pii"]:
            positions = list(_occurrences(text, item["text"]))
            assert positions, f"{row['id']}: item not in text"
            removed = True
            for pos in positions:
                for i in range(pos, pos + len(item["text"])):
                    marked[i] = True
                    removed = removed and covered[i]
            report.recall.add(removed)
            report.by_kind[item["kind"]].add(removed)
            if not removed:
                report.leaks.append((row, item))
        for word in _WORD.finditer(text):
            if any(marked[word.start() : word.end()]):
                continue
            kept = not any(covered[word.start() : word.end()])
            report.kept.add(kept)
            report.kept_by_lang[row["lang"]].add(kept)
            if not kept:
                report.lost.append((row, word.group()))
    return report


def default_redaction_spans(cache_dir: Path | None = None) -> Callable[[str], list[tuple[int, int]]]:
    from chat.redaction import Redactor

    default = Path(os.environ.get("CHAT_TEST_DEDUCE_CACHE", Path(__file__).resolve().parents[1] / ".cache" / "deduce"))
    redactor = Redactor(cache_dir or default)
    return lambda text: [(i.start, i.end) for i in redactor.redact(text).items]


_TRAIN_HEADER = """\
# Redaction training set: chat messages with every personal-data item marked (exact substring and kind),
# in the format of redaction_eval.jsonl. RULE: this set is for tuning. Rules, word lists and gazetteers may be
# fitted on it (and on the eval set's "dev" split); the eval set's "test" split stays the only held-out measure.
# Written for the project by writers who did not see the redaction rules, focused on the kinds the test split
# showed weak (schools, institutions, streets without numbers, names with particles, initials or in lowercase,
# lowercase, misspelt and foreign places, handles, nicknames). Merged from redaction_train_parts/*.jsonl by
# scripts/evaluate redaction --merge-train; records whose items are not in their text are left out.
# Label conventions (every part and the dev split follow them): an item is the exact words that identify.
# - name: first names, surnames, initials ("J. de Vries", "a.k. mulder"), nicknames ("Lil Kay", 'prinsesje');
#   Dutch titles and kin words are outside ("mevrouw [ter Horst]", "oom [Henk]"), English titles inside ("Mr. Okafor");
#   an article before a nickname is outside ("ze noemen hem de [Chef]").
# - institution: organisations where someone lives, works, is treated, trains or prays, and shops and chains where
#   something happened ("bij de [Jumbo]"); a kind word written with the name is inside ("[kapsalon Bella]",
#   "[Gemeente Zaanstad]", "[Mevlana moskee]"); a lowercase article before it is outside ("de [Pauluskerk]").
# - school: a named school with the grade that goes with it ("[groep 8 van de Wereldwijzer]", "[3 havo op het X]").
# - place: towns, villages, cities abroad, provinces and regions ("Westland", "Veluwe"); countries are no item.
# - neighbourhood: districts and neighbourhoods; street: streets, squares, parks and stations named without a
#   house number; address: a street with its number (and the postcode and town written with it).
# - plate: Dutch plates of every sidecode and foreign plates, as written.
"""


def merge_train_parts(parts: Path = REDACTION_TRAIN_PARTS, target: Path = REDACTION_TRAIN_SET) -> tuple[int, int]:
    """Rebuild the training set from its parts: every record once (by text), split "train",
    ids prefixed with the part's name. Returns (records written, records left out)."""
    seen: set[str] = set()
    lines: list[str] = []
    skipped = 0
    for part in sorted(parts.glob("*.jsonl")):
        for row in load(part):
            text = row.get("text")
            pii = row.get("pii")
            if not isinstance(text, str) or not isinstance(pii, list) or text in seen:
                skipped += 1
                continue
            if not all(isinstance(i, dict) and i.get("text") and i["text"] in text and i.get("kind") for i in pii):
                skipped += 1
                continue
            seen.add(text)
            row = {**row, "id": f"{part.stem}-{row.get('id', len(lines))}", "split": "train"}
            lines.append(json.dumps(row, ensure_ascii=False))
    target.write_text(_TRAIN_HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines), skipped


# --- The command ----------------------------------------------------------------


def _print_triage(split: str, report: TriageReport, out: Any) -> None:
    print(f"triage, {split} split: recall {report.recall}   false alarms {report.false_alarms}", file=out)
    for kind in sorted(report.by_kind):
        print(f"  {kind:24} {report.by_kind[kind]}", file=out)
    for lang in sorted(report.by_lang):
        print(f"  recall, lang {lang:11} {report.by_lang[lang]}", file=out)


def _print_redaction(split: str, report: RedactionReport, out: Any) -> None:
    print(f"redaction, {split} split: item recall {report.recall}   words kept {report.kept}", file=out)
    for kind in sorted(report.by_kind):
        print(f"  {kind:24} {report.by_kind[kind]}", file=out)
    for lang in sorted(report.kept_by_lang):
        print(f"  kept, lang {lang:13} {report.kept_by_lang[lang]}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("triage", "redaction"))
    parser.add_argument(
        "--misses", choices=("dev", "train"), help="also list what the dev split (or training set) gets wrong"
    )
    parser.add_argument("--split", choices=SPLITS, help="only this split (default: both)")
    parser.add_argument(
        "--set",
        choices=("eval", "train", "holdout"),
        default="eval",
        help="the eval set, the redaction training set, or the blind held-out sets (aggregate figures only)",
    )
    parser.add_argument(
        "--merge-train", action="store_true", help="redaction: rebuild the training set from its parts first"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.what == "triage":
        flag = default_triage_flag()
        print("(urgent kinds: share flagged = recall; other kinds: share flagged = false alarms)", file=out)
        if args.set == "holdout":
            # Aggregate figures only: never a list of misses (each file's header says why).
            for path in holdout_sets("triage"):
                _print_triage(path.stem, evaluate_triage(load(path), flag), out)
            return 0
        for split in (args.split,) if args.split else SPLITS:
            report = evaluate_triage(load(TRIAGE_SET, split), flag)
            _print_triage(split, report, out)
            if args.misses and split == "dev":
                for row in report.misses:
                    verdict = "missed" if row["urgent"] else "false alarm"
                    print(f"    {verdict:11} {row['id']} {row['kind']:22} {row['text']}", file=out)
    else:
        if args.merge_train:
            written, skipped = merge_train_parts()
            print(f"training set: {written} records merged, {skipped} left out", file=out)
        spans = default_redaction_spans()
        if args.set == "holdout":
            # Aggregate figures only: never a list of misses (the file's header says why).
            for path in holdout_sets("redaction"):
                _print_redaction(path.stem, evaluate_redaction(load(path), spans), out)
            return 0
        if args.set == "train":
            report = evaluate_redaction(load(REDACTION_TRAIN_SET), spans)
            _print_redaction("train", report, out)
            if args.misses == "train":
                _print_misses(report, out)
            return 0
        for split in (args.split,) if args.split else SPLITS:
            report = evaluate_redaction(load(REDACTION_SET, split), spans)
            _print_redaction(split, report, out)
            if args.misses == "dev" and split == "dev":
                _print_misses(report, out)
    return 0


def _print_misses(report: RedactionReport, out: Any) -> None:
    for row, item in report.leaks:
        print(f"    leak {row['id']} {item['kind']:13} {item['text']!r:24} {row['text']}", file=out)
    for row, word in report.lost:
        print(f"    lost {row['id']} {word!r:15} {row['text']}", file=out)


if __name__ == "__main__":
    sys.exit(main())
