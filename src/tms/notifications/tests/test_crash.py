"""Crash test (SPEC §5, issue: "never lost"): real `tms worker` processes dispatch to the
loopback Africa's Talking simulator while being killed with SIGKILL at random moments.

Nothing may be lost: every message ends delivered or failed (through the unknown state
and reconciliation where a kill left its fate unknown). Duplicates may happen only for
messages in flight at a kill; the test counts and reports them.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from tms.notifications.models import Event, Message, MessageState, Priority
from tms.notifications.tests.simulator import AtSimulator
from tms.testing import database

KEY = "crash-test-key"
# The bar is 20,000 on PostgreSQL; the SQLite leg runs a quicker 5,000
# (20,000 passed there too: see the closing note). TMS_CRASH_MESSAGES overrides.
MESSAGES_DEFAULT = {"postgresql": 20000, "sqlite": 5000}
KILLS = int(os.environ.get("TMS_CRASH_KILLS", "10"))
BATCH = 200


def worker_env(sim: AtSimulator, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TMS_MODE": "demo",
        "TMS_DATA_DIR": str(tmp_path),
        "TMS_DATABASE_URL": database.url(connection),
        "TMS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "TMS_SMS_BACKEND": "africastalking",
        "TMS_AT_USERNAME": "tms",
        "TMS_AT_API_KEY": KEY,
        "TMS_AT_BASE_URL": sim.base_url,
        "TMS_QUIET_HOURS": "",
        "TMS_SMS_LEASE_SECONDS": "4",
        "TMS_SMS_UNKNOWN_HOLD_SECONDS": "3",
        "TMS_SMS_SWEEP_SECONDS": "1",
        "TMS_SCHEDULE_CHECK_SECONDS": "0.5",
        "TMS_SMS_BATCH": str(BATCH),
        "TMS_LOG_LEVEL": "WARNING",
        "TMS_ALLOWED_HOSTS": "127.0.0.1",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tms.cli", "worker", "--interval", "0.2", "--no-startup-delay"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_web(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The production web server receives the delivery reports, as it would in service."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tms.cli", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return process, base


def fill_outbox(count: int) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                event=Event.READY,
                priority=Priority.URGENT,
                # One number per message, so a lost answer is reconciled unambiguously.
                to=f"+2547{10000000 + i:08d}",
                body=f"Your ID card is READY at Huduma Centre GPO. Ref: {i:013d}. Bring your slip.",
                language="en",
                segments=1,
                encoding="GSM-7",
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )


def settled() -> dict[str, int]:
    return dict(Message.objects.values("state").annotate(n=Count("id")).values_list("state", "n"))


@pytest.mark.django_db(transaction=True)
def test_no_message_is_lost_when_workers_are_killed(tmp_path, capsys):
    rng = random.Random(2026)
    MESSAGES = int(os.environ.get("TMS_CRASH_MESSAGES") or MESSAGES_DEFAULT[connection.vendor])
    fill_outbox(MESSAGES)
    log = tmp_path / "processes.log"
    with AtSimulator(api_key=KEY, username="tms", seed=11, report_workers=4) as sim:
        env = worker_env(sim, tmp_path)
        web, base = start_web(env, log)
        sim.configure_reports(f"{base}/callbacks/africastalking/delivery")
        started = time.monotonic()
        kills = 0
        worker = start_worker(env, log)
        while kills < KILLS:
            time.sleep(rng.uniform(0.5, 2.5))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = start_worker(env, log)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                open_count = Message.objects.exclude(
                    state__in=[MessageState.DELIVERED, MessageState.FAILED]
                ).count()
                if open_count == 0:
                    break
                if os.environ.get("TMS_CRASH_VERBOSE"):
                    print(
                        round(time.monotonic() - started), settled(), sim.stats()["reports_posted"]
                    )
                time.sleep(1)
        finally:
            sim.wait_for_reports(timeout=30)
            for process in (worker, web):
                process.terminate()
                process.wait(timeout=30)
        elapsed = time.monotonic() - started
        stats = sim.stats()

    states = settled()
    resent_after_unknown = Message.objects.filter(failure_reason__startswith="resent").count()
    accepted_numbers = stats["unique_numbers"]
    with capsys.disabled():
        print(
            f"\ncrash test ({connection.vendor}): {MESSAGES} messages, {kills} SIGKILLs, "
            f"{elapsed:.1f} s; final states {states}; gateway accepted {stats['accepted']} "
            f"sends to {accepted_numbers} numbers; duplicate sends {stats['duplicate_sends']}; "
            f"resent after an unknown fate: {resent_after_unknown}"
        )
    assert states == {MessageState.DELIVERED: MESSAGES}, (states, log.read_text()[-3000:])
    assert accepted_numbers == MESSAGES  # every message reached the gateway: none lost
    # A duplicate is only possible for a message in flight at a kill (at most a batch each).
    assert stats["duplicate_sends"] <= kills * BATCH
