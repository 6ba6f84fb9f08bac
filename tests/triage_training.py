"""Fit the triage model offline and write chat/data/triage/model.tsv (a developer tool, not run by the server).

Data: the ``dev`` split of the evaluation set and the training corpus in
``chat/data/triage/train_parts/*.jsonl``. Never the ``test`` split.

The model is a softmax regression (none + one class per urgent kind) on the
features of ``chat.triage_model.features``, with L2 regularisation, fitted with
numpy by full-batch Adam. Its threshold is chosen by k-fold cross-validation
on dev + training: each message is scored by a model that never saw it, the
rules' own flags are added, and the threshold is the highest one whose
combined recall reaches the target at the false-alarm rate allowed (or the one
that gets closest). The cross-validated figures on dev are printed, so the
dev figure stays honest.

Run: ``scripts/train_triage`` (``--folds``, ``--l2``, ``--max-false-alarms``;
``--dry-run`` prints the figures without writing the model).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any

import numpy as np

from chat.triage import DEFAULT_DIR, MODEL_FILE, QUIET, QUIET_MODEL_THRESHOLD, Triage, model_asked
from chat.triage_model import NONE_CLASS, LinearModel, dump_model
from tests.quality import TRIAGE_SET, load

TRAIN_PARTS = DEFAULT_DIR / "train_parts"
MIN_DOC_FREQ = 2
STEPS = 300


def corpus() -> list[dict[str, Any]]:
    rows = [dict(row, origin="dev") for row in load(TRIAGE_SET, "dev")]
    for path in sorted(TRAIN_PARTS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(dict(json.loads(line), origin="train"))
    return rows


def _fit(x: np.ndarray, y: np.ndarray, classes: int, l2: float) -> tuple[np.ndarray, np.ndarray]:
    n, d = x.shape
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0

    w = np.zeros((d, classes))
    b = np.zeros(classes)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for step in range(1, STEPS + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad_z = (p - onehot) / n
        grad_w = x.T @ grad_z + l2 * w
        grad_b = grad_z.sum(axis=0)
        m_w = beta1 * m_w + (1 - beta1) * grad_w
        v_w = beta2 * v_w + (1 - beta2) * grad_w * grad_w
        m_b = beta1 * m_b + (1 - beta1) * grad_b
        v_b = beta2 * v_b + (1 - beta2) * grad_b * grad_b
        correction = np.sqrt(1 - beta2**step) / (1 - beta1**step)
        w -= rate * correction * m_w / (np.sqrt(v_w) + 1e-8)
        b -= rate * correction * m_b / (np.sqrt(v_b) + 1e-8)
    return w, b


def _matrix(feats: list[set[str]], vocab: dict[str, int]) -> np.ndarray:
    x = np.zeros((len(feats), len(vocab)), dtype=np.float64)
    for i, names in enumerate(feats):
        for name in names:
            j = vocab.get(name)
            if j is not None:
                x[i, j] = 1.0
    return x


def _vocab(feats: list[set[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for names in feats:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    kept = sorted(name for name, count in counts.items() if count >= MIN_DOC_FREQ)
    return {name: i for i, name in enumerate(kept)}


def train(feats: list[set[str]], labels: list[int], classes: int, l2: float) -> tuple[dict[str, int], Any, Any]:
    vocab = _vocab(feats)
    w, b = _fit(_matrix(feats, vocab), np.array(labels), classes, l2)
    return vocab, w, b


def _urgent_score(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ w + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return np.asarray(1.0 - p[:, 0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/train_triage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--max-false-alarms", type=float, default=0.08)
    parser.add_argument("--min-recall", type=float, default=0.97)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    # The lists and rules without the model: the model is fitted on top of them.
    rules_only = Triage.load(with_model=False)
    rows = corpus()
    kinds = sorted({row["kind"] for row in rows if row["urgent"]})
    classes = [NONE_CLASS, *kinds]
    labels = [classes.index(row["kind"]) if row["urgent"] else 0 for row in rows]
    feats = []
    rule_flags = []
    evidence = []
    quiet_rule = []
    for row in rows:
        base = rules_only.normalised(row["text"])
        found = rules_only.found(row["text"])
        feats.append(rules_only.model_features(base, found))
        evidence.append(model_asked(base, found))
        quiet_rule.append(QUIET in found)
        rule_flags.append(rules_only.check(row["text"]).urgent)

    # Out-of-fold scores: folds by a seeded shuffle, stratified by label.
    order = list(range(len(rows)))
    random.Random(14).shuffle(order)
    order.sort(key=lambda i: labels[i])
    fold_of = {i: position % args.folds for position, i in enumerate(order)}
    oof = np.zeros(len(rows))
    for fold in range(args.folds):
        train_ix = [i for i in range(len(rows)) if fold_of[i] != fold]
        test_ix = [i for i in range(len(rows)) if fold_of[i] == fold]
        vocab, w, b = train([feats[i] for i in train_ix], [labels[i] for i in train_ix], len(classes), args.l2)
        oof[test_ix] = _urgent_score(_matrix([feats[i] for i in test_ix], vocab), w, b)

    urgent = np.array([row["urgent"] for row in rows])
    flags = np.array(rule_flags)
    asked = np.array(evidence)
    quiet = np.array(quiet_rule)
    dev = np.array([row["origin"] == "dev" for row in rows])

    def bar(threshold: float) -> np.ndarray:
        # As Triage.check: where a quiet rule holds the model needs QUIET_MODEL_THRESHOLD.
        return np.where(quiet, max(threshold, QUIET_MODEL_THRESHOLD), threshold)

    def figures(threshold: float, mask: np.ndarray) -> tuple[float, float]:
        flagged = flags | (asked & (oof >= bar(threshold)))
        recall = flagged[mask & urgent].mean()
        false_alarms = flagged[mask & ~urgent].mean()
        return float(recall), float(false_alarms)

    candidates = [t / 100 for t in range(5, 96)]
    good = [t for t in candidates if figures(t, np.ones(len(rows), bool))[1] <= args.max_false_alarms]
    threshold = min(good) if good else 0.95
    print(f"rules alone, dev: recall {flags[dev & urgent].mean():.3f}  false alarms {flags[dev & ~urgent].mean():.3f}")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, threshold):
        r_all, f_all = figures(t, np.ones(len(rows), bool))
        r_dev, f_dev = figures(t, dev)
        print(f"threshold {t:.2f}: cv all recall {r_all:.3f} fa {f_all:.3f} | cv dev recall {r_dev:.3f} fa {f_dev:.3f}")
    print(f"chosen threshold {threshold:.2f} on {len(rows)} messages ({int(dev.sum())} dev)")

    # The strictest check: fitted on the training corpus alone, scored on all of dev.
    # (The cross-validated dev figure above can flatter: the training corpus holds
    # paraphrases of dev messages, which may land in another fold.)
    train_ix = [i for i in range(len(rows)) if not dev[i]]
    dev_ix = [i for i in range(len(rows)) if dev[i]]
    vocab, w, b = train([feats[i] for i in train_ix], [labels[i] for i in train_ix], len(classes), args.l2)
    held_out = _urgent_score(_matrix([feats[i] for i in dev_ix], vocab), w, b)
    flagged = flags[dev_ix] | (asked[dev_ix] & (held_out >= bar(threshold)[dev_ix]))
    print(
        f"fitted on training corpus only, on dev: recall {flagged[urgent[dev_ix]].mean():.3f}"
        f"  false alarms {flagged[~urgent[dev_ix]].mean():.3f}"
    )

    if args.dry_run:
        return 0
    vocab, w, b = train(feats, labels, len(classes), args.l2)
    names = sorted(vocab, key=vocab.__getitem__)
    weights = {
        name: tuple(round(float(v), 4) for v in w[vocab[name]])
        for name in names
        if np.abs(w[vocab[name]]).max() >= 0.0005
    }
    model = LinearModel(classes=tuple(classes), bias=tuple(float(v) for v in b), weights=weights, threshold=threshold)
    header = (
        "Triage model: softmax regression fitted by scripts/train_triage on the dev split and\n"
        f"chat/data/triage/train_parts ({len(rows)} messages); threshold by {args.folds}-fold cross-validation.\n"
        "Generated: do not edit by hand; retrain after editing the term lists' concepts."
    )
    path = DEFAULT_DIR / MODEL_FILE
    path.write_text(dump_model(model, header), encoding="utf-8")
    print(f"wrote {path} ({len(weights)} features)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
