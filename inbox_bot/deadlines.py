"""The statutory clocks: when an answer is due, computed as the law computes it. Pure, no I/O.

The one-month period of art. 12(3) GDPR is counted under Regulation (EEC, Euratom) No 1182/71:
the day of receipt is not counted (art. 3(1)); a period in months ends with the expiry of the
day in the last month that has the same date as the day of receipt, or the last day of that
month where no such date exists (art. 3(2)(c)); a period ending on a Saturday, Sunday or public
holiday ends with the expiry of the next working day (art. 3(4)). So a request received on
31 January is due on 28 (or 29) February, one received on 9 March on 9 April, and one whose
date falls on 11 November on the next working day.

Everything is computed on the organisation's local calendar (Europe/Warsaw by default): a
message received at 00:30 Warsaw time on 1 February (23:30 UTC on 31 January) was received on
1 February. Inputs and outputs that are datetimes are timezone-aware; outputs are in UTC.

The breach clock of art. 33 is a period in hours: exactly 72 hours from receipt, never rolled
to a working day (art. 3(4) of the Regulation excludes periods expressed in hours).
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays

DEFAULT_TZ = "Europe/Warsaw"
DEFAULT_COUNTRY = "PL"

# The last second of a due day: the period ends "with the expiry of the last hour" of that day.
END_OF_DAY = time(23, 59, 59)

BREACH_HOURS = 72
EXTENSION_MONTHS = 2  # art. 12(3): "by two further months"


@functools.lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> frozenset[date]:
    # Building a holiday calendar is slow enough to show in a digest over hundreds of cases;
    # the calendar of a (country, year) never changes while the process runs.
    return frozenset(holidays.country_holidays(country, years=year).keys())


def is_working_day(d: date, country: str = DEFAULT_COUNTRY) -> bool:
    """True unless `d` is a Saturday, a Sunday or a public holiday of `country`."""
    return d.weekday() < 5 and d not in _holidays(country, d.year)


def next_working_day(d: date, country: str = DEFAULT_COUNTRY) -> date:
    """`d` itself when it is a working day, else the first working day after it."""
    while not is_working_day(d, country):
        d += timedelta(days=1)
    return d


def working_days_between(start: date, end: date, country: str = DEFAULT_COUNTRY) -> int:
    """Working days after `start` up to and including `end`; negative when `end` is earlier.

    For "due in N working days" in the digest: from Friday to the following Monday is 1.
    """
    if end < start:
        return -working_days_between(end, start, country)
    count = 0
    d = start + timedelta(days=1)
    while d <= end:
        if is_working_day(d, country):
            count += 1
        d += timedelta(days=1)
    return count


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would be read as the machine's local time and shift a legal deadline
    # by a day on a server that runs in UTC; refuse it rather than guess.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def local_date(moment: datetime, tz: str = DEFAULT_TZ) -> date:
    """The calendar date of an aware moment in the organisation's time zone."""
    _require_aware(moment, "moment")
    return moment.astimezone(ZoneInfo(tz)).date()


def add_months(d: date, months: int) -> date:
    """The same date `months` later, or the last day of that month where it has no such date."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last))


def end_of_day(d: date, tz: str = DEFAULT_TZ) -> datetime:
    """23:59:59 local time on `d`, as an aware UTC datetime (DST-correct)."""
    return datetime.combine(d, END_OF_DAY, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def due_date(
    received_at: datetime,
    tz: str = DEFAULT_TZ,
    country: str = DEFAULT_COUNTRY,
    months: int = 1,
) -> date:
    """The local date by which a request received at `received_at` must be answered.

    `months` months after the local date of receipt (clamped to the month's last day), then
    rolled forward past Saturdays, Sundays and public holidays of `country`.
    """
    return next_working_day(add_months(local_date(received_at, tz), months), country)


def due_at(
    received_at: datetime,
    tz: str = DEFAULT_TZ,
    country: str = DEFAULT_COUNTRY,
    months: int = 1,
) -> datetime:
    """The end (23:59:59 local) of the due day, as an aware UTC datetime."""
    return end_of_day(due_date(received_at, tz, country, months), tz)


def extended_due_at(
    received_at: datetime,
    tz: str = DEFAULT_TZ,
    country: str = DEFAULT_COUNTRY,
) -> datetime:
    """The deadline after an art. 12(3) extension: three months from receipt in total.

    Counted from the date of receipt (one month plus two further months), not from the rolled
    first deadline: rolling twice would let a holiday at the end of month one push month three.
    """
    return due_at(received_at, tz, country, months=1 + EXTENSION_MONTHS)


def breach_due_at(received_at: datetime) -> datetime:
    """Exactly 72 hours after receipt (art. 33(1)), in UTC; no working-day roll."""
    _require_aware(received_at, "received_at")
    return (received_at + timedelta(hours=BREACH_HOURS)).astimezone(timezone.utc)


def paused_days(paused_from: datetime, paused_until: datetime, tz: str = DEFAULT_TZ) -> int:
    """Calendar days a pause lasted: local date of its end minus local date of its start.

    Whole days, like the rest of the period: a pause that starts and ends on the same local
    day shifts nothing, one from Monday 16:00 to Wednesday 09:00 shifts two days.
    """
    _require_aware(paused_from, "paused_from")
    _require_aware(paused_until, "paused_until")
    if paused_until < paused_from:
        raise ValueError("a pause cannot end before it starts")
    return (local_date(paused_until, tz) - local_date(paused_from, tz)).days


def add_pause(
    due_at: datetime,
    paused_from: datetime,
    paused_until: datetime,
    tz: str = DEFAULT_TZ,
    country: str = DEFAULT_COUNTRY,
) -> datetime:
    """The deadline moved by a pause while the requester's identity was awaited.

    The due day moves by the number of calendar days paused (see `paused_days`) and is then
    rolled forward to a working day; the result is the end of that day in UTC. Apply once per
    pause, in order, to the deadline the previous pause produced.
    """
    _require_aware(due_at, "due_at")
    days = paused_days(paused_from, paused_until, tz)
    if days == 0:
        return due_at
    shifted = local_date(due_at, tz) + timedelta(days=days)
    return end_of_day(next_working_day(shifted, country), tz)
