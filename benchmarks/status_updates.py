"""``status-updates``: agency bulk status updates, 1,000 items a request, on SQLite and
PostgreSQL, beside a plain-SQL floor measured in the same run.

For each engine, a scratch database of N applications (default 200,000) is made with
``tms generate`` (TMS_MODE=demo, untimed), and a token is created for the agency with
the most applications (``tms create_agency_token``). A working set of that agency's
applications (20 requests' worth, drawn at random, seeded) is put back to ``lodged``
by plain SQL before each measured run (untimed; the generated mix has only about 1%
of applications lodged), and every run moves the whole set lodged → processing, then
processing → dispatched:

- through the real HTTP stack: ``tms serve`` (gunicorn, TMS_MODE=production) and an
  httpx client POSTing ``/api/v1/agency/status-updates`` sequentially, then from two
  concurrent clients;
- in-process: ``tms.integrations.services.status_updates_bulk`` called directly, in a
  child process with the server's settings, each part of a call timed;
- the floor: the same logical work with the DB driver alone (sqlite3 / psycopg), no
  Django: per 1,000 items one SELECT by reference, one UPDATE with the version check,
  one INSERT of the history events, in one transaction; several ways of writing it,
  the fastest counts; measured before and after the application's runs.

After each run the events table must have grown by exactly the number of items, every
application of the set must be at the target status, one version further. A child
process finally profiles one call (cProfile, CPU time) and one whole request through
Django's WSGI handler, in-process, so the HTTP/JSON overhead shows without the network.

Child entry points: ``python -m benchmarks.status_updates inprocess|profile ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, benchmark
from benchmarks.sms_dispatch import cpu_seconds, engine_database, engines, stop_process

DEFAULT_APPLICATIONS = 200_000
SEED = 1
ITEMS = 1_000  # items a request (the API's maximum)
REQUESTS = 20  # requests a run, for each of the two transitions
CLIENTS = 2  # the concurrent run
TARGET_RATE = 5_000.0  # items/s over HTTP, on PostgreSQL
TARGET_RATIO = 1 / 3  # of the floor
TOKEN_NAME = "bench"  # noqa: S105 - a token's name, not a secret
SECRET = "a-test-secret-key-that-is-long-enough-for-django-1234567890"  # noqa: S105
TMS = [sys.executable, "-m", "tms.cli"]
APP_TABLE = "applications_application"
EVENT_TABLE = "applications_applicationevent"
# (from, to, the lifecycle action) of the two runs of each measurement.
PHASES = (("lodged", "processing", "start_processing"), ("processing", "dispatched", "dispatch"))
EVENT_COLUMNS = (
    "application_id, action, from_status, to_status, occurred_at, recorded_at, actor_kind, "
    "actor_user_id, actor_label, channel, note, version"
)


def _say(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}] {text}", flush=True)


# --- The scratch database, reached without Django ------------------------------------------


@dataclass
class Store:
    """One engine's scratch database through its plain driver (setup and checks)."""

    engine: str  # "SQLite" or "PostgreSQL"
    sqlite_path: Path | None = None
    postgres_url: str | None = None  # a libpq conninfo URL

    def connect(self) -> Any:
        if self.sqlite_path is not None:
            db = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=30)
            for pragma in _django_pragmas():
                db.execute(pragma)
            return db
        import psycopg

        return psycopg.connect(cast(str, self.postgres_url), autocommit=True)

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.sqlite_path is not None else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self.connect()) as db:
            return list(db.execute(self._sql(sql), params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.rows(sql, params)[0][0]

    def in_chunks(self, sql: str, ids: Sequence[int], params: Sequence[Any] = ()) -> int:
        """Run ``sql`` (with ``{ids}`` for an IN list) over ``ids`` in chunks; the sum of
        the first column of what it returns (or of the rows it changed)."""
        total = 0
        with contextlib.closing(self.connect()) as db:
            for start in range(0, len(ids), 5000):
                chunk = list(ids[start : start + 5000])
                marks = ", ".join(["%s"] * len(chunk))
                cursor = db.execute(self._sql(sql.format(ids=marks)), [*params, *chunk])
                if cursor.description:
                    total += sum(int(row[0] or 0) for row in cursor.fetchall())
                else:
                    total += cursor.rowcount
        return total

    def reset(self, ids: Sequence[int]) -> None:
        """Put the working set back to lodged (untimed), and tidy up after the last run."""
        changed = self.in_chunks(
            f"UPDATE {APP_TABLE} SET status = 'lodged', ready_at = NULL, closed_at = NULL "
            "WHERE id IN ({ids})",
            ids,
        )
        if changed != len(ids):
            raise RuntimeError(f"reset changed {changed} of {len(ids)} applications")
        with contextlib.closing(self.connect()) as db:
            if self.sqlite_path is not None:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                db.execute(f"VACUUM (ANALYZE) {APP_TABLE}")
                db.execute(f"VACUUM (ANALYZE) {EVENT_TABLE}")

    def snapshot(self, ids: Sequence[int]) -> Snapshot:
        versions = f"SELECT SUM(version) FROM {APP_TABLE} WHERE id IN ({{ids}})"
        return Snapshot(
            events=int(self.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}")),
            versions=self.in_chunks(versions, ids),
            statuses=self._status_counts(ids),
        )

    def _status_counts(self, ids: Sequence[int]) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        with contextlib.closing(self.connect()) as db:
            for start in range(0, len(ids), 5000):
                chunk = list(ids[start : start + 5000])
                marks = ", ".join(["%s"] * len(chunk))
                sql = (
                    f"SELECT status, COUNT(*) FROM {APP_TABLE} WHERE id IN ({marks}) "
                    "GROUP BY status"
                )
                for status, count in db.execute(self._sql(sql), chunk).fetchall():
                    counts[status] += int(count)
        return dict(counts)


@dataclass(frozen=True)
class Snapshot:
    events: int
    versions: int
    statuses: dict[str, int]


def _django_pragmas() -> list[str]:
    """What Django's SQLite settings run on every connection (tms.settings.SQLITE_OPTIONS)."""
    from django.conf import settings

    init = str(settings.SQLITE_OPTIONS["init_command"])
    return [statement.strip() for statement in init.split(";") if statement.strip()]


# --- The floor: plain SQL, no Django ----------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """What a run does: batches of references of one agency, from one status to the next."""

    agency_id: int
    label: str  # the actor label the application writes, "<agency>: <token name>"
    batches: list[list[str]]
    source: str
    target: str
    action: str

    @property
    def items(self) -> int:
        return sum(len(batch) for batch in self.batches)


def _sqlite_floor_batch(db: sqlite3.Connection, work: Work, refs: list[str], variant: str) -> int:
    now = datetime.now(UTC)
    stamp = str(now.replace(tzinfo=None))  # how Django stores datetimes in SQLite (UTC)
    db.execute("BEGIN IMMEDIATE")
    marks = ", ".join("?" * len(refs))
    # By the unique reference index; the agency is checked here (see _lookup_plans).
    rows = db.execute(
        f"SELECT id, agency_id, status, version FROM {APP_TABLE} WHERE reference IN ({marks})",
        refs,
    ).fetchall()
    ready = [
        (pk, version)
        for pk, agency, status, version in rows
        if agency == work.agency_id and status == work.source
    ]
    if variant == "executemany":
        cursor = db.executemany(
            f"UPDATE {APP_TABLE} SET status = ?, version = version + 1, status_changed_at = ? "
            "WHERE id = ? AND version = ?",
            [(work.target, stamp, pk, version) for pk, version in ready],
        )
        if cursor.rowcount != len(ready):  # the fast path; never taken here
            raise RuntimeError("a version changed under the floor")
        changed = ready
    else:  # "values": one statement, each row's version checked, the changed ids returned
        values = ", ".join(["(?, ?)"] * len(ready))
        done = {
            row[0]
            for row in db.execute(
                f"WITH v(id, version) AS (VALUES {values}) UPDATE {APP_TABLE} SET status = ?, "
                f"version = {APP_TABLE}.version + 1, status_changed_at = ? FROM v "
                f"WHERE {APP_TABLE}.id = v.id AND {APP_TABLE}.version = v.version "
                f"RETURNING {APP_TABLE}.id",
                [value for row in ready for value in row] + [work.target, stamp],
            ).fetchall()
        }
        changed = [(pk, version) for pk, version in ready if pk in done]
    events = [
        (pk, work.action, work.source, work.target, stamp, stamp, "agency", None, work.label,
         "agency_api", "", version + 1)
        for pk, version in changed
    ]  # fmt: skip
    if variant == "executemany":
        db.executemany(
            f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 12)})", events
        )
    else:
        row_marks = "(" + ", ".join("?" * 12) + ")"
        db.execute(
            f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES "
            + ", ".join([row_marks] * len(events)),
            [value for event in events for value in event],
        )
    db.execute("COMMIT")
    return len(changed)


def _postgres_floor_batch(conn: Any, work: Work, refs: list[str], variant: str) -> int:
    now = datetime.now(UTC)
    with conn.transaction():
        rows = conn.execute(
            f"SELECT id, agency_id, status, version FROM {APP_TABLE} WHERE reference = ANY(%s)",
            (refs,),
        ).fetchall()
        ready = [
            (pk, version)
            for pk, agency, status, version in rows
            if agency == work.agency_id and status == work.source
        ]
        if variant == "executemany":
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {APP_TABLE} SET status = %s, version = version + 1, "
                    "status_changed_at = %s WHERE id = %s AND version = %s",
                    [(work.target, now, pk, version) for pk, version in ready],
                )
                if cursor.rowcount != len(ready):  # the fast path; never taken here
                    raise RuntimeError("a version changed under the floor")
            changed = ready
        else:  # "unnest" and "copy": one UPDATE of arrays, the changed rows returned
            changed = conn.execute(
                f"UPDATE {APP_TABLE} AS a SET status = %s, version = a.version + 1, "
                "status_changed_at = %s FROM unnest(%s::bigint[], %s::integer[]) AS v(id, version) "
                "WHERE a.id = v.id AND a.version = v.version RETURNING a.id, v.version",
                (work.target, now, [pk for pk, _ in ready], [version for _, version in ready]),
            ).fetchall()
        n = len(changed)
        if variant == "unnest":
            # Per-row values travel as arrays; only what is one per request is a constant.
            conn.execute(
                f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) SELECT v.id, v.action, "
                "v.from_status, v.to_status, v.occurred_at, %s, %s, NULL, %s, %s, v.note, "
                "v.version FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], "
                "%s::timestamptz[], %s::text[], %s::integer[]) "
                "AS v(id, action, from_status, to_status, occurred_at, note, version)",
                (now, "agency", work.label, "agency_api",
                 [pk for pk, _ in changed], [work.action] * n, [work.source] * n,
                 [work.target] * n, [now] * n, [""] * n, [version + 1 for _, version in changed]),
            )  # fmt: skip
        else:
            events = [
                (pk, work.action, work.source, work.target, now, now, "agency", None, work.label,
                 "agency_api", "", version + 1)
                for pk, version in changed
            ]  # fmt: skip
            if variant == "copy":
                with conn.cursor().copy(f"COPY {EVENT_TABLE} ({EVENT_COLUMNS}) FROM STDIN") as copy:
                    for event in events:
                        copy.write_row(event)
            else:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {EVENT_TABLE} ({EVENT_COLUMNS}) VALUES "
                        f"({', '.join(['%s'] * 12)})",
                        events,
                    )
    return n


SQLITE_VARIANTS = {
    "executemany": "UPDATE … WHERE id = ? AND version = ? and INSERT, each one prepared "
    "statement run by executemany",
    "values": "one UPDATE … FROM (VALUES …) RETURNING id (the application's statement) and "
    "one multi-row INSERT … VALUES",
}
POSTGRES_VARIANTS = {
    "unnest": "one UPDATE … FROM unnest(id[], version[]) RETURNING and one INSERT … SELECT "
    "FROM unnest(arrays)",
    "copy": "the same UPDATE, then COPY of the events",
    "executemany": "UPDATE and INSERT by psycopg executemany (pipelined)",
}


def _plan(store: Store, db: Any, sql: str, params: list[Any]) -> str:
    """The plan's access paths, without the 1,000 values."""
    if store.sqlite_path is not None:
        rows = db.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), params).fetchall()
        return "; ".join(str(row[-1]) for row in rows)
    lines = [str(row[0]) for row in db.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()]
    nodes = [line.strip().removeprefix("->").strip() for line in lines]
    return "; ".join(n for n in nodes if not n.split(":")[0].endswith(("Cond", "Filter")))


def _lookup_plans(store: Store, agency_id: int, batches: list[list[str]]) -> dict[str, Any]:
    """How the engine plans the application's lookup (its agency and reference IN …, the
    shape applications_for_items asks for) beside the lookup by reference alone, and
    what each costs (plain driver, all columns, the least wall time of 5 batches)."""
    result: dict[str, Any] = {}
    with contextlib.closing(store.connect()) as db:
        for name, where in (
            ("application", "agency_id = %s AND reference IN ({marks})"),
            ("by reference", "reference IN ({marks})"),
        ):
            times = []
            plan = ""
            for refs in batches[:5]:
                marks = ", ".join(["%s"] * len(refs))
                sql = f"SELECT * FROM {APP_TABLE} WHERE " + where.format(marks=marks)
                params = [agency_id, *refs] if name == "application" else list(refs)
                plan = _plan(store, db, sql, params)
                began = time.perf_counter()
                rows = db.execute(store._sql(sql), params).fetchall()
                times.append(time.perf_counter() - began)
                if len(rows) != len(refs):
                    raise RuntimeError(f"lookup {name}: {len(rows)} rows for {len(refs)}")
            result[name] = {"plan": plan, "seconds": min(times)}
    return result


@dataclass
class FloorRun:
    variant: str
    items: int
    seconds: float
    cpu: float  # the client's, plus the PostgreSQL backend's

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def _floor(store: Store, works: list[Work], variant: str) -> FloorRun:
    """Both transitions over the working set with plain SQL; only the batches are timed."""
    seconds = cpu = 0.0
    items = 0
    with contextlib.closing(store.connect()) as db:
        backend = None if store.sqlite_path is not None else db.info.backend_pid
        backend_before = cpu_seconds(backend) if backend else 0.0
        for work in works:
            for refs in work.batches:
                cpu_began = time.process_time()
                began = time.perf_counter()
                if store.sqlite_path is not None:
                    done = _sqlite_floor_batch(db, work, refs, variant)
                else:
                    done = _postgres_floor_batch(db, work, refs, variant)
                seconds += time.perf_counter() - began
                cpu += time.process_time() - cpu_began
                if done != len(refs):
                    raise RuntimeError(f"floor {variant}: {done} of {len(refs)} changed")
                items += done
        if backend:
            cpu += cpu_seconds(backend) - backend_before
    return FloorRun(variant, items, seconds, cpu)


# --- The HTTP runs ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    threads: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid) + sum(
            cpu_seconds(child) for child in _children(self.process.pid)
        )


def _default_server_config() -> tuple[int, int]:
    """What ``tms serve`` chooses without TMS_WEB_WORKERS / TMS_WEB_THREADS."""
    return min(4, (os.cpu_count() or 1) + 1), 4


@contextlib.contextmanager
def serving(env: dict[str, str], token: str, log: Path) -> Iterator[Server]:
    """``tms serve`` at its default workers and threads; waits until the API answers."""
    port = _free_port()
    workers, threads = _default_server_config()
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [*TMS, "serve", "--bind", f"127.0.0.1:{port}", "--no-collectstatic"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, workers, threads)
    try:
        deadline = time.monotonic() + 90
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tms serve exited; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"{server.url}/api/v1/agency/services", headers=headers)
                if answer.status_code == 200 and len(_children(process.pid)) >= workers:
                    break
                if answer.status_code not in (200, 502, 503):
                    raise RuntimeError(f"the API answered {answer.status_code}: {answer.text}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tms serve did not answer; see {log}")
            time.sleep(0.3)
        yield server
    finally:
        stop_process(process)


def _body(refs: list[str], target: str) -> bytes:
    return json.dumps({"items": [{"reference": r, "status": target} for r in refs]}).encode()


@dataclass
class HttpRun:
    items: int
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu: float
    database_cpu: float | None  # PostgreSQL backends of this database, when measurable

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def _postgres_backend_cpu(store: Store) -> dict[int, float]:
    """CPU seconds so far of each server process connected to the scratch database."""
    if store.postgres_url is None:
        return {}
    pids = [
        int(row[0])
        for row in store.rows(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    ]
    return {pid: cpu_seconds(pid) for pid in pids}


def _http_run(
    server: Server, store: Store, token: str, work: Work, clients: int
) -> tuple[HttpRun, list[bytes]]:
    """POST the batches (bodies encoded beforehand) from ``clients`` threads, each over its
    own keep-alive connection; the answers are checked afterwards."""
    bodies = [_body(refs, work.target) for refs in work.batches]
    shares = [list(range(i, len(bodies), clients)) for i in range(clients)]
    answers: list[bytes] = [b""] * len(bodies)
    latencies: list[float] = []
    failures: list[str] = []
    start = threading.Barrier(clients + 1)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client(indexes: list[int]) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=300) as http:
            http.get("/api/v1/agency/services").raise_for_status()  # connect first
            start.wait()
            for index in indexes:
                began = time.perf_counter()
                response = http.post("/api/v1/agency/status-updates", content=bodies[index])
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:300]}")
                answers[index] = response.content

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    database_before = _postgres_backend_cpu(store)
    cpu_before = server.cpu()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    server_cpu = server.cpu() - cpu_before
    database_after = _postgres_backend_cpu(store)
    if failures:
        raise RuntimeError(f"status-updates failed: {failures[0]}")
    database_cpu = (
        sum(cpu - database_before.get(pid, 0.0) for pid, cpu in database_after.items())
        if store.postgres_url is not None
        else None
    )
    run = HttpRun(work.items, len(bodies), seconds, latencies, server_cpu, database_cpu)
    return run, answers


def _check_answers(answers: list[bytes], work: Work) -> None:
    for refs, answer in zip(work.batches, answers, strict=True):
        results = json.loads(answer)["results"]
        if len(results) != len(refs):
            raise RuntimeError(f"{len(results)} results for {len(refs)} items")
        wrong = [r for r in results if not r["ok"] or r["status"] != work.target]
        if wrong:
            raise RuntimeError(f"{len(wrong)} items were refused, e.g. {wrong[0]}")
        if [r["reference"] for r in results] != refs:
            raise RuntimeError("the results do not answer the items in order")


def _warm(server: Server, token: str, other_refs: list[str]) -> None:
    """Wake every worker: lookups of another agency's references (answered not-found,
    nothing changes) from a few connections at once."""
    body = _body(other_refs, "processing")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(_: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=300) as http:
            for _ in range(2):
                answer = http.post("/api/v1/agency/status-updates", content=body)
                answer.raise_for_status()
                if any(r["ok"] for r in answer.json()["results"]):
                    raise RuntimeError("a warm-up item changed an application")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(server.workers * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- In-process: the service called directly (child process) -------------------------------


@dataclass
class PartClock:
    """Wall seconds spent in each wrapped part, exclusive of the parts nested inside it."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    stack: list[list[float]] = field(default_factory=list)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append([time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                began, nested = self.stack.pop()
                total = time.perf_counter() - began
                self.seconds[name] += total - nested
                if self.stack:
                    self.stack[-1][1] += total

        return timed


PARTS = {
    "lookup": "applications_for_items (SELECT by reference, model instances)",
    "checks": "status_updates_bulk's own loop (transition checks, results)",
    "prepare": "applications_change_bulk's own work (prepare_change, event objects)",
    "update": "_update (the one UPDATE … RETURNING)",
    "insert": "insert_rows of the events (COPY on PostgreSQL, INSERT on SQLite)",
    "signals": "status_changed signals",
    "commit": "COMMIT",
}


def _setup_django() -> None:
    """Django as the server's workers have it: loaded through ``tms.wsgi``, which leaves
    what it loaded out of the garbage collector's full passes (gc.freeze)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import tms.wsgi  # noqa: F401


def _items(refs: list[str], target: str) -> list[dict[str, Any]]:
    """What the API hands the service: the validated items as ``model_dump()`` gives them."""
    return [
        {"reference": r, "agency_ref": None, "status": target, "occurred_at": None,
         "note": "", "reason": ""}
        for r in refs
    ]  # fmt: skip


class GcClock:
    """Seconds spent in the cyclic garbage collector."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began


def inprocess(token_text: str, works: list[dict[str, Any]]) -> dict[str, Any]:
    """Call status_updates_bulk for each batch; timings and a check of every answer."""
    from django.db import connection

    from tms.applications import bulk
    from tms.integrations import services
    from tms.integrations.tokens import token_authenticate

    token = token_authenticate(token_text)
    assert token is not None
    clock = PartClock()
    services.applications_for_items = clock.wrap("lookup", services.applications_for_items)
    services.applications_change_bulk = clock.wrap("prepare", services.applications_change_bulk)
    bulk._update = clock.wrap("update", bulk._update)
    bulk.insert_rows = clock.wrap("insert", bulk.insert_rows)
    bulk.statuses_changed.send = clock.wrap("signals", bulk.statuses_changed.send)  # type: ignore[method-assign]
    connection.ensure_connection()
    connection.commit = clock.wrap("commit", connection.commit)  # type: ignore[method-assign]
    # The PostgreSQL backend serving this process (CONN_MAX_AGE keeps the one connection).
    backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else 0
    call = clock.wrap("checks", services.status_updates_bulk)
    collector = GcClock()
    runs = []
    for work in works:
        seconds = cpu = 0.0
        calls = []
        backend_before = cpu_seconds(backend) if backend else 0.0
        for refs in work["batches"]:
            items = _items(refs, work["target"])
            cpu_began = time.process_time()
            began = time.perf_counter()
            results = call(token=token, items=items)
            took = time.perf_counter() - began
            cpu += time.process_time() - cpu_began
            seconds += took
            calls.append(took)
            if [r.reference for r in results] != refs or not all(
                r.ok and r.status == work["target"] for r in results
            ):
                raise RuntimeError("status_updates_bulk refused items")
        database_cpu = cpu_seconds(backend) - backend_before if backend else None
        runs.append({"target": work["target"], "items": sum(map(len, work["batches"])),
                     "seconds": seconds, "cpu": cpu, "database_cpu": database_cpu,
                     "calls": calls})  # fmt: skip
    return {"runs": runs, "parts": dict(clock.seconds), "gc": collector.seconds}


def _wsgi_call(handler: Any, token: str, body: bytes) -> bytes:
    """One POST through Django's WSGI handler (all middleware), as gunicorn would call it."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/agency/status-updates",
        "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }  # fmt: skip
    statuses: list[str] = []
    response = handler(environ, lambda status, headers: statuses.append(status))
    content = b"".join(response)
    response.close()  # request_finished, as gunicorn does
    if not statuses[0].startswith("200"):
        raise RuntimeError(f"WSGI call answered {statuses[0]}: {content[:300]!r}")
    return content


def _package(filename: str, function: str) -> str:
    if filename == "~":
        if "sqlite3" in function or "psycopg" in function:
            return "database driver (C)"
        return "built-ins"
    if "/src/tms/" in filename:
        return "tms"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "Python standard library"


# Functions whose cumulative time the profile notes show: (file, function): label.
KEY_FUNCTIONS = {
    ("ninja/operation.py", "_run_authentication"): "authentication (token, rate limit)",
    ("ninja/operation.py", "_get_values"): "ninja: JSON body parsed and validated",
    ("integrations/services.py", "status_updates_bulk"): "status_updates_bulk",
    ("integrations/selectors.py", "applications_for_items"): "applications_for_items",
    ("applications/bulk.py", "applications_change_bulk"): "applications_change_bulk",
    ("applications/bulk.py", "_update"): "_update",
    ("core/rows.py", "insert_rows"): "insert_rows",
    ("ninja/operation.py", "_result_to_response"): "ninja: answer validated and rendered",
}


def _profile_summary(stats: Any, top: int) -> dict[str, Any]:
    """Own CPU time by package, the functions with the most own time, and the cumulative
    time of KEY_FUNCTIONS."""
    by_package: dict[str, float] = defaultdict(float)
    functions = []
    key: dict[str, float] = {}
    total = 0.0
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        by_package[_package(filename, name)] += own
        total += own
        for (suffix, function), label in KEY_FUNCTIONS.items():
            if name == function and filename.endswith(suffix):
                key[label] = key.get(label, 0.0) + cumulative
        where = f"{Path(filename).name}:{line}" if filename != "~" else ""
        name = re.sub(r" at 0x[0-9a-f]+", "", name).strip("<>")
        functions.append((own, cumulative, calls, f"{name} {where}".strip()))
    functions.sort(reverse=True)
    return {
        "total_ms": 1000 * total,
        "packages_ms": {k: 1000 * v for k, v in sorted(by_package.items(), key=lambda i: -i[1])},
        "key_ms": {label: 1000 * key[label] for label in KEY_FUNCTIONS.values() if label in key},
        "functions": [
            {"name": n, "own_ms": 1000 * o, "cumulative_ms": 1000 * c, "calls": k}
            for o, c, k, n in functions[:top]
        ],
    }


def profile(token_text: str, batches: list[list[str]]) -> dict[str, Any]:
    """Batches (at least 14) must be lodged. Two warm-up calls, then the CPU time of 5
    calls of the service alone and 5 whole requests through the WSGI handler, taken in
    turn, then a cProfile (CPU timer) of one of each."""
    import cProfile
    import pstats

    from django.core.handlers.wsgi import WSGIHandler

    from tms.integrations.services import status_updates_bulk
    from tms.integrations.tokens import token_authenticate

    token = token_authenticate(token_text)
    assert token is not None
    handler = WSGIHandler()
    target = "processing"
    queue = list(batches)

    def service() -> None:
        results = status_updates_bulk(token=token, items=_items(queue.pop(0), target))
        if not all(r.ok for r in results):
            raise RuntimeError("the service refused items")

    def request() -> None:
        answer = json.loads(_wsgi_call(handler, token_text, _body(queue.pop(0), target)))
        if not all(r["ok"] for r in answer["results"]):
            raise RuntimeError("the request's items were refused")

    service()
    request()
    cpu: dict[str, list[float]] = {"service": [], "request": []}
    for _ in range(5):
        for name, function in (("service", service), ("request", request)):
            gc.collect()  # each call starts with the same garbage to collect: none
            began = time.process_time()
            function()
            cpu[name].append(time.process_time() - began)
    summaries = {}
    for name, function in (("service", service), ("request", request)):
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        function()
        profiler.disable()
        summaries[name] = _profile_summary(pstats.Stats(profiler), top=14)
    return {"cpu": cpu, "profiles": summaries, "items": len(batches[0])}


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.status_updates")
    parser.add_argument("command", choices=["inprocess", "profile"])
    parser.add_argument("--token", required=True)
    parser.add_argument("--work", type=Path, required=True, help="JSON: the runs' batches.")
    args = parser.parse_args(argv)
    works = json.loads(args.work.read_text())
    _setup_django()
    if args.command == "inprocess":
        print(json.dumps(inprocess(args.token, works)))
    else:
        print(json.dumps(profile(args.token, works[0]["batches"])))
    return 0


def _child(command: str, token: str, works: list[Work], env: dict[str, str], workdir: Path) -> Any:
    path = workdir / f"{command}.json"
    path.write_text(json.dumps([{"target": w.target, "batches": w.batches} for w in works]))
    finished = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.status_updates", command, "--token", token,
         "--work", str(path)],
        env=env, check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return json.loads(finished.stdout.strip().splitlines()[-1])


# --- One engine ---------------------------------------------------------------------------------


@dataclass
class EngineResult:
    engine: str
    server: str
    applications: int
    events: int
    agency: str
    agency_applications: int
    working_set: int
    items_per_request: int
    http: dict[str, list[HttpRun]]  # "sequential" / "concurrent": one run per transition
    inprocess: dict[str, Any]
    floors: dict[str, list[FloorRun]]  # variant: [before, after]
    profile: dict[str, Any] | None
    plans: dict[str, Any]  # the lookup's plan and cost: as asked, and by reference alone
    analyzed: dict[str, Any] | None  # SQLite: in-process again after ANALYZE
    workers: int
    threads: int
    load: tuple[float, float]
    seconds: float

    @property
    def floor(self) -> tuple[str, float]:
        """The fastest variant and its faster measurement (the ratio errs against us)."""
        best = {v: max(run.rate for run in runs) for v, runs in self.floors.items()}
        variant = max(best, key=lambda v: best[v])
        return variant, best[variant]

    def http_rate(self, kind: str) -> float:
        runs = self.http[kind]
        return sum(r.items for r in runs) / sum(r.seconds for r in runs)

    @property
    def inprocess_rate(self) -> float:
        runs = self.inprocess["runs"]
        return sum(r["items"] for r in runs) / sum(r["seconds"] for r in runs)


def _env(data_dir: Path, database_url: str | None, mode: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tms.settings",
        "TMS_MODE": mode,
        "TMS_DATA_DIR": str(data_dir),
        "TMS_LOG_LEVEL": "WARNING",
        "TMS_ALLOWED_HOSTS": "127.0.0.1",
    }
    for name in ("TMS_DATABASE_URL", "TMS_CACHE_URL", "TMS_DEBUG", "TMS_PROXY_COUNT",
                 "TMS_WEB_WORKERS", "TMS_WEB_THREADS"):  # fmt: skip
        env.pop(name, None)
    if database_url:
        env["TMS_DATABASE_URL"] = database_url
    if mode == "production":
        env.update(
            {
                "TMS_SECRET_KEY": SECRET,
                "TMS_SECURE_COOKIES": "0",
                "TMS_RATE_AGENCY_TOKEN": "1000000/m",
            }
        )
    return env


def _generate(env: dict[str, str], count: int) -> float:
    subprocess.run([*TMS, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own command line
        [*TMS, "generate", "--applications", str(count), "--seed", str(SEED), "--no-progress"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - began


def _postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0].split()[0] if row else '?'}"


def _engine(engine: str, count: int, workdir: Path, database_url: str | None) -> EngineResult:
    began_engine = time.perf_counter()
    load_before = os.getloadavg()[0]
    data_dir = workdir / engine.lower()
    data_dir.mkdir()
    demo = _env(data_dir, database_url, "demo")
    production = _env(data_dir, database_url, "production")
    if database_url:
        plain_url = database_url.replace("postgres://", "postgresql://", 1)
        store = Store(engine, postgres_url=plain_url)
        server_version = _postgres_version(plain_url)
    else:
        store = Store(engine, sqlite_path=data_dir / "tms.sqlite3")
        server_version = f"SQLite {sqlite3.sqlite_version}"

    _say(f"{engine}: generating {count:,} applications (untimed)...")
    seconds = _generate(demo, count)
    applications = int(store.scalar(f"SELECT COUNT(*) FROM {APP_TABLE}"))
    events = int(store.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}"))
    _say(f"{engine}: generated in {seconds:.0f} s")
    agency_id, agency, agency_count = store.rows(
        f"SELECT a.id, a.code, COUNT(*) FROM {APP_TABLE} x JOIN directory_agency a "
        "ON a.id = x.agency_id GROUP BY a.id, a.code ORDER BY COUNT(*) DESC, a.id LIMIT 1"
    )[0]
    per_request = min(ITEMS, max(1, agency_count // REQUESTS))
    requests = min(REQUESTS, agency_count // per_request)
    chosen = random.Random(SEED).sample(
        store.rows(f"SELECT id, reference FROM {APP_TABLE} WHERE agency_id = %s", [agency_id]),
        per_request * requests,
    )
    ids = [int(pk) for pk, _ in chosen]
    references = [str(ref) for _, ref in chosen]
    batches = [references[i * per_request : (i + 1) * per_request] for i in range(requests)]
    others = [
        str(row[0])
        for row in store.rows(
            f"SELECT reference FROM {APP_TABLE} WHERE agency_id <> %s LIMIT %s",
            [agency_id, per_request],
        )
    ]
    token = subprocess.run(  # noqa: S603 - our own command line
        [*TMS, "create_agency_token", agency, "--name", TOKEN_NAME],
        env=demo, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout.strip()  # fmt: skip
    label = f"{agency}: {TOKEN_NAME}"
    works = [Work(agency_id, label, batches, *phase) for phase in PHASES]

    floors: dict[str, list[FloorRun]] = defaultdict(list)
    variants = list(POSTGRES_VARIANTS if database_url else SQLITE_VARIANTS)

    def floor_round(when: str) -> None:
        for variant in variants:
            runs = []

            def both() -> None:
                for work in works:
                    runs.append(_floor(store, [work], variant))  # noqa: B023

            _measured_phases(store, ids, works, f"floor {variant}", both)
            merged = FloorRun(
                variant,
                sum(r.items for r in runs),
                sum(r.seconds for r in runs),
                sum(r.cpu for r in runs),
            )
            floors[variant].append(merged)
            _say(f"{engine} floor {variant} ({when}): {merged.rate:,.0f} items/s")

    floor_round("before")
    http: dict[str, list[HttpRun]] = {}
    with serving(production, token, data_dir / "server.log") as server:
        _warm(server, token, others)
        for kind, clients in (("sequential", 1), ("concurrent", CLIENTS)):
            if clients > len(batches):
                continue
            runs: list[HttpRun] = []

            def over_http(clients: int = clients, runs: list[HttpRun] = runs) -> None:
                for work in works:
                    run, answers = _http_run(server, store, token, work, clients)
                    _check_answers(answers, work)
                    runs.append(run)

            _measured_phases(store, ids, works, f"HTTP {kind}", over_http)
            http[kind] = runs
            _say(
                f"{engine} HTTP {kind} ({clients} client{'s' if clients > 1 else ''}): "
                + ", ".join(f"{r.rate:,.0f}" for r in runs)
                + " items/s"
            )
        workers, threads = server.workers, server.threads

    holder: dict[str, Any] = {}

    def direct() -> None:
        holder["data"] = _child("inprocess", token, works, production, data_dir)

    _measured_phases(store, ids, works, "in-process", direct)
    inproc = holder["data"]
    _say(
        f"{engine} in-process: "
        + ", ".join(f"{r['items'] / r['seconds']:,.0f}" for r in inproc["runs"])
        + " items/s"
    )
    profiled = None
    if len(batches) >= 14:
        store.reset(ids)
        profiled = _child("profile", token, works[:1], production, data_dir)
        _say(f"{engine} profiled one call and one request")
    floor_round("after")
    plans = _lookup_plans(store, agency_id, batches)
    analyzed = None
    if store.sqlite_path is not None:
        # What-if: the same calls once SQLite has statistics (nothing in TMS runs ANALYZE).
        with contextlib.closing(store.connect()) as db:
            db.execute("ANALYZE")
        plans["application, after ANALYZE"] = _lookup_plans(store, agency_id, batches)[
            "application"
        ]
        _measured_phases(store, ids, works, "in-process after ANALYZE", direct)
        analyzed = holder["data"]
        _say(
            f"{engine} in-process after ANALYZE: "
            + ", ".join(f"{r['items'] / r['seconds']:,.0f}" for r in analyzed["runs"])
            + " items/s"
        )
    return EngineResult(
        engine=engine,
        server=server_version,
        applications=applications,
        events=events,
        agency=agency,
        agency_applications=int(agency_count),
        working_set=len(ids),
        items_per_request=per_request,
        http=http,
        inprocess=inproc,
        floors=dict(floors),
        profile=profiled,
        plans=plans,
        analyzed=analyzed,
        workers=workers,
        threads=threads,
        load=(load_before, os.getloadavg()[0]),
        seconds=time.perf_counter() - began_engine,
    )


def _measured_phases(
    store: Store, ids: list[int], works: list[Work], what: str, run: Callable[[], None]
) -> None:
    """Reset the working set to lodged, ``run`` (both transitions), then check that each
    application moved twice, with two events, to the last transition's target."""
    store.reset(ids)
    before = store.snapshot(ids)
    if before.statuses != {"lodged": len(ids)}:
        raise RuntimeError(f"reset left {before.statuses}")
    run()
    after = store.snapshot(ids)
    moves = len(works) * len(ids)
    problems = []
    if after.events - before.events != moves:
        problems.append(f"events grew by {after.events - before.events:,}, not {moves:,}")
    if after.versions - before.versions != moves:
        problems.append(f"versions grew by {after.versions - before.versions:,}, not {moves:,}")
    if after.statuses != {works[-1].target: len(ids)}:
        problems.append(f"statuses are {after.statuses}")
    if problems:
        raise RuntimeError(f"{store.engine} {what}: " + "; ".join(problems))


# --- The report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:,.0f} ms"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _http_text(runs: list[HttpRun]) -> str:
    items = sum(r.items for r in runs)
    seconds = sum(r.seconds for r in runs)
    requests = sum(r.requests for r in runs)
    latencies = [latency for r in runs for latency in r.latencies]
    server = sum(r.server_cpu for r in runs) / requests
    text = (
        f"{items / seconds:,.0f} items/s ({items:,} items in {seconds:.1f} s; "
        + ", ".join(f"{PHASES[i][0]}→{PHASES[i][1]} {r.rate:,.0f}/s" for i, r in enumerate(runs))
        + f"); a request p50 {_ms(_percentile(latencies, 0.5))}, max {_ms(max(latencies))}; "
        f"CPU a request: gunicorn {_ms(server)}"
    )
    database = [r.database_cpu for r in runs]
    if all(cpu is not None for cpu in database):
        text += f", PostgreSQL backends {_ms(sum(cast(float, c) for c in database) / requests)}"
    return text


def _inprocess_texts(data: dict[str, Any], items_per_request: int) -> tuple[str, str]:
    runs = data["runs"]
    calls = sum(len(r["calls"]) for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    cpu = sum(r["cpu"] for r in runs)
    rate = (
        f"{sum(r['items'] for r in runs) / seconds:,.0f} items/s ("
        + ", ".join(
            f"{PHASES[i][0]}→{PHASES[i][1]} {r['items'] / r['seconds']:,.0f}/s"
            for i, r in enumerate(runs)
        )
        + f"); a call {_ms(seconds / calls)} (CPU {_ms(cpu / calls)}), of which the garbage "
        f"collector {_ms(data['gc'] / calls)}"
    )
    parts = data["parts"]
    accounted = sum(parts.values())
    breakdown = (
        ", ".join(f"{name} {_ms(parts.get(name, 0.0) / calls)}" for name in PARTS)
        + f"; outside them {_ms(max(seconds - accounted, 0.0) / calls)}"
    )
    return rate, f"a call of {items_per_request:,} items (wall): {breakdown}"


def _profile_texts(result: EngineResult) -> tuple[str | None, str | None]:
    data = result.profile
    if data is None:
        return None, None
    service = min(data["cpu"]["service"])
    request = min(data["cpu"]["request"])
    row = (
        f"CPU for {data['items']:,} items in one process (the least of 5 each): the whole "
        f"request through Django's WSGI handler {_ms(request)}, "
        f"status_updates_bulk alone {_ms(service)}, so routing, middleware, auth, JSON "
        f"parsing, validation and rendering add {_ms(request - service)} "
        f"({(request - service) / request:.0%} of the request)"
    )
    notes = []
    for name, title in (("request", "one whole request"), ("service", "status_updates_bulk")):
        summary = data["profiles"][name]
        # A caller's cumulative time can exceed the sum of own times by the profiler's own
        # bookkeeping; shares are of the larger, so none exceeds 100%.
        total = max(summary["total_ms"], *summary["key_ms"].values(), 1e-9)
        packages = ", ".join(
            f"{package} {ms / total:.0%}"
            for package, ms in summary["packages_ms"].items()
            if ms / total >= 0.01
        )
        functions = "; ".join(
            f"`{f['name']}` {f['own_ms'] / total:.0%} ({f['calls']:,} calls)"
            for f in summary["functions"][:8]
        )
        key = ", ".join(f"{label} {ms / total:.0%}" for label, ms in summary["key_ms"].items())
        notes.append(
            f"cProfile ({result.engine}, CPU timer) of {title} with {data['items']:,} items "
            f"({total:.0f} ms under the profiler, which multiplies small calls' cost): "
            f"cumulative shares: {key}; own time by package: {packages}. The most own "
            f"time: {functions}."
        )
    return row, " ".join(notes)


def _cpu_costs(result: EngineResult) -> dict[str, tuple[float, float | None]]:
    """Seconds of CPU a 1,000 items: (the Python side, the PostgreSQL backends or None)."""
    costs: dict[str, tuple[float, float | None]] = {}
    labels = {"sequential": "HTTP, 1 client", "concurrent": f"HTTP, {CLIENTS} clients"}
    for kind, runs in result.http.items():
        thousands = sum(r.items for r in runs) / 1000
        database = [r.database_cpu for r in runs]
        costs[labels[kind]] = (
            sum(r.server_cpu for r in runs) / thousands,
            sum(cast(float, c) for c in database) / thousands
            if all(c is not None for c in database)
            else None,
        )
    runs_in = result.inprocess["runs"]
    thousands = sum(r["items"] for r in runs_in) / 1000
    database_in = [r.get("database_cpu") for r in runs_in]
    costs["in-process"] = (
        sum(r["cpu"] for r in runs_in) / thousands,
        sum(cast(float, c) for c in database_in) / thousands
        if all(c is not None for c in database_in)
        else None,
    )
    variant, _ = result.floor
    floor = result.floors[variant]
    best = min(floor, key=lambda run: run.cpu / run.items)
    costs[f"floor ({variant})"] = (best.cpu / best.items * 1000, None)
    return costs


def _cpu_text(result: EngineResult) -> str:
    costs = _cpu_costs(result)
    parts = []
    for name, (python, database) in costs.items():
        if database is None:
            parts.append(f"{name} {_ms(python)}")
        else:
            parts.append(f"{name} {_ms(python + database)} ({_ms(database)} of it PostgreSQL)")
    floor = next(python for name, (python, _) in costs.items() if name.startswith("floor"))
    http = costs.get("HTTP, 1 client")
    ratio = ""
    if http is not None:
        total = http[0] + (http[1] or 0.0)
        ratio = (
            f"; over HTTP the application spends {total / floor:.1f}× the floor's CPU, so on "
            f"CPU alone it does {floor / total:.0%} of the floor's items a CPU-second"
        )
    side = "" if result.engine == "SQLite" else " (the floor's includes its backend's)"
    return "; ".join(parts) + side + ratio


def _rows(result: EngineResult) -> list[tuple[str, str]]:
    e = result.engine
    variant, floor_rate = result.floor
    inprocess_rate, breakdown = _inprocess_texts(result.inprocess, result.items_per_request)
    profile_row, _ = _profile_texts(result)
    variants = "; ".join(
        f"{v} {runs[0].rate:,.0f} / {runs[-1].rate:,.0f}" for v, runs in result.floors.items()
    )
    rows = [
        (
            f"{e}: data",
            f"{result.applications:,} applications, {result.events:,} events (`tms generate`); "
            f"agency {result.agency} ({result.agency_applications:,} applications); a working "
            f"set of {result.working_set:,} of them, {result.items_per_request:,} items a "
            "request",
        ),
    ]
    labels = {"sequential": "HTTP, 1 client", "concurrent": f"HTTP, {CLIENTS} concurrent clients"}
    for kind, runs in result.http.items():
        rows.append((f"{e}, {labels[kind]}", _http_text(runs)))
    rows += [
        (f"{e}, in-process `status_updates_bulk`", inprocess_rate),
        (f"{e}, in-process, where the time goes", breakdown),
        (
            f"{e}, floor: plain {'sqlite3' if e == 'SQLite' else 'psycopg'}, no Django",
            f"{floor_rate:,.0f} items/s ({variant}, the faster of before / after); every "
            f"variant, items/s before / after: {variants}",
        ),
    ]
    plans = "; ".join(
        f"{name}: {plan['plan']} ({_ms(plan['seconds'])})" for name, plan in result.plans.items()
    )
    rows.append((f"{e}: the lookup's plan, plain driver", plans))
    if result.analyzed is not None:
        rate, parts = _inprocess_texts(result.analyzed, result.items_per_request)
        rows.append((f"{e}, in-process after `ANALYZE` (what-if)", f"{rate}; {parts}"))
    ratios = [f"{labels[kind]} {result.http_rate(kind) / floor_rate:.0%}" for kind in result.http]
    ratios.append(f"in-process {result.inprocess_rate / floor_rate:.0%}")
    rows.append((f"{e}: share of the floor", "; ".join(ratios)))
    rows.append((f"{e}: CPU a 1,000 items, every process involved", _cpu_text(result)))
    if "sequential" in result.http:
        runs = result.http["sequential"]
        http_call = sum(r.seconds for r in runs) / sum(r.requests for r in runs)
        calls = sum(len(r["calls"]) for r in result.inprocess["runs"])
        direct = sum(r["seconds"] for r in result.inprocess["runs"]) / calls
        rows.append(
            (
                f"{e}, HTTP overhead",
                f"a request over HTTP {_ms(http_call)} against {_ms(direct)} for the call "
                f"alone ({1000 * (http_call - direct):+,.0f} ms, wall)"
                + (f"; {profile_row}" if profile_row else ""),
            )
        )
    return rows


@benchmark(
    "status-updates",
    "agency bulk status updates (POST /api/v1/agency/status-updates, 1,000 items a request) "
    "under the production server and in-process, on SQLite and PostgreSQL, against a "
    "plain-SQL floor",
)
def run(options: Options) -> Result:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    count = options.applications or DEFAULT_APPLICATIONS
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-status-"))
    results: list[EngineResult] = []
    notes: list[str] = []
    try:
        for engine, database in engines("status", notes):
            with engine_database(database, keep=options.keep) as url:
                results.append(_engine(engine, count, workdir, url))
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load_end = os.getloadavg()

    rows = [row for result in results for row in _rows(result)]
    verdicts = []
    for result in results:
        if "sequential" not in result.http:
            continue
        rate = result.http_rate("sequential")
        variant, floor_rate = result.floor
        rate_ok = rate >= TARGET_RATE
        ratio_ok = rate / floor_rate >= TARGET_RATIO
        judged = "the target" if result.engine == "PostgreSQL" else "the PostgreSQL target"
        verdicts.append(
            f"**{result.engine}, HTTP, 1 client**: {rate:,.0f} items/s against {judged} of "
            f"{TARGET_RATE:,.0f}: {'met' if rate_ok else 'NOT met'}; {rate / floor_rate:.0%} of "
            f"the floor's {floor_rate:,.0f} items/s ({variant}) against {TARGET_RATIO:.0%}: "
            f"{'met' if ratio_ok else 'NOT met'}."
        )
    workers, threads = (results[0].workers, results[0].threads) if results else (0, 0)
    notes = verdicts + notes
    notes += [
        f"Method: for each engine, `tms generate --applications {count} --seed {SEED}` "
        "(TMS_MODE=demo, untimed) into a fresh SQLite file / a scratch PostgreSQL database "
        "(created and dropped by the benchmark), and `tms create_agency_token <agency> --name "
        f"{TOKEN_NAME}` for the agency with the most applications. A working set of that "
        "agency's applications, drawn at random (seeded), in random order, is put back to "
        "lodged by a plain UPDATE before every measurement (untimed; the generated mix has "
        "only about 1% lodged; versions are kept, so the history stays unique), followed on "
        "PostgreSQL by VACUUM ANALYZE and on SQLite by a WAL checkpoint. Each measurement "
        "then moves the whole set lodged → processing and then processing → dispatched (no "
        "SMS or webhook is due for either), the items named by reference.",
        "Checked after every measurement: the events table grew by exactly two events an "
        "application of the set, the versions by two, and every application of the set is "
        "dispatched; over HTTP every item was answered ok with the target status, in order.",
        f"HTTP: `tms serve` (gunicorn gthread at its defaults here, {workers} workers × "
        f"{threads} threads) with TMS_MODE=production, a test TMS_SECRET_KEY, "
        "TMS_ALLOWED_HOSTS=127.0.0.1, TMS_SECURE_COOKIES=0 and TMS_RATE_AGENCY_TOKEN="
        "1000000/m (the limiter runs but never refuses); PostgreSQL through TMS_DATABASE_URL "
        "(persistent connections, CONN_MAX_AGE=60). Each worker is woken first with "
        "requests naming another agency's references (answered not-found). The client is "
        "httpx with one keep-alive connection a client, bodies encoded beforehand, no "
        "Idempotency-Key; 1 client sends the requests one after another, the concurrent run "
        f"splits them over {CLIENTS} threads started together. A request's time is from "
        "sending to the whole answer read. CPU a request is user + system of the gunicorn "
        "processes (and of the PostgreSQL backends of the scratch database) over the run.",
        "In-process: a child process with the server's settings, Django loaded as the "
        "server's workers load it (`tms.wsgi`, which freezes what it loaded out of the "
        "garbage collector's full passes), calls "
        "`tms.integrations.services.status_updates_bulk(token=…, items=…)` with the items as "
        "the API hands them over (`model_dump()` of the validated items), on the same batches. "
        "Where the time goes: wall time inside each wrapped function, exclusive of the "
        "wrapped functions nested in it: "
        + "; ".join(f"{name}: {text}" for name, text in PARTS.items())
        + ". The garbage collector's time (gc.callbacks) is spread over these. The HTTP "
        "overhead row compares the requests' wall time with the calls'; its CPU figures "
        "come from another child that, "
        "after two warm-up calls, runs 5 calls of the service and 5 whole requests through "
        "Django's WSGI handler (all middleware, as gunicorn calls it), in turn, keeps the "
        "least CPU time of each, then profiles one of each with cProfile using a CPU timer.",
        "Floor: the same transitions on the same batches with the plain driver, no Django, "
        "on a connection with the pragmas Django's settings use: per batch, in one "
        "transaction, one SELECT id, agency_id, status, version by reference (IN on SQLite, "
        "= ANY(array) on PostgreSQL; the unique reference index, see the plan row), the "
        "agency and the transition checked in Python, the UPDATE of status, version and "
        "status_changed_at with the version check, and the INSERT of one history event an "
        "item with the same "
        "columns the application writes. Variants (the fastest counts): "
        + "; ".join(f"{k}: {v}" for k, v in {**SQLITE_VARIANTS, **POSTGRES_VARIANTS}.items())
        + ". The executemany variants check only the total of rows changed (the fast path a "
        "hand-written client would take). Measured before the application's runs and again "
        "after; the ratios use the faster, so they err against the application.",
        "The lookup's plan row: EXPLAIN (QUERY PLAN on SQLite, COSTS OFF on PostgreSQL) of "
        "the shape `applications_for_items` asks for (`agency_id = … AND reference IN (…)` "
        "with 1,000 references, all columns) and of the lookup by reference alone, each "
        "with the least wall time of 5 batches through the plain driver. On SQLite the "
        "engine then runs ANALYZE (nothing in TMS does; `tms generate` writes no "
        "statistics) and the in-process measurement is repeated, as a what-if.",
        f"Load average (1, 5, 15 min) when the run began: {load_start[0]:.2f}, "
        f"{load_start[1]:.2f}, {load_start[2]:.2f}; at the end: {load_end[0]:.2f}, "
        f"{load_end[1]:.2f}, {load_end[2]:.2f}, on {os.cpu_count()} CPUs; per engine (start → "
        "end): "
        + ", ".join(f"{r.engine} {r.load[0]:.2f} → {r.load[1]:.2f}" for r in results)
        + ". Above 0, other work was sharing the CPUs (and, on PostgreSQL, with the server "
        "itself), and the rates are lower than on an idle machine; the CPU figures are "
        "less affected than the rates.",
    ]
    for result in results:
        _, profile_notes = _profile_texts(result)
        if profile_notes:
            notes.append(profile_notes)
    databases = " and ".join(dict.fromkeys(r.server for r in results)) or "SQLite"
    per_request = min((r.items_per_request for r in results), default=ITEMS)
    return Result(
        name="status-updates",
        title=f"agency bulk status updates, {per_request:,} items a request, on {count:,} "
        "applications",
        command="TMS_MODE=test python -m benchmarks.run --only status-updates"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"{databases}, on the same machine"),
        rows=rows,
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
