"""Estimated wait: a pure function, fed a controlled clock and made-up pairings."""

from __future__ import annotations

import pytest

from chat.eta import MAX_ETA_SECONDS, estimate_wait, shown_eta

NOW = 1_800_000_000.0


def steady(every: float, waited: float, count: int, *, end: float = NOW) -> list[tuple[float, float]]:
    """A pairing every ``every`` seconds up to ``end``, each after ``waited`` seconds."""
    return [(end - i * every, waited) for i in range(count)]


def test_nothing_to_go_on_is_none() -> None:
    assert estimate_wait(1, [], counselors_online=3, now=NOW) is None


def test_nobody_online_is_none_whatever_the_history() -> None:
    assert estimate_wait(1, steady(120, 600, 30), counselors_online=0, now=NOW) is None


def test_data_outside_the_window_is_ignored() -> None:
    old = steady(60, 30, 50, end=NOW - 3601)
    assert estimate_wait(1, old, counselors_online=2, now=NOW) is None
    # The same history plus one pairing inside the window: only that one counts.
    assert estimate_wait(2, [*old, (NOW - 10, 100.0)], counselors_online=2, now=NOW) == 100 + 3600


def test_busy_steady_service_is_position_times_interval() -> None:
    # One pairing every 4 minutes for the last hour; people waited 20 minutes.
    history = steady(240, 1200, 15, end=NOW - 120)
    for position in (1, 2, 5, 10):
        assert estimate_wait(position, history, counselors_online=4, now=NOW) == position * 240


def test_quiet_hour_uses_the_observed_wait_for_the_head_of_the_queue() -> None:
    # Two pairings in the hour, both taken within half a minute: a quiet hour,
    # not a slow service. Throughput alone would say 30 minutes.
    history = [(NOW - 1000, 20.0), (NOW - 2000, 40.0)]
    assert estimate_wait(1, history, counselors_online=2, now=NOW) == 30
    assert estimate_wait(2, history, counselors_online=2, now=NOW) == 30 + 1800


def test_monotonic_in_position() -> None:
    for history in (steady(240, 1200, 15), [(NOW - 1000, 20.0), (NOW - 2000, 40.0)], steady(30, 5, 100)):
        etas = [estimate_wait(p, history, counselors_online=1, now=NOW) for p in range(0, 60)]
        known = [eta for eta in etas if eta is not None]
        assert len(known) == len(etas)
        assert known == sorted(known)


def test_clamped_to_four_hours() -> None:
    history = [(NOW - 100, 7200.0)]
    assert estimate_wait(50, history, counselors_online=1, now=NOW) == MAX_ETA_SECONDS


def test_position_zero_is_now_and_negative_is_refused() -> None:
    assert estimate_wait(0, steady(240, 1200, 15), counselors_online=1, now=NOW) == 0
    with pytest.raises(ValueError):
        estimate_wait(-1, [], counselors_online=1, now=NOW)


def test_a_clock_slightly_ahead_on_another_instance_still_counts() -> None:
    assert estimate_wait(1, [(NOW + 0.5, 12.0)], counselors_online=1, now=NOW) == 12


def test_negative_waits_from_clock_skew_count_as_zero() -> None:
    assert estimate_wait(1, [(NOW - 5, -3.0)], counselors_online=1, now=NOW) == 0


def test_custom_window() -> None:
    history = steady(60, 600, 30, end=NOW - 30)  # every minute for half an hour: 10 in the last 600 s
    assert estimate_wait(1, history, counselors_online=1, now=NOW, window=600) == 60
    assert estimate_wait(3, history, counselors_online=1, now=NOW, window=600) == 180
    with pytest.raises(ValueError):
        estimate_wait(1, history, counselors_online=1, now=NOW, window=0)


def test_rounds_to_whole_seconds() -> None:
    history = steady(7, 1000, 3)  # 3 pairings in the hour: 1200 s per place
    eta = estimate_wait(1, [(NOW - 1, 10.4), (NOW - 2, 10.6), (NOW - 3, 11.0)], counselors_online=1, now=NOW)
    assert eta == 11
    assert estimate_wait(1, history, counselors_online=1, now=NOW) == 1000


def test_shown_eta_is_what_the_widget_shows() -> None:
    # client_widget/app.js etaText: unknown, "soon" under 45 s, "about a minute" under 90 s, else
    # Math.round(seconds / 60) minutes (halves up).
    assert shown_eta(None) is None
    assert shown_eta(0) == shown_eta(44) == "soon"
    assert shown_eta(45) == shown_eta(89) == "one"
    assert shown_eta(90) == 2  # 1.5 minutes: Math.round gives 2
    assert shown_eta(149) == 2
    assert shown_eta(150) == 3
    assert shown_eta(209) == 3
    assert len({shown_eta(s) for s in range(0, 600)}) == 2 + 9  # soon, one, 2..10 minutes
