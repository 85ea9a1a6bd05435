"""Writes of reference data (the admin edits single rows; these serve commands and seeds)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import holidays as holiday_tables
from django.db import transaction

from tms.directory.models import Agency, Centre, PublicHoliday, Service


@transaction.atomic
def public_holidays_load_kenya(*, years: Iterable[int]) -> int:
    """Record Kenya's public holidays for ``years`` (with Sunday holidays moved to Monday,
    as gazetted). Existing rows are kept, so ad-hoc gazetted holidays survive. Returns
    how many rows were added."""
    table = holiday_tables.country_holidays("KE", years=list(years))
    existing = set(PublicHoliday.objects.values_list("date", flat=True))
    new = [
        PublicHoliday(date=day, name=str(name)[:120])
        for day, name in sorted(table.items())
        if day not in existing
    ]
    PublicHoliday.objects.bulk_create(new)
    return len(new)


def agency_upsert(*, code: str, **fields: Any) -> Agency:
    agency, _ = Agency.objects.update_or_create(code=code, defaults=fields)
    return agency


def service_upsert(*, code: str, agency: Agency, **fields: Any) -> Service:
    service, _ = Service.objects.update_or_create(code=code, defaults={"agency": agency, **fields})
    return service


def centre_upsert(*, code: str, **fields: Any) -> Centre:
    centre, _ = Centre.objects.update_or_create(code=code, defaults=fields)
    return centre
