"""The reports in Debian's Chromium: a real production server (``tms serve``) over demo data
(``tms seed_demo``) whose rollups were rebuilt (``tms rebuild_rollups``) before it started.
Reuses the shared browser fixtures and the back office's sign-in through the real door."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tms.accounts.tests.browser.conftest import StaffSite
from tms.testing.browser import (  # noqa: F401 (fixtures)
    TMS,
    browser,
    keep_local,
    playwright,
    production_server,
    seed_demo,
    server_env,
)

DEMO_APPLICATIONS = 2_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def reports_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffSite]:
    data_dir = tmp_path_factory.mktemp("reports-site")
    database = seed_demo(data_dir, DEMO_APPLICATIONS)
    subprocess.run(
        [*TMS, "rebuild_rollups"],
        env=server_env(data_dir, "demo"),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with production_server(data_dir) as base:
        yield StaffSite(base=base, database=database)


def _page(browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:  # noqa: F811
    context: BrowserContext = browser.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    outside = keep_local(context)
    try:
        yield context.new_page()
        assert outside == [], f"the pages tried to reach other hosts: {outside}"
    finally:
        context.close()


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A desktop (1280×800) that may only reach 127.0.0.1."""
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A small phone (360×640) that may only reach 127.0.0.1."""
    yield from _page(browser, PHONE)
