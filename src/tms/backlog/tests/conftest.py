"""Shared builders for the backlog tests: documents made ready a given number of
Nairobi days ago, at a given local time, through the real services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from tms.applications.models import Application
from tms.applications.services import Actor, application_acknowledge_receipt
from tms.directory.models import Centre, Service
from tms.testing.builders import lodge


def nairobi(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at), timezone.get_default_timezone())


def make_ready(
    *,
    service: Service,
    centre: Centre,
    days_ago: int,
    today: date,
    at: time = time(0, 0, 1),
    **fields: Any,
) -> Application:
    """An application acknowledged (ready) ``days_ago`` Nairobi days before ``today``."""
    ready_at = nairobi(today - timedelta(days=days_ago), at)
    application = lodge(
        service=service, centre=centre, lodged_at=ready_at - timedelta(days=20), **fields
    )
    return application_acknowledge_receipt(
        application, actor=Actor.system("test"), occurred_at=ready_at
    )


@pytest.fixture
def today() -> date:
    return timezone.localdate(timezone.now(), timezone.get_default_timezone())
