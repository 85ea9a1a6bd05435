"""Reads for the backlog, the return list and the citizen-query queue (SPEC §9).

Every selector takes the acting ``Staff`` and narrows to their scope itself, so a
hand-typed URL cannot reach another centre's documents. Counts are computed by the
database (GROUP BY over CASE buckets), never by looping over applications in Python:
a national backlog is millions of rows.

Ages are counted in Nairobi calendar days: a document that became ready at 23:50
yesterday has waited one day this morning, as a citizen would count it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Capability, Role
from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.core.phones import mask_phone
from tms.directory.models import Service
from tms.notifications.models import Event, Message, MessageState, OptOut
from tms.tracking.models import CitizenQuery, QueryState
from tms.tracking.selectors import mask_name

# The SMS a citizen gets about an uncollected document, shown as its reminder history.
REMINDER_EVENTS = (Event.READY, Event.REMINDER, Event.FINAL_NOTICE)
ID_CHUNK = 500  # ids per IN (...) list: well under every database's parameter limit


def today_local() -> date:
    return timezone.localdate(timezone.now(), timezone.get_default_timezone())


def local_day(moment: datetime) -> date:
    return timezone.localdate(moment, timezone.get_default_timezone())


def local_midnight(day: date) -> datetime:
    """The first instant of ``day`` in Nairobi, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


# --- Age buckets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    key: str
    label: Any
    low: int  # fewest days waited, inclusive
    high: int | None  # most days waited, inclusive; None: no limit


BUCKETS = (
    Bucket("0-7", _("0–7 days"), 0, 7),
    Bucket("8-30", _("8–30 days"), 8, 30),
    Bucket("31-90", _("31–90 days"), 31, 90),
    Bucket("91+", _("over 90 days"), 91, None),
)
BUCKET_BY_KEY = {bucket.key: bucket for bucket in BUCKETS}


def bucket_range(bucket: Bucket, today: date) -> Q:
    """Documents that have waited ``bucket.low``..``bucket.high`` days on ``today``, as a
    range of ``ready_at`` (so the (centre, status, ready_at) index answers it)."""
    # Waited n days <=> ready on today - n
    #               <=> midnight(today - n) <= ready_at < midnight(today - n + 1)
    condition = Q()
    if bucket.high is not None:
        condition &= Q(ready_at__gte=local_midnight(today - timedelta(days=bucket.high)))
    if bucket.low > 0:
        condition &= Q(ready_at__lt=local_midnight(today - timedelta(days=bucket.low - 1)))
    return condition


def bucket_case(today: date) -> Case:
    """The bucket of each row, as SQL: CASE WHEN ready_at >= ... THEN '0-7' ... END."""
    whens = [
        When(
            ready_at__gte=local_midnight(today - timedelta(days=bucket.high)),
            then=Value(bucket.key),
        )
        for bucket in BUCKETS
        if bucket.high is not None
    ]
    return Case(*whens, default=Value(BUCKETS[-1].key))


def days_waiting(ready_at: datetime, today: date) -> int:
    return (today - local_day(ready_at)).days


# --- Scope -------------------------------------------------------------------------------------


def _uncollected(staff: Staff, centre_id: int | None) -> QuerySet[Application]:
    """Ready documents in ``staff``'s scope; an administrator may narrow to one centre
    (for anyone else the centre filter can only narrow their own scope further)."""
    staff.require(Capability.BACKLOG)
    ready = staff.applications().filter(status=Status.READY)
    if centre_id is not None:
        ready = ready.filter(centre_id=centre_id)
    return ready


def _service_name(row: Any, prefix: str = "service__") -> str:
    swahili = (get_language() or "en").startswith("sw")
    return str(row[f"{prefix}name_sw"] if swahili else row[f"{prefix}name_en"])


# --- Backlog table ------------------------------------------------------------------------------


@dataclass
class BacklogRow:
    service_id: int | None
    code: str
    name: str
    counts: list[int]
    total: int = 0
    cost: Decimal = Decimal("0")


@dataclass
class BacklogTable:
    rows: list[BacklogRow] = field(default_factory=list)
    totals: BacklogRow = field(default_factory=lambda: BacklogRow(None, "", "", [0] * len(BUCKETS)))
    buckets: tuple[Bucket, ...] = BUCKETS


def backlog_table(
    staff: Staff, *, centre_id: int | None = None, today: date | None = None
) -> BacklogTable:
    """Uncollected documents per service and age bucket, with the reprint cost at risk
    (each service's reprint cost times its uncollected documents). One query."""
    today = today or today_local()
    grouped = (
        _uncollected(staff, centre_id)
        .annotate(bucket=bucket_case(today))
        .values(
            "service_id",
            "service__code",
            "service__name_en",
            "service__name_sw",
            "service__reprint_cost_kes",
            "bucket",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    index = {bucket.key: i for i, bucket in enumerate(BUCKETS)}
    table = BacklogTable()
    rows: dict[int, BacklogRow] = {}
    for group in grouped:  # at most services × 4 groups, not applications
        row = rows.get(group["service_id"])
        if row is None:
            row = rows[group["service_id"]] = BacklogRow(
                group["service_id"],
                group["service__code"],
                _service_name(group),
                [0] * len(BUCKETS),
            )
        n = group["n"]
        row.counts[index[group["bucket"]]] += n
        row.total += n
        row.cost += n * (group["service__reprint_cost_kes"] or Decimal("0"))
        table.totals.counts[index[group["bucket"]]] += n
        table.totals.total += n
        table.totals.cost += n * (group["service__reprint_cost_kes"] or Decimal("0"))
    table.rows = sorted(rows.values(), key=lambda r: (-r.total, r.code))
    return table


# --- Drill-down -------------------------------------------------------------------------------


def backlog_list(
    staff: Staff,
    *,
    service_id: int | None = None,
    bucket: Bucket | None = None,
    centre_id: int | None = None,
    today: date | None = None,
) -> QuerySet[Application]:
    """The uncollected documents of one service and/or bucket (none: all), longest
    waiting first. Callers slice it: no COUNT over the whole list is ever needed."""
    today = today or today_local()
    found = _uncollected(staff, centre_id)
    if service_id is not None:
        found = found.filter(service_id=service_id)
    if bucket is not None:
        found = found.filter(bucket_range(bucket, today))
    return found.select_related("service", "centre").order_by("ready_at", "id")


@dataclass(frozen=True)
class SentMessage:
    event: str
    event_label: str
    state: str
    state_label: str
    at: datetime
    key: str = ""  # the outbox's dedupe key, e.g. "reminder:<application>:14"


@dataclass(frozen=True)
class NextReminder:
    day: date
    event_label: str


def reminder_history(application_ids: Iterable[int]) -> dict[int, list[SentMessage]]:
    """The ready notice, reminders and final notice of each application, oldest first;
    one query per 500 applications."""
    ids = list(application_ids)
    history: dict[int, list[SentMessage]] = {pk: [] for pk in ids}
    labels = dict(Event.choices)
    states = dict(MessageState.choices)
    for start in range(0, len(ids), ID_CHUNK):
        rows = (
            Message.objects.filter(
                application_id__in=ids[start : start + ID_CHUNK], event__in=REMINDER_EVENTS
            )
            .order_by("application_id", "created_at", "id")
            .values_list("application_id", "event", "state", "created_at", "dedupe_key")
        )
        for application_id, event, state, created_at, key in rows:
            history[application_id].append(
                SentMessage(
                    event=event,
                    event_label=str(labels.get(event, event)),
                    state=state,
                    state_label=str(states.get(state, state)),
                    at=created_at,
                    key=key or "",
                )
            )
    return history


def opted_out(phones: Iterable[str]) -> set[str]:
    return set(OptOut.objects.filter(phone__in=set(phones)).values_list("phone", flat=True))


def next_reminder(
    application: Application,
    service: Service,
    sent: list[SentMessage],
    *,
    today: date,
    is_opted_out: bool,
) -> NextReminder | None:
    """What the reminder job (``notifications.reminders``) will send next, and when:
    the same rules, read backwards. None when nothing more will be sent."""
    assert application.ready_at is not None
    ready_day = local_day(application.ready_at)
    return_day = ready_day + timedelta(days=service.retention_days)
    final_day = return_day - timedelta(days=service.final_notice_days)
    if today >= return_day:
        return None  # due for return: on the return list
    keys = {message.key for message in sent}
    final_sent = f"final:{application.pk}" in keys
    final = NextReminder(max(final_day, today), str(Event.FINAL_NOTICE.label))
    if today >= final_day:
        return None if final_sent else final
    if not is_opted_out:
        waited = (today - ready_day).days
        schedule = service.reminder_schedule()
        due = [day for day in schedule if day <= waited]
        # The job sends only the latest step due; one not yet sent goes at its next run.
        if due and f"reminder:{application.pk}:{due[-1]}" not in keys:
            return NextReminder(today, str(Event.REMINDER.label))
        upcoming = [day for day in schedule if day > waited]
        if upcoming and ready_day + timedelta(days=upcoming[0]) < final_day:
            return NextReminder(ready_day + timedelta(days=upcoming[0]), str(Event.REMINDER.label))
    return final


@dataclass(frozen=True)
class BacklogEntry:
    """One uncollected document as the backlog shows it: masked, with its SMS history."""

    application: Application
    reference: str
    name: str
    phone: str
    ready_day: date
    waited: int
    history: list[SentMessage]
    next: NextReminder | None


def backlog_entries(
    applications: Sequence[Application], *, today: date | None = None
) -> list[BacklogEntry]:
    """The page's rows with their reminder history and the next reminder due: two
    queries (messages, opt-outs) however many rows."""
    today = today or today_local()
    history = reminder_history(a.pk for a in applications)
    stopped = opted_out(a.applicant_phone for a in applications)
    entries = []
    for application in applications:
        assert application.ready_at is not None
        sent = history[application.pk]
        entries.append(
            BacklogEntry(
                application=application,
                reference=references.display(application.reference),
                name=mask_name(application.applicant_name),
                phone=mask_phone(application.applicant_phone),
                ready_day=local_day(application.ready_at),
                waited=days_waiting(application.ready_at, today),
                history=sent,
                next=next_reminder(
                    application,
                    application.service,
                    sent,
                    today=today,
                    is_opted_out=application.applicant_phone in stopped,
                ),
            )
        )
    return entries


# --- Return list -------------------------------------------------------------------------------


def past_retention(today: date) -> Q:
    """Ready documents whose retention has run out: ready day + retention days < today.

    Retention varies per service; there are few distinct values, so the condition is an
    OR of plain ``ready_at`` ranges (portable, and each one uses the ready_at index)."""
    condition = Q(pk__in=[])
    periods = Service.objects.values_list("retention_days", flat=True).distinct().order_by()
    for days in sorted(set(periods)):
        condition |= Q(
            service__retention_days=days,
            ready_at__lt=local_midnight(today - timedelta(days=days)),
        )
    return condition


def is_past_retention(application: Application, today: date) -> bool:
    """The same rule as ``past_retention``, for one application already read."""
    if application.status != Status.READY or application.ready_at is None:
        return False
    return (
        local_day(application.ready_at) + timedelta(days=application.service.retention_days) < today
    )


def return_day(application: Application) -> date:
    assert application.ready_at is not None
    return local_day(application.ready_at) + timedelta(days=application.service.retention_days)


def return_list(
    staff: Staff,
    *,
    centre_id: int | None = None,
    agency_id: int | None = None,
    today: date | None = None,
) -> QuerySet[Application]:
    """Documents past retention, grouped by the agency they go back to, oldest first."""
    today = today or today_local()
    found = _uncollected(staff, centre_id).filter(past_retention(today))
    if agency_id is not None:
        found = found.filter(agency_id=agency_id)
    return found.select_related("service", "agency", "centre").order_by(
        "agency__code", "ready_at", "id"
    )


@dataclass(frozen=True)
class AgencyCount:
    agency_id: int
    code: str
    name: str
    documents: int
    cost: Decimal


def return_summary(
    staff: Staff, *, centre_id: int | None = None, today: date | None = None
) -> list[AgencyCount]:
    """How many documents go back to each agency, and their reprint cost. One query."""
    today = today or today_local()
    grouped = (
        _uncollected(staff, centre_id)
        .filter(past_retention(today))
        .values("agency_id", "agency__code", "agency__name")
        .annotate(n=Count("id"), cost=Coalesce(Sum("service__reprint_cost_kes"), Decimal("0")))
        .order_by("agency__code")
    )
    return [
        AgencyCount(g["agency_id"], g["agency__code"], g["agency__name"], g["n"], g["cost"])
        for g in grouped
    ]


# --- Citizen queries ---------------------------------------------------------------------------


def _queries_in_scope(staff: Staff) -> QuerySet[CitizenQuery]:
    """The same scope as ``Staff.applications``, as joins from the query (a subquery of a
    centre's applications would be read whole for a queue of a few rows)."""
    staff.require(Capability.QUERIES)
    queries = CitizenQuery.objects.all()
    if staff.role in CENTRE_ROLES and staff.centre_id is not None:
        return queries.filter(application__centre_id=staff.centre_id)
    if staff.role in AGENCY_ROLES and staff.agency_id is not None:
        return queries.filter(application__agency_id=staff.agency_id)
    if staff.role == Role.ADMINISTRATOR:
        return queries
    return queries.none()


def query_queue(staff: Staff, *, state: str = QueryState.OPEN) -> QuerySet[CitizenQuery]:
    """Open queries oldest first (the longest-waiting citizen is answered first);
    answered ones most recent first."""
    found = _queries_in_scope(staff).filter(state=state)
    found = found.select_related("application__service", "application__centre")
    if state == QueryState.OPEN:
        return found.order_by("raised_at", "id")
    return found.order_by("-answered_at", "-id")


def query_get(staff: Staff, pk: int) -> CitizenQuery:
    """One query; CitizenQuery.DoesNotExist if there is none, NotAllowed (403) if it is
    about another centre's or agency's application."""
    staff.require(Capability.QUERIES)
    query = CitizenQuery.objects.select_related("application__service", "application__centre").get(
        pk=pk
    )
    staff.check(query.application)
    return query


def days_overdue(application: Application, today: date | None = None) -> int:
    return max(((today or today_local()) - application.due_date).days, 0)
