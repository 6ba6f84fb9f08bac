"""Skills: which audiences and languages a counselor takes. Pure core.

A counselor takes the queues in the product of their audiences and their
languages. Stored as one short text, ``"parent,youth|nl,en"``; no text (None)
means every queue, which is also what an account created before skills had.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from chat.sessions import Audience, Language


@dataclass(frozen=True)
class Skills:
    audiences: frozenset[Audience]
    languages: frozenset[Language]

    def __post_init__(self) -> None:
        if not self.audiences or not self.languages:
            raise ValueError("skills need at least one audience and one language")

    @classmethod
    def every(cls) -> Skills:
        return cls(frozenset(Audience), frozenset(Language))

    @classmethod
    def of(cls, audiences: Iterable[str], languages: Iterable[str]) -> Skills:
        return cls(frozenset(Audience(a) for a in audiences), frozenset(Language(x) for x in languages))

    @classmethod
    def parse(cls, text: str | None) -> Skills:
        """The stored form back; None, empty or unreadable text is every queue (never nobody's)."""
        return _parse(text or "")

    def dump(self) -> str:
        return ",".join(sorted(self.audiences)) + "|" + ",".join(sorted(self.languages))

    def takes(self, audience: str, language: str) -> bool:
        return audience in self.audiences and language in self.languages

    def queues(self, audience: str | None = None, language: str | None = None) -> list[tuple[str, str]]:
        """The queues these skills take, narrowed to one audience and/or language when asked."""
        return [
            (a.value, x.value)
            for a in Audience
            for x in Language
            if self.takes(a.value, x.value)
            and (audience is None or a.value == audience)
            and (language is None or x.value == language)
        ]

    def public(self) -> dict[str, list[str]]:
        return {"audiences": sorted(self.audiences), "languages": sorted(self.languages)}


@lru_cache(maxsize=512)
def _parse(text: str) -> Skills:
    # Each accept and each overview round parses a counselor's stored skills: there are few distinct
    # texts (at most the product of the subsets), and Skills is immutable, so one parse each is kept.
    if "|" not in text:
        return Skills.every()
    audiences, _, languages = text.partition("|")
    try:
        return Skills.of((a for a in audiences.split(",") if a), (x for x in languages.split(",") if x))
    except ValueError:
        return Skills.every()
