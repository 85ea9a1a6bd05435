"""Reads of the outbox."""

from __future__ import annotations

from django.db.models import QuerySet

from tms.accounts.roles import CENTRE_ROLES, Capability
from tms.accounts.scope import Staff
from tms.applications import references
from tms.notifications.models import Message


def message_list(*, staff: Staff, state: str = "", reference: str = "") -> QuerySet[Message]:
    """Messages newest first, optionally of one state or one application (by its typed
    reference; raises ReferenceTypingError for input that cannot be one). A centre
    manager sees their own centre's messages; an administrator sees all, replies too."""
    staff.require(Capability.SMS_OUTBOX)
    messages = Message.objects.select_related("application").order_by("-created_at", "-id")
    if staff.role in CENTRE_ROLES:
        messages = messages.filter(application__centre_id=staff.centre_pk)
    if state:
        messages = messages.filter(state=state)
    if reference:
        messages = messages.filter(application__reference=references.parse(reference))
    return messages
