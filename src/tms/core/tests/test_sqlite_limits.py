"""SQLite is asked for its own parameter limit, so bulk writes take one statement, as on
PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tms.core.models import ScheduledRun

pytestmark = pytest.mark.django_db


def test_a_thousand_rows_are_inserted_in_one_statement():
    from django.utils import timezone

    now = timezone.now()
    rows = [ScheduledRun(job=f"job-{n}", period_start=now) for n in range(1000)]
    with CaptureQueriesContext(connection) as queries:
        ScheduledRun.objects.bulk_create(rows)

    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    if connection.vendor == "sqlite":  # 999 before: four statements
        assert (connection.features.max_query_params or 0) >= 32766
    assert len(inserts) == 1
    assert ScheduledRun.objects.count() == 1000
