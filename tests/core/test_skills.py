"""Skills as data: parse, dump, the queues they take."""

from __future__ import annotations

import pytest

from chat.skills import Skills


def test_every_queue_by_default_and_for_unreadable_text() -> None:
    every = Skills.every()
    assert len(every.queues()) == 4
    for text in (None, "", "nonsense", "parent|xx", "|"):
        assert Skills.parse(text) == every


def test_round_trip_and_queues() -> None:
    skills = Skills.of(["youth"], ["nl", "en"])
    assert Skills.parse(skills.dump()) == skills
    assert skills.dump() == "youth|en,nl"
    assert skills.queues() == [("youth", "nl"), ("youth", "en")]
    assert skills.queues(language="en") == [("youth", "en")]
    assert skills.queues(audience="parent") == []
    assert skills.takes("youth", "nl") and not skills.takes("parent", "nl")
    assert skills.public() == {"audiences": ["youth"], "languages": ["en", "nl"]}


def test_nobody_is_not_a_skill() -> None:
    with pytest.raises(ValueError):
        Skills.of([], ["nl"])
    with pytest.raises(ValueError):
        Skills.of(["parent"], ["fr"])
