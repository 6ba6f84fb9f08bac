"""Triage: spot risk terms in a visitor's words so that a counselor takes that chat first.

Pure core. The term lists are plain text files, one per language
(``chat/data/triage/nl.txt``, ``en.txt``), that a helpline edits itself; a
deployment may point ``CHAT_TRIAGE_DIR`` at its own folder. ``Triage.load``
compiles them to regular expressions once; ``Triage.check`` runs on every
message while a visitor waits, so it does nothing but normalise and search.

File format (see the shipped files for a full example)::

    # a comment; everything after '#' on a line is ignored
    [suicide_selfharm]            # a category: urgent unless marked otherwise
    zelfmoord*                    # '*' at the end of a word: any ending (zelfmoordgedachten)
    ik wil dood                   # a phrase: whole words, in this order
    hij staat ... voor de deur    # '...': up to three other words in between
    [sexual_exploitation] not urgent   # reported in categories, but does not make a chat urgent
    [spelling]                    # one word the visitor may write = what it stands for
    vd = voor de
    [exclude]                     # idioms removed from the text before any term is looked for
    dood van het lachen

Normalisation, applied alike to the lists and to the text, so a list is
written in plain spelling: Unicode NFKD with accents dropped (suïcide =
suicide), case folded, apostrophes dropped (he's -> hes, z'n -> zn), every
other non-letter a word break (self-harm = self harm, "deur!!" = deur), a
letter repeated any number of times counted once (dooood = dood, zelfmoordd =
zelfmoord; the rare clashes this makes, like Dutch boot/bot, cost at worst a
needless urgent flag), then the ``[spelling]`` words replaced. Terms match at
word boundaries only, so ``dood`` never matches ``doodmoe``.

A false urgent flag costs a little queue order; a missed one can cost a life.
The lists lean towards flagging, and the ``[exclude]`` idioms keep the
everyday hyperbole ("ik ga dood van het lachen") out.

Never log or store what matched: ``TriageResult`` carries category ids only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).parent / "data" / "triage"
GAP_TOKEN = "..."
# How many words '...' may stand for: enough for "hij staat nu al voor de deur",
# few enough that a phrase does not span two unrelated sentences.
GAP_MAX_WORDS = 3
# A '*' needs a real stem before it; "ik*" would match half the language.
MIN_WILDCARD_STEM = 3
EXCLUDE = "exclude"
SPELLING = "spelling"
_RESERVED = {EXCLUDE, SPELLING}

_CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]+)*$")
_HEADER_RE = re.compile(r"^\[\s*([^\]]*?)\s*\]\s*(.*)$")
_APOSTROPHES_RE = re.compile("['\u2018\u2019\u201b\u02bc\u0060\u00b4]")
# Everything that is not a letter or digit separates words (underscore included).
_NON_WORD_RE = re.compile(r"[\W_]+")
_REPEATED_LETTER_RE = re.compile(r"([^\W\d_])\1+")
_ASCII_REPEATED_RE = re.compile(r"([a-z])\1+")
_ASCII_TABLE = {code: (None if chr(code) in "'`" else " ") for code in range(128) if not chr(code).isalnum()}
# The barrier that replaces an excluded idiom: not a word character, and not a
# space, so no phrase and no '...' gap can reach across it.
_BARRIER = " | "


@dataclass(frozen=True)
class TriageResult:
    """What a check found: category ids only, never the matched text."""

    urgent: bool
    categories: tuple[str, ...] = ()


NOT_URGENT = TriageResult(urgent=False, categories=())


def _base_normalise(text: str) -> str:
    """Everything but the per-language spelling: accents, case, apostrophes, word breaks, repeats."""
    if text.isascii():
        # Most messages: a translate table and an ASCII-only pattern are several
        # times faster than the Unicode-aware regexes, with the same result.
        text = text.lower().translate(_ASCII_TABLE)
        return _ASCII_REPEATED_RE.sub(_first_letter, text)
    # Case-fold first: folding can itself produce a combining mark ("İ" -> "i" + dot above).
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES_RE.sub("", text)
    text = _NON_WORD_RE.sub(" ", text)
    return _REPEATED_LETTER_RE.sub(_first_letter, text)


def _first_letter(match: re.Match[str]) -> str:
    # A function replacement is faster than the template r"\1" in CPython's re.
    return match.group(1)


def _apply_spelling(base: str, spelling: Mapping[str, str]) -> str:
    words = base.split()
    if spelling:
        words = [spelling.get(word, word) for word in words]
    return " ".join(words)


def normalise(text: str, spelling: Mapping[str, str] | None = None) -> str:
    """Normalise text as check() sees it; for tests and for people editing lists."""
    return _apply_spelling(_base_normalise(text), spelling or {})


# --- parsing the lists -------------------------------------------------------------------------------------


@dataclass
class TermList:
    """One language's file, parsed but not yet compiled."""

    language: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    urgent: dict[str, bool] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    spelling: dict[str, str] = field(default_factory=dict)


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
            if option not in ("", "urgent", "not urgent"):
                raise ValueError(f"{where}: after [{name}] only 'urgent' or 'not urgent' may follow")
            if name in _RESERVED:
                if option:
                    raise ValueError(f"{where}: [{name}] takes no 'urgent' option")
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
            _parse_spelling(line, where, terms.spelling)
        elif section == EXCLUDE:
            _term_tokens(line, where, {})  # check it now, compile it later
            terms.exclude.append(line)
        else:
            _term_tokens(line, where, {})
            terms.categories[section].append(line)
    for name, lines in terms.categories.items():
        if not lines:
            raise ValueError(f"{source}: [{name}] has no terms")
    return terms


def _parse_spelling(line: str, where: str, spelling: dict[str, str]) -> None:
    if line.count("=") != 1:
        raise ValueError(f"{where}: a spelling line looks like 'vd = voor de', got {line!r}")
    left, right = (part.strip() for part in line.split("="))
    written = _base_normalise(left).split()
    meant = _base_normalise(right).split()
    if len(written) != 1 or not meant:
        raise ValueError(f"{where}: a spelling line maps one written word to one or more words, got {line!r}")
    if spelling.get(written[0], " ".join(meant)) != " ".join(meant):
        raise ValueError(f"{where}: {left!r} is given two meanings")
    spelling[written[0]] = " ".join(meant)


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
        words = _base_normalise(body).split()
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
class _Language:
    spelling: Mapping[str, str]
    exclude: re.Pattern[str] | None
    # One pattern per category, and one that finds where any of them starts:
    # a single pass over the text costs about what one category's pass does.
    categories: tuple[tuple[str, re.Pattern[str]], ...]
    any_start: re.Pattern[str] | None

    def found(self, base: str, into: set[str]) -> None:
        if self.any_start is None:
            return
        text = _apply_spelling(base, self.spelling)
        if self.exclude is not None:
            text = self.exclude.sub(_BARRIER, text)
        for hit in self.any_start.finditer(text):
            # Rare: only where some term starts. Two categories may start at the
            # same word, so try each one there rather than trust the first.
            for name, pattern in self.categories:
                if name not in into and pattern.match(text, hit.start()) is not None:
                    into.add(name)


class Triage:
    """Compiled term lists for every language; ``check`` one message at a time."""

    def __init__(self, lists: Iterable[TermList]) -> None:
        self._languages: dict[str, _Language] = {}
        self.urgent_categories: frozenset[str] = frozenset()
        urgency: dict[str, bool] = {}
        for terms in lists:
            if terms.language in self._languages:
                raise ValueError(f"language {terms.language!r} is given twice")
            for name, urgent in terms.urgent.items():
                if urgency.setdefault(name, urgent) != urgent:
                    raise ValueError(f"[{name}] is urgent in one language and not urgent in another")
            self._languages[terms.language] = _compile_language(terms)
        if not self._languages:
            raise ValueError("no term lists")
        self.urgent_categories = frozenset(name for name, urgent in urgency.items() if urgent)
        self.categories: frozenset[str] = frozenset(urgency)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._languages))

    @classmethod
    def load(cls, directory: Path | None = None) -> Triage:
        """Load every ``<language>.txt`` in ``directory`` (default: the shipped lists)."""
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
        return cls(lists)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> Triage:
        """Build from ``{language: file text}``; for tests and for lists kept elsewhere."""
        return cls(parse_terms(text, language, f"<{language}>") for language, text in texts.items())

    def check(self, text: str, language: str | None = None) -> TriageResult:
        """Scan one message. ``language`` None, or one without a list, uses every list.

        Checking every list is the safer default: visitors mix languages
        ("ik denk aan suicide", "he's at the door" in a Dutch chat).
        """
        languages: Iterable[_Language] = self._languages.values()
        if language is not None and language in self._languages:
            languages = (self._languages[language],)
        base = _base_normalise(text)
        found: set[str] = set()
        for compiled in languages:
            compiled.found(base, found)
        if not found:
            return NOT_URGENT
        return TriageResult(urgent=not found.isdisjoint(self.urgent_categories), categories=tuple(sorted(found)))


def _compile_language(terms: TermList) -> _Language:
    where = f"<{terms.language}>"

    def body(lines: list[str]) -> str:
        return _trie(_term_atoms(_term_tokens(line, where, terms.spelling)) for line in lines)

    exclude = re.compile(_whole_words(body(terms.exclude))) if terms.exclude else None
    bodies = [(name, body(lines)) for name, lines in terms.categories.items() if lines]
    categories = tuple((name, re.compile(_whole_words(text))) for name, text in bodies)
    # A zero-width lookahead, so finditer reports every start, even inside another match.
    any_start = re.compile(r"(?<!\w)(?=" + "|".join(text + r"(?!\w)" for _, text in bodies) + ")") if bodies else None
    return _Language(spelling=dict(terms.spelling), exclude=exclude, categories=categories, any_start=any_start)
