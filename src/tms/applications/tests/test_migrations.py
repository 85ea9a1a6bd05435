"""Data migrations of the applications app, run on the current schema."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from tms.applications.lifecycle import Action as A
from tms.applications.models import Application
from tms.applications.tests.expected_lifecycle import perform
from tms.testing.builders import lodge, make_centre, make_service

status_entered_at = importlib.import_module("tms.applications.migrations.0009_status_entered_at")


@pytest.mark.django_db
def test_an_upgrade_fills_when_each_application_entered_its_status() -> None:
    service, centre = make_service(), make_centre()
    start = timezone.now() - timedelta(days=2)
    paths = [
        [],
        [A.START_PROCESSING, A.DISPATCH],
        [A.START_PROCESSING, A.DISPATCH, A.ACKNOWLEDGE_RECEIPT, A.UNDO_RECEIPT],
        [A.START_PROCESSING, A.ACKNOWLEDGE_RECEIPT, A.UNDO_RECEIPT],
        [A.DISPATCH, A.ACKNOWLEDGE_RECEIPT, A.UNDO_RECEIPT, A.ACKNOWLEDGE_RECEIPT, A.HAND_OVER],
    ]
    made = []
    for n, path in enumerate(paths):
        application = lodge(
            service=service, centre=centre, phone=f"07120000{n:02d}", lodged_at=start
        )
        for h, action in enumerate(path, start=1):
            application = perform(application, action, occurred_at=start + timedelta(hours=h))
        made.append(application.pk)
    # What the services kept as they went is what the migration must work out afresh.
    kept = dict(Application.objects.values_list("pk", "status_entered_at"))
    assert kept[made[2]] == start + timedelta(hours=2)  # back on its way since the dispatch
    assert kept[made[3]] == start + timedelta(hours=3)  # a new stint from the undo
    Application.objects.update(status_entered_at=None)

    status_entered_at.fill_status_entered_at(apps, None)

    assert dict(Application.objects.values_list("pk", "status_entered_at")) == kept
