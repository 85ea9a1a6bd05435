"""``scan``: server time of one receipt scan at the counter (SPEC §9), on SQLite, beside a
plain-SQL floor measured in the same run.

A scratch database of N applications (default 1,000,000) is made with ``tms generate``
(TMS_MODE=demo, untimed). The centre with the most applications is chosen, and a working
set of its applications (up to SCANS, drawn at random, seeded) is put in ``dispatched``
by plain SQL before every measured round (untimed; the generated mix has few dispatched).

- The view: a child process with the server's settings (TMS_MODE=demo) signs a counter
  officer of that centre in (password and second factor, as ``tms.testing.staff`` does)
  and POSTs each reference to ``/staff/scan/json/`` through Django's test Client: the
  whole middleware stack (session, CSRF, authentication, OTP, idle sign-out), the view,
  the service, the lifecycle change, the SMS listener, the session's tally. Each call
  is timed; every answer must be ``acknowledged``.
- The floor: the same work with sqlite3 alone, no Django, one transaction a scan: SELECT
  by reference (joined to centre and service, as the SMS needs), UPDATE with the version
  check, INSERT of the history event, INSERT of the SMS. Measured before and after the
  view; the faster counts, so the ratio errs against the application.

Afterwards the events and messages must have grown by exactly the number of scans.
Child entry point: ``python -m benchmarks.scanning view --work FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, benchmark
from benchmarks.status_updates import (
    APP_TABLE,
    EVENT_COLUMNS,
    EVENT_TABLE,
    SEED,
    Store,
    _env,
    _generate,
    _say,
)

DEFAULT_APPLICATIONS = 1_000_000
SCANS = 2_000
WARMUP = 100
TARGET_MEDIAN = 0.030  # seconds a scan, server time
MESSAGE_TABLE = "notifications_message"
URL = "/staff/scan/json/"


# --- The child: the real view, in-process ---------------------------------------------------


def _reset_sql(ids: list[int]) -> list[tuple[str, list[Any]]]:
    statements = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        statements.append(
            (
                f"UPDATE {APP_TABLE} SET status = 'dispatched', ready_at = NULL, "
                f"closed_at = NULL WHERE id IN ({marks})",
                chunk,
            )
        )
    return statements


def view(work: dict[str, Any]) -> dict[str, Any]:
    """Scan every reference of the working set through the view, ``rounds`` times."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from tms.accounts.roles import Role
    from tms.directory.models import Centre
    from tms.testing.staff import make_staff, sign_in

    centre = Centre.objects.get(pk=work["centre"])
    officer = make_staff(Role.COUNTER_OFFICER, centre=centre, username=f"bench-scan-{os.getpid()}")
    client = sign_in(Client(), officer)
    refs: list[str] = work["references"]
    ids: list[int] = work["ids"]

    def reset() -> None:
        with connection.cursor() as cursor:
            for sql, params in _reset_sql(ids):
                cursor.execute(sql, params)

    def one(reference: str) -> float:
        began = time.perf_counter()
        response = client.post(URL, {"code": reference})
        took = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"scan answered {response.status_code}")
        kind = json.loads(response.content)["outcome"]["kind"]
        if kind != "acknowledged":
            raise RuntimeError(f"scan answered {kind}, not acknowledged")
        return took

    reset()
    for reference in refs[: work["warmup"]]:
        one(reference)
    # The statements of one scan (request_started clears Django's own query log).
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql.split(" ", 1)[0])
        return execute(sql, params, many, context)

    reset()
    with connection.execute_wrapper(record):
        one(refs[0])
    reset()
    timings: list[float] = []
    cpu_began = time.process_time()
    for _round in range(work["rounds"]):
        reset()
        timings.extend(one(reference) for reference in refs)
    cpu = time.process_time() - cpu_began
    return {
        "timings": timings[: work["scans"]],
        "scans": len(timings),
        "cpu": cpu,
        "queries": statements,
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scanning")
    parser.add_argument("command", choices=["view"])
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(view(json.loads(args.work.read_text()))))
    return 0


# --- The floor: sqlite3 alone -----------------------------------------------------------------


MESSAGE_COLUMNS = (
    'application_id, event, priority, "to", body, language, segments, encoding, dedupe_key, '
    "state, attempts, next_attempt_at, gateway, gateway_status, failure_reason, currency, "
    "network_code, created_at"
)


def _floor_scan(db: sqlite3.Connection, reference: str, centre_id: int) -> None:
    stamp = str(datetime.now(UTC).replace(tzinfo=None))  # Django's SQLite datetime text
    db.execute("BEGIN IMMEDIATE")
    row = db.execute(
        f"SELECT a.id, a.centre_id, a.status, a.version, a.applicant_phone, a.language, "
        f"c.name, c.opening_hours, s.name_en, s.bring_en FROM {APP_TABLE} a "
        "JOIN directory_centre c ON c.id = a.centre_id "
        "JOIN directory_service s ON s.id = a.service_id WHERE a.reference = ?",
        (reference,),
    ).fetchone()
    pk, centre, status, version, phone, language, centre_name, hours, service, bring = row
    if centre != centre_id or status != "dispatched":
        raise RuntimeError("the floor's working set is not ready to scan")
    changed = db.execute(
        f"UPDATE {APP_TABLE} SET status = 'ready', version = version + 1, "
        "status_changed_at = ?, ready_at = ? WHERE id = ? AND version = ?",
        (stamp, stamp, pk, version),
    ).rowcount
    if changed != 1:
        raise RuntimeError("a version changed under the floor")
    db.execute(
        f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 12)})",
        (pk, "acknowledge_receipt", status, "ready", stamp, stamp, "staff", None,
         "bench", "counter", "", version + 1),
    )  # fmt: skip
    body = (
        f"Ref {reference}: your {service} is ready at {centre_name}. Bring {bring}. Open {hours}."
    )
    db.execute(
        f"INSERT INTO {MESSAGE_TABLE} ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 18)})",
        (pk, "ready", 1, phone, body, language, 1, "GSM-7", f"ready:{pk}:{version + 1}",
         "queued", 0, stamp, "", "", "", "", "", stamp),
    )  # fmt: skip
    db.execute("COMMIT")


@dataclass
class Timings:
    label: str
    seconds: list[float]

    def at(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def text(self) -> str:
        return (
            f"median {_ms(self.median)}, p90 {_ms(self.at(0.9))}, p99 {_ms(self.at(0.99))}, "
            f"mean {_ms(statistics.fmean(self.seconds))} ({len(self.seconds):,} scans)"
        )


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f} ms"


def _floor(
    store: Store, ids: list[int], refs: list[str], centre_id: int, rounds: int, scans: int
) -> Timings:
    timings: list[float] = []
    with contextlib.closing(store.connect()) as db:
        for _round in range(rounds):
            for sql, params in _reset_sql(ids):
                db.execute(sql.replace("%s", "?"), params)
            for reference in refs:
                began = time.perf_counter()
                _floor_scan(db, reference, centre_id)
                timings.append(time.perf_counter() - began)
    return Timings("floor", timings[:scans])


# --- The benchmark ------------------------------------------------------------------------------


@benchmark(
    "scan",
    "server time of one receipt scan through the real view (test Client, signed-in officer) "
    "on a large SQLite database, against a plain-sqlite3 floor",
)
def run(options: Options) -> Result:
    count = options.applications or DEFAULT_APPLICATIONS
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-scan-"))
    try:
        data_dir = workdir / "sqlite"
        data_dir.mkdir()
        env = {**_env(data_dir, None, "demo"), "TMS_ALLOWED_HOSTS": "testserver,127.0.0.1"}
        store = Store("SQLite", sqlite_path=data_dir / "tms.sqlite3")
        _say(f"generating {count:,} applications (untimed)...")
        generated = _generate(env, count)
        _say(f"generated in {generated:.0f} s")
        applications = int(store.scalar(f"SELECT COUNT(*) FROM {APP_TABLE}"))
        centre_id, centre_count = store.rows(
            f"SELECT centre_id, COUNT(*) FROM {APP_TABLE} GROUP BY centre_id "
            "ORDER BY COUNT(*) DESC, centre_id LIMIT 1"
        )[0]
        chosen = random.Random(SEED).sample(
            store.rows(
                f"SELECT id, reference FROM {APP_TABLE} WHERE centre_id = %s",
                [centre_id],
            ),
            min(SCANS, int(centre_count)),
        )
        ids = [int(pk) for pk, _ in chosen]
        refs = [str(ref) for _, ref in chosen]
        rounds = math.ceil(SCANS / len(refs))
        scans = min(SCANS, len(refs) * rounds)
        counts_before = _counts(store)

        _say("floor (before)...")
        floor_before = _floor(store, ids, refs, int(centre_id), rounds, scans)
        _say(f"floor: {floor_before.text()}")
        work = workdir / "work.json"
        work.write_text(
            json.dumps({"centre": int(centre_id), "ids": ids, "references": refs,
                        "rounds": rounds, "scans": scans, "warmup": min(WARMUP, len(refs))})
        )  # fmt: skip
        _say("the view, through Django's test Client...")
        finished = subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "benchmarks.scanning", "view", "--work", str(work)],
            env=env, check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        data = json.loads(finished.stdout.strip().splitlines()[-1])
        view_timings = Timings("view", data["timings"])
        _say(f"view: {view_timings.text()}")
        _say("floor (after)...")
        floor_after = _floor(store, ids, refs, int(centre_id), rounds, scans)
        _say(f"floor: {floor_after.text()}")

        counts_after = _counts(store)
        one_queries = data["queries"]
        expected_writes = 2 * rounds * len(refs) + data["scans"] + min(WARMUP, len(refs)) + 1
        grown = {name: counts_after[name] - counts_before[name] for name in counts_after}
        if grown["events"] != expected_writes or grown["messages"] != expected_writes:
            raise RuntimeError(f"expected {expected_writes} events and messages more: {grown}")
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    floor = min((floor_before, floor_after), key=lambda timings: timings.median)
    ratio = view_timings.median / floor.median
    met = view_timings.median < TARGET_MEDIAN
    load_after = os.getloadavg()[0]
    rows = [
        ("database", f"{applications:,} applications (`tms generate`); the busiest centre "
                     f"has {int(centre_count):,}; working set {len(refs):,} × {rounds} "
                     "round(s)"),
        ("the view (POST /staff/scan/json/, test Client)", view_timings.text()),
        ("floor, plain sqlite3 (before)", floor_before.text()),
        ("floor, plain sqlite3 (after)", floor_after.text()),
        ("ratio, median view / median floor (faster floor)", f"{ratio:.1f}×"),
        ("CPU in the view's process a scan", _ms(data["cpu"] / data["scans"])),
        ("statements of one scan", f"{len(one_queries)}: {', '.join(one_queries)}"),
        ("target: median under 30 ms", "met" if met else "NOT met"),
    ]  # fmt: skip
    notes = [
        f"**Median server time of one scan: {_ms(view_timings.median)} against a target of "
        f"{_ms(TARGET_MEDIAN)}: {'met' if met else 'NOT met'}**; {ratio:.1f} times the plain "
        f"SQL floor's median ({_ms(floor.median)}).",
        f"Method: `tms generate --applications {count} --seed {SEED}` (TMS_MODE=demo, "
        "untimed) into a fresh SQLite file. The centre with the most applications is "
        f"chosen and up to {SCANS:,} of its applications (seeded draw) are set to "
        "`dispatched` by a plain UPDATE before each round (untimed). The view is timed "
        "per call around `Client.post` in a child process with the server's settings "
        "(TMS_MODE=demo: tasks go to the database queue, as in production), signed in as a "
        "counter officer of the centre with a verified second factor; "
        f"{min(WARMUP, len(refs))} untimed scans warm it up first. Every answer must be "
        "`acknowledged`; events and SMS rows must grow by exactly the scans made.",
        "The floor does the same work with sqlite3 alone, one `BEGIN IMMEDIATE` "
        "transaction a scan: SELECT by reference joined to centre and service, UPDATE with "
        "the version check, INSERT of the event, INSERT of the message; no session, no "
        "authentication, no rendering of the SMS. What the view adds is Django's "
        "middleware (session, user, second factor and staff profile reads), the SMS "
        "rendering and segment count, the agency-webhook lookup, the task queue's INSERT "
        "on commit and the session's tally write.",
        f"Load average (1 min) when the run began: {load_before:.2f}, when it ended: "
        f"{load_after:.2f}, on {os.cpu_count()} CPUs (shared with other work).",
    ]
    return Result(
        name="scan",
        title=f"one receipt scan on {applications:,} applications, through the view",
        command="TMS_MODE=test python -m benchmarks.run --only scan"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"SQLite {sqlite3.sqlite_version}"),
        rows=rows,
        notes=notes,
    )


def _counts(store: Store) -> dict[str, int]:
    return {
        "events": int(store.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}")),
        "messages": int(store.scalar(f"SELECT COUNT(*) FROM {MESSAGE_TABLE}")),
    }


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
