"""Reads for the retention job: which applications' personal data is due to go."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from tms.applications.lifecycle import Status
from tms.applications.models import Application

# Closed: nothing will happen to these applications any more (SPEC §3, §11).
CLOSED = (Status.COLLECTED, Status.RETURNED, Status.REJECTED, Status.CANCELLED)


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """Personal data of applications closed before this moment is anonymised."""
    now = now or timezone.now()
    return now - timedelta(days=settings.TMS_PERSONAL_DATA_RETENTION_DAYS)


def applications_due(*, now: datetime | None = None) -> QuerySet[Application]:
    """Closed applications past the retention period and not yet anonymised, in id order."""
    return Application.objects.filter(
        status__in=CLOSED,
        closed_at__lt=retention_cutoff(now=now),
        anonymised_at__isnull=True,
    ).order_by("id")
