"""Who may do what (SPEC §2): the one table the back-office consults.

Scope (which centre's or agency's applications) is separate: ``scope.py``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COUNTER_OFFICER = "counter_officer", _("counter officer")
    CENTRE_MANAGER = "centre_manager", _("centre manager")
    AGENCY_OFFICER = "agency_officer", _("agency officer")
    ANALYST = "analyst", _("analyst")
    ADMINISTRATOR = "administrator", _("administrator")


class Capability(models.TextChoices):
    LODGE = "lodge", _("lodge applications")
    ACKNOWLEDGE = "acknowledge", _("acknowledge received documents")
    HAND_OVER = "hand_over", _("hand documents over")
    FIND = "find", _("find applications (personal data)")
    BACKLOG = "backlog", _("read the backlog and return list")
    RETURN = "return", _("confirm returns")
    QUERIES = "queries", _("answer citizen queries")
    AUDIT = "audit", _("read the audit trail")
    SMS_OUTBOX = "sms_outbox", _("read the SMS outbox")
    STAFF = "staff", _("manage staff accounts")
    REPORTS = "reports", _("read reports")


C = Capability
COUNTER_WORK = {C.LODGE, C.ACKNOWLEDGE, C.HAND_OVER, C.FIND, C.QUERIES}

CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.COUNTER_OFFICER: frozenset(COUNTER_WORK),
    Role.CENTRE_MANAGER: frozenset(
        COUNTER_WORK | {C.BACKLOG, C.RETURN, C.AUDIT, C.SMS_OUTBOX, C.STAFF, C.REPORTS}
    ),
    Role.AGENCY_OFFICER: frozenset({C.FIND, C.QUERIES, C.REPORTS}),
    Role.ANALYST: frozenset({C.REPORTS}),
    # Administers (reference data, users, credentials) and oversees; counter work
    # belongs to someone standing at a centre.
    Role.ADMINISTRATOR: frozenset(
        {C.FIND, C.BACKLOG, C.AUDIT, C.SMS_OUTBOX, C.STAFF, C.REPORTS, C.QUERIES}
    ),
}

CENTRE_ROLES = frozenset({Role.COUNTER_OFFICER, Role.CENTRE_MANAGER})
AGENCY_ROLES = frozenset({Role.AGENCY_OFFICER})


def can(role: Role | str, capability: Capability) -> bool:
    return capability in CAPABILITIES[Role(role)]
