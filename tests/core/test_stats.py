"""chat/stats.py: Amsterdam days and hours of the week, and waits over everyone who waited."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chat.stats import Chat, amsterdam_day, per_day, per_hour_of_week, percentile, to_hour, waits


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_the_day_is_the_dutch_day() -> None:
    # 23:30 UTC is already the next day in Amsterdam, in winter (UTC+1) and in summer (UTC+2).
    assert amsterdam_day(ms(datetime(2026, 1, 14, 23, 30, tzinfo=UTC))) == date(2026, 1, 15)
    assert amsterdam_day(ms(datetime(2026, 7, 14, 22, 30, tzinfo=UTC))) == date(2026, 7, 15)
    assert amsterdam_day(ms(datetime(2026, 7, 14, 21, 59, tzinfo=UTC))) == date(2026, 7, 14)
    assert to_hour(ms(datetime(2026, 7, 14, 21, 59, 30, tzinfo=UTC))) == datetime(2026, 7, 14, 21, tzinfo=UTC)


def test_waits_count_the_abandoned() -> None:
    chats = [Chat(date(2026, 1, 1), True, w) for w in (10, 20, 30)] + [Chat(date(2026, 1, 1), False, 600)]
    assert waits(chats) == {
        "p50": 25.0,
        "p90": percentile([10, 20, 30, 600], 90),
        "p99": percentile([10, 20, 30, 600], 99),
    }
    assert waits(chats)["p90"] > 30  # without the visitor who gave up after ten minutes it would be at most 30
    assert waits([]) == {"p50": None, "p90": None, "p99": None}
    assert percentile([7], 99) == 7.0


def test_per_day_has_every_day_and_per_hour_of_week_follows_amsterdam_time() -> None:
    monday_9_winter = datetime(2026, 1, 12, 8, tzinfo=UTC)  # 09:00 in Amsterdam
    monday_9_summer = datetime(2026, 7, 13, 7, tzinfo=UTC)  # 09:00 in Amsterdam too
    chats = [
        Chat(date(2026, 1, 12), True, 40, monday_9_winter),
        Chat(date(2026, 7, 13), False, 300, monday_9_summer),
        Chat(date(2026, 7, 13), True, None, None),  # archived before the hour was kept
    ]
    hours = per_hour_of_week(chats)
    assert len(hours) == 168 and hours[0]["weekday"] == 0 and hours[0]["hour"] == 0
    assert hours[9] == {"weekday": 0, "hour": 9, "chats": 2, "abandoned": 1, "longest_wait_seconds": 300}
    assert sum(int(h["chats"]) for h in hours) == 2  # type: ignore[call-overload]
    days = per_day(chats, date(2026, 7, 12), date(2026, 7, 14))
    assert [d["day"] for d in days] == ["2026-07-12", "2026-07-13", "2026-07-14"]
    assert days[1] == {"day": "2026-07-13", "chats": 2, "abandoned": 1, "longest_wait_seconds": 300}
    assert days[0]["chats"] == 0 and days[0]["longest_wait_seconds"] is None
