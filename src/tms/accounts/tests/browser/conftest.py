"""The back office in Debian's Chromium: a real production server (``tms serve``) on its
own SQLite file seeded by ``tms seed_demo``, signed into with the demo logins (password,
then the code their fixed authenticator key gives now). Reuses the tracking browser
fixtures (server start-up, Chromium, no outside hosts)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tms.demo.services import DEMO_LOGINS, demo_code
from tms.testing.browser import (  # noqa: F401 (fixtures)
    browser,
    keep_local,
    playwright,
    production_server,
    seed_demo,
)

DEMO_APPLICATIONS = 6_000


@dataclass(frozen=True)
class StaffSite:
    base: str
    database: Path

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def staff_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffSite]:
    data_dir = tmp_path_factory.mktemp("staff-site")
    database = seed_demo(data_dir, DEMO_APPLICATIONS)
    with production_server(data_dir) as base:
        yield StaffSite(base=base, database=database)


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A counter desktop (1280×800) that may only reach 127.0.0.1."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    outside = keep_local(context)
    try:
        yield context.new_page()
        assert outside == [], f"the pages tried to reach other hosts: {outside}"
    finally:
        context.close()


def password_of(username: str) -> str:
    return next(login.password for login in DEMO_LOGINS if login.username == username)


_last_code: dict[str, str] = {}


def fresh_code(username: str) -> str:
    """The current code, unless it was used already: a TOTP code works once (django-otp
    refuses a replay), so a second sign-in in the same 30 s waits for the next one."""
    code = demo_code(username)
    while code == _last_code.get(username):
        time.sleep(1)
        code = demo_code(username)
    _last_code[username] = code
    return code


def sign_in(page: Page, site: StaffSite, username: str, *, shot: Path | None = None) -> None:
    """Through the real door: the password page, then the code page."""
    page.goto(site.url("/staff/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password_of(username))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code").fill(fresh_code(username))
    if shot is not None:
        page.screenshot(path=str(shot))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url("/staff/"))
