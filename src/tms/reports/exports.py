"""The reports' tables, once: the page shows them, the charts draw them, and they download
as CSV or XLSX, so the three never disagree.

A table holds raw values (int, float, Decimal, date, text); each column's kind says how the
page formats them (Django's localisation) and how spreadsheets get them (numbers as numbers).
Shares are given as percentages with one decimal, in every form. Text cells that a
spreadsheet would run as a formula are neutralised as ``tms.backlog.exports`` does."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any, Literal

from django.http import HttpResponse
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from tms.backlog.exports import csv_cell, csv_response
from tms.reports import selectors

Kind = Literal["text", "int", "pct", "days", "money", "date"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BREACH_EXPORT_LIMIT = 10_000
NUMBER_FORMATS: dict[str, str] = {
    "int": "#,##0",
    "pct": "0.0",
    "days": "0.0",
    "money": "#,##0.00",
    "date": "yyyy-mm-dd",
}


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "pct", "days", "money")


@dataclass
class Table:
    name: str  # the export name, also the HTML id
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    footer: list[Any] | None = None  # a totals row, shown on the page only

    @property
    def header(self) -> list[str]:
        return [column.label for column in self.columns]


def percent(share: float | None) -> float | None:
    """A share 0..1 as a percentage with one decimal (what every table shows)."""
    return None if share is None else round(share * 100, 1)


def show(value: Any, kind: Kind) -> str:
    """A cell as the page prints it, in the current language's number format."""
    if value is None or value == "":
        return "–"
    if kind == "int":
        return number_format(value, 0, force_grouping=True)
    if kind in ("pct", "days"):
        text = number_format(value, 1, force_grouping=True)
        return f"{text}%" if kind == "pct" else text
    if kind == "money":
        return number_format(value, 2, force_grouping=True)
    if kind == "date":
        return date_format(value, "j M Y")
    return str(value)


# --- The tables -------------------------------------------------------------------------------

Grouping = Literal["agency", "service", "centre"]


def turnaround_table(rows: Sequence[selectors.TurnaroundRow], by: Grouping) -> Table:
    titles = {
        "agency": _("Turnaround and adherence by agency"),
        "service": _("Turnaround and adherence by service"),
        "centre": _("Turnaround and adherence by centre"),
    }
    heads = {"agency": _("Agency"), "service": _("Service"), "centre": _("Centre")}
    columns = [
        Column(heads[by]),
        Column(_("Ready"), "int"),
        Column(_("Within the promise"), "int"),
        Column(_("Adherence (%)"), "pct"),
        Column(_("Median (working days)"), "days"),
        Column(_("90th percentile (working days)"), "days"),
    ]
    if by == "service":
        columns.append(Column(_("Promised (working days)"), "int"))
    table = Table(f"turnaround-{by}", titles[by], columns)
    for row in rows:
        cells: list[Any] = [
            row.label,
            row.ready,
            row.within_promise,
            percent(row.adherence),
            row.turnaround.median,
            row.turnaround.p90,
        ]
        if by == "service":
            cells.append(row.promised_days)
        table.rows.append(cells)
    return table


def stages_table(rows: Sequence[selectors.StageRow]) -> Table:
    table = Table(
        "stages",
        _("Time spent in each stage"),
        [
            Column(_("Stage")),
            Column(_("Cases"), "int"),
            Column(_("Median (working days)"), "days"),
            Column(_("90th percentile (working days)"), "days"),
        ],
    )
    for row in rows:
        table.rows.append(
            [str(row.label), row.duration.cases, row.duration.median, row.duration.p90]
        )
    return table


def backlog_table(rows: Sequence[selectors.BacklogRow]) -> Table:
    """Every centre and service (the page groups them; the download keeps the detail)."""
    table = Table(
        "backlog",
        _("Uncollected documents by age"),
        [
            Column(_("Centre")),
            Column(_("Service")),
            *bucket_columns(),
            Column(_("Total"), "int"),
            Column(_("Reprint cost at risk (KES)"), "money"),
        ],
    )
    for row in rows:
        table.rows.append(
            [
                row.centre,
                row.service,
                row.days_0_7,
                row.days_8_30,
                row.days_31_90,
                row.days_over_90,
                row.total,
                row.reprint_cost_at_risk,
            ]
        )
    return table


def bucket_columns() -> list[Column]:
    return [
        Column(_("0–7 days"), "int"),
        Column(_("8–30 days"), "int"),
        Column(_("31–90 days"), "int"),
        Column(_("Over 90 days"), "int"),
    ]


def breaches_table(rows: Sequence[selectors.BreachRow]) -> Table:
    table = Table(
        "breaches",
        _("Applications past their promised date"),
        [
            Column(_("Reference")),
            Column(_("Service")),
            Column(_("Centre")),
            Column(_("Status")),
            Column(_("Promised by"), "date"),
            Column(_("Working days late"), "int"),
        ],
    )
    for row in rows:
        table.rows.append(
            [
                row.reference,  # already grouped for reading
                row.service,
                row.centre,
                row.status,  # already the status's label
                row.due_date,
                row.working_days_late,
            ]
        )
    return table


def sms_table(rows: Sequence[selectors.SmsRow]) -> Table:
    table = Table(
        "sms",
        _("SMS by mobile network"),
        [
            Column(_("Network")),
            Column(_("Sent"), "int"),
            Column(_("Delivered"), "int"),
            Column(_("Failed"), "int"),
            Column(_("Delivery rate (%)"), "pct"),
            Column(_("Cost (KES)"), "money"),
        ],
    )
    for row in rows:
        table.rows.append(
            [
                row.network or _("unknown"),
                row.sent,
                row.delivered,
                row.failed,
                percent(row.delivery_rate),
                row.cost,
            ]
        )
    return table


def lookups_table(rows: Sequence[selectors.LookupRow]) -> Table:
    table = Table(
        "lookups",
        _("Self-service lookups by channel (visits avoided)"),
        [Column(_("Channel")), Column(_("Lookups"), "int")],
    )
    for row in rows:
        table.rows.append([str(row.label), row.lookups])
    return table


def _turnaround_by(by: Grouping) -> Callable[[selectors.Filters, date], Table]:
    return lambda filters, today: turnaround_table(selectors.turnaround(filters, by=by), by)


# Every downloadable table, by its name in the URL.
EXPORTS: dict[str, Callable[[selectors.Filters, date], Table]] = {
    "turnaround-agency": _turnaround_by("agency"),
    "turnaround-service": _turnaround_by("service"),
    "turnaround-centre": _turnaround_by("centre"),
    "stages": lambda filters, today: stages_table(selectors.stage_times(filters)),
    "backlog": lambda filters, today: backlog_table(selectors.backlog(filters, today=today)),
    "breaches": lambda filters, today: breaches_table(
        selectors.breaches(filters, today=today, limit=BREACH_EXPORT_LIMIT)
    ),
    "sms": lambda filters, today: sms_table(selectors.sms_by_network(filters)),
    "lookups": lambda filters, today: lookups_table(selectors.lookups_by_channel(filters)),
}
FORMATS = ("csv", "xlsx")


# --- The files ----------------------------------------------------------------------------------


def export_value(value: Any, kind: Kind) -> Any:
    """A cell for a spreadsheet: numbers stay numbers, missing figures are empty."""
    if value is None:
        return None
    if kind == "text":
        return str(value)
    return value


def csv_file(table: Table, filename: str) -> HttpResponse:
    kinds = [column.kind for column in table.columns]
    return csv_response(
        filename,
        table.header,
        (
            [export_value(value, kind) for value, kind in zip(row, kinds, strict=True)]
            for row in table.rows
        ),
    )


SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def xlsx_file(table: Table, filename: str) -> HttpResponse:
    """One sheet named after the table: a bold header row, then the rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=SHEET_TITLE_FORBIDDEN.sub(" ", table.title)[:31])
    bold = Font(bold=True)
    header = []
    for label in table.header:
        cell = WriteOnlyCell(sheet, value=csv_cell(label))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        cells = []
        for value, column in zip(row, table.columns, strict=True):
            value = export_value(value, column.kind)
            if isinstance(value, str):
                # openpyxl would store a text starting with "=" as a formula.
                cell = WriteOnlyCell(sheet, value=csv_cell(value))
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(sheet, value=value)
                if value is not None and column.kind in NUMBER_FORMATS:
                    cell.number_format = NUMBER_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
    buffer = BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def filename(name: str, filters: selectors.Filters, fmt: str) -> str:
    return f"{name}-{filters.start.isoformat()}-to-{filters.end.isoformat()}.{fmt}"


def as_float(value: Decimal | float | int | None) -> float | None:
    return None if value is None else float(value)
