"""The reports dashboard (as the demo centre manager and the demo analyst) and the public
performance page (in English and Swahili), on a desktop and on a 360×640 phone, in Debian's
Chromium against the real production server: the charts draw, the tables are there, nothing
scrolls sideways on the phone, axe-core finds no serious or critical problem. Screenshots
and axe reports are saved under test-output/<test name>/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tms.accounts.tests.browser.conftest import StaffSite, sign_in
from tms.reports.tests.browser.conftest import PHONE
from tms.testing.browser import keep_local
from tms.tracking.tests.browser.test_tracking_browser import (
    assert_fits_the_phone,
    check_accessibility,
    screenshot,
)

DASHBOARD_TABLES = ("backlog", "turnaround-agency", "stages", "sms", "lookups", "breaches")


def charts_drew(page: Page, at_least: int) -> None:
    """Each chart is shown, Chart.js owns its canvas, and the canvas has a real size."""
    figures = page.locator("figure.chart")
    expect(figures.first).to_be_visible()
    count = figures.count()
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('figure.chart canvas')].map(c => c.id)"
    )
    assert count >= at_least, f"{count} charts on {page.url}: {drawn}"
    # A chart for every set of figures the page sent (a table with no rows has none).
    assert count == page.locator("script[type='application/json'][id$='-data']").count()
    for i in range(count):
        canvas = figures.nth(i).locator("canvas")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, box
        assert canvas.evaluate("c => window.Chart.getChart(c) !== undefined")
        assert canvas.evaluate("c => c.width > 0 && c.height > 0")


@pytest.mark.parametrize("username", ["manager", "analyst"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_dashboard(
    request: pytest.FixtureRequest,
    reports_site: StaffSite,
    output_dir: Path,
    username: str,
    size: str,
) -> None:
    page: Page = request.getfixturevalue("desk" if size == "desktop" else "phone")
    sign_in(page, reports_site, username)
    page.goto(reports_site.url("/staff/reports/"))
    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    expect(page.get_by_text("Uncollected documents today")).to_be_visible()
    expect(page.get_by_label("Period:", exact=True)).to_be_visible()
    for name in DASHBOARD_TABLES:
        expect(page.locator(f"#{name}-table caption")).to_have_count(1)
    # The demo has documents waiting: the backlog table has rows, and its chart draws them.
    assert page.locator("#backlog-table tbody tr").count() >= 1
    # The backlog, turnaround, stages and lookups at least (the demo's SMS may all wait
    # in the outbox, with no worker to send them).
    charts_drew(page, at_least=4)
    if username == "manager":
        # A centre manager picks no centre: the report is the manager's own centre's.
        expect(page.locator("select[name=centre]")).to_have_count(0)
    else:
        expect(page.get_by_label("Centre:", exact=True)).to_be_visible()
    if size == "phone":
        assert_fits_the_phone(page)
    screenshot(page, output_dir, f"dashboard-{username}-{size}")
    for section in ("backlog", "turnaround"):
        page.locator(f"#{section}").screenshot(path=output_dir / f"{section}-{username}-{size}.png")
    check_accessibility(page, output_dir, f"dashboard-{username}-{size}")

    # A download with the same filters, through the link beside the table.
    link = page.locator("#backlog").get_by_role("link", name="XLSX")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith("backlog-")
    assert download.value.suggested_filename.endswith(".xlsx")


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_public_performance_page(
    request: pytest.FixtureRequest,
    reports_site: StaffSite,
    output_dir: Path,
    language: str,
    size: str,
) -> None:
    page: Page = request.getfixturevalue("desk" if size == "desktop" else "phone")
    page.goto(reports_site.url("/performance/"))
    if language == "sw":
        with page.expect_navigation():
            page.get_by_role("navigation").get_by_role("link", name="Kiswahili").click()
        assert page.url.endswith("/performance/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    table = page.locator("#performance-table")
    expect(table.locator("caption")).to_have_count(1)
    assert table.locator("tbody tr").count() >= 3
    charts_drew(page, at_least=1)
    services = reports_site.query("SELECT name_en, name_sw FROM directory_service")
    names = {str(english): str(swahili) for english, swahili in services}
    body = table.inner_text()
    shown = [sw if language == "sw" else en for en, sw in names.items()]
    assert any(name in body for name in shown)
    if language == "sw":
        assert not any(en in body for en, sw in names.items() if en != sw)
    if size == "phone":
        assert_fits_the_phone(page)
    screenshot(page, output_dir, f"performance-{language}-{size}")
    check_accessibility(page, output_dir, f"performance-{language}-{size}")


def test_without_javascript_the_tables_carry_every_figure(
    browser: Browser, reports_site: StaffSite, output_dir: Path
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)  # type: ignore[arg-type]
    outside = keep_local(context)
    try:
        page = context.new_page()
        page.goto(reports_site.url("/performance/"))
        expect(page.locator("figure.chart")).to_be_hidden()
        assert page.locator("#performance-table tbody tr").count() >= 3
        screenshot(page, output_dir, "performance-no-javascript-phone")
        sign_in(page, reports_site, "analyst")
        page.goto(reports_site.url("/staff/reports/"))
        for name in DASHBOARD_TABLES:
            expect(page.locator(f"#{name}-table")).to_have_count(1)
        assert page.locator("#backlog-table tbody tr").count() >= 1
        for figure in page.locator("figure.chart").all():
            expect(figure).to_be_hidden()
        screenshot(page, output_dir, "dashboard-no-javascript-phone")
        assert outside == []
    finally:
        context.close()
