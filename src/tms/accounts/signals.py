from django.dispatch import Signal

# Sent inside the transaction of every change to a staff account, with ``acting`` (the
# Staff who did it) and ``detail`` (what, for the audit trail). The audit app records it.
staff_account_changed = Signal()
