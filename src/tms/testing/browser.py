"""What the browser tests share: a real production server (``tms serve``) with demo data
on its own SQLite file, and Debian's Chromium driven by Playwright, kept to 127.0.0.1.

Playwright never downloads a browser here: it drives /usr/bin/chromium, which
``bash .ci/run`` installs when it is missing. The fixtures are module-scoped: Playwright's
sync API keeps an event loop set on the main thread while it runs, which Django's ORM
would take for async code, so the browser is stopped before other modules' tests run.
Conftests import the fixtures from here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, Route, sync_playwright

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
SECRET_KEY = "a-test-secret-key-that-is-long-enough-for-django-1234567890"  # noqa: S105 (tests only)
TMS = [sys.executable, "-m", "tms.cli"]


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


def seed_demo(data_dir: Path, applications: int) -> Path:
    """Migrate and seed the demo into ``data_dir``; returns its SQLite file."""
    demo = server_env(data_dir, "demo")
    subprocess.run([*TMS, "migrate", "-v0"], env=demo, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*TMS, "seed_demo", "--applications", str(applications), "--no-progress"],
        env=demo,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return data_dir / "tms.sqlite3"


@contextmanager
def production_server(data_dir: Path) -> Iterator[str]:
    """``tms serve`` in production mode on 127.0.0.1 over ``data_dir``; yields its base URL
    once /healthz answers, and stops it afterwards."""
    port = free_port()
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [*TMS, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
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
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def keep_local(context: BrowserContext) -> list[str]:
    """Let ``context`` reach 127.0.0.1 only; returns the list of other addresses its pages
    tried (every asset must be served by the app: no CDN)."""
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    return outside


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
