"""Reminders, final notices and delay apologies (SPEC §5), queued in bulk.

Each is queued at most once per application and step: the outbox's unique
dedupe key enforces it in the database, so running the job twice, or on two
workers at once, sends nothing twice. A backlog campaign of 500,000 reminders
runs here, so the scan reads plain rows in id order and renders each message from
values computed once per service, centre and language.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.core.rows import insert_rows
from tms.directory.models import Centre, Service
from tms.directory.selectors import working_calendar
from tms.notifications.models import EVENT_PRIORITY, Event, Message, OptOut
from tms.notifications.rendering import (
    Rendered,
    format_date,
    render_text,
    shared_values,
    template_for,
)
from tms.notifications.services import dispatch_after_commit

CHUNK = 5000
NOT_YET_READY = [Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED]
ROW_FIELDS = (
    "id", "reference", "applicant_phone", "representative_phone", "language", "service_id",
    "centre_id",
)  # fmt: skip


def campaign_row(application: Application) -> dict[str, Any]:
    """An application as the plain row (ROW_FIELDS) a campaign builds messages from."""
    return {name: getattr(application, name) for name in ROW_FIELDS}


@dataclass
class ReminderSummary:
    examined: int = 0
    queued: int = 0


# Stands in for the reference while a campaign renders a text once for many: the same
# length as every displayed reference (``4821 7730 9155 2``) and, like its digits, one
# GSM-7 septet a character, so the fit and the shortening come out exactly the same.
REFERENCE_STAND_IN = "§§§§ §§§§ §§§§ §"
RENDERED_KEPT = 50_000  # texts kept at most; a campaign rarely needs more than a few thousand


class Campaign:
    """Builds outbox rows for many applications, caching what they share: the values of
    each service, centre and language, and each text with everything but the reference
    filled in (most messages of a campaign differ only by their reference)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.services = {s.pk: s for s in Service.objects.all()}
        self.centres = {c.pk: c for c in Centre.objects.all()}
        self._shared: dict[tuple[int, int, str], dict[str, str]] = {}
        self._templates: dict[tuple[str, str], str] = {}
        self._rendered: dict[tuple[Any, ...], Rendered | None] = {}

    def message(self, row: dict[str, Any], event: Event, key: str, **values: str) -> Message:
        reference = references.display(row["reference"])
        text_key: tuple[Any, ...] = (event, row["language"], row["service_id"], row["centre_id"])
        text_key += tuple(sorted(values.items()))
        if text_key in self._rendered:
            shared_text = self._rendered[text_key]
        else:
            if len(self._rendered) >= RENDERED_KEPT:
                self._rendered.clear()
            shared_text = self._rendered[text_key] = self._with_stand_in(row, event, values)
        if shared_text is not None and len(reference) == len(REFERENCE_STAND_IN):
            body = shared_text.body.replace(REFERENCE_STAND_IN, reference)
            rendered = replace(shared_text, body=body)
        else:
            rendered = self._render(row, event, reference, values)
        language = row["language"]
        return Message(
            application_id=row["id"],
            event=event,
            priority=EVENT_PRIORITY[event],
            to=row["applicant_phone"],
            body=rendered.body,
            language=language,
            segments=rendered.segments,
            encoding=rendered.encoding,
            dedupe_key=key,
            next_attempt_at=self.now,
            created_at=self.now,
        )

    def _with_stand_in(
        self, row: dict[str, Any], event: Event, values: dict[str, str]
    ) -> Rendered | None:
        """The text with the stand-in for the reference; None if the stand-in's character
        shows up anywhere else (then each message is rendered whole)."""
        rendered = self._render(row, event, REFERENCE_STAND_IN, values)
        places = self._template(event, row["language"]).count("{reference}")
        stand_in = REFERENCE_STAND_IN.replace(" ", "")
        if rendered.body.count(stand_in[0]) != len(stand_in) * places:
            return None
        return rendered

    def _template(self, event: Event, language: str) -> str:
        body = self._templates.get((event, language))
        if body is None:
            body = self._templates[(event, language)] = template_for(event, language)
        return body

    def _render(
        self, row: dict[str, Any], event: Event, reference: str, values: dict[str, str]
    ) -> Rendered:
        language = row["language"]
        shared_key = (row["service_id"], row["centre_id"], language)
        shared = self._shared.get(shared_key)
        if shared is None:
            service, centre = self.services[row["service_id"]], self.centres[row["centre_id"]]
            shared = self._shared[shared_key] = shared_values(service, centre, language)
        return render_text(
            self._template(event, language), {**shared, "reference": reference, **values}
        )


def with_representative(
    message: Message,
    row: dict[str, Any],
    opted_out: AbstractSet[str] = frozenset(),
) -> list[Message]:
    """The message, and its copy for the person who applied on the citizen's behalf
    (who gets the same messages; reminders skip their phone if it said STOP)."""
    phone = row.get("representative_phone") or ""
    if not phone or phone == message.to or (message.event == Event.REMINDER and phone in opted_out):
        return [message]
    copy = Message(
        **{
            field.attname: getattr(message, field.attname)
            for field in Message._meta.concrete_fields
            if not field.primary_key
        }
    )
    copy.to = phone
    copy.dedupe_key = f"{message.dedupe_key}:representative"
    return [message, copy]


def _rows(filter_: dict[str, Any], extra: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
    """Chunks of plain rows in id order (keyset pagination: no OFFSET, no long cursor)."""
    last_id = 0
    while True:
        chunk = list(
            Application.objects.filter(**filter_, id__gt=last_id)
            .order_by("id")
            .values(*ROW_FIELDS, *extra)[:CHUNK]
        )
        if not chunk:
            return
        last_id = chunk[-1]["id"]
        yield chunk


def _sent_keys(ids: list[int], events: list[Event]) -> set[str]:
    keys = Message.objects.filter(application_id__in=ids, event__in=events).values_list(
        "dedupe_key", flat=True
    )
    return {key for key in keys if key}


def queue_messages(messages: list[Message]) -> int:
    """Insert outbox rows together; a row whose dedupe key was used before is skipped
    (the database refuses it), as ``message_queue`` does one at a time."""
    if not messages:
        return 0
    with transaction.atomic():
        insert_rows(messages, ignore_conflicts=True)
        dispatch_after_commit()
    return len(messages)  # at most: a concurrent run may have taken some keys first


def reminders_queue(*, now: datetime | None = None) -> ReminderSummary:
    """Queue every reminder, final notice and delay apology now due."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    summary = ReminderSummary()
    campaign = Campaign(now)
    schedules = {pk: s.reminder_schedule() for pk, s in campaign.services.items()}

    for chunk in _rows({"status": Status.READY}, ("ready_at",)):
        summary.examined += len(chunk)
        ids = [row["id"] for row in chunk]
        sent = _sent_keys(ids, [Event.REMINDER, Event.FINAL_NOTICE])
        phones = {row["applicant_phone"] for row in chunk}
        phones |= {row["representative_phone"] for row in chunk if row["representative_phone"]}
        opted_out = set(OptOut.objects.filter(phone__in=phones).values_list("phone", flat=True))
        batch = []
        for row in chunk:
            message = _ready_message(row, campaign, schedules, today, sent, opted_out)
            if message is not None:
                batch.extend(with_representative(message, row, opted_out))
        summary.queued += queue_messages(batch)

    calendar = working_calendar(start=today)
    overdue = {"status__in": NOT_YET_READY, "due_date__lt": today}
    for chunk in _rows(overdue, ()):
        summary.examined += len(chunk)
        sent = _sent_keys([row["id"] for row in chunk], [Event.DELAYED])
        batch = []
        for row in chunk:
            key = f"delayed:{row['id']}"
            if key in sent:
                continue
            extra = max(3, campaign.services[row["service_id"]].turnaround_days // 2)
            estimate = format_date(calendar.add(today, extra), row["language"])
            batch.extend(
                with_representative(
                    campaign.message(row, Event.DELAYED, key, estimate=estimate), row
                )
            )
        summary.queued += queue_messages(batch)
    return summary


def _ready_message(
    row: dict[str, Any],
    campaign: Campaign,
    schedules: dict[int, list[int]],
    today: date,
    sent: set[str],
    opted_out: set[str],
) -> Message | None:
    ready_day = timezone.localdate(row["ready_at"])
    service = campaign.services[row["service_id"]]
    return_day = ready_day + timedelta(days=service.retention_days)
    if (return_day - today).days <= service.final_notice_days and today < return_day:
        # The final notice replaces any reminder still due; it goes despite STOP,
        # as the last word before the document leaves the centre.
        key = f"final:{row['id']}"
        if key in sent:
            return None
        return_date = format_date(return_day, row["language"])
        return campaign.message(row, Event.FINAL_NOTICE, key, return_date=return_date)
    if row["applicant_phone"] in opted_out:
        return None
    waited = (today - ready_day).days
    due = [day for day in schedules[row["service_id"]] if day <= waited]
    if not due:
        return None
    # Only the latest step due: a citizen is never sent missed steps all at once.
    key = f"reminder:{row['id']}:{due[-1]}"
    if key in sent:
        return None
    ready_date = format_date(ready_day, row["language"])
    return campaign.message(row, Event.REMINDER, key, ready_date=ready_date)
