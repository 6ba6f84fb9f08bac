"""Triage: read a visitor's words and flag the chats where someone is in acute danger.

Pure core. What it looks for is data a helpline edits itself, in
``chat/data/triage/`` (a deployment may point ``CHAT_TRIAGE_DIR`` at its own
folder): one term list per language (``nl.txt``, ``en.txt``), the rules that
combine concepts (``rules.cfg``) and, optionally, the weights of a small linear
model (``model.tsv``, see ``chat.triage_model``). ``Triage.load`` compiles them
once; ``Triage.check`` runs on every message while a visitor waits.

Every language's lists run on every message, whatever language the visitor
picked: people mix languages ("ik denk aan suicide", "he's at the door").

Term list format (see the shipped files for a full example)::

    # a comment; everything after '#' on a line is ignored
    [suicide_selfharm]            # a category: urgent unless marked otherwise
    zelfmoord*                    # '*' at the end of a word: any ending (zelfmoordgedachten)
    ik wil dood                   # a phrase: whole words, in this order
    hij staat ... voor de deur    # '...': up to three other words in between
    [sexual_exploitation] not urgent   # reported in categories, but does not make a chat urgent
    [time_now] concept            # a concept: never reported itself, combined by rules.cfg
    vanavond
    [spelling]                    # one word the visitor may write = what it stands for
    vd = voor de
    💊 = pil                      # a symbol (emoji) = the word it stands for
    [exclude]                     # idioms removed from the text before any term is looked for
    dood van het lachen
    [negation]                    # a term with one of these up to 3 words before it, in the
    niet                          #   same clause, does not count ("ik denk niet aan zelfmoord")
    [negation_stop]               # ...unless one of these stands between ("als ik niet kom dan")
    dan

Rules format (``rules.cfg``, one rule a line)::

    suicide_selfharm = self_means + time_soon     # all of these found: report the category
    missing_child = gone + !safe                  # '!': and this one not found
    quiet = past + recovered + !time_now          # when a quiet rule holds, drop what is urgent
    evidence = hurt                               # the model is asked only when an evidence rule holds

Normalisation (``chat.triage_text``), applied alike to the lists and to the
text, so a list is written in plain spelling: the message cut into clauses,
Unicode NFKD with accents dropped (suïcide = suicide), case folded, apostrophes
dropped (he's -> hes), every other non-letter a word break (self-harm = self
harm), a letter repeated any number of times counted once (dooood = dood), a
word not in the lists' vocabulary mapped to one it is a typo of (pilen =
pillen, z3lfm00rd = zelfmoord), then the ``[spelling]`` words replaced. Terms
match at word boundaries only, so ``dood`` never matches ``doodmoe``.

A message is urgent when a term of an urgent category or a rule fires (and no
quiet rule holds), or when the model's score passes its threshold (a higher one,
``QUIET_MODEL_THRESHOLD``, where a quiet rule holds); then the categories name
the reason, or the model's likeliest kind if only it fired.

A false urgent flag costs a little queue order; a missed one can cost a life.
The lists lean towards flagging, and the ``[exclude]`` idioms keep the
everyday hyperbole ("ik ga dood van het lachen") out.

Never log or store what matched: ``TriageResult`` carries category ids only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat.triage_model import LinearModel, features, parse_model
from chat.triage_text import Speller, base_normalise, clauses, replace_symbols

DEFAULT_DIR = Path(__file__).parent / "data" / "triage"
RULES_FILE = "rules.cfg"
MODEL_FILE = "model.tsv"
WORDS_FILE = "words.lst"
GAP_TOKEN = "..."
# How many words '...' may stand for: enough for "hij staat nu al voor de deur",
# few enough that a phrase does not span two unrelated sentences.
GAP_MAX_WORDS = 3
# How many words before a term a negation reaches: "ik denk NIET aan zelfmoord".
NEGATION_REACH = 3
# A '*' needs a real stem before it; "ik*" would match half the language.
MIN_WILDCARD_STEM = 3
EXCLUDE = "exclude"
SPELLING = "spelling"
NEGATION = "negation"
NEGATION_STOP = "negation_stop"
QUIET = "quiet"
# The model is asked only when an "evidence" rule holds or the message is long
# enough to say something: a short one with nothing the lists know of ("ze
# volgt me op insta") scores near the share of urgent messages in its training
# corpus (about half), not near zero.
EVIDENCE = "evidence"
MODEL_MIN_WORDS = 7
# Where a quiet rule holds (the past, a film, all is well) the model flags only with this score or more:
# such a message shares most of its words with the danger it tells of, and the model alone read a third
# of the past and media near-misses written in round 5 as urgent (scripts/train_triage uses the same bar).
QUIET_MODEL_THRESHOLD = 0.8
# How many typed tokens normalised() keeps; emptied when full, so a flood of new words costs
# memory no further and the words of the chats that follow are kept again.
TOKEN_CACHE_SIZE = 50_000
_RESERVED = {EXCLUDE, SPELLING, NEGATION, NEGATION_STOP, QUIET, EVIDENCE}
_OPTIONS = ("", "urgent", "not urgent", "concept")

_CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]+)*$")
_HEADER_RE = re.compile(r"^\[\s*([^\]]*?)\s*\]\s*(.*)$")
# The barrier between clauses and in place of an excluded idiom: not a word
# character, and not a space, so no phrase and no '...' gap can reach across it.
_BARRIER = " | "


@dataclass(frozen=True)
class TriageResult:
    """What a check found: category ids only, never the matched text."""

    urgent: bool
    categories: tuple[str, ...] = ()


NOT_URGENT = TriageResult(urgent=False, categories=())


def _apply_spelling(base: str, spelling: Mapping[str, str]) -> str:
    words = base.split()
    if spelling:
        words = [spelling.get(word, word) for word in words]
    return " ".join(words)


def normalise(text: str, spelling: Mapping[str, str] | None = None) -> str:
    """Normalise one clause as check() sees it (without the typo pass); for tests and for people editing lists."""
    return _apply_spelling(base_normalise(text), spelling or {})


# --- parsing the lists -------------------------------------------------------------------------------------


@dataclass
class TermList:
    """One language's file, parsed but not yet compiled."""

    language: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    urgent: dict[str, bool] = field(default_factory=dict)
    concepts: set[str] = field(default_factory=set)
    exclude: list[str] = field(default_factory=list)
    spelling: dict[str, str] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)
    negation: set[str] = field(default_factory=set)
    negation_stop: set[str] = field(default_factory=set)


def parse_terms(text: str, language: str, source: str = "<text>") -> TermList:
    """Parse one language's term list; raise ValueError naming the source and line."""
    terms = TermList(language=language)
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        header = _HEADER_RE.match(line)
        if header is not None:
            name, option = header.group(1).lower(), " ".join(header.group(2).lower().split())
            if not _CATEGORY_RE.match(name):
                raise ValueError(f"{where}: bad section name [{header.group(1)}]: use lower case a-z, 0-9 and _")
            if option not in _OPTIONS:
                raise ValueError(f"{where}: after [{name}] only 'urgent' or 'not urgent' may follow (or 'concept')")
            if name in _RESERVED:
                if option:
                    raise ValueError(f"{where}: [{name}] takes no 'urgent' option")
            elif option == "concept" or name in terms.concepts:
                if option != "concept" or name in terms.urgent:
                    raise ValueError(f"{where}: [{name}] is both a concept and a category")
                terms.concepts.add(name)
                terms.categories.setdefault(name, [])
            else:
                urgent = option != "not urgent"
                if terms.urgent.setdefault(name, urgent) != urgent:
                    raise ValueError(f"{where}: [{name}] is marked both urgent and not urgent")
                terms.categories.setdefault(name, [])
            section = name
            continue
        if line.startswith("["):
            raise ValueError(f"{where}: a section header looks like [category], got {line!r}")
        if section is None:
            raise ValueError(f"{where}: {line!r} comes before any [category] header")
        if section == SPELLING:
            _parse_spelling(line, where, terms)
        elif section in (NEGATION, NEGATION_STOP):
            words = base_normalise(line).split()
            if len(words) != 1:
                raise ValueError(f"{where}: [{section}] takes one word a line, got {line!r}")
            (terms.negation if section == NEGATION else terms.negation_stop).add(words[0])
        elif section == EXCLUDE:
            _term_tokens(line, where, {})  # check it now, compile it later
            terms.exclude.append(line)
        elif section == QUIET:
            raise ValueError(f"{where}: [{QUIET}] is a rule name for {RULES_FILE}, not a section")
        else:
            _term_tokens(line, where, {})
            terms.categories[section].append(line)
    for name, lines in terms.categories.items():
        if not lines:
            raise ValueError(f"{source}: [{name}] has no terms")
    return terms


def _parse_spelling(line: str, where: str, terms: TermList) -> None:
    if line.count("=") != 1:
        raise ValueError(f"{where}: a spelling line looks like 'vd = voor de', got {line!r}")
    left, right = (part.strip() for part in line.split("="))
    written = base_normalise(left).split()
    meant = base_normalise(right).split()
    if not written and len(left) == 1 and meant:
        # A symbol: replaced by its words in the raw text, before anything else.
        terms.symbols[left] = " ".join(meant)
        return
    if len(written) != 1 or not meant:
        raise ValueError(f"{where}: a spelling line maps one written word to one or more words, got {line!r}")
    if terms.spelling.get(written[0], " ".join(meant)) != " ".join(meant):
        raise ValueError(f"{where}: {left!r} is given two meanings")
    terms.spelling[written[0]] = " ".join(meant)


def _term_tokens(line: str, where: str, spelling: Mapping[str, str]) -> list[str]:
    """A term as normalised tokens; a token ending in '*' is a stem, GAP_TOKEN a gap."""
    tokens: list[str] = []
    for raw in line.split():
        if raw == GAP_TOKEN:
            if not tokens or tokens[-1] == GAP_TOKEN:
                raise ValueError(f"{where}: '...' must stand between two words in {line!r}")
            tokens.append(GAP_TOKEN)
            continue
        wildcard = raw.endswith("*")
        body = raw[:-1] if wildcard else raw
        if "*" in body:
            raise ValueError(f"{where}: '*' may only end a word, in {line!r}")
        words = base_normalise(body).split()
        if not words:
            raise ValueError(f"{where}: {raw!r} has no letters or digits, in {line!r}")
        if not wildcard:
            words = " ".join(spelling.get(word, word) for word in words).split()
        elif len(words[-1]) < MIN_WILDCARD_STEM:
            raise ValueError(f"{where}: '*' needs at least {MIN_WILDCARD_STEM} letters before it, in {line!r}")
        tokens.extend(words)
        if wildcard:
            tokens[-1] += "*"
    if not tokens:
        raise ValueError(f"{where}: empty term")
    if tokens[-1] == GAP_TOKEN:
        raise ValueError(f"{where}: '...' must stand between two words in {line!r}")
    return tokens


@dataclass(frozen=True)
class Rule:
    """``target = a + b + !c``: the target holds when a and b were found and c was not."""

    target: str
    required: frozenset[str]
    absent: frozenset[str]


def parse_rules(text: str, source: str = f"<{RULES_FILE}>") -> list[Rule]:
    """Parse the rules file; names are checked against the lists when a Triage is built."""
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.count("=") != 1:
            raise ValueError(f"{where}: a rule looks like 'category = concept + concept + !concept', got {line!r}")
        left, right = (part.strip() for part in line.split("="))
        parts = [part.strip() for part in right.split("+")]
        names = [part.lstrip("!").strip() for part in parts]
        if not _CATEGORY_RE.match(left) or not all(_CATEGORY_RE.match(name) for name in names):
            raise ValueError(f"{where}: names in a rule use lower case a-z, 0-9 and _, got {line!r}")
        required = frozenset(n for p, n in zip(parts, names, strict=True) if not p.startswith("!"))
        absent = frozenset(n for p, n in zip(parts, names, strict=True) if p.startswith("!"))
        if not required:
            raise ValueError(f"{where}: a rule needs at least one name without '!', got {line!r}")
        rules.append(Rule(target=left, required=required, absent=absent))
    return rules


def parse_words(text: str) -> list[str]:
    """The known-words file: words separated by white space; '#' starts a comment."""
    return [word for line in text.splitlines() for word in base_normalise(line.split("#", 1)[0]).split()]


_WILDCARD_ATOM = r"\w*"
_GAP_ATOM = rf"(?:\w+ ){{0,{GAP_MAX_WORDS}}}"


def _term_atoms(tokens: list[str]) -> tuple[str, ...]:
    """A term as regex atoms (one escaped character, a space, a wildcard or a gap), for the trie."""
    atoms: list[str] = []
    for index, token in enumerate(tokens):
        if token == GAP_TOKEN:
            continue
        if index > 0:
            # Words after normalisation are separated by exactly one space.
            atoms.append(" ")
            if tokens[index - 1] == GAP_TOKEN:
                atoms.append(_GAP_ATOM)
        stem = token[:-1] if token.endswith("*") else token
        atoms.extend(re.escape(char) for char in stem)
        if token.endswith("*"):
            atoms.append(_WILDCARD_ATOM)
    return tuple(atoms)


def _trie_pattern(node: dict[str, dict[str, Any]]) -> str:
    end = "" in node
    branches = [atom + _trie_pattern(child) for atom, child in sorted(node.items()) if atom]
    if not branches:
        return ""
    if len(branches) == 1 and not end:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if end else "")


def _trie(terms: Iterable[tuple[str, ...]]) -> str:
    r"""One regex body for many terms, shaped as a trie.

    Python's regex engine tries the branches of an alternation one by one at
    every position; sharing prefixes means it tries a handful instead of every
    term. The ``(?!\w)`` that follows makes an optional ending backtrack to a
    whole word.
    """
    trie: dict[str, dict[str, Any]] = {}
    for atoms in terms:
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[""] = {}
    return _trie_pattern(trie)


def _whole_words(body: str) -> str:
    return r"(?<!\w)" + body + r"(?!\w)"


# --- the matcher -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Negation:
    words: frozenset[str]
    stops: frozenset[str]

    def before(self, text: str, start: int) -> bool:
        """Whether a negation stands in the few words before ``start``, in the same clause."""
        if not self.words:
            return False
        window = text[max(0, start - 80) : start].rsplit("|", 1)[-1].split()
        for word in reversed(window[-NEGATION_REACH:]):
            if word in self.stops:
                return False
            if word in self.words:
                return True
        return False


# What must follow a term's first word: None (anything: a one-word term, or a '...' gap next),
# or the words the next word may be, and the stems it may begin with.
_Follow = tuple[frozenset[str], tuple[str, ...]] | None
# How many words each language keeps the _Starts.at answer of; emptied when full.
START_CACHE_SIZE = 50_000


class _Starts:
    """Where a family of terms can start: their first two words (or stems, for ``stem*``).

    A term matches only where its first word stands whole (or, for ``stem*``,
    where a word begins with the stem), followed by its second word unless a
    '...' gap comes between, so the few words of a message that pass ``at`` and
    ``follows`` are the only places its patterns need trying: the same matches
    as trying every position, for a dictionary look-up per word.
    """

    def __init__(self, terms: Iterable[tuple[str, list[str]]]) -> None:
        """From (name, tokens) pairs, tokens as ``_term_tokens`` gives them."""
        follows: dict[tuple[str, str], tuple[bool, set[str], set[str]]] = {}
        for name, tokens in terms:
            anything, words, stems = follows.setdefault((tokens[0], name), (False, set(), set()))
            if len(tokens) == 1 or tokens[1] == GAP_TOKEN:
                anything = True
            elif tokens[1].endswith("*"):
                stems.add(tokens[1][:-1])
            else:
                words.add(tokens[1])
            follows[tokens[0], name] = (anything, words, stems)
        self._words: dict[str, list[tuple[str, _Follow]]] = {}
        self._stems: dict[str, list[tuple[str, str, _Follow]]] = {}
        for (first, name), (anything, words, stems) in sorted(follows.items()):
            follow: _Follow = None if anything else (frozenset(words), tuple(sorted(stems)))
            if first.endswith("*"):
                stem = first[:-1]
                self._stems.setdefault(stem[:MIN_WILDCARD_STEM], []).append((stem, name, follow))
            else:
                self._words.setdefault(first, []).append((name, follow))
        self._cache: dict[str, tuple[tuple[str, _Follow], ...]] = {}
        # at() without the call, for the loops over every word: None when not yet known.
        self.known = self._cache.get

    def at(self, word: str) -> tuple[tuple[str, _Follow], ...]:
        """The names of the terms that may start at ``word``, each with what must follow (empty for most words)."""
        known = self._cache.get(word)
        if known is not None:
            return known
        merged: dict[str, _Follow] = {}
        candidates = [(name, follow) for name, follow in self._words.get(word, ())]
        for stem, name, follow in self._stems.get(word[:MIN_WILDCARD_STEM], ()):
            if word.startswith(stem):
                candidates.append((name, follow))
        for name, follow in candidates:
            if name in merged:
                before = merged[name]
                if before is None or follow is None:
                    follow = None
                else:
                    follow = (before[0] | follow[0], tuple(sorted(set(before[1]) | set(follow[1]))))
            merged[name] = follow
        known = tuple(sorted(merged.items()))
        if len(self._cache) >= START_CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = known
        return known

    def any_in(self, text: str) -> bool:
        """Whether a term may start at some word of a normalised text."""
        at, known = self.at, self._cache.get
        pieces = text.split(" ")
        last = len(pieces) - 1
        for index, word in enumerate(pieces):
            starting = known(word)
            if starting is None:
                starting = at(word)
            for _, follow in starting:
                if follows(follow, pieces[index + 1] if index < last else ""):
                    return True
        return False


def follows(follow: _Follow, word: str) -> bool:
    """Whether ``word`` may come next after a term's first word (see _Follow)."""
    return follow is None or word in follow[0] or word.startswith(follow[1])


@dataclass(frozen=True)
class _Language:
    spelling: Mapping[str, str]
    exclude: re.Pattern[str] | None
    exclude_starts: _Starts
    # One pattern per category, tried only at the words where one of its terms may start.
    patterns: Mapping[str, re.Pattern[str]]
    starts: _Starts

    def without_idioms(self, text: str) -> str:
        """The text with this language's [exclude] idioms replaced by a barrier."""
        if self.exclude is not None and self.exclude_starts.any_in(text):
            return self.exclude.sub(_BARRIER, text)
        return text

    def found(self, base: str, negation: _Negation, into: set[str]) -> None:
        if not self.patterns:
            return
        # A normalised base has single spaces: where no word is spelt otherwise, it is its own spelling.
        spelling = self.spelling
        text = _apply_spelling(base, spelling) if not spelling.keys().isdisjoint(base.split(" ")) else base
        text = self.without_idioms(text)
        at, known, patterns = self.starts.at, self.starts.known, self.patterns
        # Normalised words are separated by single spaces (an idiom's barrier adds empty pieces,
        # which only move the position on); a term starts only at the start of a word.
        pieces = text.split(" ")
        last = len(pieces) - 1
        position = 0
        for index, word in enumerate(pieces):
            if word:
                starting = known(word)
                if starting is None:
                    starting = at(word)
                if starting:
                    after = pieces[index + 1] if index < last else ""
                    # Two categories may start at the same word, so try each one there.
                    negated: bool | None = None
                    for name, follow in starting:
                        if (
                            name not in into
                            and (follow is None or after in follow[0] or after.startswith(follow[1]))
                            and patterns[name].match(text, position) is not None
                        ):
                            if negated is None:
                                negated = negation.before(text, position)
                            if not negated:
                                into.add(name)
            position += len(word) + 1


class Triage:
    """Compiled term lists, rules and model; ``check`` one message at a time."""

    def __init__(
        self,
        lists: Iterable[TermList],
        rules: Iterable[Rule] = (),
        model: LinearModel | None = None,
        known_words: Iterable[str] = (),
    ) -> None:
        self._languages: dict[str, _Language] = {}
        urgency: dict[str, bool] = {}
        concepts: set[str] = set()
        symbols: dict[str, str] = {}
        negation: set[str] = set()
        stops: set[str] = set()
        vocabulary: set[str] = set()
        stems: set[str] = set()
        for terms in lists:
            if terms.language in self._languages:
                raise ValueError(f"language {terms.language!r} is given twice")
            for name, urgent in terms.urgent.items():
                if urgency.setdefault(name, urgent) != urgent:
                    raise ValueError(f"[{name}] is urgent in one language and not urgent in another")
            concepts |= terms.concepts
            symbols.update(terms.symbols)
            negation |= set(terms.negation)
            stops |= set(terms.negation_stop)
            self._languages[terms.language] = _compile_language(terms, vocabulary, stems)
        if not self._languages:
            raise ValueError("no term lists")
        if clash := concepts & set(urgency):
            raise ValueError(f"[{sorted(clash)[0]}] is a concept in one language and a category in another")
        self.urgent_categories: frozenset[str] = frozenset(name for name, urgent in urgency.items() if urgent)
        self.categories: frozenset[str] = frozenset(urgency)
        self.concepts: frozenset[str] = frozenset(concepts)
        self._rules = tuple(rules)
        self._rule_parts = tuple((rule.target, rule.required, rule.absent) for rule in self._rules)
        self._rule_names: frozenset[str] = frozenset().union(*(rule.required for rule in self._rules))
        known = self.categories | self.concepts
        for rule in self._rules:
            if rule.target not in (QUIET, EVIDENCE) and rule.target not in self.categories:
                raise ValueError(f"rule for {rule.target!r}: not a category of the lists (nor {QUIET!r}, {EVIDENCE!r})")
            if unknown := (rule.required | rule.absent) - known:
                raise ValueError(f"rule for {rule.target!r}: {sorted(unknown)[0]!r} is no concept or category")
        self._symbols = symbols
        self._negation = _Negation(frozenset(negation), frozenset(stops))
        self._speller = Speller(vocabulary, stems, known_words, negation)
        # A token as typed (white space around it) -> its normalised, corrected words; see normalised().
        self._tokens: dict[str, str] = {}
        self.model = model
        if model is not None and (wrong := set(model.classes[1:]) - self.urgent_categories):
            raise ValueError(f"the model predicts {sorted(wrong)[0]!r}, which is no urgent category of the lists")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._languages))

    @classmethod
    def load(cls, directory: Path | None = None, *, with_model: bool = True) -> Triage:
        """Load every ``<language>.txt``, and ``rules.cfg`` and ``model.tsv`` if there, from ``directory``."""
        folder = directory if directory is not None else DEFAULT_DIR
        if not folder.is_dir():
            raise ValueError(f"triage term folder {folder} does not exist")
        lists = []
        for path in sorted(folder.glob("*.txt")):
            language = path.stem.lower()
            if not _LANGUAGE_RE.match(language):
                raise ValueError(f"{path}: name a term list after its language, like nl.txt or en.txt")
            lists.append(parse_terms(path.read_text(encoding="utf-8"), language, str(path)))
        if not lists:
            raise ValueError(f"no term lists (*.txt) in {folder}")
        rules_path, model_path, words_path = folder / RULES_FILE, folder / MODEL_FILE, folder / WORDS_FILE
        rules = parse_rules(rules_path.read_text(encoding="utf-8"), str(rules_path)) if rules_path.is_file() else []
        model = None
        if with_model and model_path.is_file():
            model = parse_model(model_path.read_text(encoding="utf-8"), str(model_path))
        words = parse_words(words_path.read_text(encoding="utf-8")) if words_path.is_file() else []
        return cls(lists, rules, model, words)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str], rules: str = "", model: str | None = None, words: str = "") -> Triage:
        """Build from ``{language: file text}``, rules, model and word-list text; for tests and lists kept elsewhere."""
        return cls(
            (parse_terms(text, language, f"<{language}>") for language, text in texts.items()),
            parse_rules(rules),
            parse_model(model) if model is not None else None,
            parse_words(words),
        )

    def normalised(self, text: str) -> str:
        """The message as the lists see it before spelling: clauses joined by ' | ', typos mapped."""
        text = replace_symbols(text, self._symbols)
        known = self._tokens
        pieces = []
        for clause in clauses(text):
            # Normalisation never joins or splits across white space, so each white-space
            # separated piece of a clause is normalised and corrected on its own, once.
            words = []
            for token in clause.split():
                word = known.get(token)
                if word is None:
                    word = self._token(token)
                if word:
                    words.append(word)
            if words:
                pieces.append(" ".join(words))
        return _BARRIER.join(pieces)

    def _token(self, token: str) -> str:
        correct = self._speller.correct
        word = " ".join(correct(part) for part in base_normalise(token).split())
        if len(self._tokens) >= TOKEN_CACHE_SIZE:
            self._tokens.clear()
        self._tokens[token] = word
        return word

    def found(self, text: str) -> set[str]:
        """The concepts and categories the lists and rules find, before quiet rules; for tests and tools."""
        return self._found(self.normalised(text))

    def _found(self, base: str) -> set[str]:
        found: set[str] = set()
        for compiled in self._languages.values():
            compiled.found(base, self._negation, found)
        # Rules may build on each other's targets: apply them, in file order, until nothing changes.
        # None can hold while nothing a rule requires was found.
        changed = not self._rule_names.isdisjoint(found)
        while changed:
            changed = False
            for target, required, absent in self._rule_parts:
                if target not in found and required <= found and found.isdisjoint(absent):
                    found.add(target)
                    changed = True
        return found

    def model_features(self, base: str, found: set[str]) -> set[str]:
        """What the model reads: the normalised text without the excluded idioms, and what the lists found."""
        return features(self._model_text(base), found)

    def _model_text(self, base: str) -> str:
        for compiled in self._languages.values():
            base = compiled.without_idioms(base)
        return base

    def check(self, text: str, language: str | None = None) -> TriageResult:
        """Scan one message with every language's lists; ``language`` is the visitor's choice, kept for callers.

        Every list runs whatever the visitor picked: visitors mix languages
        ("ik denk aan suicide", "he's at the door" in a Dutch chat).
        """
        base = self.normalised(text)
        found = self._found(base)
        quiet = QUIET in found
        reported = {name for name in found if name in self.categories}
        if quiet:
            reported -= self.urgent_categories
        urgent = not reported.isdisjoint(self.urgent_categories)
        if not urgent and self.model is not None and model_asked(base, found):
            score, kind = self.model.score_text(self._model_text(base), found)
            if score >= model_threshold(self.model, quiet):
                urgent = True
                reported.add(kind)
        if not reported:
            return NOT_URGENT
        return TriageResult(urgent=urgent, categories=tuple(sorted(reported)))


def model_threshold(model: LinearModel, quiet: bool) -> float:
    """The score at which the model flags a message: higher where a quiet rule holds (see QUIET_MODEL_THRESHOLD)."""
    return max(model.threshold, QUIET_MODEL_THRESHOLD) if quiet else model.threshold


def model_asked(base: str, found: set[str]) -> bool:
    """Whether the model has its say on a normalised message (see MODEL_MIN_WORDS)."""
    return EVIDENCE in found or len(base.split()) - base.count("|") >= MODEL_MIN_WORDS


def _compile_language(terms: TermList, vocabulary: set[str], stems: set[str]) -> _Language:
    """Compile one language's lists, adding its words to the typo vocabulary and its wildcard stems to stems."""
    where = f"<{terms.language}>"
    for written, meant in terms.spelling.items():
        vocabulary.add(written)
        vocabulary.update(meant.split())
    vocabulary |= terms.negation | terms.negation_stop

    def body(lines: list[str], name: str, starts: list[tuple[str, list[str]]]) -> str:
        atoms = []
        for line in lines:
            tokens = _term_tokens(line, where, terms.spelling)
            for token in tokens:
                if token.endswith("*"):
                    stems.add(token[:-1])
                elif token != GAP_TOKEN:
                    vocabulary.add(token)
            atoms.append(_term_atoms(tokens))
            starts.append((name, tokens))
        return _trie(atoms)

    exclude_starts: list[tuple[str, list[str]]] = []
    exclude = re.compile(_whole_words(body(terms.exclude, EXCLUDE, exclude_starts))) if terms.exclude else None
    starts: list[tuple[str, list[str]]] = []
    patterns = {
        name: re.compile(_whole_words(body(lines, name, starts))) for name, lines in terms.categories.items() if lines
    }
    return _Language(
        spelling=dict(terms.spelling),
        exclude=exclude,
        exclude_starts=_Starts(exclude_starts),
        patterns=patterns,
        starts=_Starts(starts),
    )
