"""Text as triage reads it: clauses, accents, case, chat spelling, leetspeak and typos.

Pure core, used by ``chat.triage``. Everything here is linear in the length of
the message: no pattern can backtrack, and the typo pass does a fixed number of
dictionary look-ups per word.

The steps, in order:

1. ``clauses``: split the raw message where a clause ends (``. , ; : ! ? ( )``,
   line breaks, and the words "maar"/"but"), so that a phrase, a '...' gap or a
   negation never reaches from one clause into the next.
2. ``base_normalise``: Unicode NFKD with accents dropped, case folded,
   apostrophes dropped (he's -> hes), every other non-letter a word break, a
   letter repeated any number of times counted once (dooood = dood).
3. ``Speller``: a word that is not in the vocabulary of the term lists is
   replaced by a vocabulary word it could be a typo of: leetspeak digits
   (z3lfm00rd), one letter dropped or two swapped (pilen, slapn, stomch,
   daugthers), or two words run together (wildood).
   Short words are left alone: a typo pass on three letters finds nonsense;
   so are the real words of ``words.lst``, which the lists do not hold but a
   typo pass would otherwise read as one (iemand is not niemand).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_APOSTROPHES_RE = re.compile("['\u2018\u2019\u201b\u02bc\u0060\u00b4]")
# Everything that is not a letter or digit separates words (underscore included).
_NON_WORD_RE = re.compile(r"[\W_]+")
_REPEATED_LETTER_RE = re.compile(r"([^\W\d_])\1+")
_ASCII_REPEATED_RE = re.compile(r"([a-z])\1+")
_ASCII_TABLE = {code: (None if chr(code) in "'`" else " ") for code in range(128) if not chr(code).isalnum()}
# Where a clause ends. A single character class: no backtracking whatever the input.
_CLAUSE_RE = re.compile(r"[.,;:!?()\[\]\n\r\u2026\u2014]+|\s(?:maar|but)\s", re.IGNORECASE)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_CHARS = frozenset("013457@$")

# Typos are only looked for in words at least this long: below it, one edit
# turns almost any word into another real one.
MIN_TYPO_LENGTH = 5
# Two words run together are only split when the whole is at least this long.
MIN_SPLIT_LENGTH = 6
MIN_SPLIT_PART = 3
# Longer "words" (a key held down, base64) are left as they are: the typo pass
# is quadratic in the length of one word, and no real word is this long.
MAX_TYPO_LENGTH = 24


def first_letter(match: re.Match[str]) -> str:
    # A function replacement is faster than the template r"\1" in CPython's re.
    return match.group(1)


def base_normalise(text: str) -> str:
    """Accents, case, apostrophes, word breaks and repeated letters; see the module docstring."""
    if text.isascii():
        # Most messages: a translate table and an ASCII-only pattern are several
        # times faster than the Unicode-aware regexes, with the same result.
        text = text.lower().translate(_ASCII_TABLE)
        return _ASCII_REPEATED_RE.sub(first_letter, text)
    # Case-fold first: folding can itself produce a combining mark ("İ" -> "i" + dot above).
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES_RE.sub("", text)
    text = _NON_WORD_RE.sub(" ", text)
    return _REPEATED_LETTER_RE.sub(first_letter, text)


def clauses(text: str) -> list[str]:
    """The raw message cut where a clause ends; empty pieces dropped."""
    return [piece for piece in _CLAUSE_RE.split(text) if piece.strip()]


def replace_symbols(text: str, symbols: Mapping[str, str]) -> str:
    """Emoji and other symbols that stand for a word (💊 = pil), as words, before anything else."""
    if not symbols or text.isascii():
        return text
    out: list[str] = []
    for char in text:
        word = symbols.get(char)
        out.append(f" {word} " if word is not None else char)
    return "".join(out)


def _deletes(word: str) -> set[str]:
    # Every way to drop one letter.
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Speller:
    """Map a word the visitor typed to the vocabulary word it most likely stands for.

    Only the two typos chat spelling is full of are undone: one letter dropped
    (pilen, vanavnd, outsid) and two neighbours swapped (daugther, statoin).
    A changed or an added letter is not: with a vocabulary of a few thousand
    list words, "older" would become "onder" and "jongens" "jongen". Where
    several vocabulary words fit, the longest shared prefix wins, then the
    alphabetically first, so the result never depends on dictionary order.
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        stems: Iterable[str] = (),
        known: Iterable[str] = (),
        protected: Iterable[str] = (),
    ) -> None:
        self.vocabulary: frozenset[str] = frozenset(vocabulary)
        # Real words that are not in the lists ("iemand", "moeten"): left alone,
        # or the pass would read them as the list word one letter away.
        self._known = frozenset(known) - self.vocabulary
        # Words a typo is never read as: a negation ("niemand") read into a
        # message would silence a real danger.
        protected_words = frozenset(protected)
        # Stems of wildcard terms (zelfmoord*): a word that starts with one is
        # already matched and must not be "corrected" or split.
        self._stems = tuple(sorted(set(stems)))
        # Every vocabulary word under each of its one-letter deletions: a typed
        # word found here is that word with one letter dropped.
        self._dropped: dict[str, set[str]] = {}
        for word in self.vocabulary:
            if len(word) > MIN_TYPO_LENGTH and word.isalpha() and word not in protected_words:
                for key in _deletes(word):
                    self._dropped.setdefault(key, set()).add(word)
        self._protected = protected_words
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """The word itself, or what it stands for (possibly several words)."""
        if word in self.vocabulary or word in self._known:
            return word
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        result = self._correct(word)
        if len(self._cache) < 50_000:
            self._cache[word] = result
        return result

    def _correct(self, word: str) -> str:
        # Leetspeak only inside a word (z3lfm00rd, k1ll): "5am", "ps5" and "14jarige" are not.
        if not _LEET_CHARS.isdisjoint(word) and word[0].isalpha() and word[-1].isalpha():
            leet = _ASCII_REPEATED_RE.sub(first_letter, word.translate(_LEET))
            if leet.isalpha() and len(leet) >= 3:
                return self.correct(leet) if leet != word else word
        if len(word) > MAX_TYPO_LENGTH or not word.isalpha() or self._has_stem(word):
            return word
        if len(word) >= MIN_TYPO_LENGTH:
            candidates = set(self._dropped.get(word, ()))
            for i in range(len(word) - 1):
                swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                if swapped in self.vocabulary and swapped not in self._protected:
                    candidates.add(swapped)
            # Typos seldom hit the first letter; "gister" is not "sister".
            candidates = {c for c in candidates if c[0] == word[0]}
            if candidates:
                return min(candidates, key=lambda c: (-_common_prefix(c, word), c))
        if len(word) >= MIN_SPLIT_LENGTH:
            split = self._split(word)
            if split is not None:
                return split
        return word

    def _has_stem(self, word: str) -> bool:
        return any(word.startswith(stem) for stem in self._stems if stem[0] == word[0])

    def _split(self, word: str) -> str | None:
        # Two vocabulary words run together ("wildood", "vordeur").
        for i in range(MIN_SPLIT_PART, len(word) - MIN_SPLIT_PART + 1):
            head, tail = word[:i], word[i:]
            if head in self.vocabulary and tail in self.vocabulary:
                return f"{head} {tail}"
        return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
