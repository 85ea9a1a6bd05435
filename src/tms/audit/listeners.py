"""Recording what other apps announce."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from tms.accounts.signals import staff_account_changed
from tms.audit.models import AuditAction
from tms.audit.services import audit_record


@receiver(staff_account_changed, dispatch_uid="audit.staff_account_changed")
def record_staff_change(sender: Any, acting: Any, detail: str, **kwargs: Any) -> None:
    audit_record(acting, AuditAction.STAFF, detail=detail)
