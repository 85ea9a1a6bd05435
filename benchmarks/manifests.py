"""``manifests``: a 100,000-row manifest uploaded, previewed and applied, on SQLite (and on
PostgreSQL when available), beside a floor measured in the same run.

For each engine, a scratch database of N applications (default 200,000) is made with
``tms generate`` (TMS_MODE=demo, untimed); then, by plain SQL (untimed), N/2 of them
are moved to the centre with the most applications and put in ``dispatched``. A CSV
manifest of their references (header ``Reference,Name``, random order, seeded) is
written to a file.

A child process (its own peak memory, VmHWM) then does what an officer does,
through Django's test client and the real views: POST the file to
``/staff/manifests/`` (read, check every row, store the preview), GET the preview
page, POST the commit (which enqueues the job, with the database task backend), and
runs the job as a worker would (``apply_manifest.call``): chunks of 1,000 rows through
``applications_change_bulk``, the history events and the ready SMS queued.

The floor, in another child with no Django: read and check the same CSV with the csv
module and python-stdnum's Damm check, then per 1,000 references in one transaction:
one SELECT by reference, one UPDATE with the version check, one INSERT of the events
and one of the SMS rows, with the plain driver. The set is put back to dispatched
(untimed) between the floor and the application's run.

Child entry points: ``python -m benchmarks.manifests child|floor ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, benchmark
from benchmarks.sms_dispatch import child_json, engine_database, engines

DEFAULT_APPLICATIONS = 200_000
SEED = 1
TARGET_SECONDS = 60.0
TARGET_MB = 300.0
CHUNK = 1_000
TMS = [sys.executable, "-m", "tms.cli"]
APP_TABLE = "applications_application"
EVENT_TABLE = "applications_applicationevent"
MESSAGE_TABLE = "notifications_message"
EVENT_COLUMNS = (
    "application_id, action, from_status, to_status, occurred_at, recorded_at, actor_kind, "
    "actor_user_id, actor_label, channel, note, version"
)
MESSAGE_COLUMNS = (
    'application_id, event, priority, "to", body, language, segments, encoding, dedupe_key, '
    "state, attempts, next_attempt_at, gateway, gateway_status, failure_reason, currency, "
    "network_code, created_at"
)


def _say(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}] {text}", flush=True)


def _peak_mb() -> float:
    """This process's own peak resident memory: VmHWM, the high-water mark of its address
    space. Not ``ru_maxrss``: Linux carries that across exec, so a child of a large
    parent (the benchmark runner after the lookups benchmark) reports the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: KiB


def _current_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


# --- The scratch database without Django ---------------------------------------------------


@dataclass
class Store:
    sqlite_path: Path | None = None
    postgres_url: str | None = None  # libpq form

    def connect(self) -> Any:
        if self.sqlite_path is not None:
            return sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=30)
        import psycopg

        return psycopg.connect(str(self.postgres_url), autocommit=True)

    def sql(self, text: str) -> str:
        return text.replace("%s", "?") if self.sqlite_path is not None else text

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self.connect()) as db:
            return list(db.execute(self.sql(text), params).fetchall())

    def scalar(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.rows(text, params)[0][0]

    def execute_ids(self, text: str, ids: Sequence[int], params: Sequence[Any] = ()) -> int:
        changed = 0
        with contextlib.closing(self.connect()) as db:
            for start in range(0, len(ids), 5000):
                chunk = list(ids[start : start + 5000])
                marks = ", ".join(["%s"] * len(chunk))
                changed += db.execute(self.sql(text.format(ids=marks)), [*params, *chunk]).rowcount
        return changed

    def tidy(self) -> None:
        with contextlib.closing(self.connect()) as db:
            if self.sqlite_path is not None:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                for table in (APP_TABLE, EVENT_TABLE, MESSAGE_TABLE):
                    db.execute(f"VACUUM (ANALYZE) {table}")

    def dispatch(self, ids: Sequence[int], centre_id: int) -> None:
        """The set at the centre, dispatched, as before any receipt (untimed)."""
        changed = self.execute_ids(
            f"UPDATE {APP_TABLE} SET centre_id = %s, status = 'dispatched', ready_at = NULL, "
            "closed_at = NULL WHERE id IN ({ids})",
            ids,
            [centre_id],
        )
        if changed != len(ids):
            raise RuntimeError(f"setup changed {changed} of {len(ids)} applications")
        self.tidy()

    def ready_count(self, ids: Sequence[int]) -> int:
        total = 0
        with contextlib.closing(self.connect()) as db:
            for start in range(0, len(ids), 5000):
                chunk = list(ids[start : start + 5000])
                marks = ", ".join(["%s"] * len(chunk))
                total += int(
                    db.execute(
                        self.sql(
                            f"SELECT COUNT(*) FROM {APP_TABLE} WHERE status = 'ready' "
                            f"AND id IN ({marks})"
                        ),
                        chunk,
                    ).fetchone()[0]
                )
        return total

    def counts(self) -> tuple[int, int]:
        """The number of history events, and the id of the last SMS."""
        events = int(self.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}"))
        last = int(self.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {MESSAGE_TABLE}"))
        return events, last

    def ready_sms_since(self, last: int) -> tuple[int, int]:
        """Ready SMS to applicants queued after message ``last``: (messages, applications).
        A representative's copy (a second SMS to another phone) is not counted."""
        row = self.rows(
            f"SELECT COUNT(*), COUNT(DISTINCT application_id) FROM {MESSAGE_TABLE} WHERE id > %s "
            "AND event = 'ready' AND dedupe_key NOT LIKE %s",
            [last, "%:representative"],
        )[0]
        return int(row[0]), int(row[1])


# --- The floor (child, no Django) --------------------------------------------------------------


def floor(csv_path: Path, store: Store, centre_id: int) -> dict[str, Any]:
    from stdnum import damm

    began = time.perf_counter()
    references: list[str] = []
    with csv_path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        column = [h.strip().casefold() for h in header].index("reference")
        for row in reader:
            text = row[column].replace(" ", "")
            if len(text) == 13 and text.isdigit() and damm.is_valid(text):
                references.append(text)
    read_seconds = time.perf_counter() - began

    began = time.perf_counter()
    applied = 0
    db = store.connect()
    try:
        for start in range(0, len(references), CHUNK):
            batch = references[start : start + CHUNK]
            if store.sqlite_path is not None:
                applied += _sqlite_floor_chunk(db, batch, centre_id)
            else:
                applied += _postgres_floor_chunk(db, batch, centre_id)
    finally:
        db.close()
    sql_seconds = time.perf_counter() - began
    return {
        "rows": len(references),
        "applied": applied,
        "read_seconds": read_seconds,
        "sql_seconds": sql_seconds,
        "peak_mb": _peak_mb(),
    }


def _message_row(pk: int, phone: str, reference: str, version: int, stamp: Any) -> tuple[Any, ...]:
    body = f"Your document is READY for collection. Ref: {reference}. Bring your lodging slip."
    return (pk, "ready", 10, phone, body, "en", 1, "GSM", f"ready:{pk}:{version}", "queued", 0,
            stamp, "", "", "", "", "", stamp)  # fmt: skip


def _event_row(pk: int, version: int, stamp: Any) -> tuple[Any, ...]:
    return (pk, "acknowledge_receipt", "dispatched", "ready", stamp, stamp, "staff", None,
            "bench", "staff_web", "", version)  # fmt: skip


def _sqlite_floor_chunk(db: sqlite3.Connection, refs: list[str], centre_id: int) -> int:
    stamp = str(datetime.now(UTC).replace(tzinfo=None))
    db.execute("BEGIN IMMEDIATE")
    marks = ", ".join("?" * len(refs))
    found = db.execute(
        f"SELECT id, reference, status, version, centre_id, applicant_phone FROM {APP_TABLE} "
        f"WHERE reference IN ({marks})",
        refs,
    ).fetchall()
    ready = [row for row in found if row[4] == centre_id and row[2] == "dispatched"]
    values = ", ".join(["(?, ?)"] * len(ready))
    done = {
        row[0]
        for row in db.execute(
            f"WITH v(id, version) AS (VALUES {values}) UPDATE {APP_TABLE} SET status = 'ready', "
            f"version = {APP_TABLE}.version + 1, status_changed_at = ?, ready_at = ? FROM v "
            f"WHERE {APP_TABLE}.id = v.id AND {APP_TABLE}.version = v.version "
            f"RETURNING {APP_TABLE}.id",
            [value for row in ready for value in (row[0], row[3])] + [stamp, stamp],
        ).fetchall()
    }
    changed = [row for row in ready if row[0] in done]
    events = [_event_row(row[0], row[3] + 1, stamp) for row in changed]
    messages = [_message_row(row[0], row[5], row[1], row[3] + 1, stamp) for row in changed]
    if events:
        db.execute(
            f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES "
            + ", ".join(["(" + ", ".join("?" * 12) + ")"] * len(events)),
            [value for event in events for value in event],
        )
        db.execute(
            f"INSERT INTO {MESSAGE_TABLE} ({MESSAGE_COLUMNS}) VALUES "
            + ", ".join(["(" + ", ".join("?" * 18) + ")"] * len(messages)),
            [value for message in messages for value in message],
        )
    db.execute("COMMIT")
    return len(changed)


def _postgres_floor_chunk(conn: Any, refs: list[str], centre_id: int) -> int:
    stamp = datetime.now(UTC)
    with conn.transaction():
        found = conn.execute(
            f"SELECT id, reference, status, version, centre_id, applicant_phone FROM {APP_TABLE} "
            "WHERE reference = ANY(%s)",
            (refs,),
        ).fetchall()
        ready = [row for row in found if row[4] == centre_id and row[2] == "dispatched"]
        done = {
            row[0]
            for row in conn.execute(
                f"UPDATE {APP_TABLE} AS a SET status = 'ready', version = a.version + 1, "
                "status_changed_at = %s, ready_at = %s FROM unnest(%s::bigint[], %s::integer[]) "
                "AS v(id, version) WHERE a.id = v.id AND a.version = v.version RETURNING a.id",
                (stamp, stamp, [row[0] for row in ready], [row[3] for row in ready]),
            ).fetchall()
        }
        changed = [row for row in ready if row[0] in done]
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})",
                [_event_row(row[0], row[3] + 1, stamp) for row in changed],
            )
            cursor.executemany(
                f"INSERT INTO {MESSAGE_TABLE} ({MESSAGE_COLUMNS}) VALUES "
                f"({', '.join(['%s'] * 18)})",
                [_message_row(row[0], row[5], row[1], row[3] + 1, stamp) for row in changed],
            )
    return len(changed)


# --- The application (child, Django) ----------------------------------------------------------


@dataclass
class Clock:
    """Wall time inside wrapped functions, exclusive of the wrapped functions nested in them."""

    seconds: dict[str, float] = field(default_factory=dict)
    stack: list[float] = field(default_factory=list)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append(0.0)
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.perf_counter() - began
                nested = self.stack.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + spent - nested
                if self.stack:
                    self.stack[-1] += spent

        return timed


# Where the job's time goes: each listed function's own time (module, attribute, label).
PARTS = (
    ("tms.manifests.services", "applications_change_bulk", "applications_change_bulk (UPDATE, "
     "events, signals) without its listeners"),
    ("tms.notifications.reminders", "Campaign.message", "the ready SMS: rendering (notifications "
     "listener, one text per service, centre and language)"),
    ("tms.notifications.listeners", "queue_messages", "the ready SMS: inserting the outbox rows "
     "(notifications listener)"),
    ("tms.integrations.listeners", "queue_application_webhook", "agency webhooks (integrations "
     "listener: one lookup of endpoints per agency and transaction)"),
)  # fmt: skip


def _instrument() -> Clock:
    """Instrumentation only: these are looked up as module globals (or, for a method, on
    its class) at each call."""
    import importlib

    clock = Clock()
    for module_name, attribute, label in PARTS:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        setattr(owner, name, clock.wrap(label, getattr(owner, name)))
    return clock


def application_run(csv_path: Path, centre_id: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from tms.accounts.roles import Role
    from tms.directory.models import Centre
    from tms.manifests.models import Manifest, ManifestState
    from tms.manifests.tasks import apply_manifest
    from tms.testing.staff import make_staff, sign_in

    clock = _instrument()
    user = make_staff(
        Role.COUNTER_OFFICER, centre=Centre.objects.get(pk=centre_id), username="bench-officer"
    )
    client = sign_in(Client(), user)
    if client.get(reverse("manifests")).status_code != 200:  # warm: templates, URLs
        raise RuntimeError("the manifests page did not open")
    # As `tms serve` (tms.wsgi) and `tms worker` do once loaded: what is loaded by now
    # stays out of the garbage collector's full passes.
    gc.freeze()
    baseline = _current_mb()
    phases: dict[str, float] = {}

    began = time.perf_counter()
    with csv_path.open("rb") as file:
        response = client.post(reverse("manifests"), {"file": file})
    phases["upload and check"] = time.perf_counter() - began
    if response.status_code != 302:
        raise RuntimeError(f"upload answered {response.status_code}")
    manifest = Manifest.objects.latest("id")
    after_upload = _peak_mb()

    began = time.perf_counter()
    page = client.get(reverse("manifest-detail", args=[manifest.pk]))
    phases["preview page"] = time.perf_counter() - began
    if page.status_code != 200 or manifest.state != ManifestState.PREVIEWED:
        raise RuntimeError(f"preview: {page.status_code} {manifest.state} {manifest.refusal}")

    began = time.perf_counter()
    response = client.post(reverse("manifest-commit", args=[manifest.pk]))
    phases["commit request (enqueues the job)"] = time.perf_counter() - began
    manifest.refresh_from_db()
    if response.status_code != 302 or manifest.state != ManifestState.APPLYING:
        raise RuntimeError(f"commit: {response.status_code} {manifest.state}")

    clock.seconds.clear()
    began = time.perf_counter()
    apply_manifest.call(manifest.pk)  # what the worker runs
    phases["job: apply in chunks"] = time.perf_counter() - began
    manifest.refresh_from_db()
    return {
        "phases": phases,
        "job_parts": dict(clock.seconds),
        "state": manifest.state,
        "rows": manifest.rows_total,
        "valid": manifest.to_apply,
        "applied": manifest.applied,
        "changed": manifest.changed,
        "baseline_mb": baseline,
        "peak_after_upload_mb": after_upload,
        "peak_mb": _peak_mb(),
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.manifests")
    sub = parser.add_subparsers(dest="command", required=True)
    child = sub.add_parser("child", help="Upload, preview and apply through the views.")
    child.add_argument("--csv", type=Path, required=True)
    child.add_argument("--centre", type=int, required=True)
    plain = sub.add_parser("floor", help="The same work with csv and the plain driver.")
    plain.add_argument("--csv", type=Path, required=True)
    plain.add_argument("--centre", type=int, required=True)
    plain.add_argument("--sqlite", type=Path)
    plain.add_argument("--postgres")
    args = parser.parse_args(argv)
    if args.command == "child":
        data = application_run(args.csv, args.centre)
    else:
        data = floor(args.csv, Store(args.sqlite, args.postgres), args.centre)
    print(json.dumps(data))
    return 0


# --- The benchmark ----------------------------------------------------------------------------


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tms.settings",
        "TMS_MODE": "demo",
        "TMS_DATA_DIR": str(data_dir),
        "TMS_LOG_LEVEL": "WARNING",
        "TMS_ALLOWED_HOSTS": "testserver",
        "TMS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
    }
    for name in ("TMS_DATABASE_URL", "TMS_CACHE_URL", "TMS_DEBUG"):
        env.pop(name, None)
    if database_url:
        env["TMS_DATABASE_URL"] = database_url
    return env


def _child(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    return child_json(command, env, module="benchmarks.manifests")


@dataclass
class EngineResult:
    engine: str
    server: str
    applications: int
    rows: int
    centre: str
    app: dict[str, Any]
    floor: dict[str, Any]
    load: tuple[float, float]

    @property
    def total(self) -> float:
        return float(sum(self.app["phases"].values()))

    @property
    def floor_total(self) -> float:
        return float(self.floor["read_seconds"] + self.floor["sql_seconds"])


def _engine(engine: str, count: int, workdir: Path, database_url: str | None) -> EngineResult:
    load_before = os.getloadavg()[0]
    data_dir = workdir / engine.lower()
    data_dir.mkdir()
    env = _env(data_dir, database_url)
    if database_url:
        plain = database_url.replace("postgres://", "postgresql://", 1)
        store = Store(postgres_url=plain)
        server = f"PostgreSQL {store.scalar('SHOW server_version').split()[0]}"
    else:
        store = Store(sqlite_path=data_dir / "tms.sqlite3")
        server = f"SQLite {sqlite3.sqlite_version}"

    _say(f"{engine}: generating {count:,} applications (untimed)...")
    subprocess.run([*TMS, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603 - our own command line
        [*TMS, "generate", "--applications", str(count), "--seed", str(SEED), "--no-progress"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    applications = int(store.scalar(f"SELECT COUNT(*) FROM {APP_TABLE}"))
    centre_id, centre_code = store.rows(
        f"SELECT c.id, c.code FROM {APP_TABLE} a JOIN directory_centre c ON c.id = a.centre_id "
        "GROUP BY c.id, c.code ORDER BY COUNT(*) DESC, c.id LIMIT 1"
    )[0]
    rows = applications // 2
    chosen = store.rows(f"SELECT id, reference FROM {APP_TABLE} ORDER BY id LIMIT %s", [rows])
    random.Random(SEED).shuffle(chosen)
    ids = [int(pk) for pk, _ in chosen]
    csv_path = data_dir / "manifest.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Reference", "Name"])
        for number, (_, reference) in enumerate(chosen, start=1):
            writer.writerow([reference, f"Applicant {number}"])
    _say(f"{engine}: {rows:,} applications at centre {centre_code}, dispatched (untimed)")

    store.dispatch(ids, int(centre_id))
    floor_plain = _child(
        ["floor", "--csv", str(csv_path), "--centre", str(centre_id)]
        + (["--postgres", store.postgres_url] if store.postgres_url else
           ["--sqlite", str(store.sqlite_path)]),
        env,
    )  # fmt: skip
    if floor_plain["applied"] != rows or store.ready_count(ids) != rows:
        raise RuntimeError(f"{engine}: the floor applied {floor_plain['applied']} of {rows}")
    _say(
        f"{engine} floor: read {floor_plain['read_seconds']:.1f} s, SQL "
        f"{floor_plain['sql_seconds']:.1f} s"
    )

    store.dispatch(ids, int(centre_id))
    events, last_message = store.counts()
    app = _child(["child", "--csv", str(csv_path), "--centre", str(centre_id)], env)
    events_after, _ = store.counts()
    if app["state"] != "applied" or app["applied"] != rows or store.ready_count(ids) != rows:
        raise RuntimeError(f"{engine}: the application applied {app['applied']} of {rows}: {app}")
    sms, sms_applications = store.ready_sms_since(last_message)
    if events_after - events != rows or sms != rows or sms_applications != rows:
        raise RuntimeError(
            f"{engine}: expected {rows} events and ready SMS, got {events_after - events} "
            f"events, {sms} SMS to {sms_applications} applications"
        )
    total = sum(app["phases"].values())
    _say(f"{engine}: upload + preview + commit {total:.1f} s, peak {app['peak_mb']:.0f} MB")
    return EngineResult(
        engine, server, applications, rows, str(centre_code), app, floor_plain,
        (load_before, os.getloadavg()[0]),
    )  # fmt: skip


def _rows(result: EngineResult) -> list[tuple[str, str]]:
    e = result.engine
    app = result.app
    phases = "; ".join(f"{name} {seconds:.1f} s" for name, seconds in app["phases"].items())
    parts = app["job_parts"]
    rest = app["phases"]["job: apply in chunks"] - sum(parts.values())
    return [
        (
            f"{e}: data",
            f"{result.applications:,} applications (`tms generate`); {result.rows:,} of them "
            f"dispatched to centre {result.centre}; a {result.rows:,}-row CSV manifest",
        ),
        (
            f"{e}: upload + preview + commit",
            f"**{result.total:.1f} s** ({result.rows / result.total:,.0f} rows/s): {phases}",
        ),
        (
            f"{e}: where the job's time goes",
            "; ".join(
                f"{label} {seconds:.1f} s ({1000 * seconds / result.rows:.2f} ms a row)"
                for label, seconds in parts.items()
            )
            + f"; everything else (the manifest's own reads and writes, each chunk's "
            f"COMMIT) {rest:.1f} s",
        ),
        (
            f"{e}: peak memory of the process",
            f"**{app['peak_mb']:.0f} MB** (RSS {app['baseline_mb']:.0f} MB before the upload; "
            f"peak {app['peak_after_upload_mb']:.0f} MB after upload and check)",
        ),
        (
            f"{e}: floor (csv module + plain {'sqlite3' if e == 'SQLite' else 'psycopg'})",
            f"{result.floor_total:.1f} s: reading and checking the CSV "
            f"{result.floor['read_seconds']:.2f} s, the SQL {result.floor['sql_seconds']:.1f} s; "
            f"peak {result.floor['peak_mb']:.0f} MB",
        ),
        (
            f"{e}: share of the floor",
            f"the application takes {result.total / result.floor_total:.1f}× the floor's time",
        ),
    ]


@benchmark(
    "manifests",
    "a 100,000-row manifest (CSV) uploaded, previewed and applied through the staff pages and "
    "the background job, on SQLite and PostgreSQL, against a csv + plain-SQL floor",
)
def run(options: Options) -> Result:
    count = options.applications or DEFAULT_APPLICATIONS
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-manifests-"))
    results: list[EngineResult] = []
    notes: list[str] = []
    try:
        for engine, database in engines("manifests", notes):
            with engine_database(database, keep=options.keep) as url:
                results.append(_engine(engine, count, workdir, url))
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    verdicts = []
    for result in results:
        time_ok = result.total < TARGET_SECONDS
        memory_ok = result.app["peak_mb"] < TARGET_MB
        judged = "" if result.rows >= 100_000 else f" (a smaller run: {result.rows:,} rows)"
        verdicts.append(
            f"**{result.engine}**{judged}: {result.total:.1f} s against a target of under "
            f"{TARGET_SECONDS:.0f} s: {'met' if time_ok else 'NOT met'}; peak memory "
            f"{result.app['peak_mb']:.0f} MB against under {TARGET_MB:.0f} MB: "
            f"{'met' if memory_ok else 'NOT met'}."
        )
    notes = verdicts + notes
    notes += [
        f"Method: `tms generate --applications {count} --seed {SEED}` (TMS_MODE=demo, "
        "untimed) into a fresh SQLite file / a scratch PostgreSQL database; half the "
        "applications (the lowest ids) are then moved by a plain UPDATE to the centre with the "
        "most applications and set to dispatched (untimed), and their references written "
        "to a CSV file (`Reference,Name`, shuffled, seeded): every row valid, the heaviest "
        "case for the commit.",
        "The application: a child process (TMS_MODE=demo, the database task backend) signs "
        "in a counter officer of that centre with Django's test client and goes through the "
        "real views and middleware: POST the file to /staff/manifests/ (the upload is "
        "spooled to a temporary file; every row read, looked up and stored, 1,000 at a "
        "time), GET the preview page, POST the commit (which enqueues the job), then runs "
        "the job as the worker would, `apply_manifest.call(id)`: chunks of 1,000 valid "
        "rows, each one transaction with `applications_change_bulk` (the UPDATE, the history "
        "events, the ready SMS queued by the notifications listener) and the manifest's "
        "progress. The SMS are queued, not sent (sending is measured by sms-dispatch). "
        "Checked afterwards: every application of the set ready, exactly one new history "
        "event and one new ready SMS each.",
        "Peak memory: VmHWM (peak resident set) of the child (the whole process: Python, "
        "Django, the test client's copy of the request body); the RSS before the upload is shown "
        "beside it.",
        "Floor: a child with no Django reads the same CSV with the csv module and checks each "
        "reference's Damm digit (python-stdnum), then, per 1,000 references in one "
        "transaction with the plain driver: SELECT by reference (IN / = ANY), UPDATE with "
        "the version check (VALUES / unnest) RETURNING id, a multi-row INSERT of the events "
        "and one of the SMS rows (executemany on PostgreSQL) with a fixed text. It does "
        "not store a preview, render the SMS text or make two requests. It runs first; the "
        "set is put back to dispatched before the application's run.",
        "Load average (1 min) at the start and end of each engine's run: "
        + ", ".join(f"{r.engine} {r.load[0]:.2f} → {r.load[1]:.2f}" for r in results)
        + f", on {os.cpu_count()} CPUs; above 0, other work was sharing the CPUs.",
    ]
    servers = " and ".join(r.server for r in results) or "SQLite"
    rows_text = f"{results[0].rows:,}" if results else "?"
    return Result(
        name="manifests",
        title=f"a {rows_text}-row manifest uploaded, previewed and applied, on {count:,} "
        "applications",
        command="TMS_MODE=test python -m benchmarks.run --only manifests"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"{servers}, on the same machine"),
        rows=[row for result in results for row in _rows(result)],
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
