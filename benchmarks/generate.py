"""``generate``: N synthetic applications with histories into a fresh SQLite file.

Beside it, a floor measured in the same run: the very same rows (read back from
the generated file, untimed) inserted into a file with the same schema by plain
``sqlite3`` ``executemany``, no Django, in the same batches, with the same
pragmas. generator / floor says what synthesis and Django's cursor cost on top
of what SQLite itself needs to store the rows with their indexes.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, benchmark

DEFAULT_APPLICATIONS = 1_000_000
SEED = 1
BATCH = 10_000  # generate's default batch; the floor uses the same
# Rows that applications and events refer to, copied untimed so foreign keys hold.
REFERENCED_TABLES = ("directory_agency", "directory_service", "directory_centre", "auth_user")


def _django_pragmas() -> list[str]:
    """What Django's SQLite settings run on every connection (tms.settings.SQLITE_OPTIONS)."""
    from django.conf import settings

    init = str(settings.SQLITE_OPTIONS["init_command"])
    return [statement.strip() for statement in init.split(";") if statement.strip()]


@dataclass
class Floor:
    seconds: float
    applications: int
    events: int


def _file_size(path: Path) -> int:
    return sum(
        candidate.stat().st_size
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.exists()
    )


def _columns() -> tuple[str, str, str, str]:
    """Table names and the column lists the generator writes (no event id)."""
    from tms.demo.loading import BulkWriter

    writer = BulkWriter()
    return (
        writer.application_table,
        writer.application_columns,
        writer.event_table,
        writer.event_columns,
    )


def _floor(source: Path, target: Path) -> Floor:
    from tms.demo.loading import SQLITE_BULK_PRAGMAS

    app_table, app_columns, event_table, event_columns = _columns()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, isolation_level=None, uri=True)
    try:
        for pragma in (*_django_pragmas(), *SQLITE_BULK_PRAGMAS):
            dst.execute(pragma)
        schema = src.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type = 'index', rowid"
        ).fetchall()
        for (statement,) in schema:
            dst.execute(statement)
        dst.execute("ATTACH DATABASE ? AS source", (f"file:{source}?mode=ro",))
        for table in REFERENCED_TABLES:
            dst.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
        dst.execute("DETACH DATABASE source")

        marks_app = ", ".join("?" * len(app_columns.split(", ")))
        marks_event = ", ".join("?" * len(event_columns.split(", ")))
        insert_app = f"INSERT INTO {app_table} ({app_columns}) VALUES ({marks_app})"
        insert_event = f"INSERT INTO {event_table} ({event_columns}) VALUES ({marks_event})"
        select_app = f"SELECT {app_columns} FROM {app_table} WHERE id BETWEEN ? AND ? ORDER BY id"
        select_event = (
            f"SELECT {event_columns} FROM {event_table} "
            "WHERE application_id BETWEEN ? AND ? ORDER BY id"
        )
        low, high = src.execute(f"SELECT MIN(id), MAX(id) FROM {app_table}").fetchone()
        timed = 0.0
        applications = events = 0
        for start in range(low, high + 1, BATCH):
            end = start + BATCH - 1
            app_rows = src.execute(select_app, (start, end)).fetchall()
            event_rows = src.execute(select_event, (start, end)).fetchall()
            began = time.perf_counter()
            dst.execute("BEGIN IMMEDIATE")
            dst.executemany(insert_app, app_rows)
            dst.executemany(insert_event, event_rows)
            dst.execute("COMMIT")
            timed += time.perf_counter() - began
            applications += len(app_rows)
            events += len(event_rows)
        return Floor(seconds=timed, applications=applications, events=events)
    finally:
        src.close()
        dst.close()


def _state_mix(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT status, COUNT(*) FROM applications_application GROUP BY status "
            "ORDER BY COUNT(*) DESC"
        ).fetchall()
    total = sum(count for _, count in rows) or 1
    return ", ".join(f"{status} {100 * count / total:.1f}%" for status, count in rows)


def _synthesis_alone(count: int) -> float:
    """Seconds to synthesise ``count`` applications in memory, no database: a World
    made from the catalogue (design point) with made-up ids, in batches as generate."""
    import holidays as holiday_tables
    from django.utils import timezone

    from tms.demo import catalogue
    from tms.demo.histories import CentreProfile, HistorySynthesiser, ServiceProfile, World

    today = timezone.localdate()
    centres = [*catalogue.DEMO_CENTRES, *catalogue.design_point_centres()][:60]
    services = [*catalogue.DEMO_SERVICES, *catalogue.design_point_services()][:200]
    agencies = {code: n for n, code in enumerate(sorted({s.agency for s in services}), 1)}
    world = World(
        services=tuple(
            ServiceProfile(n, agencies[s.agency], f"{s.agency} system", s.turnaround_days,
                           s.retention_days, s.requires_id_number)
            for n, s in enumerate(services, 1)
        ),
        service_weights=tuple(s.weight for s in services),
        centres=tuple(
            CentreProfile(n, c.county, ((3 * n, "a"), (3 * n + 1, "b")), (3 * n + 2, "m"))
            for n, c in enumerate(centres, 1)
        ),
        centre_weights=tuple(c.weight for c in centres),
        holidays=frozenset(
            holiday_tables.country_holidays("KE", years=range(today.year - 1, today.year + 2))
        ),
        today=today,
        time_zone=timezone.get_current_timezone_name(),
    )  # fmt: skip
    synthesiser = HistorySynthesiser(world)
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        synthesiser.batch(
            seed=f"alone:{start}", first_id=start + 1, count=min(BATCH, count - start)
        )
    return time.perf_counter() - began


@benchmark(
    "generate",
    "tms generate --applications N into a fresh SQLite file, against a plain "
    "sqlite3 executemany floor",
)
def run(options: Options) -> Result:
    count = options.applications or DEFAULT_APPLICATIONS
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-generate-"))
    env = {**os.environ, "TMS_MODE": "demo", "TMS_DATA_DIR": str(workdir)}
    env.pop("TMS_DATABASE_URL", None)  # this one measures the embedded SQLite
    tms = [sys.executable, "-m", "tms.cli"]
    load_before = os.getloadavg()[0]
    try:
        began = time.perf_counter()
        subprocess.run([*tms, "migrate", "-v0"], env=env, check=True)  # noqa: S603
        migrate_seconds = time.perf_counter() - began

        command = [*tms, "generate", "--applications", str(count), "--seed", str(SEED)]
        print(f"$ TMS_MODE=demo TMS_DATA_DIR={workdir} tms generate ...", flush=True)
        began = time.perf_counter()
        finished = subprocess.run(  # noqa: S603 - our own command line
            command, env=env, check=True, stdout=subprocess.PIPE, text=True
        )
        wall_seconds = time.perf_counter() - began
        print(finished.stdout, end="", flush=True)
        found = re.search(r"in ([\d.]+) s", finished.stdout)
        if found is None:
            raise RuntimeError(f"generate printed no timing: {finished.stdout!r}")
        seconds = float(found.group(1))

        database = workdir / "tms.sqlite3"
        size = _file_size(database)
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            applications = db.execute("SELECT COUNT(*) FROM applications_application").fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM applications_applicationevent").fetchone()[0]
        mix = _state_mix(database)

        print("Measuring the floor: the same rows with plain sqlite3 executemany...", flush=True)
        floor = _floor(database, workdir / "floor.sqlite3")
        if (floor.applications, floor.events) != (applications, events):
            raise RuntimeError("the floor did not insert the same rows")
        print("Measuring synthesis alone, without a database...", flush=True)
        synthesis = _synthesis_alone(count)
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    mib = size / 1024 / 1024
    per_application = size / applications
    floor_rate = (applications + events) / floor.seconds
    rows = [
        ("applications", f"{applications:,}"),
        ("history events", f"{events:,} ({events / applications:.2f} per application)"),
        ("generate, as it reports (synthesis + writes)", f"{seconds:.1f} s"),
        ("generate, wall clock of the whole command", f"{wall_seconds:.1f} s"),
        ("applications/s", f"{applications / seconds:,.0f}"),
        ("events/s", f"{events / seconds:,.0f}"),
        ("database file after the run", f"{mib:,.0f} MiB ({per_application:,.0f} B/application)"),
        ("floor (same rows, plain sqlite3)", f"{floor.seconds:.1f} s ({floor_rate:,.0f} rows/s)"),
        ("generator / floor", f"{seconds / floor.seconds:.2f}"),
        ("synthesis alone, no database", f"{synthesis:.1f} s"),
        ("migrate (fresh file, before)", f"{migrate_seconds:.1f} s"),
    ]  # fmt: skip
    notes = [
        f"State mix: {mix}.",
        f"Load average (1 min) when the run began: {load_before:.2f}. Above 0, other work "
        "was sharing the CPUs, and the times are longer than on an idle machine.",
        "Reference data at the design point: 60 centres, 40 agencies, 200 services "
        f"(created by the command). Seed {SEED}, batches of {BATCH:,} applications, one "
        "transaction each.",
        "The floor inserts exactly the rows the generator wrote (read back untimed), into "
        "the same schema and indexes, with the pragmas Django's settings use plus the "
        "generator's bulk-session cache size; only BEGIN…COMMIT of each batch is timed. "
        "It leaves out all synthesis, so the ratio is the whole price of making the data.",
    ]
    return Result(
        name="generate",
        title=f"{count:,} applications with histories into SQLite",
        command=(
            f"TMS_MODE=demo TMS_DATA_DIR=<fresh temp dir> tms migrate && "
            f"tms generate --applications {count} --seed {SEED}"
        ),
        date=now_text(),
        machine=describe(),
        rows=rows,
        notes=notes,
    )
