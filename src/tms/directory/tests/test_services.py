"""Writing reference data: Kenya's public holidays and the upserts used by seeds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tms.directory.models import Agency, Centre, PublicHoliday, Service
from tms.directory.selectors import working_calendar
from tms.directory.services import (
    agency_upsert,
    centre_upsert,
    public_holidays_load_kenya,
    service_upsert,
)


@pytest.mark.django_db
def test_kenyan_holidays_are_recorded_for_the_years_asked():
    added = public_holidays_load_kenya(years=[2026])

    stored = dict(PublicHoliday.objects.values_list("date", "name"))
    assert added == len(stored) > 0
    assert {day.year for day in stored} == {2026}
    for day, name in [
        (date(2026, 1, 1), "New Year"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 6, 1), "Madaraka"),
        (date(2026, 10, 20), "Mashujaa"),
        (date(2026, 12, 12), "Jamhuri"),
        (date(2026, 12, 25), "Christmas"),
        (date(2026, 12, 26), "Boxing"),
    ]:
        assert name in stored[day]


@pytest.mark.django_db
def test_sunday_holidays_are_also_recorded_on_the_monday():
    public_holidays_load_kenya(years=[2027])
    # Jamhuri Day 2027 is a Sunday; the holiday is observed on Monday 13 December.
    assert PublicHoliday.objects.filter(date=date(2027, 12, 13)).exists()
    assert working_calendar().add(date(2027, 12, 10), 1) == date(2027, 12, 14)


@pytest.mark.django_db
def test_loading_twice_adds_nothing():
    first = public_holidays_load_kenya(years=[2026, 2027])
    count = PublicHoliday.objects.count()
    assert first == count

    assert public_holidays_load_kenya(years=[2026, 2027]) == 0
    assert PublicHoliday.objects.count() == count

    # A later year adds only that year.
    added = public_holidays_load_kenya(years=[2026, 2027, 2028])
    assert added > 0
    assert PublicHoliday.objects.count() == count + added
    assert PublicHoliday.objects.filter(date__year=2028).count() == added


@pytest.mark.django_db
def test_a_gazetted_ad_hoc_holiday_survives_a_reload():
    PublicHoliday.objects.create(date=date(2026, 12, 25), name="Gazette Notice: Christmas")
    PublicHoliday.objects.create(date=date(2026, 11, 13), name="National tree-planting day")

    public_holidays_load_kenya(years=[2026])

    assert PublicHoliday.objects.get(date=date(2026, 12, 25)).name == "Gazette Notice: Christmas"
    assert PublicHoliday.objects.filter(date=date(2026, 11, 13)).exists()


@pytest.mark.django_db
def test_loaded_holidays_are_respected_by_the_working_calendar():
    before = working_calendar()
    assert before.is_working_day(date(2026, 12, 25))
    assert before.add(date(2026, 12, 24), 2) == date(2026, 12, 28)

    public_holidays_load_kenya(years=[2026, 2027])

    calendar = working_calendar()
    assert not calendar.is_working_day(date(2026, 12, 25))
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert not calendar.is_working_day(date(2026, 4, 6))
    assert calendar.add(date(2026, 12, 24), 2) == date(2026, 12, 29)
    assert calendar.between(date(2026, 12, 24), date(2026, 12, 29)) == 2


@pytest.mark.django_db
def test_upserts_create_then_update_by_code():
    agency = agency_upsert(code="NRB", name="National Registration Bureau")
    assert agency_upsert(code="NRB", name="NRB (renamed)").pk == agency.pk
    assert Agency.objects.get(code="NRB").name == "NRB (renamed)"

    service = service_upsert(
        code="NRB-ID-NEW", agency=agency, name_en="New ID card", name_sw="Kitambulisho kipya",
        turnaround_days=10,
    )  # fmt: skip
    again = service_upsert(code="NRB-ID-NEW", agency=agency, reprint_cost_kes=Decimal("1000"))
    assert again.pk == service.pk
    stored = Service.objects.get(code="NRB-ID-NEW")
    assert (stored.name_en, stored.turnaround_days, stored.reprint_cost_kes) == (
        "New ID card",
        10,
        Decimal("1000.00"),
    )

    centre = centre_upsert(
        code="GPO", name="Huduma Centre GPO", county="Nairobi", address="Kenyatta Avenue",
        opening_hours="Mon–Fri 8:00–17:00",
    )  # fmt: skip
    assert centre_upsert(code="GPO", is_active=False).pk == centre.pk
    assert Centre.objects.get(code="GPO").is_active is False
    assert Centre.objects.count() == 1
