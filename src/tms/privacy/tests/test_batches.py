"""The retention job in batches, each one transaction; its command, task and schedule;
SMS records not linked to an application."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tms.applications.bulk import Change, applications_change_bulk
from tms.applications.lifecycle import Action
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import Actor
from tms.core import schedule
from tms.core.models import ScheduledRun
from tms.notifications.models import DeliveryReport, Event, Message, MessageState
from tms.notifications.rendering import render_reply
from tms.notifications.services import delivery_report_record, message_queue
from tms.privacy import services, tasks
from tms.privacy.services import AnonymiseSummary, personal_data_anonymise
from tms.testing.builders import lodge, make_centre, make_service

pytestmark = pytest.mark.django_db
AGENCY = Actor.agency("test agency system")


def closed_applications(n: int, *, closed: datetime) -> list[int]:
    """``n`` applications lodged and cancelled through the services; their ids."""
    service, centre = make_service(), make_centre()
    lodged = closed - timedelta(days=5)
    applications = [
        lodge(
            service=service,
            centre=centre,
            name=f"Citizen Number{i}",
            phone=f"0712{i:06d}",
            lodged_at=lodged,
            note=f"Lodged for Number{i}",
        )
        for i in range(n)
    ]
    outcomes = applications_change_bulk(
        [
            Change(a, Action.CANCEL, occurred_at=closed, note=f"Number{i} asked to cancel")
            for i, a in enumerate(applications)
        ],
        actor=AGENCY,
    )
    assert outcomes == [None] * n
    return [a.pk for a in applications]


def named(ids: Sequence[int]) -> int:
    """How many of these applications still hold their personal data, everywhere (and
    that none holds it only in part)."""
    still = set(
        Application.objects.filter(pk__in=ids)
        .exclude(applicant_name="")
        .values_list("pk", flat=True)
    )
    assert still == set(
        Application.objects.filter(pk__in=ids, anonymised_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    with_notes = ApplicationEvent.objects.filter(application_id__in=ids).exclude(note="")
    assert set(with_notes.values_list("application_id", flat=True)) == still
    with_numbers = Message.objects.filter(application_id__in=ids).exclude(to="")
    assert set(with_numbers.values_list("application_id", flat=True)) == still
    return len(still)


@pytest.fixture
def many() -> list[int]:
    return closed_applications(2500, closed=timezone.now() - timedelta(days=800))


def test_batches_of_a_thousand_are_three_transactions(many: list[int]) -> None:
    seen: list[tuple[int, int]] = []

    summary = personal_data_anonymise(
        batch=1000, progress=lambda s: seen.append((s.batches, s.applications))
    )

    assert (summary.batches, summary.applications) == (3, 2500)
    assert seen == [(1, 1000), (2, 2000), (3, 2500)]
    assert named(many) == 0
    assert personal_data_anonymise(batch=1000).applications == 0


def test_a_failure_in_a_batch_leaves_it_untouched_and_the_earlier_ones_done(
    many: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fail_in_the_second_batch(ids: Sequence[int]) -> int:
        # Runs after every other step of the batch: all of them must be undone.
        calls.append(len(ids))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return 0

    monkeypatch.setattr(services, "BATCH_STEPS", (*services.BATCH_STEPS, fail_in_the_second_batch))
    with pytest.raises(RuntimeError):
        personal_data_anonymise(batch=1000)

    assert calls == [1000, 1000]
    assert named(many[:1000]) == 0
    assert named(many[1000:]) == 1500  # the second batch left nothing half-done

    monkeypatch.undo()
    summary = personal_data_anonymise(batch=1000)
    assert (summary.batches, summary.applications) == (2, 1500)
    assert named(many) == 0
    assert personal_data_anonymise(batch=1000).batches == 0


def test_only_applications_closed_past_retention_are_due() -> None:
    now = timezone.now()
    old = closed_applications(2, closed=now - timedelta(days=731))
    recent = closed_applications(2, closed=now - timedelta(days=729))
    open_long = lodge(lodged_at=now - timedelta(days=1000), note="Lodged for Number9")

    assert personal_data_anonymise(now=now).applications == 2
    assert named(old) == 0
    assert named(recent) == 2
    assert named([open_long.pk]) == 1


def test_old_replies_and_unmatched_reports_lose_their_numbers() -> None:
    # SMS replies to a citizen's own query are linked to no application; their numbers go
    # once they are past retention like everything else. A delivery report nobody sent
    # for keeps its number only as long.
    now = timezone.now()
    later = now + timedelta(days=800)  # the job runs 800 days from now

    def reply(at: datetime, to: str) -> Message:
        message = message_queue(
            event=Event.REPLY,
            to=to,
            rendered=render_reply("Your references: 4821 7730 9155 2", language="en"),
            language="en",
            now=at,
        )
        assert message is not None
        return message

    old = reply(now, "+254712999888")
    recent = reply(later - timedelta(days=100), "+254722555444")
    Message.objects.filter(pk=old.pk).update(gateway_message_id="gw-old", state=MessageState.SENT)
    matched = delivery_report_record(
        gateway_message_id="gw-old", status="Success", phone="254712999888", network_code="63902"
    )
    unmatched = delivery_report_record(
        gateway_message_id="gw-unknown", status="Success", phone="254733111222"
    )

    summary = personal_data_anonymise(now=later)

    assert (summary.unlinked_messages, summary.delivery_reports) == (1, 1)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.to, old.body, old.state, old.network_code) == ("", "", "delivered", "63902")
    assert recent.to == "+254722555444" and recent.body
    assert DeliveryReport.objects.get(pk=matched.pk).phone == ""
    assert DeliveryReport.objects.get(pk=unmatched.pk).phone == ""
    again = personal_data_anonymise(now=later)
    assert (again.unlinked_messages, again.delivery_reports) == (0, 0)


# --- The command, the task, the schedule -----------------------------------------------------


def test_the_command_counts_in_a_dry_run_and_reports_progress() -> None:
    ids = closed_applications(5, closed=timezone.now() - timedelta(days=800))
    dry = StringIO()
    call_command("anonymise_closed_applications", "--dry-run", "--batch", "2", stdout=dry)

    assert "Retention: 730 days" in dry.getvalue()
    assert "Dry run: 5 applications would be anonymised in 3 batches." in dry.getvalue()
    assert named(ids) == 5

    out = StringIO()
    call_command("anonymise_closed_applications", "--batch", "2", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[1:4] == [
        "batch 1: 2 applications anonymised so far",
        "batch 2: 4 applications anonymised so far",
        "batch 3: 5 applications anonymised so far",
    ]
    assert lines[4].startswith("Anonymised 5 applications in 3 batches;")
    assert named(ids) == 0
    assert "Number" not in out.getvalue()  # counts only, no names


def test_the_daily_task_is_scheduled_and_runs_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    job = schedule.JOBS["anonymise-closed-applications"]
    assert job.task is tasks.anonymise_closed_applications
    assert job.every == timedelta(days=1)
    ids = closed_applications(3, closed=timezone.now() - timedelta(days=800))

    monkeypatch.setattr(schedule, "JOBS", {job.name: job})
    started = schedule.run_due_jobs()  # the test backend runs tasks at once

    assert started == ["anonymise-closed-applications"]
    assert ScheduledRun.objects.filter(job=job.name).count() == 1
    assert named(ids) == 0
    assert tasks.anonymise_closed_applications.enqueue().return_value == 0


def test_logs_carry_counts_only(caplog: pytest.LogCaptureFixture) -> None:
    closed_applications(2, closed=timezone.now() - timedelta(days=800))
    with caplog.at_level("INFO", logger="tms.privacy.services"):
        summary: AnonymiseSummary = personal_data_anonymise()

    assert summary.applications == 2
    text = " ".join(record.getMessage() for record in caplog.records)
    assert "2 applications in 1 batches" in text
    assert "Number" not in text and "0712" not in text and "+254" not in text
