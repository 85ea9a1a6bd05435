"""The SMS outbox: queue (in the caller's transaction), dispatch, record, reconcile."""

from __future__ import annotations

import logging
import random
import threading
import time as time_module
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    models,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone

from tms.applications.models import Application
from tms.core.outage import forget_connection
from tms.notifications.gateways.base import (
    GatewayAccountError,
    GatewayRequestError,
    GatewayTemporaryError,
    Outcome,
    RecipientResult,
    SmsGateway,
)
from tms.notifications.models import (
    EVENT_PRIORITY,
    DeliveryReport,
    Event,
    Message,
    MessageState,
    MessageTemplate,
    OptOut,
    SendingPause,
)
from tms.notifications.rendering import (
    TEMPLATES_CACHE_KEY,
    Rendered,
    check_template,
    render,
    render_reply,
)

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a claim lasts: far longer than a gateway call (10 s timeout)."""
    return timedelta(seconds=settings.TMS_SMS_LEASE_SECONDS)


def unknown_hold() -> timedelta:
    """How long an interrupted send waits for a delivery report before it is resent."""
    return timedelta(seconds=settings.TMS_SMS_UNKNOWN_HOLD_SECONDS)


RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 10
ACCOUNT_PAUSE = timedelta(minutes=15)
MAX_RECIPIENTS = 1000
FINAL_REPORT_STATES = {
    "Success": MessageState.DELIVERED,
    "Rejected": MessageState.FAILED,
    "Failed": MessageState.FAILED,
    "AbsentSubscriber": MessageState.FAILED,
    "Expired": MessageState.FAILED,
}
FINISHED = {MessageState.DELIVERED, MessageState.FAILED}


# --- Quiet hours -------------------------------------------------------------------------


def quiet_hours() -> tuple[time, time] | None:
    spec = settings.TMS_QUIET_HOURS.strip()
    if not spec:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in spec.split("-"))
    return start, end


def in_quiet_hours(now: datetime) -> bool:
    hours = quiet_hours()
    if hours is None:
        return False
    start, end = hours
    local = timezone.localtime(now).time()
    return (start <= local or local < end) if start > end else (start <= local < end)


# --- Queueing ----------------------------------------------------------------------------


def dispatch_after_commit() -> None:
    """Start a send as soon as the transaction commits; once per transaction."""
    from tms.notifications import tasks

    blocks = connection.atomic_blocks
    marker = id(blocks[0]) if blocks else None
    if marker is not None and getattr(connection, "_tms_sms_kick", None) == marker:
        return
    connection._tms_sms_kick = marker  # type: ignore[attr-defined]
    transaction.on_commit(lambda: tasks.send_due_sms.enqueue(), robust=True)


def message_queue(
    *,
    event: str,
    to: str,
    rendered: Rendered,
    language: str,
    application: Application | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> Message | None:
    """Add a message to the outbox, in the caller's transaction. Returns None when the
    dedupe key was used before (the database refuses the duplicate)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                application=application,
                event=event,
                priority=EVENT_PRIORITY[Event(event)],
                to=to,
                body=rendered.body,
                language=language,
                segments=rendered.segments,
                encoding=rendered.encoding,
                dedupe_key=dedupe_key,
                next_attempt_at=now,
                created_at=now,
            )
    except IntegrityError:
        if dedupe_key and Message.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    dispatch_after_commit()
    return message


def is_opted_out(phone: str) -> bool:
    return OptOut.objects.filter(phone=phone).exists()


def notify(
    application: Application, event: Event, *, dedupe_key: str | None = None, **values: str
) -> Message | None:
    """Queue ``event``'s message to the applicant, and the same words to the person who
    applied on their behalf if there is one (each with its own dedupe key; reminders skip
    opted-out phones). Returns the applicant's message (None if skipped or a duplicate)."""
    rendered = render(event, application, **values)
    message = None
    if not (event == Event.REMINDER and is_opted_out(application.applicant_phone)):
        message = message_queue(
            event=event,
            to=application.applicant_phone,
            rendered=rendered,
            language=application.language,
            application=application,
            dedupe_key=dedupe_key,
        )
    representative = application.representative_phone
    if (
        representative
        and representative != application.applicant_phone
        and not (event == Event.REMINDER and is_opted_out(representative))
    ):
        message_queue(
            event=event,
            to=representative,
            rendered=rendered,
            language=application.language,
            application=application,
            dedupe_key=f"{dedupe_key}:representative" if dedupe_key else None,
        )
    return message


def handover_code_queue(*, application: Application, code: str) -> Message | None:
    """The one-time hand-over code, to the citizen's own phone only: it proves that the
    collector holds (or is trusted by) the phone the application was lodged with. Sent
    first, even in quiet hours: the citizen is waiting at the counter."""
    return message_queue(
        event=Event.HANDOVER_CODE,
        to=application.applicant_phone,
        rendered=render(Event.HANDOVER_CODE, application, code=code),
        language=application.language,
        application=application,
    )


def reply_queue(*, to: str, text: str, language: str) -> Message | None:
    """An answer to a citizen's own SMS or USSD query: sent first, even in quiet hours."""
    return message_queue(
        event=Event.REPLY, to=to, rendered=render_reply(text, language=language), language=language
    )


@transaction.atomic
def opt_out(*, phone: str) -> None:
    OptOut.objects.get_or_create(phone=phone)


@transaction.atomic
def opt_in(*, phone: str) -> None:
    OptOut.objects.filter(phone=phone).delete()


@transaction.atomic
def message_resend(*, message: Message) -> Message:
    """Send a failed or unknown message again (a staff action), as a new attempt cycle."""
    if message.state not in {MessageState.FAILED, MessageState.UNKNOWN}:
        raise ValueError("Only failed or unknown messages can be resent.")
    Message.objects.filter(pk=message.pk).update(
        state=MessageState.QUEUED,
        attempts=0,
        next_attempt_at=timezone.now(),
        failure_reason="",
        finished_at=None,
        gateway_message_id=None,
    )
    dispatch_after_commit()
    message.refresh_from_db()
    return message


# --- Sending pause (account problems) ----------------------------------------------------


def active_pause(now: datetime | None = None) -> SendingPause | None:
    now = now or timezone.now()
    return (
        SendingPause.objects.filter(resolved_at__isnull=True, resume_at__gt=now)
        .order_by("-started_at")
        .first()
    )


def _pause_sending(reason: str, now: datetime) -> SendingPause:
    pause = active_pause(now)
    if pause is None:
        pause = SendingPause.objects.create(
            reason=reason[:200], started_at=now, resume_at=now + ACCOUNT_PAUSE
        )
        logger.warning("SMS sending paused: %s", reason)
        transaction.on_commit(
            lambda: mail_admins(
                "SMS sending paused",
                f"The SMS gateway refused our account: {reason}. Sending resumes at "
                f"{timezone.localtime(pause.resume_at):%H:%M} or when staff resume it.",
                fail_silently=True,
            )
        )
    return pause


@transaction.atomic
def sending_resume() -> None:
    SendingPause.objects.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
    Message.objects.filter(state=MessageState.QUEUED, next_attempt_at__gt=timezone.now()).filter(
        failure_reason__startswith="paused:"
    ).update(next_attempt_at=timezone.now(), failure_reason="")
    dispatch_after_commit()


# --- Dispatch ------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    to: str
    body: str
    attempts: int


@dataclass
class DispatchSummary:
    claimed: int = 0
    accepted: int = 0
    failed: int = 0
    retrying: int = 0
    paused: bool = False
    outcomes: dict[str, int] = field(default_factory=dict)


def _claim(*, gateway_name: str, limit: int, now: datetime) -> list[Claimed]:
    with transaction.atomic():
        due = Message.objects.filter(state=MessageState.QUEUED, next_attempt_at__lte=now)
        if in_quiet_hours(now):
            due = due.filter(priority=EVENT_PRIORITY[Event.REPLY])
        due = due.order_by("priority", "next_attempt_at", "id")
        if connection.vendor == "postgresql":
            # Several workers claim disjoint rows without waiting on each other.
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "to", "body", "attempts")[:limit])
        if not rows:
            return []
        Message.objects.filter(id__in=[row[0] for row in rows]).update(
            state=MessageState.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + lease(),
            gateway=gateway_name,
        )
    return [Claimed(id=i, to=to, body=body, attempts=a + 1) for i, to, body, a in rows]


def _requests(claimed: Sequence[Claimed]) -> list[tuple[str, list[Claimed]]]:
    """Group identical texts into one request each (at most MAX_RECIPIENTS numbers, each
    number once per request, since answers are keyed by number)."""
    by_body: dict[str, list[Claimed]] = defaultdict(list)
    for item in claimed:
        by_body[item.body].append(item)
    requests: list[tuple[str, list[Claimed]]] = []
    for body, items in by_body.items():
        batches: list[tuple[list[Claimed], set[str]]] = []
        for item in items:
            for batch, numbers in batches:
                if len(batch) < MAX_RECIPIENTS and item.to not in numbers:
                    batch.append(item)
                    numbers.add(item.to)
                    break
            else:
                batches.append(([item], {item.to}))
        requests.extend((body, batch) for batch, _ in batches)
    return requests


@dataclass(frozen=True)
class FateUnknown:
    """The request may have reached the gateway, but we have no answer."""

    reason: str


Result = RecipientResult | FateUnknown


def _send(gateway: SmsGateway, body: str, batch: list[Claimed]) -> list[tuple[Claimed, Result]]:
    try:
        results = gateway.send(text=body, recipients=[item.to for item in batch])
    except GatewayAccountError as exc:
        failure = Outcome.ACCOUNT, f"account: {exc}"
    except GatewayRequestError as exc:
        # Our request or configuration is wrong: resending cannot help; staff must look.
        failure = Outcome.ACCOUNT, f"request refused ({exc.status_code})"
    except GatewayTemporaryError as exc:
        if exc.maybe_accepted:
            unknown = FateUnknown(str(exc)[:150])
            return [(item, unknown) for item in batch]
        _gateway_down.set()
        failure = Outcome.TEMPORARY, f"{GATEWAY_DOWN_REASON}{exc}"
    except Exception as exc:  # a bug or an unexpected answer: retry rather than lose
        logger.exception("SMS gateway call failed unexpectedly")
        _gateway_down.set()
        failure = Outcome.TEMPORARY, f"{UNEXPECTED_REASON}{type(exc).__name__}"
    else:
        by_number = {result.number: result for result in results}
        return [
            (
                item,
                by_number.get(item.to)
                or RecipientResult(
                    item.to, Outcome.TEMPORARY, None, "missing from answer", None, None, ""
                ),
            )
            for item in batch
        ]
    outcome, status = failure
    return [
        (item, RecipientResult(item.to, outcome, None, status[:40], None, None, ""))
        for item in batch
    ]


# Set by this process when a whole request to the gateway failed. When one succeeds again,
# the messages waiting out their back-off are made due at once, so the backlog drains in
# priority order (replies first) instead of in the order their back-offs happen to end.
_gateway_down = threading.Event()
GATEWAY_DOWN_REASON = "gateway: "
UNEXPECTED_REASON = "error: "


def retries_bring_forward(*, now: datetime) -> int:
    """Make due now the messages held back only because the gateway was down."""
    held = Q()
    for reason in (GATEWAY_DOWN_REASON, UNEXPECTED_REASON):
        held |= Q(failure_reason__startswith=f"retrying: {reason}")
    brought = Message.objects.filter(
        held, state=MessageState.QUEUED, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    if brought:
        logger.info("SMS gateway answers again: %d waiting messages made due", brought)
    return brought


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off with jitter, so a recovering gateway is not hit all at once."""
    delay = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    return delay * random.uniform(0.5, 1.5)  # noqa: S311 (jitter, not security)


def _record(
    outcomes: Iterable[tuple[Claimed, Result]], *, now: datetime, summary: DispatchSummary
) -> None:
    outcomes = list(outcomes)
    with transaction.atomic():
        # A result counts only while the claim is ours (the sweeper may have moved it on).
        live = set(
            Message.objects.filter(
                id__in=[item.id for item, _ in outcomes],
                state__in=[MessageState.SENDING, MessageState.UNKNOWN],
            ).values_list("id", "attempts")
        )
        pause: SendingPause | None = None
        updates: list[Message] = []
        accepted_ids: list[str] = []
        for item, result in outcomes:
            if (item.id, item.attempts) not in live:
                continue
            message = Message(id=item.id, attempts=item.attempts, lease_expires_at=None)
            if isinstance(result, FateUnknown):
                # Resending now could duplicate: wait for a delivery report (the sweeper).
                message.state = MessageState.UNKNOWN
                message.next_attempt_at = now + unknown_hold()
                message.lease_expires_at = now
                message.gateway_status, message.failure_reason = (
                    "",
                    f"unknown: {result.reason}"[:200],
                )
                message.gateway_message_id, message.cost, message.currency = None, None, ""
                message.sent_at = message.finished_at = None
                summary.outcomes["unknown"] = summary.outcomes.get("unknown", 0) + 1
                updates.append(message)
                continue
            summary.outcomes[result.outcome] = summary.outcomes.get(result.outcome, 0) + 1
            message.gateway_status = result.status[:40]
            message.failure_reason = ""
            message.gateway_message_id = None
            message.cost, message.currency = result.cost, result.currency
            message.sent_at = message.finished_at = None
            message.next_attempt_at = now
            if result.outcome == Outcome.ACCEPTED:
                message.state = MessageState.SENT
                message.gateway_message_id = result.gateway_message_id
                message.sent_at = now
                accepted_ids.append(result.gateway_message_id or "")
                summary.accepted += 1
            elif result.outcome == Outcome.PERMANENT:
                message.state = MessageState.FAILED
                message.failure_reason = result.status[:200]
                message.finished_at = now
                summary.failed += 1
            elif result.outcome == Outcome.ACCOUNT:
                pause = pause or _pause_sending(result.status, now)
                message.state = MessageState.QUEUED
                message.attempts = item.attempts - 1  # the account, not the message, failed
                message.next_attempt_at = pause.resume_at
                message.failure_reason = f"paused: {result.status}"[:200]
                summary.paused = True
            elif item.attempts >= MAX_ATTEMPTS:
                message.state = MessageState.FAILED
                message.failure_reason = f"gave up after {item.attempts} attempts: {result.status}"[
                    :200
                ]
                message.finished_at = now
                summary.failed += 1
            else:
                message.state = MessageState.QUEUED
                message.next_attempt_at = now + retry_delay(item.attempts)
                message.failure_reason = f"retrying: {result.status}"[:200]
                summary.retrying += 1
            updates.append(message)
        _write_outcomes(updates)
        _apply_waiting_reports([gid for gid in accepted_ids if gid])


RECORD_PATIENCE_SECONDS = 120.0


def _record_surviving_outages(
    outcomes: list[tuple[Claimed, Result]], *, summary: DispatchSummary
) -> None:
    """The gateway has answered; only we know what it said. If the database is away (a
    restart), keep the answers and try again rather than let the claims lapse: a lapsed
    claim whose delivery report is also lost would be sent a second time."""
    delay, waited = 0.5, 0.0
    while True:
        attempt = DispatchSummary()  # a failed try's counts must not be kept
        try:
            _record(outcomes, now=timezone.now(), summary=attempt)
        except (OperationalError, InterfaceError) as error:
            if waited >= RECORD_PATIENCE_SECONDS:
                raise
            logger.warning(
                "could not record %d send outcomes (%s); retrying in %.1f s",
                len(outcomes),
                type(error).__name__,
                delay,
            )
            forget_connection()
            time_module.sleep(delay)
            waited += delay
            delay = min(delay * 2, 8.0)
            continue
        summary.accepted += attempt.accepted
        summary.failed += attempt.failed
        summary.retrying += attempt.retrying
        summary.paused = summary.paused or attempt.paused
        for outcome, count in attempt.outcomes.items():
            summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + count
        return


OUTCOME_FIELDS = [
    "state", "attempts", "lease_expires_at", "gateway_status", "failure_reason",
    "gateway_message_id", "cost", "currency", "sent_at", "finished_at", "next_attempt_at",
]  # fmt: skip


def _write_outcomes(updates: Sequence[Message]) -> None:
    """One parameterised UPDATE per message, sent as a batch: Django's bulk_update builds
    a CASE expression per field and row, which cost more than the sending itself."""
    if not updates:
        return
    fields = [
        field
        for name in OUTCOME_FIELDS
        if isinstance(field := Message._meta.get_field(name), models.Field)
    ]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column or f.name)} = %s" for f in fields)
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields] + [message.id]
        for message in updates
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def dispatch_due(
    *, gateway: SmsGateway, limit: int | None = None, concurrency: int | None = None
) -> DispatchSummary:
    """Claim up to ``limit`` due messages, send them, record every outcome."""
    limit = limit or settings.TMS_SMS_BATCH
    concurrency = concurrency or settings.TMS_SMS_CONCURRENCY
    now = timezone.now()
    summary = DispatchSummary()
    if active_pause(now) is not None:
        summary.paused = True
        return summary
    claimed = _claim(gateway_name=gateway.name, limit=limit, now=now)
    summary.claimed = len(claimed)
    if not claimed:
        return summary
    requests = _requests(claimed)
    # The claim has committed: no transaction is held open during the slow calls.
    if len(requests) == 1 or concurrency <= 1:
        results = [_send(gateway, body, batch) for body, batch in requests]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(requests))) as pool:
            results = list(pool.map(lambda request: _send(gateway, *request), requests))
    _record_surviving_outages([pair for batch in results for pair in batch], summary=summary)
    if summary.accepted and _gateway_down.is_set():
        _gateway_down.clear()
        retries_bring_forward(now=timezone.now())
    return summary


# --- Delivery reports and reconciliation ---------------------------------------------------


def _apply_report(message: Message, report: DeliveryReport) -> None:
    new_state = FINAL_REPORT_STATES.get(report.status)
    fields: dict[str, object] = {"network_code": report.network_code}
    if message.state in FINISHED:
        # Reports arrive twice and out of order; a final state never moves.
        Message.objects.filter(pk=message.pk).update(**fields)
        return
    if new_state is None:
        fields["gateway_status"] = report.status[:40]
        if message.state == MessageState.UNKNOWN:
            fields["state"] = MessageState.SENT
    else:
        fields.update(
            state=new_state, gateway_status=report.status[:40], finished_at=report.received_at
        )
        if new_state == MessageState.DELIVERED:
            fields["delivered_at"] = report.received_at
        else:
            fields["failure_reason"] = (report.failure_reason or report.status)[:200]
    Message.objects.filter(pk=message.pk).update(**fields)


def _apply_waiting_reports(gateway_ids: Sequence[str]) -> None:
    """Reports that arrived before our record of the send committed."""
    if not gateway_ids:
        return
    waiting = DeliveryReport.objects.filter(
        message__isnull=True, gateway_message_id__in=gateway_ids
    ).order_by("received_at", "id")
    for report in waiting:
        message = Message.objects.get(gateway_message_id=report.gateway_message_id)
        report.message = message
        report.save(update_fields=["message"])
        _apply_report(message, report)


@transaction.atomic
def delivery_report_record(
    *,
    gateway_message_id: str,
    status: str,
    phone: str = "",
    failure_reason: str = "",
    network_code: str = "",
) -> DeliveryReport:
    """Record one delivery report. Idempotent in effect; unknown ids are kept unmatched."""
    message = (
        Message.objects.select_for_update().filter(gateway_message_id=gateway_message_id).first()
    )
    report = DeliveryReport.objects.create(
        gateway_message_id=gateway_message_id[:80],
        status=status[:40],
        failure_reason=failure_reason[:80],
        network_code=network_code[:8],
        phone=phone[:16],
        received_at=timezone.now(),
        message=message,
    )
    if message is not None:
        _apply_report(message, report)
    else:
        logger.info("delivery report for an id we do not know (yet)")
    return report


@dataclass
class SweepSummary:
    marked_unknown: int = 0
    reconciled: int = 0
    requeued: int = 0
    late_reports: int = 0


@transaction.atomic
def sweep_stale_sends(*, now: datetime | None = None) -> SweepSummary:
    """Messages whose sender died mid-send become ``unknown``. An unknown message is
    reconciled from a delivery report for its number received since its claim (when
    exactly one matches); after the unknown hold without one, it is queued again (the one
    rule that may send a duplicate: better twice than never)."""
    now = now or timezone.now()
    summary = SweepSummary()
    # On PostgreSQL a report can commit while the send's record is still in flight:
    # neither sees the other. Match such reports now that both have committed.
    late = (
        DeliveryReport.objects.filter(message__isnull=True)
        .filter(
            gateway_message_id__in=Message.objects.filter(gateway_message_id__isnull=False).values(
                "gateway_message_id"
            )
        )
        .values_list("gateway_message_id", flat=True)
        .distinct()[:5000]
    )
    late_ids = list(late)
    _apply_waiting_reports(late_ids)
    summary.late_reports = len(late_ids)
    summary.marked_unknown = Message.objects.filter(
        state=MessageState.SENDING, lease_expires_at__lt=now
    ).update(state=MessageState.UNKNOWN, next_attempt_at=now + unknown_hold())

    for message in Message.objects.select_for_update().filter(state=MessageState.UNKNOWN):
        claimed_at = (message.lease_expires_at or now) - lease()
        candidates = list(
            DeliveryReport.objects.filter(
                message__isnull=True, phone=message.to, received_at__gte=claimed_at
            )
            .values_list("gateway_message_id", flat=True)
            .distinct()[:2]
        )
        if len(candidates) == 1:
            Message.objects.filter(pk=message.pk).update(
                gateway_message_id=candidates[0], state=MessageState.SENT, sent_at=claimed_at
            )
            _apply_waiting_reports(candidates)
            summary.reconciled += 1
        elif message.next_attempt_at <= now:
            Message.objects.filter(pk=message.pk).update(
                state=MessageState.QUEUED,
                next_attempt_at=now,
                failure_reason="resent: the previous attempt's fate is unknown",
            )
            summary.requeued += 1
    if summary.requeued:
        dispatch_after_commit()
    return summary


# --- Templates ----------------------------------------------------------------------------


@transaction.atomic
def template_save(*, event: str, language: str, body: str) -> MessageTemplate:
    """Save an administrator's wording after checking its placeholders."""
    check_template(event, body)
    template, _ = MessageTemplate.objects.update_or_create(
        event=event, language=language, defaults={"body": body}
    )
    transaction.on_commit(lambda: cache.delete(TEMPLATES_CACHE_KEY))
    return template
