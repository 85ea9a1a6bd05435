"""Agency-scoped reads: a token reaches only its own agency's applications."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from tms.applications import references
from tms.applications.models import Application, ApplicationEvent
from tms.directory.models import Agency

AGENCY_REF_PREFIX = "agency_ref:"


def application_for_agency(*, agency: Agency, identifier: str) -> Application | None:
    """By our reference, or ``agency_ref:<theirs>``; None when missing or not theirs."""
    applications = Application.objects.select_related("service", "centre").filter(agency=agency)
    if not identifier.isprintable():
        return None  # no reference or agency_ref holds control characters
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
        # By reference alone (the unique index), then the agency checked here: with the
        # agency in the WHERE clause SQLite without statistics walks the agency's rows.
        for application in Application.objects.filter(reference__in=list(by_reference)):
            if application.agency_id != agency.pk:
                continue  # another agency's application is a missing one
            application = loaded.setdefault(application.pk, application)
            for index in by_reference[application.reference]:
                found[index] = application
    if by_agency_ref:
        for application in scope.filter(agency_ref__in=list(by_agency_ref)):
            application = loaded.setdefault(application.pk, application)
            for index in by_agency_ref[application.agency_ref or ""]:
                found[index] = application
    return found


# An event's recorded_at is stamped when its transaction starts and becomes visible
# when it commits; a feed that served the newest events at once could pass an event
# that commits a moment later with an earlier time. Serving only settled events
# (older than any transaction runs) means a cursor never skips one.
def settle() -> timedelta:
    return timedelta(seconds=settings.TMS_CHANGE_FEED_SETTLE_SECONDS)


@dataclass(frozen=True)
class ChangesPage:
    events: list[ApplicationEvent]
    next_cursor: str | None
    more: bool


def encode_cursor(recorded_at: datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{recorded_at.isoformat()}|{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        text, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(text)
        position = int(event_id)
        if timezone.is_naive(moment):
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None
    return moment, position


def changes(
    *, agency: Agency, since: datetime, after: tuple[datetime, int] | None, limit: int
) -> ChangesPage:
    """History events of the agency's applications recorded since ``since``, oldest first,
    in a stable order (recorded_at, id) so pages never skip or repeat an event. The
    cursor always marks where the page ended, so a client that keeps the last one
    resumes exactly there, now or tomorrow."""
    events: QuerySet[ApplicationEvent] = ApplicationEvent.objects.filter(
        application__agency=agency,
        recorded_at__gte=since,
        recorded_at__lt=timezone.now() - settle(),
    ).select_related("application")
    if after is not None:
        moment, event_id = after
        events = events.filter(Q(recorded_at__gt=moment) | Q(recorded_at=moment, id__gt=event_id))
    page = list(events.order_by("recorded_at", "id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    if page:
        cursor: str | None = encode_cursor(page[-1].recorded_at, page[-1].id)
    else:
        cursor = encode_cursor(*after) if after is not None else None
    return ChangesPage(page, cursor, more)
