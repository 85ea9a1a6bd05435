"""Report figures (SPEC §10), read from the daily rollups only (``breaches`` excepted).

Definitions (days are Nairobi local dates; "in the period" means start..end inclusive):

- adherence: documents ready in the period whose ready day is on or before the promised
  ready date (``due_date``, which already skips weekends and public holidays), over all
  documents ready in the period. An undone receipt is not a ready document.
- turnaround: working days from the lodging day to the ready day, of documents ready in
  the period. Per stage: working days spent in each state, by the day the state was left
  (one sample per stint, so a reopened application counts twice in processing).
- collection rate: of the documents that became ready in the period at least 30 days
  before ``today`` (so every one has had its full 30 days), the share handed over within
  30 calendar days of becoming ready. ``collection_ready`` is that denominator.
- ready to collected: calendar days from ready to hand-over, of hand-overs in the period.
- backlog: a snapshot today, ignoring the period: documents ready and neither collected
  nor returned, by age (days since ready) 0-7, 8-30, 31-90, over 90; the reprint cost at
  risk is each one's service reprint cost.
- money saved: documents handed over in the period after a reminder or final notice was
  queued for them, times their service's reprint cost (a reprint avoided).
- SMS: messages queued in the period (see ``rollups`` for sent/delivered/failed); the
  delivery rate is delivered over sent.
- lookups: self-service lookups in the period, national (the tallies have no centre).

Percentiles (median, 90th) interpolate linearly between the two nearest ranks (numpy's
default): with the values sorted x[0..n-1], the p-th percentile is at position (n-1)p; so
the median of an even count is the mean of the two middle values. Every figure uses it."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.db.models import DecimalField, F, Model, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Capability
from tms.accounts.scope import NotAllowed, Staff
from tms.applications.lifecycle import Status
from tms.applications.models import Application, Channel
from tms.applications.references import display
from tms.directory.models import Agency, Centre, Service
from tms.directory.selectors import working_calendar
from tms.reports.models import (
    Backlog,
    DailyDurations,
    DailyDurationsByService,
    DailyDurationsNational,
    DailyFigures,
    DailyFiguresByService,
    DailySms,
    RollupState,
)
from tms.reports.rollups import COLLECTION_WINDOW_DAYS, READY_TO_COLLECTED, STAGE, TURNAROUND
from tms.tracking.models import LookupTally

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Filters:
    start: date  # inclusive, Nairobi local days
    end: date  # inclusive
    centre_id: int | None = None
    agency_id: int | None = None
    service_id: int | None = None


def filters_for(
    staff: Staff,
    *,
    start: date,
    end: date,
    centre_id: int | None = None,
    agency_id: int | None = None,
    service_id: int | None = None,
) -> Filters:
    """The filters ``staff`` may use: a centre-bound role gets its own centre forced (asking
    for another is NotAllowed), an agency-bound role its agency; analyst and administrator
    get what they ask for."""
    staff.require(Capability.REPORTS)
    if staff.role in CENTRE_ROLES:
        if centre_id is not None and centre_id != staff.centre_pk:
            raise NotAllowed(_("You can read the reports of your own centre only."))
        centre_id = staff.centre_pk
    elif staff.role in AGENCY_ROLES:
        if agency_id is not None and agency_id != staff.agency_pk:
            raise NotAllowed(_("You can read the reports of your own agency only."))
        agency_id = staff.agency_pk
    return Filters(
        start=start, end=end, centre_id=centre_id, agency_id=agency_id, service_id=service_id
    )


@dataclass(frozen=True)
class Distribution:  # of a duration in days
    cases: int
    median: float | None  # None when cases == 0
    p90: float | None


@dataclass(frozen=True)
class Headline:
    ready: int
    within_promise: int
    adherence: float | None  # share 0..1
    turnaround: Distribution  # lodged -> ready, working days
    collection_ready: int
    collected_within_30: int
    collection_rate: float | None
    ready_to_collected: Distribution  # calendar days
    backlog: int
    reprint_cost_at_risk: Decimal
    sms_sent: int
    sms_delivered: int
    sms_delivery_rate: float | None
    sms_cost: Decimal
    lookups: int  # visits avoided
    collected_after_reminder: int
    money_saved: Decimal
    as_of: datetime | None  # when rollups were last brought up to date


@dataclass(frozen=True)
class TurnaroundRow:
    key_id: int
    label: str  # the agency / service / centre grouped by
    ready: int
    within_promise: int
    adherence: float | None
    turnaround: Distribution
    promised_days: int | None  # the service's turnaround_days when grouped by service


@dataclass(frozen=True)
class StageRow:
    stage: str  # a Status value
    label: str
    duration: Distribution  # working days


@dataclass(frozen=True)
class BacklogRow:
    centre_id: int
    centre: str
    service_id: int
    service: str
    days_0_7: int
    days_8_30: int
    days_31_90: int
    days_over_90: int
    total: int
    reprint_cost_at_risk: Decimal


@dataclass(frozen=True)
class BacklogGroup:  # the backlog of one centre, or of one service
    key_id: int
    label: str
    days_0_7: int
    days_8_30: int
    days_31_90: int
    days_over_90: int
    total: int
    reprint_cost_at_risk: Decimal


@dataclass(frozen=True)
class BreachRow:  # no personal data
    reference: str
    service: str
    centre: str
    status: str
    due_date: date
    working_days_late: int


@dataclass(frozen=True)
class SmsRow:
    network: str
    sent: int
    delivered: int
    failed: int
    delivery_rate: float | None
    cost: Decimal


@dataclass(frozen=True)
class LookupRow:
    channel: str
    label: str
    lookups: int


@dataclass(frozen=True)
class PublicRow:
    agency: str
    service_code: str
    service_en: str
    service_sw: str
    promised_days: int
    ready: int
    adherence: float | None
    median_days: float | None


# Stages an application spends time in (the terminal states end the clock).
STAGES = (Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED, Status.READY)
# Self-service channels, each lookup a visit to a centre avoided.
LOOKUP_CHANNELS = (Channel.WEB, Channel.PUBLIC_API, Channel.USSD, Channel.SMS)
PUBLIC_WINDOW_DAYS = 90
# Equality, not a prefix match: an index on measure serves it on every collation.
STAGE_MEASURES = tuple(STAGE + stage.value for stage in STAGES)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def distribution(histogram: dict[int, int]) -> Distribution:
    """Median and 90th percentile of a histogram {days: cases} (see the module docstring)."""
    values = sorted((days, n) for days, n in histogram.items() if n > 0)
    cases = sum(n for _days, n in values)
    if not cases:
        return Distribution(0, None, None)

    def at(rank: int) -> int:  # the value at 0-based position ``rank``
        seen = 0
        for days, n in values:
            seen += n
            if rank < seen:
                return days
        return values[-1][0]

    def percentile(p: float) -> float:
        position = (cases - 1) * p
        low = math.floor(position)
        fraction = position - low
        value = float(at(low))
        if fraction:
            value += fraction * (at(low + 1) - at(low))
        return value

    return Distribution(cases, percentile(0.5), percentile(0.9))


def _place(queryset: QuerySet[M], filters: Filters) -> QuerySet[M]:
    if filters.centre_id is not None:
        queryset = queryset.filter(centre_id=filters.centre_id)
    if filters.agency_id is not None:
        queryset = queryset.filter(agency_id=filters.agency_id)
    if filters.service_id is not None:
        queryset = queryset.filter(service_id=filters.service_id)
    return queryset


def _period(queryset: QuerySet[M], filters: Filters, *, end: date | None = None) -> QuerySet[M]:
    return _place(queryset, filters).filter(day__gte=filters.start, day__lte=end or filters.end)


def _figures(filters: Filters, *, by_centre: bool = False) -> QuerySet[Any]:
    """The daily figures to read: the per-centre rows only when a centre is filtered on or
    grouped by; otherwise their sums over centres (the same figures, far fewer rows)."""
    if by_centre or filters.centre_id is not None:
        return DailyFigures.objects.all()
    return DailyFiguresByService.objects.all()


def _durations(
    filters: Filters, *, by: Literal["agency", "service", "centre"] | None = None
) -> QuerySet[Any]:
    """Like ``_figures``, for the duration histograms, grouped ``by`` a place or not; a
    national histogram reads the sums over every place (a month of stage times at
    5,000,000 applications: a few thousand rows instead of hundreds of thousands)."""
    if by == "centre" or filters.centre_id is not None:
        return DailyDurations.objects.all()
    if by is not None or filters.agency_id is not None or filters.service_id is not None:
        return DailyDurationsByService.objects.all()
    return DailyDurationsNational.objects.all()


def _histograms(queryset: QuerySet[Any], *measures: str) -> dict[str, dict[int, int]]:
    """{measure: {days: cases}}, summed in SQL (a row per measure and days)."""
    found: dict[str, dict[int, int]] = {measure: {} for measure in measures}
    rows = (
        queryset.filter(measure__in=measures)
        .values("measure", "days")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for row in rows:
        found[row["measure"]][row["days"]] = int(row["n"])
    return found


def _service_name(service: Service) -> str:
    return service.name(get_language())


def _reprint_costs(service_ids: Iterable[int]) -> dict[int, Decimal]:
    return dict(
        Service.objects.filter(pk__in=set(service_ids)).values_list("pk", "reprint_cost_kes")
    )


def headline(
    filters: Filters,
    *,
    today: date | None = None,
    backlog_groups: Sequence[BacklogGroup] | None = None,
) -> Headline:
    """The headline figures. ``backlog_groups``: ``backlog_by(filters, ...)`` when the
    caller has already read it (the dashboard shows both), so the backlog is read once."""
    today = today or timezone.localdate()
    # Only documents that have had their whole 30 days count towards the collection rate.
    matured_end = min(filters.end, today - timedelta(days=COLLECTION_WINDOW_DAYS))
    matured = Q(day__lte=matured_end)
    # One pass over the period's figures, per service (for the reprint costs).
    by_service = list(
        _period(_figures(filters), filters)
        .values("service_id")
        .annotate(
            ready_n=Sum("ready"),
            within_n=Sum("ready_within_promise"),
            matured_n=Sum("ready", filter=matured),
            within_30_n=Sum("cohort_collected_within_30", filter=matured),
            after_reminder_n=Sum("collected_after_reminder"),
        )
        .order_by()
    )

    def total(name: str) -> int:
        return sum(int(row[name] or 0) for row in by_service)

    after_reminder = {row["service_id"]: int(row["after_reminder_n"] or 0) for row in by_service}
    histograms = _histograms(_period(_durations(filters), filters), TURNAROUND, READY_TO_COLLECTED)
    if backlog_groups is None:
        backlog_groups = backlog_by(filters, by="service", today=today)
    costs = _reprint_costs(after_reminder)
    ready, within = total("ready_n"), total("within_n")
    collection_ready, within_30 = total("matured_n"), total("within_30_n")
    sms = _sms(filters).aggregate(sent=Sum("sent"), delivered=Sum("delivered"), cost=Sum("cost"))
    sent, delivered = int(sms["sent"] or 0), int(sms["delivered"] or 0)
    lookups = LookupTally.objects.filter(
        day__gte=filters.start, day__lte=filters.end, channel__in=LOOKUP_CHANNELS
    ).aggregate(n=Sum("lookups"))["n"]
    return Headline(
        ready=ready,
        within_promise=within,
        adherence=_share(within, ready),
        turnaround=distribution(histograms[TURNAROUND]),
        collection_ready=collection_ready,
        collected_within_30=within_30,
        collection_rate=_share(within_30, collection_ready),
        ready_to_collected=distribution(histograms[READY_TO_COLLECTED]),
        backlog=sum(group.total for group in backlog_groups),
        reprint_cost_at_risk=sum(
            (group.reprint_cost_at_risk for group in backlog_groups), Decimal(0)
        ),
        sms_sent=sent,
        sms_delivered=delivered,
        sms_delivery_rate=_share(delivered, sent),
        sms_cost=Decimal(sms["cost"] or 0),
        lookups=int(lookups or 0),
        collected_after_reminder=sum(after_reminder.values()),
        money_saved=sum(
            (n * costs.get(service_id, Decimal(0)) for service_id, n in after_reminder.items()),
            Decimal(0),
        ),
        as_of=rollups_as_of(),
    )


GROUPS: dict[str, str] = {"agency": "agency_id", "service": "service_id", "centre": "centre_id"}


def turnaround(
    filters: Filters, *, by: Literal["agency", "service", "centre"]
) -> list[TurnaroundRow]:
    """Turnaround and adherence of the documents ready in the period, per agency, service
    or centre; ordered by label."""
    key = GROUPS[by]
    by_centre = by == "centre"
    counts = {
        row[key]: row
        for row in _period(_figures(filters, by_centre=by_centre), filters)
        .values(key)
        .annotate(ready_n=Sum("ready"), within_n=Sum("ready_within_promise"))
        .order_by()
    }
    histograms: dict[int, dict[int, int]] = defaultdict(dict)
    for row in (
        _period(_durations(filters, by=by).filter(measure=TURNAROUND), filters)
        .values(key, "days")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        histograms[row[key]][row["days"]] = int(row["n"])
    ids = {k for k, row in counts.items() if row["ready_n"]} | set(histograms)
    labels: dict[int, str] = {}
    promised: dict[int, int | None] = {}
    if by == "agency":
        for agency in Agency.objects.filter(pk__in=ids):
            labels[agency.pk], promised[agency.pk] = agency.name, None
    elif by == "service":
        for service in Service.objects.filter(pk__in=ids):
            labels[service.pk] = _service_name(service)
            promised[service.pk] = service.turnaround_days
    else:
        for centre in Centre.objects.filter(pk__in=ids):
            labels[centre.pk], promised[centre.pk] = centre.name, None
    rows = []
    for key_id in ids:
        ready = int(counts[key_id]["ready_n"] or 0) if key_id in counts else 0
        within = int(counts[key_id]["within_n"] or 0) if key_id in counts else 0
        rows.append(
            TurnaroundRow(
                key_id=key_id,
                label=labels.get(key_id, str(key_id)),
                ready=ready,
                within_promise=within,
                adherence=_share(within, ready),
                turnaround=distribution(histograms.get(key_id, {})),
                promised_days=promised.get(key_id),
            )
        )
    return sorted(rows, key=lambda row: (row.label, row.key_id))


def stage_times(filters: Filters) -> list[StageRow]:
    """Working days spent in each state, by the day it was left, in lifecycle order."""
    histograms: dict[str, dict[int, int]] = defaultdict(dict)
    for row in (
        _period(_durations(filters).filter(measure__in=STAGE_MEASURES), filters)
        .values("measure", "days")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        histograms[row["measure"][len(STAGE) :]][row["days"]] = int(row["n"])
    return [
        StageRow(
            stage=stage.value,
            label=str(stage.label),
            duration=distribution(histograms.get(stage.value, {})),
        )
        for stage in STAGES
    ]


def _aged(today: date) -> dict[str, Sum]:
    """The backlog's age buckets (days since ready) as aggregates: b0 0-7, b8 8-30,
    b31 31-90, b91 over 90."""

    def aged(newest: int, oldest: int | None) -> Sum:
        condition = Q(ready_day__lte=today - timedelta(days=newest)) if newest else Q()
        if oldest is not None:
            condition &= Q(ready_day__gte=today - timedelta(days=oldest))
        return Sum("waiting", filter=condition or None)

    return {"b0": aged(0, 7), "b8": aged(8, 30), "b31": aged(31, 90), "b91": aged(91, None)}


def _buckets(row: Mapping[str, Any]) -> list[int]:
    """The age buckets of a row annotated with ``_aged``."""
    return [int(row[name] or 0) for name in ("b0", "b8", "b31", "b91")]


def backlog(filters: Filters, *, today: date | None = None) -> list[BacklogRow]:
    """A snapshot of today's uncollected documents per centre and service; ignores start
    and end."""
    today = today or timezone.localdate()
    rows = (
        _place(Backlog.objects.all(), filters)
        .values("centre_id", "service_id")
        .annotate(**_aged(today))
        .order_by()
    )
    found = []
    for row in rows:
        buckets = _buckets(row)
        if any(buckets):
            found.append((row["centre_id"], row["service_id"], buckets))
    centres = dict(
        Centre.objects.filter(pk__in={c for c, _s, _b in found}).values_list("pk", "name")
    )
    services = {s.pk: s for s in Service.objects.filter(pk__in={s for _c, s, _b in found})}
    names = {pk: _service_name(service) for pk, service in services.items()}
    result = [
        BacklogRow(
            centre_id=centre_id,
            centre=centres[centre_id],
            service_id=service_id,
            service=names[service_id],
            days_0_7=buckets[0],
            days_8_30=buckets[1],
            days_31_90=buckets[2],
            days_over_90=buckets[3],
            total=sum(buckets),
            reprint_cost_at_risk=sum(buckets) * services[service_id].reprint_cost_kes,
        )
        for centre_id, service_id, buckets in found
    ]
    return sorted(result, key=lambda row: (row.centre, row.service, row.centre_id, row.service_id))


def backlog_by(
    filters: Filters, *, by: Literal["centre", "service"], today: date | None = None
) -> list[BacklogGroup]:
    """``backlog`` summed per centre or per service, in SQL with the reprint cost at risk:
    what the dashboard shows. At national scale that is 60 rows where ``backlog`` gives
    11,000 (every centre and service), which cost the page a sixth of its time."""
    today = today or timezone.localdate()
    key = GROUPS[by]
    rows = (
        _place(Backlog.objects.all(), filters)
        .values(key)
        .annotate(
            **_aged(today),
            cost=Sum(
                F("waiting") * F("service__reprint_cost_kes"),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
        )
        .order_by()
    )
    found = []
    for row in rows:
        buckets = _buckets(row)
        if any(buckets):
            found.append((row[key], buckets, Decimal(row["cost"] or 0)))
    model = Centre if by == "centre" else Service
    named = {item.pk: item for item in model.objects.filter(pk__in=[k for k, _b, _c in found])}
    groups = [
        BacklogGroup(
            key_id=key_id,
            label=_label(named[key_id]),
            days_0_7=buckets[0],
            days_8_30=buckets[1],
            days_31_90=buckets[2],
            days_over_90=buckets[3],
            total=sum(buckets),
            reprint_cost_at_risk=cost,
        )
        for key_id, buckets, cost in found
    ]
    return sorted(groups, key=lambda group: (group.label, group.key_id))


def _label(item: Centre | Service) -> str:
    return _service_name(item) if isinstance(item, Service) else item.name


OPEN_BEFORE_READY = (Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED)


def breaches(filters: Filters, *, today: date | None = None, limit: int = 200) -> list[BreachRow]:
    """Open applications not yet ready and past their promised ready date, longest overdue
    first (at most ``limit``). A snapshot of today: ignores start and end."""
    today = today or timezone.localdate()
    # One query a status, merged here: each walks the (status, due_date) index in order
    # and stops at ``limit``. One query over the four statuses cannot be ordered by that
    # index, so it read every overdue open application and sorted them: 312 ms at
    # 5,000,000 applications on PostgreSQL; at 1,000,000, 41 against 6 ms on PostgreSQL
    # and 30 against 5 ms on SQLite.
    found: list[tuple[Any, ...]] = []
    for status in OPEN_BEFORE_READY:
        found += (
            _place(Application.objects.all(), filters)
            .filter(status=status, due_date__lt=today)
            .order_by("due_date", "id")
            .values_list(
                "due_date",
                "id",
                "reference",
                "service__name_en",
                "service__name_sw",
                "centre__name",
                "status",
            )[:limit]
        )
    if not found:
        return []
    found.sort()  # by due date, then id, as each query was
    calendar = working_calendar(start=found[0][0], end=today)
    swahili = (get_language() or "en").startswith("sw")
    return [
        BreachRow(
            reference=display(reference),
            service=name_sw if swahili else name_en,
            centre=centre,
            status=str(Status(status).label),
            due_date=due_date,
            working_days_late=calendar.between(due_date, today),
        )
        for due_date, _, reference, name_en, name_sw, centre, status in found[:limit]
    ]


def _sms(filters: Filters) -> QuerySet[DailySms]:
    return _period(DailySms.objects.all(), filters)


def sms_by_network(filters: Filters) -> list[SmsRow]:
    """SMS queued in the period, per network ("" when the gateway did not say)."""
    rows = (
        _sms(filters)
        .values("network")
        .annotate(
            sent_n=Sum("sent"),
            delivered_n=Sum("delivered"),
            failed_n=Sum("failed"),
            cost_n=Sum("cost"),
        )
        .order_by("network")
    )
    return [
        SmsRow(
            network=row["network"],
            sent=int(row["sent_n"] or 0),
            delivered=int(row["delivered_n"] or 0),
            failed=int(row["failed_n"] or 0),
            delivery_rate=_share(int(row["delivered_n"] or 0), int(row["sent_n"] or 0)),
            cost=Decimal(row["cost_n"] or 0),
        )
        for row in rows
    ]


def lookups_by_channel(filters: Filters) -> list[LookupRow]:
    """National tallies: lookups have no centre. Every self-service channel, in order."""
    counts = dict(
        LookupTally.objects.filter(day__gte=filters.start, day__lte=filters.end)
        .values("channel")
        .annotate(n=Sum("lookups"))
        .order_by()
        .values_list("channel", "n")
    )
    return [
        LookupRow(
            channel=channel.value, label=str(channel.label), lookups=int(counts.get(channel, 0))
        )
        for channel in LOOKUP_CHANNELS
    ]


def public_performance(*, today: date | None = None) -> list[PublicRow]:
    """The last 90 days (today included), every active service; no personal data."""
    today = today or timezone.localdate()
    window = Filters(start=today - timedelta(days=PUBLIC_WINDOW_DAYS - 1), end=today)
    by_service = {row.key_id: row for row in turnaround(window, by="service")}
    rows = []
    for service in Service.objects.filter(is_active=True).select_related("agency"):
        found = by_service.get(service.pk)
        rows.append(
            PublicRow(
                agency=service.agency.name,
                service_code=service.code,
                service_en=service.name_en,
                service_sw=service.name_sw,
                promised_days=service.turnaround_days,
                ready=found.ready if found else 0,
                adherence=found.adherence if found else None,
                median_days=found.turnaround.median if found else None,
            )
        )
    return sorted(rows, key=lambda row: (row.agency, row.service_code))


def rollups_as_of() -> datetime | None:
    """When the rollups were last brought up to date (None before the first run)."""
    return RollupState.objects.filter(pk=1).values_list("updated_at", flat=True).first()
