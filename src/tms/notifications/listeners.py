"""Queue the citizen's SMS in the same transaction as the change that causes it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from tms.applications.lifecycle import Action
from tms.applications.models import Application, ApplicationEvent
from tms.applications.signals import status_changed
from tms.notifications.models import Event
from tms.notifications.rendering import format_date
from tms.notifications.services import notify

EVENT_FOR_ACTION = {
    Action.LODGE: Event.LODGED,
    Action.REQUIRE_ACTION: Event.ACTION_REQUIRED,
    Action.ACKNOWLEDGE_RECEIPT: Event.READY,
    Action.HAND_OVER: Event.COLLECTED,
}


@receiver(status_changed, sender=Application, dispatch_uid="notifications.status_changed")
def queue_status_message(
    sender: Any, application: Application, event: ApplicationEvent, **kwargs: Any
) -> None:
    message_event = EVENT_FOR_ACTION.get(Action(event.action))
    if message_event is None:
        return
    values: dict[str, str] = {}
    if message_event == Event.ACTION_REQUIRED:
        values["note"] = event.note
    elif message_event == Event.COLLECTED:
        values["date"] = format_date(event.occurred_at.date(), application.language)
    # One message per event: the application's version names the event.
    notify(
        application,
        message_event,
        dedupe_key=f"{message_event}:{application.pk}:{event.version}",
        **values,
    )
