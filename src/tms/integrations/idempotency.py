"""Idempotency-Key on POSTs (SPEC §7): a retry with the same key and body gets the first
answer and changes nothing; the same key with another body is refused (422). Two
identical requests at the same moment: the second waits for the first's answer."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    transaction,
)
from django.utils import timezone

from tms.core.outage import forget_connection
from tms.core.problems import Problem
from tms.directory.models import Agency
from tms.integrations.models import IdempotencyRecord

logger = logging.getLogger(__name__)
KEEP_FOR = timedelta(hours=24)
WAIT_FOR_FIRST = 30.0  # seconds a duplicate waits for the first request to finish
# A key still "in progress" after this long belongs to a request that died: a web worker
# answers within gunicorn's 60 s timeout or is killed.
ABANDONED_AFTER = timedelta(minutes=2)
FREE_KEY_PATIENCE = 8.0  # seconds to wait for the database to free a failed request's key
MAX_KEY_LENGTH = 255


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def run_once(
    *, agency: Agency, key: str, fingerprint: str, handler: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """Run ``handler`` once per (agency, key); replay its answer afterwards."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400, "idempotency-key", "The Idempotency-Key must be 1 to 255 printable characters."
        )
    try:
        # Committed at once (autocommit), so a concurrent duplicate sees it and waits.
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                agency=agency, key=key, request_hash=fingerprint, created_at=timezone.now()
            )
    except IntegrityError:
        abandoned = IdempotencyRecord.objects.filter(
            agency=agency,
            key=key,
            status_code__isnull=True,
            created_at__lt=timezone.now() - ABANDONED_AFTER,
        ).delete()[0]
        if abandoned:  # whoever deletes it first runs the request again
            return run_once(agency=agency, key=key, fingerprint=fingerprint, handler=handler)
        return _replay(agency=agency, key=key, fingerprint=fingerprint)
    try:
        status, body = handler()
    except BaseException:
        _free_key(record.pk)
        raise
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status, response_body=json.dumps(body, default=str)
    )
    return status, body


def _free_key(pk: int) -> None:
    """Nothing was answered: free the key so the client's retry runs again. If the
    database went away mid-request, it is usually back within seconds (a restart): wait
    for it briefly; failing that, the key counts as abandoned after ABANDONED_AFTER."""
    deadline = time.monotonic() + FREE_KEY_PATIENCE
    while True:
        try:
            IdempotencyRecord.objects.filter(pk=pk).delete()
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                logger.warning("an idempotency key stays taken: the database is unavailable")
                return
            forget_connection()
            time.sleep(0.5)


def _replay(*, agency: Agency, key: str, fingerprint: str) -> tuple[int, Any]:
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        record = IdempotencyRecord.objects.filter(agency=agency, key=key).first()
        if record is None:
            raise Problem(
                409, "idempotency-retry", "The first request with this key failed; retry it."
            )
        if record.request_hash != fingerprint:
            raise Problem(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was used with a different request.",
            )
        if record.status_code is not None:
            return record.status_code, json.loads(record.response_body)
        if time.monotonic() > deadline:
            raise Problem(
                409, "idempotency-in-progress", "A request with this key is still being processed."
            )
        time.sleep(0.05)


def prune() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
