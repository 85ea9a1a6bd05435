"""The PostgreSQL backend reads timestamps with psycopg's C loader and gives exactly
what Django's own loader gives: aware datetimes in UTC, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from tms.applications.models import Application
from tms.testing.builders import lodge

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL backend's own behaviour"
    ),
]


def test_timestamps_are_read_by_psycopgs_own_loader():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(
            connection.connection.adapters.types["timestamptz"].oid, 0
        )
    assert not issubclass(loader, BaseTzLoader)  # Django's, in Python, is not used


def test_timestamps_read_back_as_aware_utc_to_the_microsecond():
    # Written in another zone, across a leap day and a day boundary in Nairobi.
    moment = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=3)))
    application = lodge(lodged_at=moment)
    read = Application.objects.get(pk=application.pk)
    assert read.lodged_at == moment
    assert read.lodged_at.tzinfo is UTC
    assert read.lodged_at.isoformat() == "2024-02-29T20:59:58.123456+00:00"
    with connection.cursor() as cursor:
        cursor.execute("SELECT NULL::timestamptz, %s::timestamptz", [moment])
        assert cursor.fetchone() == (None, moment)
