"""The retention job: the personal data of long-closed applications is gone, everywhere;
recent and open applications keep theirs; every report figure stays the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tms.accounts.roles import Role
from tms.applications.models import Application, ApplicationEvent
from tms.audit.models import AuditRecord
from tms.counter.models import Handover, HandoverCode
from tms.notifications.models import DeliveryReport, Message
from tms.privacy.services import ANONYMISED, personal_data_anonymise
from tms.privacy.tests.conftest import OLD, OLD_ADDRESS, OPEN, RECENT, Scenario, columns_holding
from tms.reports.models import DailyDurations, DailyFigures, DailySms
from tms.reports.rollups import FIGURES, rollups_rebuild, rollups_update
from tms.reports.selectors import (
    Filters,
    backlog,
    breaches,
    headline,
    lookups_by_channel,
    public_performance,
    sms_by_network,
    stage_times,
    turnaround,
)
from tms.testing.staff import make_staff, sign_in
from tms.tracking.models import CitizenQuery

pytestmark = pytest.mark.django_db
SETTLED = timedelta(0)

# Where the test data put the citizen's details before the job: every one must be found
# first, or the scan afterwards proves nothing.
PERSONAL_COLUMNS = {
    "applications.Application.applicant_name",
    "applications.Application.applicant_phone",
    "applications.Application.applicant_id_number",
    "applications.Application.representative_name",
    "applications.Application.representative_phone",
    "applications.ApplicationEvent.note",
    "notifications.Message.to",
    "notifications.Message.body",
    "notifications.DeliveryReport.phone",
    "counter.Handover.delegate_name",
    "counter.Handover.delegate_id_number",
    "tracking.CitizenQuery.answer",
}
# The application columns the job changes: its personal data, and when it was removed.
APPLICATION_CHANGED = {
    "applicant_name",
    "applicant_phone",
    "applicant_id_number",
    "representative_name",
    "representative_phone",
    "anonymised_at",
}


def _unchanged_columns(model: Any, ids: list[int], *, skip: set[str]) -> list[tuple[Any, ...]]:
    names = [f.attname for f in model._meta.concrete_fields if f.name not in skip]
    return list(model._base_manager.filter(pk__in=ids).order_by("pk").values_list(*names))


def test_personal_data_is_gone_and_recent_and_open_applications_keep_theirs(
    scenario: Scenario,
) -> None:
    old_traces = [*OLD.traces(), OLD_ADDRESS]
    assert columns_holding(old_traces) == PERSONAL_COLUMNS | {
        "applications.ApplicationEvent.address"
    }
    recent_before = columns_holding(RECENT.traces())
    open_before = columns_holding(OPEN.traces())
    assert recent_before == PERSONAL_COLUMNS  # the same story as the old citizen's
    old_ids = sorted(a.pk for a in scenario.old.values())
    events = ApplicationEvent.objects.filter(application_id__in=old_ids)
    event_ids = list(events.values_list("pk", flat=True))
    message_ids = list(
        Message.objects.filter(application_id__in=old_ids).values_list("pk", flat=True)
    )
    kept_application = _unchanged_columns(
        Application,
        old_ids,
        skip=APPLICATION_CHANGED,
    )
    kept_events = _unchanged_columns(ApplicationEvent, event_ids, skip={"note", "address"})
    kept_messages = _unchanged_columns(Message, message_ids, skip={"to", "body"})
    audit = list(AuditRecord.objects.order_by("pk").values_list())
    assert HandoverCode.objects.filter(application_id__in=old_ids).exists()

    summary = personal_data_anonymise(now=scenario.now)

    assert summary.applications == 4 and summary.batches == 1
    assert columns_holding(old_traces) == set()
    assert columns_holding(RECENT.traces()) == recent_before
    assert columns_holding(OPEN.traces()) == open_before
    # What the reports, reconciliation and the history need is all still there.
    assert (
        _unchanged_columns(
            Application,
            old_ids,
            skip=APPLICATION_CHANGED,
        )
        == kept_application
    )
    assert _unchanged_columns(ApplicationEvent, event_ids, skip={"note", "address"}) == kept_events
    assert _unchanged_columns(Message, message_ids, skip={"to", "body"}) == kept_messages
    assert set(
        Application.objects.filter(pk__in=old_ids).values_list("anonymised_at", flat=True)
    ) == {scenario.now}
    assert not Application.objects.exclude(pk__in=old_ids).filter(anonymised_at__isnull=False)
    # The hand-over still says a delegate collected it, but not who.
    handover = Handover.objects.get(application=scenario.old["collected"])
    assert handover.collector_kind == "delegate"
    assert (handover.delegate_name, handover.delegate_id_number, handover.relationship) == (
        ANONYMISED,
        ANONYMISED,
        ANONYMISED,
    )
    assert Handover.objects.get(application=scenario.recent["collected"]).relationship == "brother"
    assert not HandoverCode.objects.filter(application_id__in=old_ids).exists()
    assert HandoverCode.objects.filter(application=scenario.recent["collected"]).exists()
    assert CitizenQuery.objects.get(application=scenario.old["collected"]).answer == ""
    assert DeliveryReport.objects.filter(message__application_id__in=old_ids).count() > 0
    # The audit trail is immutable and held masked terms only: untouched.
    assert list(AuditRecord.objects.order_by("pk").values_list()) == audit


def test_a_second_run_finds_nothing(scenario: Scenario) -> None:
    first = personal_data_anonymise(now=scenario.now)
    again = personal_data_anonymise(now=scenario.now)

    assert first.applications == 4
    assert (again.applications, again.batches) == (0, 0)


def test_the_retention_period_is_a_setting(scenario: Scenario, settings: Any) -> None:
    settings.TMS_PERSONAL_DATA_RETENTION_DAYS = 90

    summary = personal_data_anonymise(now=scenario.now)

    assert summary.applications == 8  # the 100-day-old ones too; never the open ones
    assert not Application.objects.filter(
        pk__in=[a.pk for a in scenario.open.values()], anonymised_at__isnull=False
    )
    assert columns_holding(OPEN.traces())


# --- Reports ---------------------------------------------------------------------------------


def _figures(today: date) -> dict[str, Any]:
    """Every figure the reports show, over the whole period of the data."""
    whole = Filters(start=today - timedelta(days=1000), end=today)
    return {
        "headline": replace(headline(whole, today=today), as_of=None),
        "turnaround": {by: turnaround(whole, by=by) for by in ("agency", "service", "centre")},
        "stages": stage_times(whole),
        "backlog": backlog(whole, today=today),
        "breaches": breaches(whole, today=today),
        "sms": sms_by_network(whole),
        "lookups": lookups_by_channel(whole),
        "public": public_performance(today=today),
    }


def _rollup_rows() -> dict[str, list[tuple[Any, ...]]]:
    key = ("day", "agency_id", "service_id", "centre_id")
    return {
        "figures": sorted(DailyFigures.objects.values_list(*key, *FIGURES)),
        "durations": sorted(DailyDurations.objects.values_list(*key, "measure", "days", "count")),
        "sms": sorted(
            DailySms.objects.values_list(
                "day", "network", "sent", "delivered", "failed", "cost", "segments"
            )
        ),
    }


def _total(rows: dict[str, list[tuple[Any, ...]]], figure: str) -> int:
    return sum(row[4 + FIGURES.index(figure)] for row in rows["figures"])


def test_every_report_figure_is_unchanged(scenario: Scenario) -> None:
    today = timezone.localdate()
    rollups_update(settle=SETTLED)
    before = _figures(today)
    rows = _rollup_rows()
    head = before["headline"]
    # Figures that the old applications feed, so that a change would show.
    assert head.ready > 0 and head.collection_ready > 0 and head.sms_sent > 0
    assert head.lookups == 42 and before["breaches"] and before["stages"]
    assert [_total(rows, f) for f in ("returned", "rejected", "cancelled", "collected")] == [
        2,
        2,
        2,
        2,
    ]

    assert personal_data_anonymise(now=scenario.now).applications == 4

    rollups_update(settle=SETTLED)
    assert _figures(today) == before
    assert _rollup_rows() == rows
    rollups_rebuild(settle=SETTLED)
    assert _figures(today) == before
    assert _rollup_rows() == rows


# --- The citizen's view ----------------------------------------------------------------------


def test_tracking_an_anonymised_application_still_answers(
    scenario: Scenario, client: Client
) -> None:
    rejected = scenario.old["rejected"]
    assert "does not match" in client.get("/track/", {"ref": rejected.reference}).content.decode()

    personal_data_anonymise(now=scenario.now)

    for application in scenario.old.values():
        steps = ApplicationEvent.objects.filter(application=application).count()
        page = client.get("/track/", {"ref": application.reference})
        html = page.content.decode()
        assert page.status_code == 200
        assert application.get_status_display() in html
        assert html.count('<li><time datetime="') == steps
        assert not [t for t in OLD.traces() if t in html.lower()]
        data = client.get(f"/api/v1/track/{application.reference}").json()
        assert data["status"] == application.status
        assert data["applicant"] == "***"
        assert len(data["timeline"]) == steps
        assert data["what_to_do"] == ""  # the rejection reason named the citizen


def test_the_staff_page_of_an_anonymised_application_still_opens(
    scenario: Scenario, client: Client
) -> None:
    manager = make_staff(Role.CENTRE_MANAGER, centre=scenario.centre)
    sign_in(client, manager)
    personal_data_anonymise(now=scenario.now)

    for application in scenario.old.values():
        page = client.get(f"/staff/find/{application.reference}/")
        html = page.content.decode()
        assert page.status_code == 200
        assert application.get_status_display() in html
        assert "anonymised on" in html  # the officer is told why the citizen is blank
        assert not [t for t in OLD.traces() if t in html.lower()]
