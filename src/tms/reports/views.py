"""The reports pages (SPEC §10): the staff dashboard, its downloads, and the public
performance page. Thin: the form reads the filters, ``selectors`` (which force the staff's
scope) give the figures, ``exports`` turns them into tables, charts and files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability
from tms.audit.models import AuditAction
from tms.audit.services import audit_record
from tms.reports import exports, selectors
from tms.reports.exports import Column, Table, percent, show
from tms.reports.forms import ReportFilterForm

CHART_TOP = 15  # bars a phone can still read; the rest is summed as "others" or left to the table
PUBLIC_CACHE_SECONDS = 600
PUBLIC_DAYS = 90
BREACHES_SHOWN = 200


def _today() -> date:
    return timezone.localdate()


# --- Presentation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A table as the page prints it: formatted cells, the first one a row header."""

    table: Table
    rows: list[list[tuple[str, bool]]]
    footer: list[tuple[str, bool]] | None
    csv_url: str | None
    xlsx_url: str | None
    note: str = ""


def shown(table: Table, *, query: str | None = None, note: str = "") -> Shown:
    def cells(row: Sequence[Any]) -> list[tuple[str, bool]]:
        return [
            (show(value, column.kind), column.numeric)
            for value, column in zip(row, table.columns, strict=True)
        ]

    def url(fmt: str) -> str | None:
        return None if query is None else _export_url(table.name, fmt, query)

    return Shown(
        table=table,
        rows=[cells(row) for row in table.rows],
        footer=cells(table.footer) if table.footer is not None else None,
        csv_url=url("csv"),
        xlsx_url=url("xlsx"),
        note=note,
    )


def _export_url(table: str, fmt: str, query: str) -> str:
    path = reverse("reports-export", kwargs={"table": table, "fmt": fmt})
    return f"{path}?{query}" if query else path


def chart(
    name: str,
    labels: Sequence[str],
    datasets: Sequence[tuple[str, Sequence[Any]]],
    *,
    stacked: bool = False,
    unit: str = "",
    maximum: float | None = None,
) -> dict[str, Any]:
    """What reports.js draws: horizontal bars (long labels stay readable on a phone)."""
    return {
        "id": f"chart-{name}",
        "data_id": f"chart-{name}-data",
        "labels": [str(label) for label in labels],
        "datasets": [
            {"label": str(label), "data": [exports.as_float(value) for value in values]}
            for label, values in datasets
        ],
        "stacked": stacked,
        "unit": unit,
        "max": maximum,
    }


def backlog_grouped(groups: Sequence[selectors.BacklogGroup], *, by_service: bool) -> Table:
    """The backlog per service (one centre) or per centre: the largest ``CHART_TOP`` groups and
    the rest summed as "others", with totals; chart and table show these same figures."""

    def counts(group: selectors.BacklogGroup) -> list[Any]:
        return [
            group.days_0_7,
            group.days_8_30,
            group.days_31_90,
            group.days_over_90,
            group.total,
            group.reprint_cost_at_risk,
        ]

    ordered = sorted(groups, key=lambda group: (-group.total, group.label, group.key_id))
    top, rest = ordered[:CHART_TOP], ordered[CHART_TOP:]
    table = Table(
        "backlog",
        _("Uncollected documents by age, per service")
        if by_service
        else _("Uncollected documents by age, per centre"),
        [
            Column(_("Service") if by_service else _("Centre")),
            *exports.bucket_columns(),
            Column(_("Total"), "int"),
            Column(_("Reprint cost at risk (KES)"), "money"),
        ],
    )
    table.rows = [[group.label, *counts(group)] for group in top]
    if rest:
        others = [sum(counts(group)[i] for group in rest) for i in range(6)]
        table.rows.append([_("Others (%(count)s)") % {"count": len(rest)}, *others])
    if groups:
        table.footer = [_("Total"), *[sum(counts(group)[i] for group in groups) for i in range(6)]]
    return table


def headline_figures(figures: selectors.Headline) -> list[dict[str, str]]:
    """The headline tiles: a figure and a line that says what it counts."""
    n = show
    return [
        {
            "label": _("Collection rate"),
            "value": n(percent(figures.collection_rate), "pct"),
            "note": _("%(collected)s of %(ready)s documents collected within 30 days of ready")
            % {
                "collected": n(figures.collected_within_30, "int"),
                "ready": n(figures.collection_ready, "int"),
            },
        },
        {
            "label": _("Median days from ready to collected"),
            "value": n(figures.ready_to_collected.median, "days"),
            "note": _("calendar days, %(cases)s documents collected")
            % {"cases": n(figures.ready_to_collected.cases, "int")},
        },
        {
            "label": _("Uncollected documents today"),
            "value": n(figures.backlog, "int"),
            "note": _("reprint cost at risk: KES %(cost)s")
            % {"cost": n(figures.reprint_cost_at_risk, "money")},
        },
        {
            "label": _("Adherence to the promised turnaround"),
            "value": n(percent(figures.adherence), "pct"),
            "note": _("%(within)s of %(ready)s documents ready within the promised working days")
            % {"within": n(figures.within_promise, "int"), "ready": n(figures.ready, "int")},
        },
        {
            "label": _("Turnaround from lodging to ready"),
            "value": _("median %(median)s, 90th percentile %(p90)s")
            % {
                "median": n(figures.turnaround.median, "days"),
                "p90": n(figures.turnaround.p90, "days"),
            },
            "note": _("working days"),
        },
        {
            "label": _("SMS delivery rate"),
            "value": n(percent(figures.sms_delivery_rate), "pct"),
            "note": _("%(delivered)s of %(sent)s delivered; cost KES %(cost)s")
            % {
                "delivered": n(figures.sms_delivered, "int"),
                "sent": n(figures.sms_sent, "int"),
                "cost": n(figures.sms_cost, "money"),
            },
        },
        {
            "label": _("Visits avoided"),
            "value": n(figures.lookups, "int"),
            "note": _("self-service lookups on the web, API, USSD and SMS (national)"),
        },
        {
            "label": _("Money saved (KES)"),
            "value": n(figures.money_saved, "money"),
            "note": _("%(count)s documents collected after a reminder, at their reprint cost")
            % {"count": n(figures.collected_after_reminder, "int")},
        },
    ]


# --- Staff dashboard ----------------------------------------------------------------------------


def _bad_filters(request: HttpRequest, form: ReportFilterForm) -> HttpResponse:
    return render(request, "reports/dashboard.html", {"form": form, "invalid": True}, status=400)


@require_safe
@staff_required(Capability.REPORTS)
def dashboard(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    today = _today()
    form = ReportFilterForm(request.GET, staff=staff, today=today)
    if not form.is_valid():
        return _bad_filters(request, form)
    filters = form.filters()  # NotAllowed (403) for a scope the role does not have
    query = request.GET.urlencode()
    by = form.cleaned_data["by"]

    by_service = filters.centre_id is not None
    groups = selectors.backlog_by(filters, by="service" if by_service else "centre", today=today)
    figures = selectors.headline(filters, today=today, backlog_groups=groups)
    backlog = backlog_grouped(groups, by_service=by_service)
    turnaround_rows = selectors.turnaround(filters, by=by)
    turnaround = exports.turnaround_table(turnaround_rows, by)
    busiest = sorted(turnaround_rows, key=lambda row: (-row.ready, row.label))[:CHART_TOP]
    stages = exports.stages_table(selectors.stage_times(filters))
    sms = exports.sms_table(selectors.sms_by_network(filters))
    lookups = exports.lookups_table(selectors.lookups_by_channel(filters))
    breaches = exports.breaches_table(
        selectors.breaches(filters, today=today, limit=BREACHES_SHOWN)
    )

    buckets = [column.label for column in exports.bucket_columns()]
    sections = [
        {
            "id": "backlog",
            "title": backlog.title,
            "intro": _("Documents waiting for collection today, by days since they were ready."),
            "chart": chart(
                "backlog",
                [row[0] for row in backlog.rows],
                [(label, [row[i + 1] for row in backlog.rows]) for i, label in enumerate(buckets)],
                stacked=True,
            ),
            "table": shown(
                backlog,
                query=query,
                note=_("The downloads list every centre and service."),
            ),
        },
        {
            "id": "turnaround",
            "title": turnaround.title,
            "intro": _(
                "Working days from lodging to ready, and the share ready within the promise, "
                "for documents made ready in the period."
            ),
            "chart": chart(
                "turnaround",
                [row.label for row in busiest],
                [(_("Adherence (%)"), [percent(row.adherence) for row in busiest])],
                unit="%",
                maximum=100,
            ),
            "chart_note": _("The chart shows the %(count)s with the most documents ready.")
            % {"count": CHART_TOP}
            if len(turnaround_rows) > CHART_TOP
            else "",
            "table": shown(turnaround, query=query),
            "other_groupings": [
                {
                    "label": label,
                    "csv": _export_url(f"turnaround-{key}", "csv", query),
                    "xlsx": _export_url(f"turnaround-{key}", "xlsx", query),
                }
                for key, label in (
                    ("agency", _("by agency")),
                    ("service", _("by service")),
                    ("centre", _("by centre")),
                )
                if key != by
            ],
        },
        {
            "id": "stages",
            "title": stages.title,
            "intro": _("Working days spent in each state before moving on."),
            "chart": chart(
                "stages",
                [row[0] for row in stages.rows],
                [
                    (_("Median"), [row[2] for row in stages.rows]),
                    (_("90th percentile"), [row[3] for row in stages.rows]),
                ],
            ),
            "table": shown(stages, query=query),
        },
        {
            "id": "sms",
            "title": sms.title,
            "intro": _("SMS accepted by the gateway in the period, and what became of them."),
            "chart": chart(
                "sms",
                [row[0] for row in sms.rows],
                [
                    (_("Delivered"), [row[2] for row in sms.rows]),
                    (_("Failed"), [row[3] for row in sms.rows]),
                    (
                        _("Not yet known"),
                        [max(row[1] - row[2] - row[3], 0) for row in sms.rows],
                    ),
                ],
                stacked=True,
            ),
            "table": shown(sms, query=query),
        },
        {
            "id": "lookups",
            "title": lookups.title,
            "intro": _("Each lookup is a trip to a centre the citizen did not need to make."),
            "chart": chart(
                "lookups",
                [row[0] for row in lookups.rows],
                [(_("Lookups"), [row[1] for row in lookups.rows])],
            ),
            "table": shown(lookups, query=query),
        },
    ]
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "filters": filters,
            "as_of": figures.as_of,
            "headline": headline_figures(figures),
            "sections": sections,
            "breaches": shown(breaches, query=query),
            "breach_limit": BREACHES_SHOWN if len(breaches.rows) >= BREACHES_SHOWN else None,
            "query": query,
        },
    )


@require_safe
@staff_required(Capability.REPORTS)
def export(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    if table not in exports.EXPORTS or fmt not in exports.FORMATS:
        raise Http404(_("There is no such report table."))
    staff = acting(request)
    today = _today()
    form = ReportFilterForm(request.GET, staff=staff, today=today)
    if not form.is_valid():
        return _bad_filters(request, form)
    filters = form.filters()
    built = exports.EXPORTS[table](filters, today)
    name = exports.filename(table, filters, fmt)
    audit_record(staff, AuditAction.EXPORT, detail=f"report {name}", rows=len(built.rows))
    if fmt == "csv":
        return exports.csv_file(built, name)
    return exports.xlsx_file(built, name)


# --- Public performance page ----------------------------------------------------------------------


@require_safe
def performance(request: HttpRequest) -> HttpResponse:
    """Adherence and median turnaround per agency and service over the last 90 days, in the
    visitor's language; no personal data. The page is cached per language for 10 minutes,
    so a burst of visitors costs one set of queries."""
    language = translation.get_language() or "en"
    key = f"reports:performance:{language}"
    content = cache.get(key)
    if content is None:
        content = render_to_string(
            "reports/performance.html", _performance_context(language), request=request
        )
        cache.set(key, content, PUBLIC_CACHE_SECONDS)
    response = HttpResponse(content)
    response["Content-Language"] = language
    response["Cache-Control"] = f"public, max-age={PUBLIC_CACHE_SECONDS}"
    response["Vary"] = "Cookie, Accept-Language"  # the language comes from either
    return response


def _performance_context(language: str) -> dict[str, Any]:
    today = _today()
    rows = selectors.public_performance(today=today)
    swahili = language == "sw"
    table = Table(
        "performance",
        _("Performance per agency and service, last %(days)s days") % {"days": PUBLIC_DAYS},
        [
            Column(_("Service")),
            Column(_("Agency")),
            Column(_("Promised (working days)"), "int"),
            Column(_("Ready"), "int"),
            Column(_("Ready on time (%)"), "pct"),
            Column(_("Median (working days)"), "days"),
        ],
    )
    ordered = sorted(rows, key=lambda row: (row.agency, row.service_code))
    for row in ordered:
        table.rows.append(
            [
                row.service_sw if swahili else row.service_en,
                row.agency,
                row.promised_days,
                row.ready,
                percent(row.adherence),
                row.median_days,
            ]
        )
    charted = [cells for cells in table.rows if cells[3]]
    return {
        "table": shown(table),
        "chart": chart(
            "performance",
            [cells[0] for cells in charted],
            [(_("Ready on time (%)"), [cells[4] for cells in charted])],
            unit="%",
            maximum=100,
        ),
        "start": today - timedelta(days=PUBLIC_DAYS - 1),
        "end": today,
        "as_of": selectors.rollups_as_of(),
    }
