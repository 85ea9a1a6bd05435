from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tms.applications.services import Actor, application_acknowledge_receipt
from tms.notifications import services
from tms.notifications.models import Event, Message
from tms.notifications.reminders import reminders_queue
from tms.testing.builders import lodge, make_service


def ready_since(days: int, **kwargs):
    now = timezone.now()
    application = lodge(lodged_at=now - timedelta(days=days + 10), **kwargs)
    return application_acknowledge_receipt(
        application, actor=Actor.system(), occurred_at=now - timedelta(days=days)
    )


def events_for(application):
    return list(
        Message.objects.filter(application=application)
        .exclude(event__in=[Event.LODGED, Event.READY])
        .values_list("dedupe_key", flat=True)
    )


@pytest.mark.django_db
def test_the_latest_due_reminder_goes_once_however_often_the_job_runs():
    application = ready_since(20, service=make_service(retention_days=90))

    first = reminders_queue()
    second = reminders_queue()

    assert events_for(application) == [f"reminder:{application.pk}:14"]
    assert first.queued == 1 and second.queued == 0


@pytest.mark.django_db
def test_the_database_refuses_a_second_reminder_for_the_same_step():
    application = ready_since(8)
    reminders_queue()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            **{
                **Message.objects.filter(application=application, event=Event.REMINDER)
                .values(
                    "event",
                    "priority",
                    "to",
                    "body",
                    "language",
                    "segments",
                    "encoding",
                    "dedupe_key",
                    "next_attempt_at",
                    "created_at",
                )
                .get()
            }
        )


@pytest.mark.django_db
def test_stop_opts_out_of_reminders_but_not_the_ready_notice():
    application = ready_since(8, phone="0722000333")
    services.opt_out(phone="+254722000333")

    reminders_queue()

    assert events_for(application) == []
    assert Message.objects.filter(application=application, event=Event.READY).exists()


@pytest.mark.django_db
def test_the_final_notice_goes_before_return_instead_of_a_reminder():
    application = ready_since(85, service=make_service(retention_days=90, final_notice_days=7))

    reminders_queue()
    reminders_queue()

    assert events_for(application) == [f"final:{application.pk}"]
    body = Message.objects.get(event=Event.FINAL_NOTICE).body
    assert "returned on" in body


@pytest.mark.django_db
def test_an_overdue_application_gets_one_apology_with_a_new_estimate():
    service = make_service(turnaround_days=5)
    application = lodge(service=service, lodged_at=timezone.now() - timedelta(days=30))

    reminders_queue()
    reminders_queue()

    assert events_for(application) == [f"delayed:{application.pk}"]
    assert "New estimate" in Message.objects.get(event=Event.DELAYED).body
