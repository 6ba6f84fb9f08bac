"""Service hours: the clock is always passed in, so every instant here is exact."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chat.hours import (
    END_OF_DAY,
    Schedule,
    is_open,
    load_schedule,
    next_closing,
    next_opening,
    parse_interval,
    parse_schedule,
)

AMS = ZoneInfo("Europe/Amsterdam")
EXAMPLE = Path(__file__).resolve().parents[2] / "chat" / "data" / "hours.example.toml"

OFFICE = parse_schedule(
    {
        "timezone": "Europe/Amsterdam",
        "weekly": {
            "monday": ["09:00-17:00", "19:00-22:00"],
            "tuesday": ["09:00-17:00"],
            "wednesday": ["09:00-17:00"],
            "thursday": ["09:00-17:00"],
            "friday": ["09:00-17:00"],
            "saturday": [],
            "sunday": [],
        },
        "exceptions": {"2026-12-25": [], "2026-12-24": ["09:00-15:00"]},
    }
)


def ams(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=AMS, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def real_seconds(when: datetime) -> float:
    """Compare instants by timestamp: Python never calls a time in the repeated
    autumn hour equal to one in another zone, and subtracts two datetimes that
    share a zone by wall time."""
    return when.timestamp()


# --- the week ----------------------------------------------------------------------------------------------


def test_open_at_exact_start_closed_at_exact_end() -> None:
    # 2026-11-23 is a Monday.
    assert not is_open(OFFICE, ams(2026, 11, 23, 8, 59, 59))
    assert is_open(OFFICE, ams(2026, 11, 23, 9, 0))
    assert is_open(OFFICE, ams(2026, 11, 23, 16, 59, 59))
    assert not is_open(OFFICE, ams(2026, 11, 23, 17, 0))
    assert is_open(OFFICE, ams(2026, 11, 23, 19, 0))
    assert not is_open(OFFICE, ams(2026, 11, 23, 22, 0))


def test_between_two_intervals_next_opening_is_the_evening() -> None:
    now = ams(2026, 11, 23, 18, 0)
    assert next_opening(OFFICE, now) == ams(2026, 11, 23, 19, 0)
    assert next_closing(OFFICE, now) is None


def test_sunday_night_opens_monday_morning() -> None:
    now = ams(2026, 11, 29, 23, 30)  # Sunday
    assert not is_open(OFFICE, now)
    opening = next_opening(OFFICE, now)
    assert opening == ams(2026, 11, 30, 9, 0)
    assert opening is not None and opening.tzinfo == AMS and opening.weekday() == 0


def test_friday_evening_skips_the_weekend() -> None:
    assert next_opening(OFFICE, ams(2026, 11, 27, 17, 0)) == ams(2026, 11, 30, 9, 0)


def test_now_in_another_zone() -> None:
    # 08:30 UTC in November is 09:30 in Amsterdam (CET, UTC+1).
    now = utc(2026, 11, 23, 8, 30)
    assert is_open(OFFICE, now)
    assert next_closing(OFFICE, now) == ams(2026, 11, 23, 17, 0)
    # 07:59 UTC is 08:59 local: closed, opens in a minute.
    assert next_opening(OFFICE, utc(2026, 11, 23, 7, 59)) == ams(2026, 11, 23, 9, 0)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2026, 11, 23, 10, 0))


def test_open_now_has_no_next_opening() -> None:
    assert next_opening(OFFICE, ams(2026, 11, 23, 10, 0)) is None


def test_next_closing_while_open() -> None:
    assert next_closing(OFFICE, ams(2026, 11, 23, 20, 0)) == ams(2026, 11, 23, 22, 0)


# --- exceptions --------------------------------------------------------------------------------------------


def test_christmas_closed_and_christmas_eve_shortened() -> None:
    # 2026-12-24 is a Thursday (normally 09:00-17:00), the 25th a Friday.
    assert is_open(OFFICE, ams(2026, 12, 24, 14, 59))
    assert not is_open(OFFICE, ams(2026, 12, 24, 15, 0))
    assert next_closing(OFFICE, ams(2026, 12, 24, 10, 0)) == ams(2026, 12, 24, 15, 0)
    assert not is_open(OFFICE, ams(2026, 12, 25, 10, 0))
    # Closed Christmas Day, then the weekend: next is Monday the 28th.
    assert next_opening(OFFICE, ams(2026, 12, 24, 15, 0)) == ams(2026, 12, 28, 9, 0)


def test_exception_opens_a_normally_closed_day() -> None:
    schedule = parse_schedule({"weekly": {"monday": ["09:00-17:00"]}, "exceptions": {"2026-11-29": ["12:00-14:00"]}})
    assert is_open(schedule, ams(2026, 11, 29, 13, 0))  # a Sunday
    assert next_opening(schedule, ams(2026, 11, 28, 20, 0)) == ams(2026, 11, 29, 12, 0)


# --- across midnight and always open -----------------------------------------------------------------------


def test_night_shift_split_at_midnight_is_one_block() -> None:
    schedule = parse_schedule({"weekly": {"friday": ["20:00-24:00"], "saturday": ["00:00-04:00"]}})
    assert is_open(schedule, ams(2026, 11, 27, 23, 59, 59))
    assert is_open(schedule, ams(2026, 11, 28, 0, 0))
    assert next_closing(schedule, ams(2026, 11, 27, 21, 0)) == ams(2026, 11, 28, 4, 0)
    assert next_opening(schedule, ams(2026, 11, 28, 4, 0)) == ams(2026, 12, 4, 20, 0)


def test_always_open() -> None:
    schedule = Schedule.always_open()
    for now in (ams(2026, 12, 25, 3, 0), ams(2027, 3, 28, 2, 30), ams(2026, 10, 25, 2, 30, fold=1)):
        assert is_open(schedule, now)
        assert next_opening(schedule, now) is None
        assert next_closing(schedule, now) is None
    assert load_schedule(None) == schedule


def test_never_open_within_horizon() -> None:
    schedule = parse_schedule({"weekly": {}})
    assert not is_open(schedule, ams(2026, 11, 23, 10, 0))
    assert next_opening(schedule, ams(2026, 11, 23, 10, 0)) is None
    # Opens in 70 days: beyond the default 60-day horizon, inside a longer one.
    later = parse_schedule({"weekly": {}, "exceptions": {"2027-02-01": ["09:00-10:00"]}})
    now = ams(2026, 11, 23, 10, 0)
    assert next_opening(later, now) is None
    assert next_opening(later, now, horizon_days=90) == ams(2027, 2, 1, 9, 0)


# --- daylight saving time ----------------------------------------------------------------------------------


def test_spring_forward_2027_interval_across_the_gap() -> None:
    # Sunday 28 March 2027: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    schedule = parse_schedule({"weekly": {"sunday": ["01:00-04:00"]}})
    assert not is_open(schedule, utc(2027, 3, 27, 23, 59))  # 00:59 CET
    assert is_open(schedule, utc(2027, 3, 28, 0, 0))  # 01:00 CET
    assert is_open(schedule, utc(2027, 3, 28, 1, 0))  # 03:00 CEST
    assert is_open(schedule, utc(2027, 3, 28, 1, 59))  # 03:59 CEST
    assert not is_open(schedule, utc(2027, 3, 28, 2, 0))  # 04:00 CEST
    opening = next_opening(schedule, utc(2027, 3, 27, 12, 0))
    assert opening == utc(2027, 3, 28, 0, 0)
    closing = next_closing(schedule, utc(2027, 3, 28, 0, 30))
    assert closing is not None
    assert closing == utc(2027, 3, 28, 2, 0)
    assert closing.utcoffset() == timedelta(hours=2)
    # Two real hours, not three.
    assert opening is not None and real_seconds(closing) - real_seconds(opening) == 2 * 3600


def test_spring_forward_start_inside_the_gap_opens_at_the_jump() -> None:
    schedule = parse_schedule({"weekly": {"sunday": ["02:30-05:00"]}})
    opening = next_opening(schedule, ams(2027, 3, 28, 0, 0))
    # 02:30 never shows on the clock; the interval opens when the clock jumps to 03:00.
    assert opening == utc(2027, 3, 28, 1, 0)
    assert opening is not None and (opening.hour, opening.minute) == (3, 0)
    assert not is_open(schedule, utc(2027, 3, 28, 0, 59, 59))  # 01:59:59 CET
    assert is_open(schedule, utc(2027, 3, 28, 1, 0))


def test_spring_forward_interval_wholly_in_the_gap_never_opens() -> None:
    schedule = parse_schedule({"weekly": {"sunday": ["02:00-02:30", "10:00-12:00"]}})
    now = ams(2027, 3, 28, 0, 0)
    assert next_opening(schedule, now) == ams(2027, 3, 28, 10, 0)
    for minute in range(0, 120, 5):  # 01:00 CET .. 04:00 CEST in real time
        assert not is_open(schedule, utc(2027, 3, 28, 0, 0) + timedelta(minutes=minute))


def test_fall_back_2026_interval_across_the_overlap() -> None:
    # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:xx happens twice.
    schedule = parse_schedule({"weekly": {"sunday": ["01:00-04:00"]}})
    assert not is_open(schedule, utc(2026, 10, 24, 22, 59))  # 00:59 CEST
    assert is_open(schedule, utc(2026, 10, 24, 23, 0))  # 01:00 CEST
    assert is_open(schedule, ams(2026, 10, 25, 2, 30, fold=0))  # first 02:30 (CEST)
    assert is_open(schedule, ams(2026, 10, 25, 2, 30, fold=1))  # second 02:30 (CET)
    assert is_open(schedule, utc(2026, 10, 25, 2, 59))  # 03:59 CET
    assert not is_open(schedule, utc(2026, 10, 25, 3, 0))  # 04:00 CET
    opening = next_opening(schedule, ams(2026, 10, 24, 12, 0))
    closing = next_closing(schedule, utc(2026, 10, 24, 23, 30))
    assert opening == utc(2026, 10, 24, 23, 0)
    assert closing == utc(2026, 10, 25, 3, 0)
    # Four real hours, not three.
    assert opening is not None and closing is not None
    assert real_seconds(closing) - real_seconds(opening) == 4 * 3600


def test_fall_back_first_pass_counts() -> None:
    schedule = parse_schedule({"weekly": {"sunday": ["01:00-02:30"]}})
    closing = next_closing(schedule, ams(2026, 10, 25, 1, 30))
    assert closing is not None and closing.fold == 0 and closing.utcoffset() == timedelta(hours=2)
    assert real_seconds(closing) == real_seconds(utc(2026, 10, 25, 0, 30))
    # The clock shows 02:00-02:30 again in CET, but the interval does not reopen.
    assert not is_open(schedule, ams(2026, 10, 25, 2, 10, fold=1))
    assert next_opening(schedule, ams(2026, 10, 25, 2, 10, fold=1)) == ams(2026, 11, 1, 1, 0)


def test_fall_back_start_in_the_repeated_hour_uses_the_first_pass() -> None:
    schedule = parse_schedule({"weekly": {"sunday": ["02:30-05:00"]}})
    opening = next_opening(schedule, ams(2026, 10, 25, 0, 0))
    assert opening is not None and opening.fold == 0
    assert real_seconds(opening) == real_seconds(utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert is_open(schedule, ams(2026, 10, 25, 2, 10, fold=1))  # 02:10 CET, after the first 02:30


def test_dst_day_ordinary_hours() -> None:
    schedule = parse_schedule({"weekly": {"sunday": ["09:00-17:00"]}})
    for day in (date(2027, 3, 28), date(2026, 10, 25)):
        assert next_opening(schedule, datetime.combine(day, time(0, 0), AMS)) == datetime.combine(day, time(9, 0), AMS)
        assert next_closing(schedule, datetime.combine(day, time(12, 0), AMS)) == datetime.combine(
            day, time(17, 0), AMS
        )


def test_week_with_dst_change_in_the_middle() -> None:
    # Saturday 27 March 2027 at noon CET to Monday 29 March: the Monday opening is in CEST.
    opening = next_opening(OFFICE, ams(2027, 3, 27, 12, 0))
    assert opening == ams(2027, 3, 29, 9, 0)
    assert opening is not None and opening.utcoffset() == timedelta(hours=2)


# --- parsing -----------------------------------------------------------------------------------------------


def test_parse_interval_forms() -> None:
    assert parse_interval("09:00-17:00") == (time(9, 0), time(17, 0))
    assert parse_interval(" 9:30 - 12:00 ") == (time(9, 30), time(12, 0))
    assert parse_interval("19:00\u201324:00") == (time(19, 0), END_OF_DAY)
    assert parse_interval("00:00-24:00") == (time(0, 0), END_OF_DAY)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weekly": {"monday": ["9-17"]}}, "bad interval"),
        ({"weekly": {"monday": ["25:00-26:00"]}}, "bad time"),
        ({"weekly": {"monday": ["09:60-10:00"]}}, "bad time"),
        ({"weekly": {"monday": ["24:00-24:00"]}}, "bad time"),
        ({"weekly": {"monday": ["17:00-09:00"]}}, "end must come after the start"),
        ({"weekly": {"monday": ["09:00-09:00"]}}, "end must come after the start"),
        ({"weekly": {"monday": ["09:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({"weekly": {"mondag": ["09:00-17:00"]}}, "unknown day 'mondag'"),
        ({"weekly": {"monday": "09:00-17:00"}}, "expected a list"),
        ({"weekly": {"monday": [900]}}, "must be a string"),
        ({"weekly": {"monday": [], "maandag": []}}, "given twice"),
        ({"exceptions": {"25-12-2026": []}}, "not a date"),
        ({"timezone": "Europe/Amsterdan"}, "unknown time zone"),
        ({"weekly": {}, "exception": {}}, "unknown schedule keys: exception"),
        ({"weekly": ["monday"]}, "'weekly' must be a table"),
    ],
)
def test_parse_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(data)


def test_touching_intervals_are_fine() -> None:
    schedule = parse_schedule({"weekly": {"monday": ["09:00-12:00", "12:00-17:00"]}})
    assert next_closing(schedule, ams(2026, 11, 23, 10, 0)) == ams(2026, 11, 23, 17, 0)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="weekday must be"):
        Schedule(weekly={7: []})
    with pytest.raises(ValueError, match="ends before it starts"):
        Schedule(weekly={0: [(time(12, 0), time(9, 0))]})


def test_dutch_day_names() -> None:
    schedule = parse_schedule({"weekly": {"Maandag": ["09:00-17:00"], "zondag": []}})
    assert schedule.weekly == {0: [(time(9, 0), time(17, 0))], 6: []}


def test_load_example_file() -> None:
    schedule = load_schedule(EXAMPLE)
    assert schedule.timezone == "Europe/Amsterdam"
    assert schedule.weekly[0] == [(time(9, 0), time(17, 0)), (time(19, 0), time(22, 0))]
    assert schedule.weekly[6] == []
    assert schedule.exceptions[date(2026, 12, 25)] == []
    assert not is_open(schedule, ams(2026, 12, 25, 10, 0))
    assert is_open(schedule, ams(2026, 12, 24, 10, 0))


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "hours.toml"
    bad.write_text('[weekly]\nmonday = ["09:00-17:00"\n')
    with pytest.raises(ValueError, match="not valid TOML"):
        load_schedule(bad)
    bad.write_text('[weekly]\nfunday = ["09:00-17:00"]\n')
    with pytest.raises(ValueError, match=r"hours\.toml: unknown day 'funday'"):
        load_schedule(bad)
    with pytest.raises(FileNotFoundError):
        load_schedule(tmp_path / "missing.toml")


def test_json_shaped_input_round_trips_like_toml(tmp_path: Path) -> None:
    path = tmp_path / "hours.toml"
    path.write_text(
        'timezone = "Europe/Amsterdam"\n[weekly]\nmonday = ["09:00-17:00"]\n[exceptions]\n"2026-11-23" = []\n'
    )
    from_toml = load_schedule(path)
    from_json = parse_schedule(
        {
            "timezone": "Europe/Amsterdam",
            "weekly": {"monday": ["09:00-17:00"]},
            "exceptions": {"2026-11-23": []},
        }
    )
    assert from_toml == from_json
    assert next_opening(from_toml, ams(2026, 11, 23, 8, 0)) == ams(2026, 11, 30, 9, 0)
