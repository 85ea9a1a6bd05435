"""Checks that synthetic data obeys the same rules as data made through the services."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tms.applications import references
from tms.applications.lifecycle import TERMINAL, Action, Status, target_of
from tms.applications.models import Application, ApplicationEvent
from tms.core.phones import normalise_phone
from tms.directory.models import Service
from tms.directory.selectors import working_calendar


def assert_histories_consistent(applications: QuerySet[Application]) -> int:
    """Every application against its own history; returns how many were checked."""
    now = timezone.now()
    calendar = working_calendar()
    turnaround = dict(Service.objects.values_list("id", "turnaround_days"))
    requires_id = dict(Service.objects.values_list("id", "requires_id_number"))
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        ApplicationEvent.objects.filter(application__in=applications)
        .order_by("application_id", "version")
        .values()
    ):
        events[row["application_id"]].append(dict(row))
    checked = 0
    for app in applications.values():
        history = events[app["id"]]
        assert history, f"application {app['id']} has no history"
        assert [e["version"] for e in history] == list(range(1, len(history) + 1))
        current: Status | None = None
        previous: datetime | None = None
        for event in history:
            assert event["from_status"] == (current or "")
            target = target_of(Action(event["action"]), current)
            assert event["to_status"] == target
            assert event["recorded_at"] >= event["occurred_at"]
            assert event["occurred_at"] <= now
            if previous is not None:
                assert event["occurred_at"] >= previous
            previous = event["occurred_at"]
            current = target
        last = history[-1]
        assert app["status"] == last["to_status"]
        assert app["version"] == last["version"]
        assert app["status_changed_at"] == last["recorded_at"]
        assert app["lodged_at"] == history[0]["occurred_at"]
        assert app["created_at"] == history[0]["recorded_at"]
        acknowledged = [e for e in history if e["action"] == Action.ACKNOWLEDGE_RECEIPT]
        assert app["ready_at"] == (acknowledged[-1]["occurred_at"] if acknowledged else None)
        closed = last["occurred_at"] if Status(app["status"]) in TERMINAL else None
        assert app["closed_at"] == closed
        lodged_day = timezone.localdate(app["lodged_at"])
        assert app["due_date"] == calendar.add(lodged_day, turnaround[app["service_id"]])
        assert references.parse(app["reference"]) == app["reference"]
        assert normalise_phone(app["applicant_phone"]) == app["applicant_phone"]
        assert app["applicant_phone"].startswith(("+2547", "+2541"))
        assert len(app["applicant_phone"]) == 13
        if requires_id[app["service_id"]]:
            assert len(app["applicant_id_number"]) == 8
            assert app["applicant_id_number"].isdigit()
        assert app["language"] in {"en", "sw"}
        assert app["applicant_name"].strip() and "  " not in app["applicant_name"]
        checked += 1
    return checked


def digest(applications: QuerySet[Application]) -> str:
    """A fingerprint of references, statuses and histories (ids left out)."""
    sha = hashlib.sha256()
    line: tuple[Any, ...]
    for line in applications.order_by("reference").values_list(
        "reference", "status", "version", "applicant_name", "applicant_phone", "lodged_at"
    ):
        sha.update(repr(line).encode())
    for line in (
        ApplicationEvent.objects.filter(application__in=applications)
        .order_by("application__reference", "version")
        .values_list("application__reference", "version", "action", "occurred_at", "note")
    ):
        sha.update(repr(line).encode())
    return sha.hexdigest()
