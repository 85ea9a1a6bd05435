"""A real production server with demo data, and Debian's Chromium driven by Playwright.

The server is ``tms serve`` (gunicorn) on its own SQLite file, seeded by ``tms seed_demo``
through the real services. Playwright never downloads a browser here: it drives
/usr/bin/chromium, which ``bash .ci/run`` installs when it is missing.

Both fixtures are module-scoped: Playwright's sync API keeps an event loop set on the
main thread while it runs, which Django's ORM would take for async code, so the browser
is stopped before other modules' tests run.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    sync_playwright,
)

from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.directory.models import Centre, Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_KEY = "a-test-secret-key-that-is-long-enough-for-django-1234567890"
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, mode: str) -> dict[str, str]:
    # No TMS_* from the outside (CI's PostgreSQL and Redis legs): a self-contained site.
    env = {key: value for key, value in os.environ.items() if not key.startswith("TMS_")}
    env.update(
        {
            "TMS_MODE": mode,
            "TMS_DATA_DIR": str(data_dir),
            "TMS_ALLOWED_HOSTS": "127.0.0.1",
            "TMS_SECURE_COOKIES": "0",  # plain HTTP on 127.0.0.1
            # The tests look up the same references many times within a minute.
            "TMS_RATE_LOOKUP_PER_ADDRESS": "1000/m",
            "TMS_RATE_LOOKUP_PER_REFERENCE": "1000/m",
            "TMS_LOG_LEVEL": "WARNING",
        }
    )
    if mode == "production":
        env["TMS_SECRET_KEY"] = SECRET_KEY
    return env


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
    tms = [sys.executable, "-m", "tms.cli"]
    demo = server_env(data_dir, "demo")
    subprocess.run([*tms, "migrate", "-v0"], env=demo, check=True)
    subprocess.run(
        [*tms, "seed_demo", "--applications", str(DEMO_APPLICATIONS), "--no-progress"],
        env=demo,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    application = tracked_application(data_dir / "tms.sqlite3")

    port = free_port()
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*tms, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=server_env(data_dir, "production"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"tms serve exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tms serve did not answer within 30 s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield Site(base=base, application=application)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's Chromium is missing ({CHROMIUM}); the browser tests need it. "
            "Install it with: apt-get update && apt-get install -y chromium "
            "(bash .ci/run does this). Never `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def phone_context(browser: Browser, *, javascript: bool) -> tuple[BrowserContext, list[str]]:
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
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    return context, outside


@pytest.fixture
def javascript() -> bool:
    """JavaScript on, unless a test parametrizes ``javascript``."""
    return True


@pytest.fixture
def page(browser: Browser, javascript: bool) -> Iterator[Page]:
    context, outside = phone_context(browser, javascript=javascript)
    try:
        yield context.new_page()
        assert outside == [], f"the pages tried to reach other hosts: {outside}"
    finally:
        context.close()
