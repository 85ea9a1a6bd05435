"""Queue agency webhooks in the transaction of the change that causes them."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from tms.applications.lifecycle import Action
from tms.applications.models import Application, ApplicationEvent
from tms.applications.signals import status_changed, statuses_changed
from tms.directory.models import Centre
from tms.integrations.models import WebhookEvent
from tms.integrations.webhooks import active_endpoints, deliveries_queue
from tms.tracking.models import CitizenQuery
from tms.tracking.signals import query_raised

EVENT_FOR_ACTION = {
    Action.ACKNOWLEDGE_RECEIPT: WebhookEvent.READY,
    Action.HAND_OVER: WebhookEvent.COLLECTED,
    Action.RETURN: WebhookEvent.RETURNED,
}


def _application_data(application: Application) -> dict[str, Any]:
    return {
        "reference": application.reference,
        "agency_ref": application.agency_ref,
        "status": application.status,
        "version": application.version,
        "centre": application.centre.code,
    }


@receiver(status_changed, sender=Application, dispatch_uid="integrations.status_changed")
def queue_application_webhook(
    sender: Any, application: Application, event: ApplicationEvent, **kwargs: Any
) -> None:
    webhook_event = EVENT_FOR_ACTION.get(Action(event.action))
    if webhook_event is None:
        return
    endpoints = active_endpoints(application.agency_id)
    if not endpoints:
        return  # most agencies: no lookups, no payload built
    data = {**_application_data(application), "occurred_at": event.occurred_at.isoformat()}
    deliveries_queue(
        agency_id=application.agency_id, event=webhook_event, data=data, endpoints=endpoints
    )


@receiver(statuses_changed, sender=Application, dispatch_uid="integrations.statuses_changed")
def queue_application_webhooks(
    sender: Any, changes: list[tuple[Application, ApplicationEvent]], **kwargs: Any
) -> None:
    # The endpoints are looked up once per agency and transaction (active_endpoints), and
    # the centres (for their codes) once, only when some agency has an endpoint.
    centres: dict[int, Centre] | None = None
    for application, event in changes:
        if event.action not in EVENT_FOR_ACTION or not active_endpoints(application.agency_id):
            continue
        if centres is None:
            centres = Centre.objects.in_bulk()
        application.centre = centres[application.centre_id]
        queue_application_webhook(sender, application=application, event=event)


@receiver(query_raised, sender=CitizenQuery, dispatch_uid="integrations.query_raised")
def queue_query_webhook(sender: Any, query: CitizenQuery, **kwargs: Any) -> None:
    application = query.application
    data = {
        **_application_data(application),
        "query_id": query.pk,
        "raised_at": query.raised_at.isoformat(),
        "channel": query.channel,
    }
    deliveries_queue(agency_id=application.agency_id, event=WebhookEvent.QUERY_RAISED, data=data)
