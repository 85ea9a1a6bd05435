"""Writes from the citizen channels."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, Channel
from tms.core.phones import normalise_phone
from tms.directory.selectors import working_calendar
from tms.notifications.services import reply_queue
from tms.tracking.models import CitizenQuery, LookupTally, ServiceEstimate
from tms.tracking.selectors import (
    MIN_CASES_FOR_ESTIMATE,
    estimate_for,
    open_references_for_phone,
    week_of,
)
from tms.tracking.signals import query_raised

ESTIMATE_WINDOW = timedelta(days=90)
ESTIMATE_PERCENTILE = 0.8


# --- Lookup tallies -------------------------------------------------------------------------
# A database write per lookup would halve the lookups a server can answer; counts are
# kept in the process and added to the table every few seconds (at most that much is
# lost if a process dies: these are statistics, not records).
_FLUSH_SECONDS = 5.0
_pending: Counter[tuple[str, str]] = Counter()
_pending_lock = threading.Lock()
_last_flush = time.monotonic()


def lookup_count(channel: Channel) -> None:
    global _last_flush
    day = timezone.localdate().isoformat()
    with _pending_lock:
        _pending[(day, channel)] += 1
        due = time.monotonic() - _last_flush >= _FLUSH_SECONDS
        if due:
            _last_flush = time.monotonic()
    if due:
        lookup_tallies_flush()


def lookup_tallies_flush() -> None:
    with _pending_lock:
        counts = dict(_pending)
        _pending.clear()
    for (day, channel), n in counts.items():
        with transaction.atomic():
            updated = LookupTally.objects.filter(day=day, channel=channel).update(
                lookups=F("lookups") + n
            )
            if not updated:
                try:
                    with transaction.atomic():
                        LookupTally.objects.create(day=day, channel=channel, lookups=n)
                except IntegrityError:  # another process created it meanwhile
                    LookupTally.objects.filter(day=day, channel=channel).update(
                        lookups=F("lookups") + n
                    )


# --- Lost references ------------------------------------------------------------------------


def lost_reference_request(*, phone: str, language: str) -> None:
    """Send the references of the phone's open applications to that phone only. Says
    nothing to the caller either way (raises only for a malformed number)."""
    number = normalise_phone(phone)
    found = open_references_for_phone(phone=number)
    if not found:
        return
    with translation.override(language):
        text = _("Your Track My Service references: %(refs)s. Track at %(url)s.") % {
            "refs": ", ".join(references.display(ref) for ref in found[:3]),
            "url": settings.TMS_TRACK_URL,
        }
    reply_queue(to=number, text=text, language=language)


# --- Overdue queries -------------------------------------------------------------------------


class QueryRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def query_raise(*, application: Application, channel: Channel) -> CitizenQuery:
    """An overdue application's citizen asks what is happening: once a week at most."""
    estimate = estimate_for(application)
    if estimate is None or not estimate.overdue:
        raise QueryRefused(_("You can ask about an application once it is past its estimate."))
    now = timezone.now()
    try:
        with transaction.atomic():
            query = CitizenQuery.objects.create(
                application=application,
                week=week_of(timezone.localdate(now)),
                channel=channel,
                raised_at=now,
            )
            query_raised.send(sender=CitizenQuery, query=query)
            return query
    except IntegrityError:
        raise QueryRefused(
            _("You have already asked about this application this week. We will answer by SMS.")
        ) from None


# --- Estimates ----------------------------------------------------------------------------------


def estimates_refresh() -> int:
    """Recompute each (service, centre)'s 80th percentile of lodged-to-ready working days
    over the applications that became ready in the last 90 days. Returns the pairs kept."""
    moment = timezone.now()
    since = moment - ESTIMATE_WINDOW
    calendar = working_calendar(start=timezone.localdate(since) - timedelta(days=366))
    durations: dict[tuple[int, int], list[int]] = defaultdict(list)
    rows = (
        Application.objects.filter(ready_at__gte=since)
        .exclude(status__in=[Status.REJECTED, Status.CANCELLED])
        .values_list("service_id", "centre_id", "lodged_at", "ready_at")
    )
    for service_id, centre_id, lodged_at, ready_at in rows.iterator(chunk_size=5000):
        days = calendar.between(timezone.localdate(lodged_at), timezone.localdate(ready_at))
        durations[(service_id, centre_id)].append(max(days, 0))
    estimates = []
    for (service_id, centre_id), values in durations.items():
        if len(values) < MIN_CASES_FOR_ESTIMATE:
            continue
        values.sort()
        index = min(len(values) - 1, int(len(values) * ESTIMATE_PERCENTILE))
        estimates.append(
            ServiceEstimate(
                service_id=service_id,
                centre_id=centre_id,
                p80_working_days=max(values[index], 1),
                cases=len(values),
                computed_at=moment,
            )
        )
    with transaction.atomic():
        ServiceEstimate.objects.all().delete()
        ServiceEstimate.objects.bulk_create(estimates, batch_size=1000)
    return len(estimates)
