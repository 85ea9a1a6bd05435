"""Reading the audit trail, within the reader's scope: a centre manager sees what
happened at their centre; an administrator sees everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Capability
from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.models import ApplicationEvent
from tms.audit.models import AuditRecord


@dataclass(frozen=True)
class TrailFilter:
    since: date | None = None
    until: date | None = None
    username: str = ""
    action: str = ""
    reference: str = ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered(
    rows: QuerySet[Any],
    staff: Staff,
    wanted: TrailFilter,
    *,
    at: str,
    centre: str,
    agency: str,
) -> QuerySet[Any]:
    """``rows`` within ``staff``'s scope and ``wanted``; the arguments name the fields
    (the two tables spell them differently)."""
    staff.require(Capability.AUDIT)
    if staff.role in CENTRE_ROLES:
        rows = rows.filter(**{centre: staff.centre_pk})
    elif staff.role in AGENCY_ROLES:
        rows = rows.filter(**{agency: staff.agency_pk})
    if wanted.since:
        rows = rows.filter(**{f"{at}__gte": _day_start(wanted.since)})
    if wanted.until:
        rows = rows.filter(**{f"{at}__lt": _day_start(wanted.until + timedelta(days=1))})
    if wanted.username:
        rows = rows.filter(actor_label__iexact=wanted.username)
    if wanted.action:
        rows = rows.filter(action=wanted.action)
    if wanted.reference and references.is_well_formed(wanted.reference):
        rows = rows.filter(application__reference=references.parse(wanted.reference))
    return rows


def changes(staff: Staff, wanted: TrailFilter) -> QuerySet[ApplicationEvent]:
    """History events (every change to an application, by staff, agency systems, the system)."""
    events = ApplicationEvent.objects.select_related("application", "actor_user")
    return _filtered(
        events,
        staff,
        wanted,
        at="recorded_at",
        centre="application__centre_id",
        agency="application__agency_id",
    ).order_by("-id")


def records(staff: Staff, wanted: TrailFilter) -> QuerySet[AuditRecord]:
    """Searches, exports and other staff actions that are not changes of state."""
    found = AuditRecord.objects.select_related("application")
    return _filtered(
        found,
        staff,
        wanted,
        at="at",
        centre="centre_id",
        agency="agency_id",
    ).order_by("-at", "-id")
