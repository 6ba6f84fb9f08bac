"""Service hours: a weekly schedule in local wall time, with dated exceptions.

Pure core: no I/O apart from reading the TOML file in ``load_schedule``. The
server asks ``is_open`` before it queues a ``hello`` and ``next_opening`` for
the ``service_closed`` answer and ``/api/status``.

DST rule. Intervals are written in local wall time (Europe/Amsterdam by
default). An interval on date D from S to E is open from the *first* instant at
which the local clock shows S on D until the *first* instant at which it shows
E (24:00 is midnight at the start of D + 1):

- on the last Sunday of March the clock jumps from 02:00 to 03:00, so a time in
  the gap (02:00 <= t < 03:00) is reached at the jump itself, 03:00 CEST; an
  interval 02:00-02:30 on that day is empty and 01:00-04:00 lasts two real hours;
- on the last Sunday of October the clock shows 02:00-03:00 twice; the first
  pass (CEST, ``fold=0``) is the one that counts, so 01:00-04:00 lasts four
  real hours, and 01:00-02:30 closes at 02:30 CEST and does not reopen when the
  clock shows 02:00 again.

So every interval is one unbroken stretch of real time, which is what a
counselor's shift is. All arithmetic is done in UTC because Python compares
and subtracts two datetimes that share a tzinfo by wall time, ignoring
``fold``. Callers: the datetimes returned are in the schedule's zone (right for
display and ``isoformat()``, which carries the offset); to compute a duration
use ``.timestamp()`` or convert to UTC first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/Amsterdam"
# An interval end of 00:00 means 24:00: the midnight that ends the day. A start
# of 00:00 is the midnight that begins it. ``time`` cannot hold 24:00 itself.
END_OF_DAY = time(0, 0)
# How far ahead next_opening/next_closing look before answering None.
DEFAULT_HORIZON_DAYS = 60

Interval = tuple[time, time]

DAY_NAMES: dict[str, int] = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    # Dutch names too: the file is edited by the helpline's own staff.
    "maandag": 0,
    "dinsdag": 1,
    "woensdag": 2,
    "donderdag": 3,
    "vrijdag": 4,
    "zaterdag": 5,
    "zondag": 6,
}

_INTERVAL_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")


def _end_key(end: time) -> tuple[int, int]:
    """Sort key for an interval end, with 00:00 standing for 24:00."""
    return (24, 0) if end == END_OF_DAY else (end.hour, end.minute)


def _check_intervals(where: str, intervals: list[Interval]) -> None:
    previous_end: tuple[int, int] | None = None
    for start, end in sorted(intervals, key=lambda iv: (iv[0].hour, iv[0].minute)):
        if (start.hour, start.minute) >= _end_key(end):
            raise ValueError(f"{where}: interval {start:%H:%M}-{end:%H:%M} ends before it starts")
        if previous_end is not None and (start.hour, start.minute) < previous_end:
            raise ValueError(f"{where}: intervals overlap at {start:%H:%M}")
        previous_end = _end_key(end)


@dataclass(frozen=True)
class Schedule:
    """Opening hours in local wall time.

    ``weekly`` maps a weekday (0 = Monday) to its intervals; a missing day is
    closed. ``exceptions`` maps a date to the intervals that replace that day's
    weekly ones; an empty list closes the whole day. An interval is
    ``(start, end)`` with the start included and the end excluded; an end of
    ``time(0, 0)`` (``END_OF_DAY``) means 24:00.
    """

    weekly: dict[int, list[Interval]]
    exceptions: dict[date, list[Interval]] = field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        for day, intervals in self.weekly.items():
            if day not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {day!r}")
            _check_intervals(f"weekday {day}", intervals)
        for when, intervals in self.exceptions.items():
            _check_intervals(f"exception {when.isoformat()}", intervals)
        _zone(self.timezone)

    @classmethod
    def always_open(cls, timezone: str = DEFAULT_TIMEZONE) -> Schedule:
        """The schedule used when none is configured: open around the clock."""
        return cls(weekly={day: [(time(0, 0), END_OF_DAY)] for day in range(7)}, timezone=timezone)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def intervals_on(self, day: date) -> list[Interval]:
        """The intervals that apply on a local date, exceptions first."""
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(day.weekday(), [])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


# --- parsing ---------------------------------------------------------------------------------------------


def _parse_time(text: str, hour: str, minute: str, *, is_end: bool) -> time:
    h, m = int(hour), int(minute)
    if is_end and (h, m) == (24, 0):
        return END_OF_DAY
    if h > 23 or m > 59:
        raise ValueError(f"bad time in {text!r}: hours run 00-23 (24:00 only as an end), minutes 00-59")
    return time(h, m)


def parse_interval(text: str) -> Interval:
    """Parse ``"09:00-17:00"`` (``"19:00-24:00"`` for an interval ending at midnight)."""
    if not isinstance(text, str):
        raise ValueError(f"an interval must be a string like '09:00-17:00', not {text!r}")
    match = _INTERVAL_RE.match(text)
    if match is None:
        raise ValueError(f"bad interval {text!r}: expected HH:MM-HH:MM, e.g. '09:00-17:00'")
    sh, sm, eh, em = match.groups()
    start = _parse_time(text, sh, sm, is_end=False)
    end = _parse_time(text, eh, em, is_end=True)
    if (start.hour, start.minute) >= _end_key(end):
        raise ValueError(f"bad interval {text!r}: the end must come after the start (split a night at 24:00)")
    return start, end


def _parse_intervals(where: str, value: object) -> list[Interval]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of intervals like ['09:00-17:00'], not {value!r}")
    try:
        return [parse_interval(item) for item in value]
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _parse_date(key: object) -> date:
    if isinstance(key, date) and not isinstance(key, datetime):
        return key
    if isinstance(key, str):
        try:
            return date.fromisoformat(key.strip())
        except ValueError:
            pass
    raise ValueError(f"exception date {key!r} is not a date like '2026-12-25'")


def parse_schedule(data: Mapping[str, Any]) -> Schedule:
    """Build a Schedule from parsed TOML or JSON; raise ValueError saying what is wrong.

    ``{"timezone": "Europe/Amsterdam", "weekly": {"monday": ["09:00-17:00"]},
    "exceptions": {"2026-12-25": []}}``. Day names are English or Dutch; days
    left out are closed.
    """
    if not isinstance(data, Mapping):
        raise ValueError("a schedule must be a table/object with 'weekly' and optional 'exceptions'")
    unknown = set(data) - {"timezone", "weekly", "exceptions"}
    if unknown:
        raise ValueError(f"unknown schedule keys: {', '.join(sorted(map(str, unknown)))}")
    timezone = data.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str):
        raise ValueError(f"timezone must be a name like 'Europe/Amsterdam', not {timezone!r}")

    weekly_data = data.get("weekly", {})
    if not isinstance(weekly_data, Mapping):
        raise ValueError("'weekly' must be a table of day = [intervals]")
    weekly: dict[int, list[Interval]] = {}
    for name, value in weekly_data.items():
        day = DAY_NAMES.get(str(name).strip().lower())
        if day is None:
            raise ValueError(f"unknown day {name!r}: use monday..sunday (or maandag..zondag)")
        if day in weekly:
            raise ValueError(f"day {name!r} is given twice")
        weekly[day] = _parse_intervals(str(name), value)

    exceptions_data = data.get("exceptions", {})
    if not isinstance(exceptions_data, Mapping):
        raise ValueError("'exceptions' must be a table of \"YYYY-MM-DD\" = [intervals]")
    exceptions: dict[date, list[Interval]] = {}
    for key, value in exceptions_data.items():
        when = _parse_date(key)
        if when in exceptions:
            raise ValueError(f"exception date {when.isoformat()} is given twice")
        exceptions[when] = _parse_intervals(when.isoformat(), value)

    return Schedule(weekly=weekly, exceptions=exceptions, timezone=timezone)


def load_schedule(path: Path | None) -> Schedule:
    """Read a TOML schedule file; None (nothing configured) means always open.

    A missing file raises FileNotFoundError: a configured path that is not
    there is a deployment mistake, not a reason to open around the clock.
    """
    if path is None:
        return Schedule.always_open()
    with path.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_schedule(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# --- queries ---------------------------------------------------------------------------------------------


def _first_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first real instant (UTC) at which the local clock on ``day`` shows ``at``.

    ``fold=0`` picks the first of two instants in the autumn overlap. A time in
    the spring gap never shows; the clock jumps past it at the transition, so
    that transition is the answer.
    """
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In the gap: fold=1 resolves with the later offset (an instant before the
    # transition) and fold=0 with the earlier one (after it). Zone transitions
    # fall on whole seconds, so bisect over epoch seconds between the two.
    before = local.replace(fold=1).astimezone(UTC)
    offset_before = before.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _real_intervals(schedule: Schedule, first_day: date, days: int) -> Iterator[tuple[datetime, datetime]]:
    """Each day's intervals as UTC [start, end), in order, touching ones merged."""
    zone = schedule.zone
    pending: tuple[datetime, datetime] | None = None
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        intervals = sorted(schedule.intervals_on(day), key=lambda iv: (iv[0].hour, iv[0].minute))
        for start, end in intervals:
            begin = _first_instant(day, start, zone)
            finish = (
                _first_instant(day + timedelta(days=1), time(0, 0), zone)
                if end == END_OF_DAY
                else _first_instant(day, end, zone)
            )
            if begin >= finish:
                continue  # wholly inside a spring-forward gap
            if pending is not None and begin <= pending[1]:
                pending = (pending[0], max(pending[1], finish))
                continue
            if pending is not None:
                yield pending
            pending = (begin, finish)
    if pending is not None:
        yield pending


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def _blocks_around(
    schedule: Schedule, now: datetime, horizon_days: int
) -> tuple[datetime, Iterator[tuple[datetime, datetime]]]:
    instant = _utc(now)
    # Start a day early so a block that began yesterday (e.g. a night shift
    # written as 22:00-24:00 plus 00:00-06:00) is seen whole.
    first_day = instant.astimezone(schedule.zone).date() - timedelta(days=1)
    return instant, _real_intervals(schedule, first_day, horizon_days + 2)


def is_open(schedule: Schedule, now: datetime) -> bool:
    """Whether the service is open at ``now`` (an aware datetime in any zone)."""
    instant = _utc(now)
    day = instant.astimezone(schedule.zone).date()
    for begin, finish in _real_intervals(schedule, day - timedelta(days=1), 3):
        if begin <= instant < finish:
            return True
        if begin > instant:
            break
    return False


def next_opening(schedule: Schedule, now: datetime, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> datetime | None:
    """When the service next opens, in the schedule's zone.

    None when it is open now, or when it does not open within ``horizon_days``.
    """
    instant, blocks = _blocks_around(schedule, now, horizon_days)
    limit = instant + timedelta(days=horizon_days)
    for begin, finish in blocks:
        if begin <= instant < finish:
            return None
        if begin > instant:
            return begin.astimezone(schedule.zone) if begin <= limit else None
    return None


def next_closing(schedule: Schedule, now: datetime, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> datetime | None:
    """When the service closes next, in the schedule's zone.

    None when it is closed now, or when it stays open past ``horizon_days``
    (an always-open schedule).
    """
    instant, blocks = _blocks_around(schedule, now, horizon_days)
    limit = instant + timedelta(days=horizon_days)
    for begin, finish in blocks:
        if begin <= instant < finish:
            return finish.astimezone(schedule.zone) if finish <= limit else None
        if begin > instant:
            return None
    return None
