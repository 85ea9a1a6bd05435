"""Writing the audit trail. Callers pass masked details; the address comes from the request."""

from __future__ import annotations

from typing import Any, Protocol

from django.utils import timezone

from tms.applications.models import ActorKind, Application
from tms.audit.models import AuditAction, AuditRecord
from tms.core.request_context import current_address


class Acting(Protocol):
    """Who acted: a staff member (``tms.accounts.scope.Staff``; audit sits below accounts)."""

    @property
    def user(self) -> Any: ...
    @property
    def centre_id(self) -> int | None: ...
    @property
    def agency_id(self) -> int | None: ...


def audit_record(
    staff: Acting,
    action: AuditAction,
    *,
    detail: str = "",
    application: Application | None = None,
    rows: int | None = None,
) -> AuditRecord:
    """Record that ``staff`` did ``action``; scoped to their centre or agency (or the
    application's) so that managers see what happened in their own scope."""
    centre_id = staff.centre_id
    agency_id = staff.agency_id
    if application is not None:
        centre_id, agency_id = application.centre_id, application.agency_id
    return AuditRecord.objects.create(
        at=timezone.now(),
        actor_kind=ActorKind.STAFF,
        actor_user=staff.user,
        actor_label=staff.user.get_username()[:120],
        action=action,
        application=application,
        centre_id=centre_id,
        agency_id=agency_id,
        detail=detail[:300],
        rows=rows,
        address=current_address(),
    )
