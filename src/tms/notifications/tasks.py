"""Background work for SMS: thin, named, idempotent."""

from __future__ import annotations

import time
from functools import cache

from django.conf import settings
from django_tasks import task

from tms.notifications.gateways.base import SmsGateway

DRAIN_SECONDS = 50.0  # one task drains a backlog, then leaves room for other tasks


@cache
def gateway() -> SmsGateway:
    """One gateway per process, so its HTTP connections are pooled."""
    if settings.TMS_SMS_BACKEND == "africastalking":
        from tms.notifications.gateways.africastalking import AfricasTalkingGateway

        return AfricasTalkingGateway.from_settings()
    from tms.notifications.gateways.console import ConsoleGateway

    return ConsoleGateway()


@task(queue_name="sms", priority=10)
def send_due_sms() -> int:
    """Send due messages, most urgent first, until none is due or the drain time is up."""
    from tms.notifications.services import dispatch_due

    sent = 0
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        summary = dispatch_due(gateway=gateway())
        sent += summary.claimed
        if not summary.claimed or summary.paused:
            break
    return sent


@task(queue_name="sms")
def sweep_sms() -> None:
    from tms.notifications.services import sweep_stale_sends

    sweep_stale_sends()


@task(queue_name="bulk")
def queue_reminders() -> int:
    from tms.notifications.reminders import reminders_queue

    return reminders_queue().queued
