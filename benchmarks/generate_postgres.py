"""``generate-postgres``: the generate benchmark against PostgreSQL (COPY), when
TMS_DATABASE_URL names a scratch database; skipped otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, Skipped, benchmark

DEFAULT_APPLICATIONS = 1_000_000
SEED = 1


@benchmark(
    "generate-postgres",
    "tms generate --applications N into the PostgreSQL database of TMS_DATABASE_URL "
    "(an empty scratch database; skipped when unset)",
)
def run(options: Options) -> Result:
    if not os.environ.get("TMS_DATABASE_URL"):
        raise Skipped("TMS_DATABASE_URL is not set")
    from django.db import connection

    if connection.vendor != "postgresql":
        raise Skipped(f"TMS_DATABASE_URL is {connection.vendor}, not PostgreSQL")
    count = options.applications or DEFAULT_APPLICATIONS
    load_before = os.getloadavg()[0]
    scratch = tempfile.mkdtemp(prefix="tms-bench-postgres-")  # static files only
    env = {**os.environ, "TMS_MODE": "demo", "TMS_DATA_DIR": scratch}
    tms = [sys.executable, "-m", "tms.cli"]
    try:
        subprocess.run([*tms, "migrate", "-v0"], env=env, check=True)  # noqa: S603
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM applications_application")
            if cursor.fetchone()[0]:
                raise Skipped("the database of TMS_DATABASE_URL is not empty: use a scratch one")
        began = time.perf_counter()
        finished = subprocess.run(  # noqa: S603 - our own command line
            [*tms, "generate", "--applications", str(count), "--seed", str(SEED)],
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - began
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(finished.stdout, end="", flush=True)
    found = re.search(r"in ([\d.]+) s", finished.stdout)
    if found is None:
        raise RuntimeError(f"generate printed no timing: {finished.stdout!r}")
    seconds = float(found.group(1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applications_application")
        applications = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM applications_applicationevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database()), version()")
        size, version = cursor.fetchone()
    server = " ".join(version.split()[:2])
    return Result(
        name="generate-postgres",
        title=f"{count:,} applications with histories into PostgreSQL",
        command=(
            "TMS_MODE=demo TMS_DATABASE_URL=<empty scratch database> tms migrate && "
            f"tms generate --applications {count} --seed {SEED}"
        ),
        date=now_text(),
        machine=describe(f"{server}, on the same machine"),
        rows=[
            ("applications", f"{applications:,}"),
            ("history events", f"{events:,}"),
            ("generate, as it reports", f"{seconds:.1f} s"),
            ("generate, wall clock of the whole command", f"{wall:.1f} s"),
            ("applications/s", f"{applications / seconds:,.0f}"),
            ("events/s", f"{events / seconds:,.0f}"),
            ("database size after the run", f"{size / 1024 / 1024:,.0f} MiB"),
        ],
        notes=[
            f"Load average (1 min) when the run began: {load_before:.2f}. Above 0, other "
            "work was sharing the CPUs, and the times are longer than on an idle machine.",
            "Rows go in with COPY (psycopg 3), a transaction per batch of 10,000 "
            "applications. No floor is measured here; the server shares the CPUs.",
        ],
    )
