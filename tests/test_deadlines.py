"""The statutory clocks on hand-picked dates (art. 12(3) GDPR, Regulation 1182/71, art. 33)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from inbox_bot import deadlines
from inbox_bot.deadlines import (
    add_months,
    add_pause,
    breach_due_at,
    due_at,
    due_date,
    extended_due_at,
    is_working_day,
    next_working_day,
    paused_days,
    working_days_between,
)

WARSAW = ZoneInfo("Europe/Warsaw")
UTC = timezone.utc


def local(y, m, d, hh=12, mm=0) -> datetime:
    """A moment given in Warsaw local time, as the aware UTC value the pipeline stores."""
    return datetime(y, m, d, hh, mm, tzinfo=WARSAW).astimezone(UTC)


def utc(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# Each row: local date of receipt -> the due date. A wrong month clamp, a missed weekend or a
# holiday the calendar does not know each moves one of these by at least a day.
HAND_PICKED = [
    # Month ends: no 31 February, no 30 February; the last day of February instead.
    ((2025, 1, 31), date(2025, 2, 28)),  # non-leap year, a Friday
    ((2024, 1, 31), date(2024, 2, 29)),  # leap year
    ((2025, 1, 30), date(2025, 2, 28)),
    ((2024, 1, 30), date(2024, 2, 29)),
    ((2023, 1, 30), date(2023, 2, 28)),
    ((2026, 1, 31), date(2026, 3, 2)),  # 28 Feb 2026 is a Saturday -> Monday
    ((2025, 3, 9), date(2025, 4, 9)),  # the plain case: same date next month
    # Weekends.
    ((2026, 2, 15), date(2026, 3, 16)),  # 15 March 2026 is a Sunday
    ((2026, 3, 7), date(2026, 4, 7)),  # received on a Saturday: receipt day does not roll
    # Polish public holidays.
    ((2026, 10, 11), date(2026, 11, 12)),  # 11 November (Wednesday) -> Thursday
    ((2025, 10, 11), date(2025, 11, 12)),  # 11 November (Tuesday) -> Wednesday
    ((2026, 3, 6), date(2026, 4, 7)),  # Easter Monday 6 April 2026
    ((2025, 3, 21), date(2025, 4, 22)),  # Easter Monday 21 April 2025
    ((2026, 5, 4), date(2026, 6, 5)),  # Corpus Christi 4 June 2026
    ((2025, 5, 19), date(2025, 6, 20)),  # Corpus Christi 19 June 2025
    ((2025, 11, 24), date(2025, 12, 29)),  # 24, 25, 26 Dec holidays, then a weekend
    ((2026, 11, 24), date(2026, 12, 28)),  # 24 Dec 2026 Thursday .. Sunday 27
    ((2024, 11, 24), date(2024, 12, 24)),  # before 2025, 24 December was a working day
    ((2025, 12, 6), date(2026, 1, 7)),  # Epiphany 6 January
    ((2025, 12, 31), date(2026, 2, 2)),  # across the year; 31 Jan 2026 is a Saturday
    ((2026, 4, 3), date(2026, 5, 4)),  # 3 May holiday on a Sunday -> Monday 4 May
]


@pytest.mark.parametrize(("received", "expected"), HAND_PICKED)
def test_due_date_hand_picked(received, expected):
    assert due_date(local(*received)) == expected


def test_christmas_eve_is_a_polish_holiday_from_2025():
    # Guards against an old `holidays` release that does not know the 2025 statute.
    assert not is_working_day(date(2025, 12, 24))
    assert not is_working_day(date(2026, 12, 24))
    assert is_working_day(date(2024, 12, 24))


def test_received_after_midnight_local_is_still_previous_day_in_utc():
    # 00:30 Warsaw on 1 Feb 2025 is 23:30 UTC on 31 Jan. Counted from the UTC date the answer
    # would be due 28 Feb; from the local date it is 1 March (a Saturday) -> Monday 3 March.
    received = utc(2025, 1, 31, 23, 30)
    assert received.astimezone(WARSAW).date() == date(2025, 2, 1)
    assert due_date(received) == date(2025, 3, 3)


def test_received_after_midnight_in_summer_time():
    # 00:30 CEST on 1 July is 22:30 UTC on 30 June: due 1 Aug (Sat) -> Mon 3 Aug, not 30 July.
    assert due_date(utc(2026, 6, 30, 22, 30)) == date(2026, 8, 3)


def test_due_at_is_end_of_local_day_in_utc_winter_and_summer():
    # A due day in CET ends at 22:59:59 UTC, in CEST at 21:59:59 UTC; a fixed UTC offset would
    # cut an hour off (or add one to) half of all deadlines.
    assert due_at(local(2026, 2, 10)) == utc(2026, 3, 10, 22, 59) + timedelta(seconds=59)
    assert due_at(local(2026, 3, 30)) == utc(2026, 4, 30, 21, 59) + timedelta(seconds=59)


def test_received_on_the_night_clocks_change():
    # Spring: 00:30 UTC on 29 March 2026 is 01:30 CET, before the change at 01:00 UTC.
    spring = utc(2026, 3, 29, 0, 30)
    assert due_date(spring) == date(2026, 4, 29)
    assert due_at(spring) == utc(2026, 4, 29, 21, 59) + timedelta(seconds=59)
    # Autumn: 00:30 UTC on 25 October 2026 is 02:30 CEST on 25 October; due 25 Nov (CET).
    autumn = utc(2026, 10, 25, 0, 30)
    assert due_date(autumn) == date(2026, 11, 25)
    assert due_at(autumn) == utc(2026, 11, 25, 22, 59) + timedelta(seconds=59)


def test_due_at_is_aware_utc():
    value = due_at(local(2026, 5, 4))
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_naive_receipt_time_is_refused():
    # A naive datetime would silently be read in the server's zone.
    with pytest.raises(ValueError):
        due_date(datetime(2026, 1, 1, 12, 0))


def test_other_country_calendar():
    # 17 May is a Norwegian holiday and a Polish working day: the country must be honoured.
    received = local(2027, 4, 17)  # due 17 May 2027, a Monday
    assert due_date(received, country="PL") == date(2027, 5, 17)
    assert due_date(received, country="NO") == date(2027, 5, 18)


def test_extension_is_three_months_from_receipt_not_from_the_rolled_first_deadline():
    # Received 31 Jan 2026: first deadline rolls to Mon 2 March; three months from receipt is
    # 30 April (Thursday). Counting +2 months from 2 March would give Mon 4 May: too late.
    received = local(2026, 1, 31)
    assert due_date(received) == date(2026, 3, 2)
    assert extended_due_at(received) == utc(2026, 4, 30, 21, 59) + timedelta(seconds=59)


def test_extension_rolls_to_working_day():
    # 30 Nov 2025 + 3 months = 28 Feb 2026 (Saturday) -> Monday 2 March, end of day CET.
    assert extended_due_at(local(2025, 11, 30)) == utc(2026, 3, 2, 22, 59) + timedelta(seconds=59)


def test_breach_clock_is_exactly_72_hours_across_dst():
    # 10:00 UTC Friday 27 March 2026 -> 10:00 UTC Monday 30 March, though local clocks jumped.
    assert breach_due_at(utc(2026, 3, 27, 10, 0)) == utc(2026, 3, 30, 10, 0)


def test_breach_clock_ignores_weekends_and_holidays():
    # Art. 33 counts hours: a holiday (11 Nov) inside the window must not extend it.
    assert breach_due_at(utc(2026, 11, 9, 12, 0)) == utc(2026, 11, 12, 12, 0)
    received = datetime(2026, 11, 6, 18, 0, tzinfo=WARSAW)  # a Friday evening, local
    assert breach_due_at(received) == utc(2026, 11, 9, 17, 0)
    assert breach_due_at(received).utcoffset() == timedelta(0)


def test_pause_shifts_by_whole_calendar_days_and_rolls():
    # Due Thu 30 April 2026; paused Mon 6 Apr 16:00 -> Wed 8 Apr 09:00 = 2 calendar days ->
    # Sat 2 May -> Sun 3 May (also a holiday) -> Monday 4 May.
    due = due_at(local(2026, 3, 30))
    moved = add_pause(due, local(2026, 4, 6, 16), local(2026, 4, 8, 9))
    assert moved == utc(2026, 5, 4, 21, 59) + timedelta(seconds=59)


def test_pause_within_one_day_changes_nothing():
    due = due_at(local(2026, 3, 30))
    assert add_pause(due, local(2026, 4, 6, 9), local(2026, 4, 6, 17)) == due


def test_pauses_apply_in_sequence():
    # Two pauses of 3 days each: 10 March 2026 + 6 days = Monday 16 March.
    due = due_at(local(2026, 2, 10))
    first = add_pause(due, local(2026, 2, 12), local(2026, 2, 15))
    second = add_pause(first, local(2026, 2, 20), local(2026, 2, 23))
    assert first.astimezone(WARSAW).date() == date(2026, 3, 13)
    assert second.astimezone(WARSAW).date() == date(2026, 3, 16)


def test_pause_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        paused_days(local(2026, 4, 8), local(2026, 4, 6))


def test_pause_days_counted_on_local_calendar():
    # 23:30 UTC on 6 April is 01:30 on 7 April in Warsaw: a pause until then spans one day.
    assert paused_days(local(2026, 4, 6, 20), utc(2026, 4, 6, 23, 30)) == 1


def test_working_day_helpers():
    assert next_working_day(date(2026, 11, 11)) == date(2026, 11, 12)
    assert next_working_day(date(2026, 11, 12)) == date(2026, 11, 12)
    # Fri 6 Nov -> Thu 12 Nov 2026: Mon, Tue, (Wed 11 Nov holiday), Thu = 3 working days.
    assert working_days_between(date(2026, 11, 6), date(2026, 11, 12)) == 3
    assert working_days_between(date(2026, 11, 12), date(2026, 11, 6)) == -3
    assert working_days_between(date(2026, 11, 6), date(2026, 11, 6)) == 0


def test_add_months_clamps_and_crosses_years():
    assert add_months(date(2026, 12, 31), 1) == date(2027, 1, 31)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2023, 12, 31), 2) == date(2024, 2, 29)


def test_holiday_calendar_is_cached_per_country_and_year():
    # The digest checks hundreds of dates; rebuilding the calendar each time is the slow path.
    deadlines._holidays.cache_clear()
    for day in range(1, 29):
        is_working_day(date(2026, 2, day))
    info = deadlines._holidays.cache_info()
    assert info.misses == 1 and info.hits >= 19  # 20 weekdays looked up, one calendar built
