"""Sent inside the transaction that records a citizen's query (for agency webhooks)."""

from django.dispatch import Signal

# Sent with: query (CitizenQuery).
query_raised = Signal()
