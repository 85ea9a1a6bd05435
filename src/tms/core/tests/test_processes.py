"""The real processes: `tms serve` answers over HTTP with its static files."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    env = {
        **os.environ,
        "TMS_MODE": "production",
        "TMS_SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-django-1234567890",
        "TMS_DATA_DIR": str(tmp_path),
        "TMS_ALLOWED_HOSTS": "127.0.0.1",
        "TMS_SECURE_COOKIES": "0",
    }
    env.pop("TMS_DATABASE_URL", None)  # its own SQLite file, not the test database
    tms = [sys.executable, "-m", "tms.cli"]
    subprocess.run([*tms, "migrate", "-v0"], env=env, check=True)
    port = free_port()
    process = subprocess.Popen(
        [*tms, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_production_server_serves_pages_health_and_static_files(served):
    home = httpx.get(f"{served}/")
    assert home.status_code == 200
    assert "Track My Service" in home.text
    # Production static files carry a content hash and are served by the app itself.
    css_path = home.text.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css_path.startswith("/static/tms/site.") and css_path.endswith(".css")
    css = httpx.get(f"{served}{css_path}")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
    # The admin signs in through the staff door (password, then a second factor).
    admin = httpx.get(f"{served}/admin/login/", follow_redirects=True)
    assert admin.status_code == 200
    assert str(admin.url).startswith(f"{served}/staff/sign-in/")


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path):
    env = {**os.environ, "TMS_MODE": "production", "TMS_DATA_DIR": str(tmp_path)}
    env.pop("TMS_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "tms.cli", "check"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "TMS_SECRET_KEY is required" in result.stderr


def test_the_web_application_leaves_what_it_loaded_out_of_garbage_collection(tmp_path: Path):
    env = {**os.environ, "TMS_MODE": "test", "TMS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import gc, tms.wsgi; print(gc.get_freeze_count())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(result.stdout) > 50_000  # Django, the apps, the URLs and the API
