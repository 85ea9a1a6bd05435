"""Reads of the outbox."""

from __future__ import annotations

from django.db.models import QuerySet

from tms.applications import references
from tms.notifications.models import Message


def message_list(*, state: str = "", reference: str = "") -> QuerySet[Message]:
    """Messages newest first, optionally of one state or one application (by its typed
    reference; raises ReferenceTypingError for input that cannot be one)."""
    messages = Message.objects.select_related("application").order_by("-created_at", "-id")
    if state:
        messages = messages.filter(state=state)
    if reference:
        messages = messages.filter(application__reference=references.parse(reference))
    return messages
