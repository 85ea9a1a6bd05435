"""Sent inside the transaction of every change, so listeners (the SMS outbox,
webhooks) commit with the change or not at all. Listeners must not do slow I/O:
they record work for background tasks.

A change made one at a time sends ``status_changed``; many changes made together
(``bulk.applications_change_bulk``: manifests, agency bulk updates) send one
``statuses_changed`` for all of them, so a listener can queue a thousand messages
with one INSERT. Every listener handles both (a test checks the pairs)."""

from django.dispatch import Signal

# Sent with: application (Application), event (ApplicationEvent).
status_changed = Signal()
# Sent with: changes (list[tuple[Application, ApplicationEvent]]), in history order.
statuses_changed = Signal()
