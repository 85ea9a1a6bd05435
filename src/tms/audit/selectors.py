"""Reading the audit trail, within the reader's scope: a centre manager sees what
happened at their centre; an administrator sees everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

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


def changes(staff: Staff, wanted: TrailFilter) -> QuerySet[ApplicationEvent]:
    """History events (every change to an application, by staff, agency systems, the system)."""
    staff.require(Capability.AUDIT)
    events = ApplicationEvent.objects.select_related("application", "actor_user")
    if staff.role in CENTRE_ROLES:
        events = events.filter(application__centre_id=staff.centre_pk)
    elif staff.role in AGENCY_ROLES:
        events = events.filter(application__agency_id=staff.agency_pk)
    if wanted.since:
        events = events.filter(recorded_at__gte=_day_start(wanted.since))
    if wanted.until:
        events = events.filter(recorded_at__lt=_day_start(wanted.until + timedelta(days=1)))
    if wanted.username:
        events = events.filter(actor_label__iexact=wanted.username)
    if wanted.action:
        events = events.filter(action=wanted.action)
    if wanted.reference and references.is_well_formed(wanted.reference):
        events = events.filter(application__reference=references.parse(wanted.reference))
    return events.order_by("-id")


def records(staff: Staff, wanted: TrailFilter) -> QuerySet[AuditRecord]:
    """Searches, exports and other staff actions that are not changes of state."""
    staff.require(Capability.AUDIT)
    found = AuditRecord.objects.select_related("application")
    if staff.role in CENTRE_ROLES:
        found = found.filter(centre_id=staff.centre_pk)
    elif staff.role in AGENCY_ROLES:
        found = found.filter(agency_id=staff.agency_pk)
    if wanted.since:
        found = found.filter(at__gte=_day_start(wanted.since))
    if wanted.until:
        found = found.filter(at__lt=_day_start(wanted.until + timedelta(days=1)))
    if wanted.username:
        found = found.filter(actor_label__iexact=wanted.username)
    if wanted.action:
        found = found.filter(action=wanted.action)
    if wanted.reference and references.is_well_formed(wanted.reference):
        found = found.filter(application__reference=references.parse(wanted.reference))
    return found.order_by("-at", "-id")
