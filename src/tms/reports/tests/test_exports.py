"""Every report table as CSV and XLSX: the header and the rows are the selectors' figures,
numbers stay numbers in the spreadsheet, the staff's scope applies, and text that a
spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from io import BytesIO, StringIO
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from tms.accounts.roles import Role
from tms.audit.models import AuditAction, AuditRecord
from tms.reports import exports, selectors
from tms.reports.rollups import rollups_update
from tms.reports.tests import test_pages
from tms.reports.tests.test_pages import World, make_ready
from tms.testing.builders import make_centre
from tms.testing.staff import make_staff, sign_in, staff_of

pytestmark = pytest.mark.django_db

# The same world as the pages' tests, and the same clean cache and language.
world = test_pages.world
empty_cache = test_pages.empty_cache

TABLES = sorted(exports.EXPORTS)


def download(client: Client, table: str, fmt: str, **params: Any) -> Any:
    return client.get(reverse("reports-export", kwargs={"table": table, "fmt": fmt}), params)


def read_csv(response: Any) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(StringIO(text[1:])))


def read_xlsx(response: Any) -> tuple[str, list[list[Any]]]:
    book = load_workbook(BytesIO(response.content), read_only=True)
    sheet = book.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0])
    # Empty cells are not written, so a row may read back shorter than the header.
    return sheet.title, [row + [None] * (width - len(row)) for row in rows]


def as_csv_text(value: Any) -> str:
    return "" if value is None else str(value)


def expected(
    name: str, filters: selectors.Filters, today: Any
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows written out from the selectors' rows, by hand for each table."""
    if name.startswith("turnaround-"):
        by = name.removeprefix("turnaround-")
        head = [
            "Agency" if by == "agency" else "Service" if by == "service" else "Centre",
            "Ready",
            "Within the promise",
            "Adherence (%)",
            "Median (working days)",
            "90th percentile (working days)",
        ]
        rows = []
        for row in selectors.turnaround(filters, by=by):  # type: ignore[arg-type]
            cells = [
                row.label,
                row.ready,
                row.within_promise,
                None if row.adherence is None else round(row.adherence * 100, 1),
                row.turnaround.median,
                row.turnaround.p90,
            ]
            if by == "service":
                cells.append(row.promised_days)
            rows.append(cells)
        if by == "service":
            head.append("Promised (working days)")
        return head, rows
    if name == "stages":
        return ["Stage", "Cases", "Median (working days)", "90th percentile (working days)"], [
            [str(row.label), row.duration.cases, row.duration.median, row.duration.p90]
            for row in selectors.stage_times(filters)
        ]
    if name == "backlog":
        return [
            "Centre",
            "Service",
            "0–7 days",
            "8–30 days",
            "31–90 days",
            "Over 90 days",
            "Total",
            "Reprint cost at risk (KES)",
        ], [
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
            for row in selectors.backlog(filters, today=today)
        ]
    if name == "breaches":
        return [
            "Reference",
            "Service",
            "Centre",
            "Status",
            "Promised by",
            "Working days late",
        ], [
            [
                row.reference,
                row.service,
                row.centre,
                row.status,
                row.due_date,
                row.working_days_late,
            ]
            for row in selectors.breaches(filters, today=today, limit=exports.BREACH_EXPORT_LIMIT)
        ]
    if name == "sms":
        return ["Network", "Sent", "Delivered", "Failed", "Delivery rate (%)", "Cost (KES)"], [
            [
                row.network or "unknown",
                row.sent,
                row.delivered,
                row.failed,
                None if row.delivery_rate is None else round(row.delivery_rate * 100, 1),
                row.cost,
            ]
            for row in selectors.sms_by_network(filters)
        ]
    assert name == "lookups"
    return ["Channel", "Lookups"], [
        [str(row.label), row.lookups] for row in selectors.lookups_by_channel(filters)
    ]


@pytest.mark.parametrize("name", TABLES)
def test_csv_and_xlsx_hold_the_selectors_figures(client: Client, world: World, name: str) -> None:
    analyst = make_staff(Role.ANALYST)
    sign_in(client, analyst)
    start = world.today - timedelta(days=89)
    params = {"period": "90"}
    filters = selectors.filters_for(staff_of(analyst), start=start, end=world.today)
    with translation.override("en"):
        head, rows = expected(name, filters, world.today)

    response = download(client, name, "csv", **params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{name}-{start.isoformat()}-to-{world.today.isoformat()}.csv"'
    )
    assert read_csv(response) == [head, *[[as_csv_text(v) for v in row] for row in rows]]

    response = download(client, name, "xlsx", **params)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    title, sheet = read_xlsx(response)
    assert title == exports.EXPORTS[name](filters, world.today).title[:31]
    assert sheet[0] == head
    # Numbers come back as numbers; dates as dates (openpyxl reads them as datetimes).
    got = [
        [v.date() if hasattr(v, "date") and not isinstance(v, str) else v for v in row]
        for row in sheet[1:]
    ]
    want = [[float(v) if isinstance(v, Decimal) else v for v in row] for row in rows]
    assert got == want
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT, actor_user=analyst).count() == 2


def test_the_backlog_download_has_numbers_we_know(client: Client, world: World) -> None:
    sign_in(client, make_staff(Role.ANALYST))
    _title, sheet = read_xlsx(download(client, "backlog", "xlsx"))
    rows = {(row[0], row[1]): row[2:] for row in sheet[1:]}
    assert len(rows) == 4
    assert sum(row[4] for row in rows.values()) == 22
    x_in_a = rows[("Centre Alpha", "Birth certificate")]
    assert x_in_a == [4, 0, 2, 0, 6, 4200]  # 6 × KES 700
    assert all(isinstance(value, int | float) for row in rows.values() for value in row)


def test_downloads_are_scoped_like_the_page(client: Client, world: World) -> None:
    sign_in(client, make_staff(Role.CENTRE_MANAGER, centre=world.centre_a))
    rows = read_csv(download(client, "backlog", "csv"))[1:]
    assert {row[0] for row in rows} == {world.centre_a.name}
    assert sum(int(row[6]) for row in rows) == 9
    # Asking for another centre's figures changes nothing: the centre is the manager's own.
    rows = read_csv(download(client, "backlog", "csv", centre=world.centre_b.pk))[1:]
    assert {row[0] for row in rows} == {world.centre_a.name}


def test_a_formula_like_name_is_neutralised(client: Client, world: World) -> None:
    trap = make_centre("TRAP", name='=HYPERLINK("http://x.example","open")')
    make_ready(service=world.x, centre=trap, ready_day=world.today)
    rollups_update(settle=timedelta(0))
    sign_in(client, make_staff(Role.ANALYST))
    rows = read_csv(download(client, "backlog", "csv"))
    assert ["'" + trap.name] in [row[:1] for row in rows]
    _title, sheet = read_xlsx(download(client, "backlog", "xlsx"))
    assert "'" + trap.name in [row[0] for row in sheet]


def test_unknown_tables_and_formats_are_404(client: Client, world: World) -> None:
    sign_in(client, make_staff(Role.ANALYST))
    assert download(client, "people", "csv").status_code == 404
    assert download(client, "backlog", "pdf").status_code == 404
    assert client.get("/staff/reports/export/backlog.csv.xlsx").status_code == 404


def test_bad_filters_are_a_400_and_a_counter_officer_is_refused(
    client: Client, world: World
) -> None:
    sign_in(client, make_staff(Role.ANALYST))
    response = download(client, "sms", "csv", period="custom", start="2026-02-01", end="2026-01-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=world.centre_a))
    assert download(client, "sms", "csv").status_code == 403
