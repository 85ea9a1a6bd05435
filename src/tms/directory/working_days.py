"""Working-day arithmetic: weekends and Kenyan public holidays are not working days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

SATURDAY = 5


class WorkingCalendar:
    """A calendar built from a set of public holidays.

    ``add(start, n)`` is the n-th working day after ``start``; ``between(a, b)``
    counts the working days after ``a`` up to and including ``b``, so that
    ``between(a, add(a, n)) == n``.
    """

    def __init__(self, holidays: Iterable[date]) -> None:
        self.holidays = frozenset(holidays)
        # Many applications share a few (start, n) pairs; bulk generation relies on it.
        self._added: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < SATURDAY and day not in self.holidays

    def _add(self, start: date, days: int) -> date:
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def add(self, start: date, days: int) -> date:
        key = (start, days)
        found = self._added.get(key)
        if found is None:
            found = self._added[key] = self._add(start, days)
        return found

    def between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.between(end, start)
        # Whole weeks first, then the remainder day by day.
        total_days = (end - start).days
        weeks, rest = divmod(total_days, 7)
        count = weeks * 5
        day = start + timedelta(days=weeks * 7)
        for _ in range(rest):
            day += timedelta(days=1)
            if day.weekday() < SATURDAY:
                count += 1
        count -= sum(1 for h in self.holidays if start < h <= end and h.weekday() < SATURDAY)
        return count
