"""Queue the citizen's SMS in the same transaction as the change that causes it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from tms.applications.lifecycle import Action
from tms.applications.models import Application, ApplicationEvent
from tms.applications.signals import status_changed, statuses_changed
from tms.notifications.models import Event, Message
from tms.notifications.reminders import (
    Campaign,
    campaign_row,
    queue_messages,
    with_representative,
)
from tms.notifications.rendering import format_date
from tms.notifications.services import notify

EVENT_FOR_ACTION = {
    Action.LODGE: Event.LODGED,
    Action.REQUIRE_ACTION: Event.ACTION_REQUIRED,
    Action.ACKNOWLEDGE_RECEIPT: Event.READY,
    Action.HAND_OVER: Event.COLLECTED,
}


def _message_for(
    application: Application, event: ApplicationEvent
) -> tuple[Event, str, dict[str, str]] | None:
    """The message an event sends (if any), its dedupe key and its own values."""
    message_event = EVENT_FOR_ACTION.get(Action(event.action))
    if message_event is None:
        return None
    values: dict[str, str] = {}
    if message_event == Event.ACTION_REQUIRED:
        values["note"] = event.note
    elif message_event == Event.COLLECTED:
        values["date"] = format_date(event.occurred_at.date(), application.language)
    # One message per event: the application's version names the event.
    return message_event, f"{message_event}:{application.pk}:{event.version}", values


@receiver(status_changed, sender=Application, dispatch_uid="notifications.status_changed")
def queue_status_message(
    sender: Any, application: Application, event: ApplicationEvent, **kwargs: Any
) -> None:
    found = _message_for(application, event)
    if found is None:
        return
    message_event, key, values = found
    notify(application, message_event, dedupe_key=key, **values)


@receiver(statuses_changed, sender=Application, dispatch_uid="notifications.statuses_changed")
def queue_status_messages(
    sender: Any, changes: list[tuple[Application, ApplicationEvent]], **kwargs: Any
) -> None:
    """The same messages as one change at a time, rendered from values computed once per
    service, centre and language and inserted together: a manifest of 100,000 rows
    spent most of its time here, one render and one INSERT a message."""
    campaign: Campaign | None = None
    messages: list[Message] = []
    for application, event in changes:
        found = _message_for(application, event)
        if found is None:
            continue
        message_event, key, values = found
        campaign = campaign or Campaign(timezone.now())
        row = campaign_row(application)
        messages.extend(
            with_representative(campaign.message(row, message_event, key, **values), row)
        )
    queue_messages(messages)
