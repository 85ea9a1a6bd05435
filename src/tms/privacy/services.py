"""Anonymising the personal data of long-closed applications (SPEC §11).

Kenya's Data Protection Act 2019 lets us keep personal data only as long as the service
needs it. Once an application has been closed (collected, returned, rejected,
cancelled) for ``TMS_PERSONAL_DATA_RETENTION_DAYS`` (730) days, everything that names or
reaches the citizen is blanked, in every app:

- ``applications.Application``: applicant and representative names, phones and ID
  number; ``anonymised_at`` is stamped. The reference, service, agency, centre, agency
  reference, status, dates, language and version stay: the reports, the agencies'
  reconciliation and the public tracking page need them.
- ``applications.ApplicationEvent``: the note (free text: reasons, what the citizen must
  do, a delegate's relationship) and the client address. Every other column stays.
- ``notifications.Message``: the number and the text. Event, state, cost, network,
  segments and dates stay: the SMS figures are computed from them.
- ``notifications.DeliveryReport`` of those messages: the phone number.
- ``counter.Handover``: the delegate's name, ID number and relationship;
  ``counter.HandoverCode``: deleted (they are of no use once the document is out).
- ``tracking.CitizenQuery``: the answer (it may quote the citizen's details).

Not linked to an application, but kept no longer either: SMS replies to citizens'
own queries (``Message`` without an application) and unmatched delivery reports, once
older than the retention period.

Left alone, on purpose: ``audit.AuditRecord`` (immutable; it stores masked terms only),
``counter.LodgeToken`` (a random form token), ``manifests.ManifestRow`` (only our and the
agency's references are kept from a manifest), ``notifications.OptOut`` (the citizen's
own standing instruction not to be sent reminders), webhook payloads (references and
statuses only) and idempotency records (pruned after 24 hours).

Work goes in batches of applications in id order; each batch is one transaction, so an
interrupted run leaves whole batches done and the rest untouched, and the next run
carries on. Only counts are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tms.applications.models import Application, ApplicationEvent
from tms.counter.models import CollectorKind, Handover, HandoverCode
from tms.notifications.models import DeliveryReport, Message
from tms.privacy.selectors import applications_due, retention_cutoff
from tms.tracking.models import CitizenQuery

logger = logging.getLogger(__name__)

# A delegate's hand-over must name the delegate (constraint ``handover_delegate_named``),
# so an anonymised one says this instead of nothing.
ANONYMISED = "-"


@dataclass
class AnonymiseSummary:
    applications: int = 0  # applications anonymised
    batches: int = 0  # transactions committed (batches of applications)
    unlinked_messages: int = 0  # old SMS replies not about an application
    delivery_reports: int = 0  # old delivery reports matched to no message


Progress = Callable[[AnonymiseSummary], None]
Step = Callable[[Sequence[int]], int]


def _history(ids: Sequence[int]) -> int:
    # The history is append-only and never edited: the law's retention limit is the
    # one exception. Free text and the client address can identify a person; who, what
    # and when (every other column) stay, so the reports replay exactly as before.
    return ApplicationEvent.objects.filter(application_id__in=ids).update(note="", address=None)


def _messages(ids: Sequence[int]) -> int:
    return Message.objects.filter(application_id__in=ids).update(to="", body="")


def _delivery_reports(ids: Sequence[int]) -> int:
    return (
        DeliveryReport.objects.filter(message__application_id__in=ids)
        .exclude(phone="")
        .update(phone="")
    )


def _handovers(ids: Sequence[int]) -> int:
    handovers = Handover.objects.filter(application_id__in=ids)
    delegates = handovers.filter(collector_kind=CollectorKind.DELEGATE).update(
        delegate_name=ANONYMISED, delegate_id_number=ANONYMISED, relationship=ANONYMISED
    )
    citizens = handovers.exclude(collector_kind=CollectorKind.DELEGATE).update(
        delegate_name="", delegate_id_number="", relationship=""
    )
    return delegates + citizens


def _handover_codes(ids: Sequence[int]) -> int:
    deleted, _by_model = HandoverCode.objects.filter(application_id__in=ids).delete()
    return deleted


def _citizen_queries(ids: Sequence[int]) -> int:
    return CitizenQuery.objects.filter(application_id__in=ids).update(answer="")


# What a batch blanks besides the applications themselves, table by table.
BATCH_STEPS: tuple[Step, ...] = (
    _history,
    _messages,
    _delivery_reports,
    _handovers,
    _handover_codes,
    _citizen_queries,
)


def _anonymise_batch(*, now: datetime, after_id: int, batch: int) -> tuple[int, int] | None:
    """The next batch after ``after_id``, in one transaction: (its last id, applications
    anonymised), or None when none is left."""
    with transaction.atomic():
        # On PostgreSQL two runs at once (the daily job and the command) take disjoint
        # applications; SQLite writes one transaction at a time anyway.
        ids = list(
            applications_due(now=now)
            .filter(id__gt=after_id)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return None
        anonymised = Application.objects.filter(id__in=ids, anonymised_at__isnull=True).update(
            applicant_name="",
            applicant_phone="",
            applicant_id_number="",
            representative_name="",
            representative_phone="",
            anonymised_at=now,
        )
        for step in BATCH_STEPS:
            step(ids)
    return ids[-1], anonymised


def _unlinked_messages(*, cutoff: datetime, batch: int) -> int:
    """SMS not about an application (replies to a citizen's own query), past retention."""
    total = 0
    after_id = 0
    while True:
        with transaction.atomic():
            ids = list(
                Message.objects.filter(
                    application__isnull=True, created_at__lt=cutoff, id__gt=after_id
                )
                .exclude(to="", body="")
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                return total
            total += Message.objects.filter(id__in=ids).update(to="", body="")
            DeliveryReport.objects.filter(message_id__in=ids).exclude(phone="").update(phone="")
        after_id = ids[-1]


def _unmatched_reports(*, cutoff: datetime, batch: int) -> int:
    """Delivery reports matched to no message, past retention: only their number was
    ever of use (to reconcile a send whose answer was lost, minutes after it)."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                DeliveryReport.objects.filter(message__isnull=True, received_at__lt=cutoff)
                .exclude(phone="")
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                return total
            total += DeliveryReport.objects.filter(id__in=ids).update(phone="")


def personal_data_anonymise(
    *, now: datetime | None = None, batch: int = 1000, progress: Progress | None = None
) -> AnonymiseSummary:
    """Anonymise the personal data of applications closed longer ago than the retention
    period (see the module docstring for what goes and what stays). Idempotent: a second
    run finds nothing. ``progress`` is called after every committed batch."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = now or timezone.now()
    summary = AnonymiseSummary()
    after_id = 0
    while (done := _anonymise_batch(now=now, after_id=after_id, batch=batch)) is not None:
        after_id, anonymised = done
        summary.batches += 1
        summary.applications += anonymised
        if progress is not None:
            progress(summary)
    cutoff = retention_cutoff(now=now)
    summary.unlinked_messages = _unlinked_messages(cutoff=cutoff, batch=batch)
    summary.delivery_reports = _unmatched_reports(cutoff=cutoff, batch=batch)
    logger.info(
        "personal data anonymised: %d applications in %d batches, "
        "%d unlinked messages, %d delivery reports",
        summary.applications,
        summary.batches,
        summary.unlinked_messages,
        summary.delivery_reports,
    )
    return summary
