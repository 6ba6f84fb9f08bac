"""deduce, the Dutch de-identification library, behind a small adapter.

deduce needs 1-2 minutes and about 1 GB to build its lookup structures (name,
street and place lists as tries). It can pickle them to a cache directory, after
which loading takes seconds. The adapter builds them at most once per process and
once per cache directory, writes the cache atomically (several archiver processes
may start together), and keeps `import deduce` out of `chat.redaction`'s import so
that the websocket server never pays for it.

deduce's annotations are turned into our `Item`s here, after trimming the ordinary
words it takes for names in chat language and English ("Hi Emma" -> "Emma").
"""

from __future__ import annotations

import gc
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from chat.redaction.rules import Item, sentence_start
from chat.redaction.words import COMMON, COUNTRIES, INTERFIXES, SENTENCE_INITIAL

logger = logging.getLogger(__name__)

_CACHE_FILE = Path("cache") / "lookup_structs.pickle"

# deduce's tags after its own post-processing, and our placeholder for each. Ages
# are left in the text: counselors need them, and alone they identify no one.
_TYPES = {
    "persoon": "NAAM",
    "patient": "NAAM",
    "locatie": "PLAATS",
    "ziekenhuis": "INSTELLING",
    "zorginstelling": "INSTELLING",
    "datum": "DATUM",
    "bsn": "BSN",
    "id": "NUMMER",
    "telefoonnummer": "TELEFOON",
    "emailadres": "EMAIL",
    "url": "URL",
}
_IGNORED_TAGS = frozenset({"leeftijd"})
# Processors we do not want: its redactor (we place our own placeholders), the
# patient-name matcher (needs metadata we do not have), ages, and the merging of
# adjacent annotations ("3581 KJ Utrecht" should stay a postcode and a place).
_DISABLED = frozenset({"redactor", "patient_name", "age", "merge_adjacent_annotations"})

_POSTCODE = re.compile(r"[1-9]\d{3}\s?[A-Za-z]{2}")
_STREET = re.compile(r"(?i)(?:straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|pad|hof|markt)$")
_TOKEN = re.compile(r"[\w'’-]+")

# deduce grows names one token per pass over all annotations, so a run of names costs
# it about cubic time: 2,400 characters of "Lisa Jansen Lisa Jansen ..." take 25 s,
# 4,800 take five minutes. Fed pieces of at most this many characters, cut at sentence
# ends where possible, the worst case is near 40 ms a piece, still 4 s for 20,000
# characters; a piece therefore also ends after a run of MAX_NAME_RUN capitalised
# words (no name is that long), which keeps such a text near 1 s.
MAX_CHUNK = 200
MAX_NAME_RUN = 4
_SENTENCE_END = re.compile(r"[.!?\n]\s+|\n")
_SPACE = re.compile(r"\s+")
_CAPITALISED_RUN = re.compile(rf"(?:[A-Z][\w'’.]*(?:\s+|-)){{{MAX_NAME_RUN}}}")


def chunks(text: str, limit: int = MAX_CHUNK) -> list[tuple[int, str]]:
    """Split `text` into (offset, piece) of at most `limit` characters: after the last
    sentence end that fits, else after the last space, else at the limit; and after
    any run of `MAX_NAME_RUN` capitalised words."""
    pieces = []
    position = 0
    while position < len(text):
        window = text[position : position + limit]
        run = _CAPITALISED_RUN.search(window)
        if run and run.end() < len(window):
            cut = run.end()
        elif len(window) < limit or position + limit >= len(text):
            cut = len(window)
        else:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)] or [m.end() for m in _SPACE.finditer(window)]
            cut = ends[-1] if ends and ends[-1] > 0 else limit
        pieces.append((position, window[:cut]))
        position += cut
    return pieces or [(0, text)]


def _import_deduce() -> ModuleType:
    """Import deduce without its import-time logging set-up: it calls
    `logging.basicConfig(stream=sys.stdout, level=DEBUG)`, which would send log lines
    into `chat redact`'s output. (Its `warnings.simplefilter("default")` runs when the
    model is built; `load_engine` undoes that one.)"""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import deduce  # type: ignore[import-untyped]

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return deduce  # type: ignore[no-any-return]


class DeduceEngine:
    """A loaded deduce model plus the lowercase first-name and place lists our own rules use."""

    def __init__(self, model: Any, first_names: frozenset[str], places: frozenset[str]) -> None:
        self._model = model
        self.first_names = first_names
        self.places = places

    def annotate(self, text: str) -> list[Item]:
        """deduce's findings in `text` as `Item`s, ordinary words trimmed off names and places."""
        items: list[Item] = []
        for offset, piece in chunks(text):
            if piece.strip():
                items += self._annotate_piece(text, offset, piece)
        return items

    def _annotate_piece(self, text: str, offset: int, piece: str) -> list[Item]:
        doc = self._model.deidentify(piece, disabled=set(_DISABLED))
        items = []
        for annotation in doc.annotations:
            tag: str = annotation.tag
            if tag in _IGNORED_TAGS:
                continue
            kind = _TYPES.get(tag, "NAAM")  # an unknown tag is still personal data
            start, end = offset + annotation.start_char, offset + annotation.end_char
            if kind in ("NAAM", "PLAATS"):
                # Towns such as Goes, Best or Born are English words: mid-sentence and
                # capitalised they are the town, at the start of a sentence the word.
                trimmed = trim_ordinary_words(text, start, end, only_sentence_initial=kind == "PLAATS")
                if trimmed is None:
                    continue
                start, end = trimmed
            if kind == "PLAATS":
                if text[start:end].lower() in COUNTRIES:
                    continue  # a country ("uit Polen") identifies no one
                kind = _location_type(text[start:end])
            items.append(Item(kind, start, end))
        return items


def _location_type(span: str) -> str:
    if _POSTCODE.fullmatch(span):
        return "POSTCODE"
    if any(c.isdigit() for c in span) or _STREET.search(span):
        return "ADRES"
    return "PLAATS"


_LEADING_PREPOSITIONS = frozenset("op in bij aan naar het".split())


def trim_ordinary_words(
    text: str, start: int, end: int, *, only_sentence_initial: bool = False
) -> tuple[int, int] | None:
    """Shrink the span text[start:end] to the words that can be part of a name.

    deduce grows a name over every neighbouring capitalised word that is not on its
    (Dutch, clinical) whitelist, so "Hi Emma. My mum" yields "Emma. My", and it knows
    "Well" and "Look" as villages. With `only_sentence_initial`, an ordinary word is
    trimmed only where it starts a sentence or is written in lowercase. Returns None
    when nothing is left.
    """
    tokens = [(start + m.start(), start + m.end()) for m in _TOKEN.finditer(text[start:end])]

    def ordinary(index: int, leading: bool) -> bool:
        token_start, token_end = tokens[index]
        word = text[token_start:token_end].lower()
        if word in INTERFIXES:
            # A leading "de" in "de Vries" stays; a trailing one is never part of a name.
            return not leading
        initial = sentence_start(text, token_start) or text[token_start].islower()
        if word in COMMON:
            return initial or not only_sentence_initial
        return word in SENTENCE_INITIAL and initial

    first, last = 0, len(tokens) - 1
    # "op de Nieuwendijk", "op het Koning Willem": a lowercase preposition, and the article
    # after it, lead into a place, not into a surname such as "de Vries".
    if first < last and text[tokens[first][0] : tokens[first][1]] in _LEADING_PREPOSITIONS:
        first += 1
        if first < last and text[tokens[first][0] : tokens[first][1]] in ("de", "het", "'t"):
            first += 1
    while first <= last and ordinary(first, leading=True):
        first += 1
    while last >= first and ordinary(last, leading=False):
        last -= 1
    if first > last:
        return None
    return tokens[first][0], tokens[last][1]


def _lowercase_lists(model: Any) -> tuple[frozenset[str], frozenset[str]]:
    """deduce's first names and place names in lowercase, minus its whitelist of
    ordinary words, as deduce itself filters them (reading the lists takes ~0.2 s)."""
    from deduce.lookup_structs import load_raw_itemsets  # type: ignore[import-untyped]

    raw = load_raw_itemsets(model.lookup_data_path, ["names/lst_first_name", "locations/lst_placename"])
    whitelist = model.lookup_structs["whitelist"]

    def lowered(items: set[str]) -> frozenset[str]:
        return frozenset(x.lower() for x in items if len(x) >= 2 and x.lower() not in whitelist)

    return lowered(raw["first_name"]), lowered(raw["placename"])


def _build_fresh(deduce: ModuleType, cache_path: Path) -> Any:
    # Building leaves cyclic garbage by the hundred megabytes (peak 2.0 GB instead of
    # 1.2 GB): here the collector has to run, even though loading keeps it off.
    gc.enable()
    try:
        return deduce.Deduce(cache_path=cache_path, build_lookup_structs=True)
    finally:
        gc.disable()


def build_model(deduce: ModuleType, cache_dir: Path | None) -> Any:
    """A `deduce.Deduce` whose lookup structures come from `cache_dir` (built and
    cached there first if need be), or are built afresh when there is no `cache_dir`."""
    if cache_dir is None:
        # No place to keep the cache: build into a temporary directory and forget it.
        with tempfile.TemporaryDirectory(prefix="deduce-") as scratch:
            return _build_fresh(deduce, Path(scratch))

    # One directory per deduce version: deduce would otherwise rebuild in place, in
    # a file another process may be reading.
    home = cache_dir / f"deduce-{deduce.__version__}"
    cache_file = home / _CACHE_FILE
    if cache_file.exists():
        try:
            return deduce.Deduce(cache_path=home)
        except Exception:  # a truncated or foreign pickle: the cache is only a cache
            logger.warning("deduce cache unreadable, rebuilding", extra={"cache": str(cache_file)})

    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    logger.info("building deduce lookup structures (1-2 minutes, once per cache directory)")
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        model = _build_fresh(deduce, tmp)
        cache_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Atomic: a process starting now reads the old file, none, or the whole new one.
        os.replace(tmp / _CACHE_FILE, cache_file)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model


_lock = threading.Lock()
_engines: dict[Path | None, DeduceEngine] = {}


def load_engine(cache_dir: Path | None) -> DeduceEngine:
    """The process's deduce engine for `cache_dir`, loading or building it on first use.

    The pickle in the cache directory is executable code to whoever can write it:
    the directory must belong to the service alone (it is created with mode 0700).
    """
    key = cache_dir.resolve() if cache_dir is not None else None
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            # deduce's lookup structures are some 4.5 million long-lived objects. The
            # cyclic garbage collector would scan them all over and over while they
            # load (a warm load takes 9 s with it, 3 s without), at every full
            # collection afterwards (4 s each) and at exit (20 s): keep it off while
            # loading, then freeze everything loaded so far out of its sight.
            gc.collect()
            enabled = gc.isenabled()
            gc.disable()
            try:
                # deduce.annotator calls warnings.simplefilter("default") when the
                # model loads it, which would switch off the process's warning filters.
                with warnings.catch_warnings():
                    deduce = _import_deduce()
                    model = build_model(deduce, key)
                engine = _engines[key] = DeduceEngine(model, *_lowercase_lists(model))
            finally:
                gc.freeze()
                if enabled:
                    gc.enable()
        return engine
