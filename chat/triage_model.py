"""A small linear model that scores a message for triage, read from a plain data file.

Pure core, pure Python: the weights are fitted offline (``scripts/train_triage``,
a developer tool that may use numpy and scipy) and written to
``chat/data/triage/model.tsv``; at run time scoring is a few hundred dictionary
look-ups and one softmax.

Features (``features``), all binary: the words of the normalised text
(``w=dood``), neighbouring word pairs within a clause (``b=wil dood``),
character 3- to 5-grams of each word with its edges marked (``c= doo``), and the
concepts and categories the term lists found (``k=time_now``), so the model
generalises over what the lists already group. Editing a concept list changes
those features: retrain the model after such an edit.

File format::

    # comments
    classes<TAB>none<TAB>suicide_selfharm<TAB>...   # 'none' first: not urgent
    threshold<TAB>0.35                             # urgent when 1 - p(none) >= this
    bias<TAB>0.1<TAB>-0.2<TAB>...
    w=dood<TAB>0.0<TAB>1.3<TAB>...                   # one line per feature
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NONE_CLASS = "none"
CHAR_NGRAMS = (3, 4, 5)
BARRIER = "|"


def features(text: str, found: Iterable[str] = ()) -> set[str]:
    """The feature names of a normalised text (clauses separated by ' | ') and the names the lists found."""
    out: set[str] = {f"k={name}" for name in found}
    previous = ""
    for word in text.split():
        if word == BARRIER:
            previous = ""
            continue
        out.add(f"w={word}")
        if previous:
            out.add(f"b={previous} {word}")
        previous = word
        padded = f" {word} "
        for n in CHAR_NGRAMS:
            for i in range(len(padded) - n + 1):
                out.add("c=" + padded[i : i + n])
    return out


# Words whose known features are kept per model (``LinearModel.score_text``); a chat's vocabulary is small.
WORD_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class LinearModel:
    """A softmax over ``classes`` (``none`` first); ``score`` gives p(urgent) and the likeliest urgent class."""

    classes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    threshold: float
    # Each weighted feature's number and its row, by number.
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _rows: list[tuple[float, ...]] = field(default_factory=list, compare=False, repr=False)
    # word -> the numbers of its word and character-gram features that have weights (most have none),
    # and the sum of their rows.
    _words: dict[str, tuple[frozenset[int], tuple[float, ...] | None]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for number, (name, row) in enumerate(self.weights.items()):
            self._index[name] = number
            self._rows.append(row)

    def score(self, names: Iterable[str]) -> tuple[float, str]:
        weights = self.weights
        rows = [row for row in map(weights.get, names) if row is not None]
        return self._result(self._totals(rows))

    def _totals(self, rows: list[tuple[float, ...]]) -> list[float]:
        if not rows:
            return list(self.bias)
        # Left to right from the bias, as a loop over the rows would add them.
        return [sum(column, start) for start, column in zip(self.bias, zip(*rows, strict=True), strict=True)]

    def _result(self, totals: list[float]) -> tuple[float, str]:
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        p_none = exps[0] / sum(exps)
        best = max(range(1, len(totals)), key=totals.__getitem__)
        return 1.0 - p_none, self.classes[best]

    def score_text(self, text: str, found: Iterable[str] = ()) -> tuple[float, str]:
        """``score(features(text, found))``, without building the features that have no weight.

        A word's own features (its ``w=`` and ``c=`` names) depend on the word alone, so the
        numbers of the ones the model knows, and the sum of their rows, are kept per word. Each
        feature still counts once per message: where a word shares a feature with an earlier word
        of the message (a character-gram like "en "), that row is taken off again. The sum is the
        same as ``score``'s up to rounding in the last digits (``score`` itself adds in the order
        of a set, which differs from one process to the next).
        """
        index, rows = self._index, self._rows
        added = [rows[i] for i in (index.get(f"k={name}") for name in found) if i is not None]
        pairs: set[int] = set()
        words: dict[str, None] = {}
        previous = ""
        for word in text.split():
            if word == BARRIER:
                previous = ""
                continue
            words[word] = None
            if previous:
                pair = index.get(f"b={previous} {word}")
                if pair is not None:
                    pairs.add(pair)
            previous = word
        added.extend(rows[i] for i in pairs)
        cache = self._words
        seen: set[int] = set()
        taken: list[tuple[float, ...]] = []
        for word in words:
            known = cache.get(word)
            if known is None:
                known = self._word_features(word)
                if len(cache) < WORD_CACHE_SIZE:
                    cache[word] = known
            numbers, summed = known
            if summed is not None:
                added.append(summed)
                shared = seen & numbers
                if shared:
                    taken.extend(rows[i] for i in shared)
                seen |= numbers
        totals = self._totals(added)
        if taken:
            totals = [total - sum(column) for total, column in zip(totals, zip(*taken, strict=True), strict=True)]
        return self._result(totals)

    def _word_features(self, word: str) -> tuple[frozenset[int], tuple[float, ...] | None]:
        index = self._index
        numbers = frozenset(i for i in map(index.get, features(word)) if i is not None)
        if not numbers:
            return numbers, None
        rows = [self._rows[i] for i in numbers]
        return numbers, tuple(sum(column) for column in zip(*rows, strict=True))


def parse_model(text: str, source: str = "<model>") -> LinearModel:
    """Read a model file; raise ValueError naming the source and line."""
    classes: tuple[str, ...] = ()
    bias: tuple[float, ...] = ()
    threshold: float | None = None
    weights: dict[str, tuple[float, ...]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        name, *values = raw.rstrip("\n").split("\t")
        where = f"{source}:{number}"
        if name == "classes":
            classes = tuple(values)
            if len(classes) < 2 or classes[0] != NONE_CLASS:
                raise ValueError(f"{where}: classes must start with {NONE_CLASS!r} and name at least one more")
            continue
        if not classes:
            raise ValueError(f"{where}: the 'classes' line must come first")
        try:
            numbers = tuple(float(value) for value in values)
        except ValueError:
            raise ValueError(f"{where}: not a number in {raw[:60]!r}") from None
        if name == "threshold":
            if len(numbers) != 1 or not 0.0 < numbers[0] < 1.0:
                raise ValueError(f"{where}: threshold takes one number between 0 and 1")
            threshold = numbers[0]
        elif len(numbers) != len(classes):
            raise ValueError(f"{where}: {len(classes)} weights expected, got {len(numbers)}")
        elif name == "bias":
            bias = numbers
        else:
            weights[name] = numbers
    if not bias or threshold is None:
        raise ValueError(f"{source}: a model needs 'classes', 'threshold' and 'bias' lines")
    return LinearModel(classes=classes, bias=bias, weights=weights, threshold=threshold)


def dump_model(model: LinearModel, header: str = "") -> str:
    """The file text of a model; ``header`` lines become comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append("\t".join(("classes", *model.classes)))
    lines.append(f"threshold\t{model.threshold:.4f}")
    lines.append("\t".join(("bias", *(f"{b:.4f}" for b in model.bias))))
    for name in sorted(model.weights):
        lines.append("\t".join((name, *(f"{w:.4f}" for w in model.weights[name]))))
    return "\n".join(lines) + "\n"
