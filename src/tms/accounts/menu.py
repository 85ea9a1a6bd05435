"""The back-office menu: each entry shown only to roles with its capability. The pages
check the capability again (``access.staff_required``); the menu is only a convenience."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tms.accounts.roles import Capability
from tms.accounts.scope import Staff

C = Capability


@dataclass(frozen=True)
class Entry:
    label: str | Promise
    url_name: str
    capability: Capability


ENTRIES = [
    Entry(_("Lodge"), "counter-lodge", C.LODGE),
    Entry(_("Scan received"), "receipt-scan", C.ACKNOWLEDGE),
    Entry(_("Manifests"), "manifests", C.ACKNOWLEDGE),
    Entry(_("Find and hand over"), "counter-find", C.FIND),
    Entry(_("Backlog"), "backlog", C.BACKLOG),
    Entry(_("Returns"), "backlog-returns", C.BACKLOG),
    Entry(_("Citizen queries"), "queries", C.QUERIES),
    Entry(_("Reports"), "reports", C.REPORTS),
    Entry(_("Audit trail"), "audit-trail", C.AUDIT),
    Entry(_("SMS outbox"), "sms-outbox", C.SMS_OUTBOX),
    Entry(_("Staff"), "staff-people", C.STAFF),
]


def menu_for(staff: Staff) -> list[tuple[str, str]]:
    return [(str(e.label), reverse(e.url_name)) for e in ENTRIES if staff.can(e.capability)]
