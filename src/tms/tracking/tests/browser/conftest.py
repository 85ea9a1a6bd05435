"""A real production server with demo data, and Debian's Chromium driven by Playwright
(the shared pieces: ``tms.testing.browser``).

The server is ``tms serve`` (gunicorn) on its own SQLite file, seeded by ``tms seed_demo``
through the real services."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.directory.models import Centre, Service
from tms.testing.browser import (  # noqa: F401 (fixtures)
    browser,
    keep_local,
    playwright,
    production_server,
    seed_demo,
)

DEMO_APPLICATIONS = 200
NOT_YET_READY = (Status.LODGED, Status.PROCESSING, Status.DISPATCHED, Status.ACTION_REQUIRED)


@dataclass(frozen=True)
class Tracked:
    """One seeded application not yet ready (so its page shows an estimate)."""

    reference: str
    applicant_name: str
    status: str
    centre_name: str
    service_en: str
    service_sw: str


@dataclass(frozen=True)
class Site:
    base: str
    application: Tracked

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def tracked_application(database: Path) -> Tracked:
    """The most recently lodged application that is not ready yet, read with sqlite3."""
    applications = Application._meta.db_table
    centres = Centre._meta.db_table
    services = Service._meta.db_table
    marks = ", ".join("?" for _ in NOT_YET_READY)
    query = (
        f"SELECT a.reference, a.applicant_name, a.status, c.name, s.name_en, s.name_sw "  # noqa: S608 - table names from models
        f"FROM {applications} a JOIN {centres} c ON c.id = a.centre_id "
        f"JOIN {services} s ON s.id = a.service_id "
        f"WHERE a.status IN ({marks}) ORDER BY a.lodged_at DESC LIMIT 1"
    )
    with sqlite3.connect(database) as connection:
        row = connection.execute(query, [str(status) for status in NOT_YET_READY]).fetchone()
    if row is None:
        pytest.fail(f"seed_demo made no application that is not ready yet in {database}")
    return Tracked(*row)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``tms serve`` in production mode on 127.0.0.1, with demo data in its own SQLite."""
    data_dir = tmp_path_factory.mktemp("browser-site")
    application = tracked_application(seed_demo(data_dir, DEMO_APPLICATIONS))
    with production_server(data_dir) as base:
        yield Site(base=base, application=application)


def phone_context(browser: Browser, *, javascript: bool) -> tuple[BrowserContext, list[str]]:  # noqa: F811 (the fixture)
    """A small Android phone (360×640), English first, that may only reach 127.0.0.1.

    Returns the context and the list of the other addresses the pages tried to reach."""
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
        java_script_enabled=javascript,
    )
    context.set_default_timeout(10_000)
    return context, keep_local(context)


@pytest.fixture
def javascript() -> bool:
    """JavaScript on, unless a test parametrizes ``javascript``."""
    return True


@pytest.fixture
def page(browser: Browser, javascript: bool) -> Iterator[Page]:  # noqa: F811 (the fixture)
    context, outside = phone_context(browser, javascript=javascript)
    try:
        yield context.new_page()
        assert outside == [], f"the pages tried to reach other hosts: {outside}"
    finally:
        context.close()
