"""The pure core, with no Redis and no sockets: queue order, pairing choice, states, sequence rules."""

from __future__ import annotations

import json
import random

import pytest

from chat.events import Cursor, Verdict, stream_id, utc_now_iso
from chat.protocol import ProtocolError, parse_counselor, parse_visitor
from chat.queue import NORMAL_OFFSET, arrival_of, is_urgent_score, pick_next, position, queue_score
from chat.sessions import IllegalTransition, Sender, SessionStatus, can_write, transition


# -- queue order -----------------------------------------------------------------------
def test_urgent_before_normal_then_oldest_first() -> None:
    arrivals = [(1, False), (2, True), (3, False), (4, True), (5, False)]
    ordered = sorted(arrivals, key=lambda a: queue_score(a[0], a[1]))
    assert ordered == [(2, True), (4, True), (1, False), (3, False), (5, False)]


def test_urgent_keep_their_order_among_themselves() -> None:
    rng = random.Random(7)
    arrivals = [(n, rng.random() < 0.3) for n in range(1, 500)]
    shuffled = arrivals[:]
    rng.shuffle(shuffled)
    ordered = sorted(shuffled, key=lambda a: queue_score(*a))
    urgent = [n for n, u in ordered if u]
    normal = [n for n, u in ordered if not u]
    assert ordered == [(n, True) for n in urgent] + [(n, False) for n in normal]
    assert urgent == sorted(urgent) and normal == sorted(normal)


def test_score_round_trips() -> None:
    for arrival in (1, 2, 10**6, 10**12):
        for urgent in (True, False):
            score = queue_score(arrival, urgent)
            assert is_urgent_score(score) is urgent
            assert arrival_of(score) == arrival
    with pytest.raises(ValueError):
        queue_score(0, False)
    with pytest.raises(ValueError):
        queue_score(int(NORMAL_OFFSET), False)


def test_pick_next_across_queues() -> None:
    heads = [
        ("q:parent:nl", "s_a", queue_score(5, False)),
        ("q:youth:nl", "s_b", queue_score(9, True)),
        ("q:parent:en", "s_c", queue_score(1, False)),
    ]
    assert pick_next(heads) == ("q:youth:nl", "s_b")
    assert pick_next(heads[::2]) == ("q:parent:en", "s_c")
    assert pick_next([]) is None
    # A tie goes to the queue key that sorts first, whatever the input order.
    tie = [("q:b", "s_1", 3.0), ("q:a", "s_2", 3.0)]
    assert pick_next(tie) == pick_next(tie[::-1]) == ("q:a", "s_2")


def test_positions_count_from_one() -> None:
    assert position(0) == 1
    assert position(4) == 5


# -- session states --------------------------------------------------------------------
def test_transitions() -> None:
    assert transition(SessionStatus.QUEUED, SessionStatus.ACTIVE) is SessionStatus.ACTIVE
    assert transition(SessionStatus.ACTIVE, SessionStatus.ENDED) is SessionStatus.ENDED
    assert transition(SessionStatus.QUEUED, SessionStatus.ENDED) is SessionStatus.ENDED
    assert transition(SessionStatus.ACTIVE, SessionStatus.QUEUED) is SessionStatus.QUEUED
    for target in SessionStatus:
        with pytest.raises(IllegalTransition, match="ended session cannot become"):
            transition(SessionStatus.ENDED, target)
    with pytest.raises(IllegalTransition):
        transition(SessionStatus.QUEUED, SessionStatus.QUEUED)


def test_who_may_write_when() -> None:
    assert can_write(SessionStatus.QUEUED, Sender.VISITOR)
    assert not can_write(SessionStatus.QUEUED, Sender.COUNSELOR)
    assert can_write(SessionStatus.ACTIVE, Sender.COUNSELOR)
    assert can_write(SessionStatus.ACTIVE, Sender.VISITOR)
    assert not any(can_write(SessionStatus.ENDED, s) for s in Sender)


# -- sequence rules ----------------------------------------------------------------------
def test_cursor_judges_next_duplicate_gap() -> None:
    cursor = Cursor(3)
    assert cursor.judge(4) is Verdict.NEXT
    assert cursor.judge(3) is Verdict.DUPLICATE
    assert cursor.judge(1) is Verdict.DUPLICATE
    assert cursor.judge(6) is Verdict.GAP
    cursor.advance(4)
    assert cursor.last_seq == 4
    with pytest.raises(ValueError, match="expected seq 5"):
        cursor.advance(7)
    with pytest.raises(ValueError):
        Cursor(-1)


def test_cursor_filter_drops_duplicates_and_stops_at_a_hole() -> None:
    cursor = Cursor(2)
    events = [{"seq": n} for n in (1, 2, 3, 4, 6, 7)]
    assert [e["seq"] for e in cursor.filter(events)] == [3, 4]
    assert cursor.last_seq == 4
    # Replaying the same range again delivers nothing twice.
    assert cursor.filter(events) == []
    assert [e["seq"] for e in cursor.filter([{"seq": 5}, {"seq": 6}])] == [5, 6]


def test_stream_ids_order_like_seqs() -> None:
    ids = [stream_id(n) for n in range(1, 30)]
    parsed = [tuple(int(p) for p in i.split("-")) for i in ids]
    assert parsed == sorted(parsed)


def test_timestamps_are_utc_millis() -> None:
    ts = utc_now_iso()
    assert ts.endswith("Z") and len(ts) == len("2026-11-27T17:03:59.123Z")


# -- the protocol as data -------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ('{"no":"type"}', "no string 'type'"),
        ('{"type":7}', "no string 'type'"),
        ('{"type":"launch"}', "unknown frame type"),
        ('{"type":"hello","audience":"kid"}', "audience"),
        ('{"type":"hello","audience":"parent","language":"de"}', "language"),
        ('{"type":"message","client_id":1,"text":"x"}', "client_id"),
        ('{"type":"message","client_id":"c","text":["x"]}', "text"),
        ('{"type":"typing","active":"yes"}', "active"),
        ('{"type":"resume","token":"t","last_seq":-1}', "last_seq"),
        ('{"type":"resume","token":"t","last_seq":"3"}', "last_seq"),
    ],
)
def test_bad_visitor_frames(raw: str, fragment: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_visitor(raw)
    frame = info.value.frame()
    assert frame["type"] == "error" and frame["code"] == "bad_request"
    assert fragment in frame["message"]


def test_error_messages_never_echo_the_input() -> None:
    secret = "Mijn naam is Fatima en mijn nummer is 0612345678"
    with pytest.raises(ProtocolError) as info:
        parse_visitor(json.dumps({"type": "message", "client_id": 5, "text": secret}))
    assert "Fatima" not in info.value.message and "0612345678" not in info.value.message


def test_good_frames_parse() -> None:
    hello = parse_visitor('{"type":"hello","audience":"youth","language":"en","topic":"school","extra":1}')
    assert hello.type == "hello" and hello.audience.value == "youth" and hello.language.value == "en"
    accept = parse_counselor('{"type":"accept","audience":"parent"}')
    assert accept.type == "accept" and accept.audience is not None and accept.language is None
    msg = parse_counselor('{"type":"message","session_id":"s_x","client_id":"k","text":"hoi"}')
    assert msg.type == "message" and msg.session_id == "s_x"
    with pytest.raises(ProtocolError):
        parse_counselor('{"type":"message","client_id":"k","text":"hoi"}')  # no session_id
    with pytest.raises(ProtocolError):
        parse_counselor('{"type":"hello","audience":"parent"}')  # a visitor frame


def test_error_messages_are_fixed_sentences() -> None:
    """Whatever a hostile frame holds, its error message comes from a small fixed set."""
    hostile = [
        '{"type":"<img src=x onerror=alert(1)>"}',
        '{"type":"hello","audience":"\\u202eparent"}',
        '{"type":"hello","audience":"parent","topic":"\\ud800"}',
        '{"type":"hello","audience":"parent","first_message":"\\udfff x"}',
        '{"type":"message","client_id":"' + "c" * 500 + '","text":"x"}',
        '{"type":"resume","token":"","last_seq":1}',
        '{"type":"hello","audience":"parent","\\ud800":1}',
    ]
    messages = set()
    for raw in hostile:
        with pytest.raises(ProtocolError) as info:
            parse_visitor(raw)
        messages.add(info.value.message)
    assert messages <= {
        "unknown frame type",
        "audience: invalid",
        "frame holds invalid Unicode",
        "client_id: invalid",
        "token: invalid",
    }, messages
