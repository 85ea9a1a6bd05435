"""Agency-scoped reads: a token reaches only its own agency's applications."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from tms.applications import references
from tms.applications.models import Application, ApplicationEvent
from tms.directory.models import Agency

AGENCY_REF_PREFIX = "agency_ref:"


def application_for_agency(*, agency: Agency, identifier: str) -> Application | None:
    """By our reference, or ``agency_ref:<theirs>``; None when missing or not theirs."""
    applications = Application.objects.select_related("service", "centre").filter(agency=agency)
    if identifier.startswith(AGENCY_REF_PREFIX):
        return applications.filter(agency_ref=identifier[len(AGENCY_REF_PREFIX) :]).first()
    try:
        digits = references.parse(identifier)
    except references.ReferenceTypingError:
        return None
    return applications.filter(reference=digits).first()


def applications_for_items(
    *, agency: Agency, items: list[dict[str, Any]]
) -> dict[int, Application]:
    """The applications that items name (by reference or agency_ref), in two queries."""
    by_reference: dict[str, list[int]] = {}
    by_agency_ref: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.get("reference"):
            try:
                by_reference.setdefault(references.parse(item["reference"]), []).append(index)
            except references.ReferenceTypingError:
                continue
        elif item.get("agency_ref"):
            by_agency_ref.setdefault(item["agency_ref"], []).append(index)
    found: dict[int, Application] = {}
    # One instance per application, so items naming it twice see each other's change.
    loaded: dict[int, Application] = {}
    scope = Application.objects.filter(agency=agency)
    if by_reference:
        for application in scope.filter(reference__in=list(by_reference)):
            application = loaded.setdefault(application.pk, application)
            for index in by_reference[application.reference]:
                found[index] = application
    if by_agency_ref:
        for application in scope.filter(agency_ref__in=list(by_agency_ref)):
            application = loaded.setdefault(application.pk, application)
            for index in by_agency_ref[application.agency_ref or ""]:
                found[index] = application
    return found


@dataclass(frozen=True)
class ChangesPage:
    events: list[ApplicationEvent]
    next_cursor: str | None


def encode_cursor(recorded_at: datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{recorded_at.isoformat()}|{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        moment, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(moment), int(event_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def changes(
    *, agency: Agency, since: datetime, after: tuple[datetime, int] | None, limit: int
) -> ChangesPage:
    """History events of the agency's applications recorded since ``since``, oldest first,
    in a stable order (recorded_at, id) so pages never skip or repeat an event."""
    events: QuerySet[ApplicationEvent] = ApplicationEvent.objects.filter(
        application__agency=agency, recorded_at__gte=since
    ).select_related("application")
    if after is not None:
        moment, event_id = after
        events = events.filter(Q(recorded_at__gt=moment) | Q(recorded_at=moment, id__gt=event_id))
    page = list(events.order_by("recorded_at", "id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    cursor = encode_cursor(page[-1].recorded_at, page[-1].id) if more and page else None
    return ChangesPage(page, cursor)
