"""Working-day arithmetic: weekends and Kenyan public holidays are not working days."""

from __future__ import annotations

from datetime import date, timedelta

import holidays as holiday_tables
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tms.directory.working_days import WorkingCalendar

KENYA = WorkingCalendar(holiday_tables.country_holidays("KE", years=range(2019, 2031)))
NO_HOLIDAYS = WorkingCalendar([])

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2029, 12, 31))
holiday_sets = st.frozensets(days, max_size=40)


def brute_force_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    if end < start:
        return -brute_force_between(calendar, end, start)
    return sum(
        1 for n in range(1, (end - start).days + 1) if calendar.is_working_day(start + timedelta(n))
    )


# --- Examples -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 11), True),  # Friday
        (date(2026, 12, 12), False),  # Jamhuri Day, a Saturday
        (date(2026, 12, 13), False),  # Sunday
        (date(2026, 12, 14), True),  # Monday: a Saturday holiday is not moved
        (date(2026, 12, 25), False),  # Christmas, Friday
        (date(2026, 12, 26), False),  # Boxing Day, Saturday
        (date(2026, 12, 28), True),
        (date(2027, 1, 1), False),  # New Year, Friday
        (date(2026, 4, 2), True),  # Maundy Thursday
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 4, 7), True),
        (date(2026, 10, 20), False),  # Mashujaa Day, Tuesday
        (date(2027, 12, 12), False),  # Jamhuri Day on a Sunday ...
        (date(2027, 12, 13), False),  # ... is observed on the Monday
        (date(2027, 12, 27), False),  # Boxing Day (Sunday) observed on Monday
    ],
)
def test_working_days_in_kenya(day: date, working: bool) -> None:
    assert KENYA.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 12, 24), 1, date(2026, 12, 28)),  # Thursday, over Christmas and the weekend
        (date(2026, 12, 24), 2, date(2026, 12, 29)),
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # across the year end and New Year
        (date(2026, 12, 11), 1, date(2026, 12, 14)),  # Friday before Jamhuri (Saturday)
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Thursday before Easter
        (date(2026, 4, 2), 3, date(2026, 4, 9)),
        (date(2026, 10, 19), 1, date(2026, 10, 21)),  # over Mashujaa Day
        (date(2026, 12, 12), 1, date(2026, 12, 14)),  # counting from a Saturday holiday
        (date(2026, 12, 24), 0, date(2026, 12, 24)),
        (date(2026, 12, 25), 0, date(2026, 12, 25)),  # zero days is the start itself
        (date(2026, 12, 18), 10, date(2027, 1, 5)),  # two holidays in two weeks
    ],
)
def test_adding_working_days_in_kenya(start: date, n: int, expected: date) -> None:
    assert KENYA.add(start, n) == expected
    if n:
        assert KENYA.between(start, expected) == n


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 12, 24), 1, date(2026, 12, 25)),
        (date(2026, 12, 24), 2, date(2026, 12, 28)),
        (date(2026, 12, 25), 1, date(2026, 12, 28)),  # Friday + 1 = Monday
        (date(2026, 12, 26), 1, date(2026, 12, 28)),  # from a Saturday
        (date(2026, 12, 27), 5, date(2027, 1, 1)),
    ],
)
def test_without_holidays_only_weekends_are_skipped(start: date, n: int, expected: date) -> None:
    assert NO_HOLIDAYS.add(start, n) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 12, 24), date(2026, 12, 24), 0),
        (date(2026, 12, 24), date(2026, 12, 28), 1),
        (date(2026, 12, 18), date(2027, 1, 8), 13),  # 15 weekdays less Christmas, New Year
        (date(2026, 12, 28), date(2026, 12, 24), -1),
        # 2 Jan 2026 to 1 Jan 2027: 261 weekdays; 8 holidays fall on weekdays (Eid al-Fitr,
        # Good Friday, Easter Monday, Labour, Madaraka, Mashujaa, Christmas, New Year 2027).
        (date(2026, 1, 1), date(2027, 1, 1), 261 - 8),
        (date(2026, 12, 25), date(2026, 12, 27), 0),  # a holiday and a weekend
    ],
)
def test_counting_working_days_between(start: date, end: date, expected: int) -> None:
    assert KENYA.between(start, end) == expected


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        KENYA.add(date(2026, 1, 5), -1)


def test_a_weekend_holiday_is_not_counted_twice() -> None:
    saturday = date(2026, 12, 12)
    with_it = WorkingCalendar([saturday])
    assert with_it.between(date(2026, 12, 6), date(2026, 12, 18)) == 10  # Sunday to Friday
    assert with_it.add(date(2026, 12, 11), 1) == date(2026, 12, 14)


def test_repeated_additions_give_the_same_answer() -> None:
    calendar = WorkingCalendar([date(2026, 12, 25)])
    first = calendar.add(date(2026, 12, 23), 3)
    assert calendar.add(date(2026, 12, 23), 3) == first == date(2026, 12, 29)


# --- Properties ---------------------------------------------------------------------------


@given(start=days, n=st.integers(min_value=0, max_value=400))
def test_between_undoes_add_in_kenya(start: date, n: int) -> None:
    end = KENYA.add(start, n)
    assert KENYA.between(start, end) == n
    if n >= 1:
        assert KENYA.is_working_day(end)
        # It is the first day that reaches n: the day before is short of it.
        assert KENYA.between(start, end - timedelta(days=1)) == n - 1


@given(holidays=holiday_sets, start=days, n=st.integers(min_value=0, max_value=120))
def test_between_undoes_add_with_any_holidays(holidays, start: date, n: int) -> None:
    calendar = WorkingCalendar(holidays)
    end = calendar.add(start, n)
    assert calendar.between(start, end) == n
    assert end >= start
    if n >= 1:
        assert calendar.is_working_day(end)
        assert end not in holidays
        assert end.weekday() < 5


@given(holidays=holiday_sets, start=days, end=days)
def test_between_counts_the_working_days_one_by_one(holidays, start: date, end: date) -> None:
    calendar = WorkingCalendar(holidays)
    assert calendar.between(start, end) == brute_force_between(calendar, start, end)
    assert calendar.between(end, start) == -calendar.between(start, end)


@given(start=days, a=st.integers(0, 60), b=st.integers(0, 60))
def test_adding_in_two_steps_is_adding_once(start: date, a: int, b: int) -> None:
    assert KENYA.add(KENYA.add(start, a), b) == KENYA.add(start, a + b)
