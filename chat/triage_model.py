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
    # word -> the names of its word and character-gram features that have weights (most have none).
    _word_names: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def score(self, names: Iterable[str]) -> tuple[float, str]:
        weights = self.weights
        rows = [row for row in map(weights.get, names) if row is not None]
        if rows:
            # Left to right from the bias, as a loop over the rows would add them.
            totals = [sum(column, start) for start, column in zip(self.bias, zip(*rows, strict=True), strict=True)]
        else:
            totals = list(self.bias)
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        p_none = exps[0] / sum(exps)
        best = max(range(1, len(totals)), key=totals.__getitem__)
        return 1.0 - p_none, self.classes[best]

    def score_text(self, text: str, found: Iterable[str] = ()) -> tuple[float, str]:
        """``score(features(text, found))``, without building the features that have no weight.

        A word's own features (its ``w=`` and ``c=`` names) depend on the word alone, so the ones
        the model knows are kept per word; the set still counts a feature once per message.
        """
        weights, cache = self.weights, self._word_names
        names = {name for name in (f"k={f}" for f in found) if name in weights}
        previous = ""
        for word in text.split():
            if word == BARRIER:
                previous = ""
                continue
            known = cache.get(word)
            if known is None:
                known = tuple(name for name in features(word) if name in weights)
                if len(cache) < WORD_CACHE_SIZE:
                    cache[word] = known
            names.update(known)
            if previous:
                pair = f"b={previous} {word}"
                if pair in weights:
                    names.add(pair)
            previous = word
        return self.score(names)


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
