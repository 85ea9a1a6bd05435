"""Signed webhooks to agencies (SPEC §7): queued with the change, delivered by tasks,
retried with back-off for 24 hours, every attempt's outcome kept for administrators.

Signature: ``X-TMS-Signature: sha256=<hex>``, the HMAC-SHA256 with the endpoint's
secret over ``<X-TMS-Timestamp>.<raw body>``; receivers should refuse timestamps
more than five minutes old (replays). See docs/INTEGRATION.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from tms.directory.models import Agency
from tms.integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)
GIVE_UP_AFTER = timedelta(hours=24)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=2)
TIMEOUT = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_url(url: str) -> None:
    """HTTPS only; plain HTTP is allowed for loopback addresses (tests, local receivers)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        try:
            if parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback:
                return
        except ValueError:
            pass
    raise ValidationError({"url": ["Webhook URLs must use HTTPS."]})


@transaction.atomic
def endpoint_create(*, agency: Agency, url: str) -> WebhookEndpoint:
    check_url(url)
    return WebhookEndpoint.objects.create(agency=agency, url=url, secret=secrets.token_urlsafe(32))


# How long one transaction may reuse its lookup of an agency's endpoints.
ENDPOINTS_MEMO_SECONDS = 2.0


def active_endpoints(agency_id: int) -> list[WebhookEndpoint]:
    """The agency's active endpoints, looked up once per transaction: a manifest or an
    agency bulk update changes a thousand applications of one agency in one transaction,
    and most agencies have no endpoint at all."""
    blocks = connection.atomic_blocks
    if not blocks:
        return list(WebhookEndpoint.objects.filter(agency_id=agency_id, is_active=True))
    marker, now = id(blocks[0]), time.monotonic()
    memo = getattr(connection, "_tms_endpoints", None)
    # The age bound keeps a memo from outliving its transaction if a later one happens
    # to get the same block id.
    if memo is None or memo[0] != marker or now - memo[1] > ENDPOINTS_MEMO_SECONDS:
        memo = (marker, now, {})
        connection._tms_endpoints = memo  # type: ignore[attr-defined]
    found: dict[int, list[WebhookEndpoint]] = memo[2]
    if agency_id not in found:
        found[agency_id] = list(WebhookEndpoint.objects.filter(agency_id=agency_id, is_active=True))
    return found[agency_id]


def deliveries_queue(
    *,
    agency_id: int,
    event: str,
    data: dict[str, Any],
    endpoints: list[WebhookEndpoint] | None = None,
) -> int:
    """Record one delivery per active endpoint, in the caller's transaction."""
    if endpoints is None:
        endpoints = active_endpoints(agency_id)
    if not endpoints:
        return 0
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                event_id=(event_id := str(uuid.uuid4())),
                payload={
                    "id": event_id,
                    "type": event,
                    "created_at": now.isoformat(),
                    "data": data,
                },
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    )
    from tms.integrations import tasks

    transaction.on_commit(lambda: tasks.deliver_webhooks.enqueue(), robust=True)
    return len(endpoints)


def _claim(limit: int) -> list[WebhookDelivery]:
    now = timezone.now()
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        claimed = list(due.select_related("endpoint")[:limit])
        WebhookDelivery.objects.filter(id__in=[d.id for d in claimed]).update(
            next_attempt_at=now + CLAIM_LEASE
        )
    return claimed


def _retry_delay(attempts: int) -> timedelta:
    delay = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    return delay * random.uniform(0.5, 1.5)  # noqa: S311 (jitter, not security)


def deliver_due(*, limit: int = 100, client: httpx.Client | None = None) -> int:
    """Post due deliveries; returns how many were attempted."""
    claimed = _claim(limit)
    if not claimed:
        return 0
    own_client = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        for delivery in claimed:
            _attempt(http, delivery)
    finally:
        if own_client:
            http.close()
    return len(claimed)


def _attempt(http: httpx.Client, delivery: WebhookDelivery) -> None:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "TrackMyService-Webhooks/1",
        "X-TMS-Event": delivery.event,
        "X-TMS-Delivery": delivery.event_id,
        "X-TMS-Timestamp": timestamp,
        "X-TMS-Signature": "sha256=" + sign(delivery.endpoint.secret, timestamp, body),
    }
    status_code: int | None = None
    error = ""
    try:
        response = http.post(delivery.endpoint.url, content=body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error,
    }
    if not error:
        fields.update(state=DeliveryState.DELIVERED, delivered_at=now)
    elif now - delivery.created_at >= GIVE_UP_AFTER:
        fields.update(state=DeliveryState.FAILED)
        logger.warning("webhook delivery %s gave up after %d attempts", delivery.event_id, attempts)
    else:
        fields.update(next_attempt_at=now + _retry_delay(attempts))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
