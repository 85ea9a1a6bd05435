"""Reads of reference data."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from tms.directory.models import Agency, Centre, PublicHoliday, Service
from tms.directory.working_days import WorkingCalendar


def working_calendar(*, start: date | None = None, end: date | None = None) -> WorkingCalendar:
    """The calendar with the holidays recorded between ``start`` and ``end`` (all if open)."""
    holidays = PublicHoliday.objects.all()
    if start is not None:
        holidays = holidays.filter(date__gte=start)
    if end is not None:
        holidays = holidays.filter(date__lte=end)
    return WorkingCalendar(holidays.values_list("date", flat=True))


def centre_list(*, active_only: bool = True) -> QuerySet[Centre]:
    centres = Centre.objects.all()
    return centres.filter(is_active=True) if active_only else centres


def service_list(*, agency: Agency | None = None, active_only: bool = True) -> QuerySet[Service]:
    services = Service.objects.select_related("agency")
    if agency is not None:
        services = services.filter(agency=agency)
    return services.filter(is_active=True) if active_only else services
