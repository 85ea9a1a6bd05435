"""Reminders, final notices and delay apologies (SPEC §5), queued in bulk.

Each is queued at most once per application and step: the outbox's unique
dedupe key enforces it in the database, so running the job twice, or on two
workers at once, sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.directory.selectors import working_calendar
from tms.notifications.models import EVENT_PRIORITY, Event, Message, OptOut
from tms.notifications.rendering import format_date, render
from tms.notifications.services import _kick_dispatch_on_commit

CHUNK = 2000
NOT_YET_READY = [Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED]


@dataclass
class ReminderSummary:
    examined: int = 0
    queued: int = 0


def _message(
    application: Application, event: Event, key: str, now: datetime, **values: str
) -> Message:
    rendered = render(event, application, **values)
    return Message(
        application=application,
        event=event,
        priority=EVENT_PRIORITY[event],
        to=application.applicant_phone,
        body=rendered.body,
        language=application.language,
        segments=rendered.segments,
        encoding=rendered.encoding,
        dedupe_key=key,
        next_attempt_at=now,
        created_at=now,
    )


def _queue(messages: list[Message]) -> int:
    if not messages:
        return 0
    with transaction.atomic():
        created = Message.objects.bulk_create(messages, ignore_conflicts=True, batch_size=1000)
        _kick_dispatch_on_commit()
    return len(created)


def reminders_queue(*, now: datetime | None = None) -> ReminderSummary:
    """Queue every reminder, final notice and delay apology now due."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    summary = ReminderSummary()

    ready = Application.objects.filter(status=Status.READY).select_related("service", "centre")
    last_id = 0
    while True:
        chunk = list(ready.filter(id__gt=last_id).order_by("id")[:CHUNK])
        if not chunk:
            break
        last_id = chunk[-1].id
        summary.examined += len(chunk)
        sent_keys = set(
            Message.objects.filter(
                application_id__in=[a.id for a in chunk],
                event__in=[Event.REMINDER, Event.FINAL_NOTICE],
            ).values_list("dedupe_key", flat=True)
        )
        opted_out = set(
            OptOut.objects.filter(phone__in={a.applicant_phone for a in chunk}).values_list(
                "phone", flat=True
            )
        )
        batch: list[Message] = []
        for application in chunk:
            assert application.ready_at is not None
            ready_day = timezone.localdate(application.ready_at)
            waited = (today - ready_day).days
            service = application.service
            return_day = ready_day + timedelta(days=service.retention_days)
            if (return_day - today).days <= service.final_notice_days and today < return_day:
                key = f"final:{application.id}"
                if key not in sent_keys:
                    batch.append(
                        _message(
                            application,
                            Event.FINAL_NOTICE,
                            key,
                            now,
                            return_date=format_date(return_day, application.language),
                        )
                    )
                continue  # the final notice replaces any reminder still due
            if application.applicant_phone in opted_out:
                continue
            due = [day for day in service.reminder_schedule() if day <= waited]
            if not due:
                continue
            # Only the latest step due: a citizen is never sent missed steps all at once.
            key = f"reminder:{application.id}:{due[-1]}"
            if key in sent_keys:
                continue
            batch.append(
                _message(
                    application,
                    Event.REMINDER,
                    key,
                    now,
                    ready_date=format_date(ready_day, application.language),
                )
            )
        summary.queued += _queue(batch)

    overdue = Application.objects.filter(status__in=NOT_YET_READY, due_date__lt=today)
    overdue = overdue.select_related("service", "centre")
    calendar = working_calendar(start=today)
    last_id = 0
    while True:
        chunk = list(overdue.filter(id__gt=last_id).order_by("id")[:CHUNK])
        if not chunk:
            break
        last_id = chunk[-1].id
        summary.examined += len(chunk)
        sent_keys = set(
            Message.objects.filter(
                application_id__in=[a.id for a in chunk], event=Event.DELAYED
            ).values_list("dedupe_key", flat=True)
        )
        batch = []
        for application in chunk:
            key = f"delayed:{application.id}"
            if key in sent_keys:
                continue
            extra = max(3, application.service.turnaround_days // 2)
            estimate = calendar.add(today, extra)
            batch.append(
                _message(
                    application,
                    Event.DELAYED,
                    key,
                    now,
                    estimate=format_date(estimate, application.language),
                )
            )
        summary.queued += _queue(batch)
    return summary
