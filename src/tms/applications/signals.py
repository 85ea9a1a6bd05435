"""Sent inside the transaction of every change, so listeners (the SMS outbox,
webhooks) commit with the change or not at all. Listeners must not do slow I/O:
they record work for background tasks."""

from django.dispatch import Signal

# Sent with: application (Application), event (ApplicationEvent).
status_changed = Signal()
