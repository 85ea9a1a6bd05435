"""``reports``: the national reports dashboard and its daily rollups, on 1,000,000
applications on SQLite and 5,000,000 on PostgreSQL (``--applications N``: N and 5N).

For each engine, a scratch database is made with ``tms generate`` (TMS_MODE=demo,
untimed; PostgreSQL is then VACUUM ANALYZEd), and:

1. ``tms rebuild_rollups`` replays the whole generated history (timed, informative).
2. A day of changes at the design point (10 million applications a year: about 27,400
   lodgings and 140,000 history events a day; a smaller run scales the day by
   N/1,000,000) is made through the application's own code, untimed, in a child: ten
   rounds, each lodging its share with ``application_lodge`` and then moving its share
   of open applications one step on with ``applications_change_bulk`` (chunks of
   1,000, a system actor, the four actions mixed in each chunk: start processing,
   dispatch, acknowledge receipt, hand over), so today's lodgings move on too.
3. ``rollups_update(settle=timedelta(0))`` folds that day in (timed, in a child); then,
   in the same child, a fresh ``rollups_rebuild`` must give the very same rollups (sums
   of every counter, of every histogram, and the row counts).
4. A child with the server's settings signs an analyst in (Django's test Client, second
   factor verified) and GETs ``/staff/reports/`` (national, last 30 days) 5 times
   untimed, then 30 times timed; the same for the last 90 days, and ``/performance/``
   with the cache cleared before each request. Each selector is then timed alone once.
5. Floor, as context: one plain SQL aggregate (SUM of every counter of
   ``reports_dailyfigures`` over the same 30 days) with the plain driver.

Child entry points: ``python -m benchmarks.reports day|update|pages ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from random import Random
from typing import Any

from benchmarks.machine import describe, now_text
from benchmarks.manifests import Store
from benchmarks.registry import Options, Result, benchmark
from benchmarks.sms_dispatch import (
    base_env,
    child_json,
    engine_database,
    engines,
    migrate,
    postgres_admin_url,
    postgres_database_url,
)

DEFAULT_APPLICATIONS = 1_000_000
# PostgreSQL gets five times the applications of SQLite (the issue's sizes); a shorter run
# may set TMS_BENCH_REPORTS_POSTGRES_FACTOR (the verdicts then say it was a smaller run).
ISSUE_POSTGRES_FACTOR = 5  # the issue: 1,000,000 on SQLite, 5,000,000 on PostgreSQL
POSTGRES_FACTOR = int(
    os.environ.get("TMS_BENCH_REPORTS_POSTGRES_FACTOR", str(ISSUE_POSTGRES_FACTOR))
)
# A PostgreSQL database an earlier run generated and rebuilt (kept with --keep, or made by
# hand with the same commands): the leg migrates it and goes on from the day of changes,
# so a run at 5,000,000 applications takes an hour less. Its data are not regenerated, so
# the generate and rebuild rows say so, and it is never dropped.
REUSED_POSTGRES = os.environ.get("TMS_BENCH_REPORTS_POSTGRES_DATABASE", "")
SEED = 1
# The design point: 10 million applications a year, so a day of ~27,400 lodgings and,
# at about five events in an application's life, ~140,000 history events.
DAY_LODGINGS = 27_400
DAY_EVENTS = 140_000
ROUNDS = 10  # the day in rounds, so that today's lodgings move on as well
CHUNK = 1_000
WARMUP = 5
TIMED = 30
TARGET_PAGE = 0.500  # seconds, median of the national dashboard
TARGET_UPDATE = 10.0  # seconds, rollups up to date after a day of changes
TMS = [sys.executable, "-m", "tms.cli"]
EVENT_TABLE = "applications_applicationevent"
APP_TABLE = "applications_application"
FIGURES_TABLE = "reports_dailyfigures"
# (action, the status it moves an application on from, the status it leaves it in)
STEPS = (
    ("start_processing", "lodged", "processing"),
    ("dispatch", "processing", "dispatched"),
    ("acknowledge_receipt", "dispatched", "ready"),
    ("hand_over", "ready", "collected"),
)


def _say(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}] {text}", flush=True)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


# --- Child: a day of changes (untimed) ----------------------------------------------------


def _take(pool: list[int], count: int, rng: Random) -> list[int]:
    """``count`` ids drawn at random from ``pool`` and removed from it."""
    taken = []
    for _ in range(min(count, len(pool))):
        j = rng.randrange(len(pool))
        pool[j], pool[-1] = pool[-1], pool[j]
        taken.append(pool.pop())
    return taken


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def make_day(lodgings: int, changes: int) -> dict[str, Any]:
    """Lodge ``lodgings`` applications and make ``changes`` one-step changes, as a day of
    work does; what was made, as JSON-able data."""
    _setup_django()
    from tms.applications.bulk import Change, applications_change_bulk
    from tms.applications.lifecycle import Action
    from tms.applications.models import Application, ApplicationEvent
    from tms.applications.services import Actor, application_lodge
    from tms.directory.models import Centre, Service

    rng = Random(SEED)
    events_before = ApplicationEvent.objects.count()
    pools: dict[str, list[int]] = {source: [] for _action, source, _target in STEPS}
    for pk, status in (
        Application.objects.filter(status__in=list(pools))
        .order_by("id")
        .values_list("id", "status")
    ):
        pools[status].append(pk)
    open_before = {status: len(ids) for status, ids in pools.items()}
    services = list(Service.objects.filter(is_active=True).select_related("agency").order_by("id"))
    centres = list(Centre.objects.filter(is_active=True).order_by("id"))
    system = Actor.system("benchmark: a day of changes")
    made: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    began = time.perf_counter()
    for lodge_share, change_share in zip(
        _shares(lodgings, ROUNDS), _shares(changes, ROUNDS), strict=True
    ):
        for _ in range(lodge_share):
            number = made["lodge"]
            service = rng.choice(services)
            application = application_lodge(
                service=service,
                centre=rng.choice(centres),
                applicant_name=f"Bench Applicant {number}",  # synthetic, not a person
                applicant_phone=f"+2547{10_000_000 + number % 80_000_000:08d}",
                applicant_id_number=f"{20_000_000 + number}",
                actor=Actor.agency(f"{service.agency.code}: benchmark"),
            )
            pools["lodged"].append(application.pk)
            made["lodge"] += 1
        # Each action its share, drawn from the applications in its source status;
        # the draws come first, so no application moves twice in one round.
        wanted = _shares(change_share, len(STEPS))
        moves = [
            (pk, action, target)
            for (action, source, target), n in zip(STEPS, wanted, strict=True)
            for pk in _take(pools[source], n, rng)
        ]
        rng.shuffle(moves)  # the actions mixed in every chunk
        for start in range(0, len(moves), CHUNK):
            chunk = moves[start : start + CHUNK]
            applications = Application.objects.in_bulk([pk for pk, _a, _t in chunk])
            outcomes = applications_change_bulk(
                [Change(applications[pk], Action(action)) for pk, action, _t in chunk],
                actor=system,
            )
            for (pk, action, target), error in zip(chunk, outcomes, strict=True):
                if error is None:
                    made[action] += 1
                    if target in pools:
                        pools[target].append(pk)
                else:
                    refused[action] += 1
    seconds = time.perf_counter() - began
    return {
        "made": dict(made),
        "refused": dict(refused),
        "open_before": open_before,
        "events_before": events_before,
        "events_after": ApplicationEvent.objects.count(),
        "seconds": seconds,
    }


# --- Child: bring the rollups up to date (timed), then check against a rebuild -------------


def _rollup_totals() -> dict[str, Any]:
    """Every counter summed, every histogram of each durations table summed (cases and
    cases × days), row counts."""
    from django.db.models import Count, F, Sum

    from tms.reports.models import (
        DailyDurations,
        DailyDurationsByService,
        DailyDurationsNational,
        DailyFigures,
        DailySms,
    )
    from tms.reports.rollups import FIGURES

    figures = DailyFigures.objects.aggregate(**{name: Sum(name) for name in FIGURES})
    durations = {
        f"{model.__name__} {row['measure']}": [int(row["cases"]), int(row["days"])]
        for model in (DailyDurations, DailyDurationsByService, DailyDurationsNational)
        for row in model.objects.values("measure")
        .annotate(cases=Sum("count"), days=Sum(F("count") * F("days")))
        .order_by("measure")
    }
    sms = DailySms.objects.aggregate(
        sent=Sum("sent"), delivered=Sum("delivered"), failed=Sum("failed"), cost=Sum("cost")
    )
    return {
        "figures": {name: int(value or 0) for name, value in figures.items()},
        "durations": durations,
        "sms": {name: str(value or 0) for name, value in sms.items()},
        "rows": {
            "DailyFigures": DailyFigures.objects.count(),
            "DailyDurations": DailyDurations.objects.count(),
            "DailyDurationsNational": DailyDurationsNational.objects.count(),
            "DailySms": DailySms.objects.aggregate(n=Count("id"))["n"],
        },
    }


def update() -> dict[str, Any]:
    _setup_django()
    from tms.applications.models import ApplicationEvent
    from tms.reports.models import RollupState
    from tms.reports.rollups import rollups_rebuild, rollups_update

    position = RollupState.objects.values_list("last_event_id", flat=True).get(pk=1)
    pending = ApplicationEvent.objects.filter(id__gt=position).count()
    began = time.perf_counter()
    summary = rollups_update(settle=timedelta(0))
    seconds = time.perf_counter() - began
    after_update = _rollup_totals()
    began = time.perf_counter()
    rebuilt = rollups_rebuild(settle=timedelta(0))
    rebuild_seconds = time.perf_counter() - began
    return {
        "pending": pending,
        "events": summary.events,
        "sms_days": summary.sms_days,
        "seconds": seconds,
        "after_update": after_update,
        "rebuild_events": rebuilt.events,
        "rebuild_seconds": rebuild_seconds,
        "after_rebuild": _rollup_totals(),
        "last_event_id": summary.last_event_id,
        "max_event_id": ApplicationEvent.objects.order_by("-id").values_list("id", flat=True)[0],
    }


# --- Child: the pages and the selectors ----------------------------------------------------------


def pages() -> dict[str, Any]:
    _setup_django()
    from django.core.cache import cache
    from django.test import Client
    from django.utils import timezone

    from tms.accounts.roles import Role
    from tms.reports import selectors
    from tms.reports.models import DailyDurations, DailyFigures, DailySms
    from tms.testing.staff import make_staff, sign_in

    analyst = make_staff(Role.ANALYST, username=f"bench-reports-{os.getpid()}")
    client = sign_in(Client(), analyst)

    def get(path: str, data: dict[str, str], *, uncached: bool = False) -> float:
        if uncached:
            cache.clear()
        began = time.perf_counter()
        response = client.get(path, data)
        took = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"{path} {data} answered {response.status_code}")
        return took

    def timed(path: str, data: dict[str, str], *, uncached: bool = False) -> list[float]:
        for _ in range(WARMUP):
            get(path, data, uncached=uncached)
        return [get(path, data, uncached=uncached) for _ in range(TIMED)]

    timings = {
        "dashboard_30": timed("/staff/reports/", {}),
        "dashboard_90": timed("/staff/reports/", {"period": "90"}),
        "performance": timed("/performance/", {}, uncached=True),
    }
    today = timezone.localdate()
    filters = selectors.Filters(start=today - timedelta(days=29), end=today)
    calls = {
        "headline (reads its own backlog_by service)": lambda: selectors.headline(
            filters, today=today
        ),
        "turnaround by agency": lambda: selectors.turnaround(filters, by="agency"),
        "stage_times": lambda: selectors.stage_times(filters),
        "backlog_by centre (the page)": lambda: selectors.backlog_by(
            filters, by="centre", today=today
        ),
        "backlog (the download)": lambda: selectors.backlog(filters, today=today),
        "breaches": lambda: selectors.breaches(filters, today=today),
        "sms_by_network": lambda: selectors.sms_by_network(filters),
        "lookups_by_channel": lambda: selectors.lookups_by_channel(filters),
    }
    selector_seconds = {}
    for name, call in calls.items():
        began = time.perf_counter()
        call()
        selector_seconds[name] = time.perf_counter() - began
    headline = selectors.headline(filters, today=today)
    return {
        "timings": timings,
        "selectors": selector_seconds,
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "ready_30": headline.ready,
        "backlog": headline.backlog,
        "rows": {
            "DailyFigures": DailyFigures.objects.count(),
            "DailyDurations": DailyDurations.objects.count(),
            "DailySms": DailySms.objects.count(),
        },
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reports")
    sub = parser.add_subparsers(dest="command", required=True)
    day = sub.add_parser("day", help="Make a day of changes through the application's code.")
    day.add_argument("--lodgings", type=int, required=True)
    day.add_argument("--changes", type=int, required=True)
    sub.add_parser("update", help="Time rollups_update, then compare with a fresh rebuild.")
    sub.add_parser("pages", help="Time the dashboard, the public page and the selectors.")
    args = parser.parse_args(argv)
    if args.command == "day":
        data = make_day(args.lodgings, args.changes)
    elif args.command == "update":
        data = update()
    else:
        data = pages()
    print(json.dumps(data))
    return 0


# --- The floor: one plain SQL aggregate over the rollups -----------------------------------------


def floor(store: Store, start: str, end: str) -> list[float]:
    """The 30-day sums of every counter, straight from the rollup table."""
    from tms.reports.rollups import FIGURES

    sql = store.sql(
        f"SELECT {', '.join(f'SUM({name})' for name in FIGURES)} FROM {FIGURES_TABLE} "
        "WHERE day BETWEEN %s AND %s"
    )
    params: tuple[Any, ...] = (
        (start, end) if store.sqlite_path is not None else (date.fromisoformat(start),
                                                            date.fromisoformat(end))
    )  # fmt: skip
    timings = []
    with contextlib.closing(store.connect()) as db:
        for attempt in range(WARMUP + TIMED):
            began = time.perf_counter()
            db.execute(sql, params).fetchall()
            if attempt >= WARMUP:
                timings.append(time.perf_counter() - began)
    return timings


# --- The benchmark --------------------------------------------------------------------------------


@dataclass
class Timings:
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def at(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def text(self) -> str:
        return (
            f"median {_ms(self.median)}, p90 {_ms(self.at(0.9))}, max {_ms(max(self.seconds))} "
            f"({len(self.seconds)} requests after {WARMUP} untimed)"
        )


@dataclass
class EngineResult:
    engine: str
    server: str
    applications: int
    events: int
    generate_seconds: float | None  # None: a reused database (not generated by this run)
    rebuild_seconds: float | None
    rebuild_events: int
    day: dict[str, Any]
    update: dict[str, Any]
    pages: dict[str, Any]
    floor: Timings
    load: tuple[float, float]

    @property
    def page(self) -> Timings:
        return Timings(self.pages["timings"]["dashboard_30"])


def _day_size(count: int) -> tuple[int, int]:
    """(lodgings, other changes) of a day: the design point's, scaled down for a smaller run."""
    scale = min(1.0, count / DEFAULT_APPLICATIONS)
    lodgings = round(DAY_LODGINGS * scale)
    return lodgings, round(DAY_EVENTS * scale) - lodgings


def _engine(
    engine: str,
    count: int,
    day: tuple[int, int],
    workdir: Path,
    database_url: str | None,
    *,
    reused: bool = False,
) -> EngineResult:
    load_before = os.getloadavg()[0]
    data_dir = workdir / engine.lower()
    data_dir.mkdir()
    env = {**base_env(data_dir, database_url), "TMS_ALLOWED_HOSTS": "testserver,127.0.0.1"}
    if database_url:
        store = Store(postgres_url=database_url.replace("postgres://", "postgresql://", 1))
        server = f"PostgreSQL {store.scalar('SHOW server_version').split()[0]}"
    else:
        store = Store(sqlite_path=data_dir / "tms.sqlite3")
        server = f"SQLite {sqlite3.sqlite_version}"

    migrate(env)
    if reused:
        with contextlib.closing(store.connect()) as db:
            db.execute("VACUUM ANALYZE")  # as a fresh leg's data are before the day
        applications = int(store.scalar(f"SELECT COUNT(*) FROM {APP_TABLE}"))
        events = int(store.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}"))
        position = int(store.scalar("SELECT last_event_id FROM reports_rollupstate WHERE id = 1"))
        latest = int(store.scalar(f"SELECT MAX(id) FROM {EVENT_TABLE}"))
        if position != latest:
            raise RuntimeError(f"{engine}: the reused rollups stop at event {position} of {latest}")
        _say(f"{engine}: reusing {applications:,} applications, {events:,} events, rollups current")
        generate_seconds = rebuild_seconds = None
        rebuild_events = events
    else:
        _say(f"{engine}: generating {count:,} applications (untimed)...")
        began = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own command line
            [*TMS, "generate", "--applications", str(count), "--seed", str(SEED), "--no-progress"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        generate_seconds = time.perf_counter() - began
        if database_url:
            with contextlib.closing(store.connect()) as db:
                db.execute("VACUUM ANALYZE")
        applications = int(store.scalar(f"SELECT COUNT(*) FROM {APP_TABLE}"))
        events = int(store.scalar(f"SELECT COUNT(*) FROM {EVENT_TABLE}"))
        _say(f"{engine}: {applications:,} applications, {events:,} events")
        _say(f"{engine}: generated in {generate_seconds:.0f} s")

        _say(f"{engine}: tms rebuild_rollups...")
        began = time.perf_counter()
        finished = subprocess.run(  # noqa: S603 - our own command line
            [*TMS, "rebuild_rollups"], env=env, check=True, stdout=subprocess.PIPE, text=True
        )
        rebuild_seconds = time.perf_counter() - began
        found = re.search(r"Rollups rebuilt: ([\d,]+) events", finished.stdout)
        if found is None:
            raise RuntimeError(f"rebuild_rollups printed no summary: {finished.stdout[-500:]!r}")
        rebuild_events = int(found.group(1).replace(",", ""))
        if rebuild_events != events:
            raise RuntimeError(f"{engine}: the rebuild folded {rebuild_events} of {events} events")
        rate = events / rebuild_seconds
        _say(f"{engine}: rebuilt in {rebuild_seconds:.1f} s ({rate:,.0f} events/s)")

    lodgings, changes = day
    _say(f"{engine}: a day of changes: {lodgings:,} lodgings, {changes:,} changes (untimed)...")
    made = child_json(
        ["day", "--lodgings", str(lodgings), "--changes", str(changes)],
        env,
        module="benchmarks.reports",
    )
    made_events = made["events_after"] - made["events_before"]
    if made_events != sum(made["made"].values()):
        raise RuntimeError(f"{engine}: {made_events} events for the changes {made['made']}")
    _say(f"{engine}: made {made['made']} ({made_events:,} events) in {made['seconds']:.0f} s")

    _say(f"{engine}: rollups_update...")
    updated = child_json(["update"], env, module="benchmarks.reports")
    if updated["pending"] != made_events or updated["events"] != made_events:
        raise RuntimeError(
            f"{engine}: {made_events} events made, {updated['pending']} pending, "
            f"{updated['events']} folded in"
        )
    if updated["after_update"] != updated["after_rebuild"]:
        raise RuntimeError(
            f"{engine}: the updated rollups differ from a rebuild's: "
            f"{updated['after_update']} != {updated['after_rebuild']}"
        )
    if updated["last_event_id"] != updated["max_event_id"]:
        raise RuntimeError(f"{engine}: the update stopped before the last event: {updated}")
    _say(
        f"{engine}: rollups_update {updated['seconds']:.2f} s for {made_events:,} events; equal "
        "to a fresh rebuild's"
    )

    if database_url:
        with contextlib.closing(store.connect()) as db:
            db.execute("ANALYZE")
    _say(f"{engine}: the pages...")
    shown = child_json(["pages"], env, module="benchmarks.reports")
    if not shown["ready_30"]:
        raise RuntimeError(f"{engine}: no document ready in the last 30 days: nothing measured")
    page = Timings(shown["timings"]["dashboard_30"])
    _say(f"{engine}: /staff/reports/ {page.text()}")
    plain = Timings(floor(store, shown["start"], shown["end"]))
    _say(f"{engine}: floor, one plain SQL SUM: median {_ms(plain.median)}")
    return EngineResult(
        engine, server, applications, events, generate_seconds, rebuild_seconds, rebuild_events,
        made, updated, shown, plain, (load_before, os.getloadavg()[0]),
    )  # fmt: skip


def reused_postgres(name: str) -> str:
    """The Django URL of an existing database ``name`` on the benchmarks' server."""
    import psycopg

    with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            raise RuntimeError(f"TMS_BENCH_REPORTS_POSTGRES_DATABASE: no database {name!r}")
    return postgres_database_url(name)


def _rows(result: EngineResult) -> list[tuple[str, str]]:
    e = result.engine
    made = result.day["made"]
    day_events = sum(made.values())
    update = result.update
    rows = result.pages["rows"]
    timings = result.pages["timings"]
    selectors = "; ".join(f"{name} {_ms(s)}" for name, s in result.pages["selectors"].items())
    refused = sum(result.day["refused"].values())
    if result.generate_seconds is None or result.rebuild_seconds is None:
        made_by = (
            f"{result.applications:,} applications, {result.events:,} history events (a "
            f"database kept from an earlier run: `tms generate --seed {SEED}`, rebuilt "
            "rollups, then earlier days of changes; not regenerated)"
        )
        rebuilt = "not run: the reused database's rollups were current (checked)"
    else:
        made_by = (
            f"{result.applications:,} applications, {result.events:,} history events "
            f"(`tms generate`, {result.generate_seconds:.0f} s, untimed)"
        )
        rebuilt = (
            f"{result.rebuild_seconds:.1f} s ({result.events / result.rebuild_seconds:,.0f} "
            "events/s, whole command)"
        )
    return [
        (f"{e}: data", made_by),
        (f"{e}: `tms rebuild_rollups` over all of it", rebuilt),
        (
            f"{e}: a day of changes (made untimed)",
            f"{made.get('lodge', 0):,} lodgings; "
            + ", ".join(f"{action} {made.get(action, 0):,}" for action, _s, _t in STEPS)
            + f"; {day_events:,} events"
            + (f" ({refused:,} changes refused)" if refused else ""),
        ),
        (
            f"{e}: `rollups_update` after the day",
            f"**{update['seconds']:.2f} s** ({day_events / update['seconds']:,.0f} events/s; "
            f"SMS figures of {update['sms_days']} days recomputed)",
        ),
        (
            f"{e}: updated rollups equal a fresh rebuild's",
            f"yes (every counter, histogram and row count; the rebuild took "
            f"{update['rebuild_seconds']:.1f} s)",
        ),
        (
            f"{e}: rollup tables",
            f"DailyFigures {rows['DailyFigures']:,} rows, DailyDurations "
            f"{rows['DailyDurations']:,}, DailySms {rows['DailySms']:,}",
        ),
        (f"{e}: /staff/reports/ national, last 30 days", f"**{result.page.text()}**"),
        (f"{e}: /staff/reports/ national, last 90 days", Timings(timings["dashboard_90"]).text()),
        (f"{e}: /performance/, cache cleared each time", Timings(timings["performance"]).text()),
        (f"{e}: selectors alone, once (30 days, national)", selectors),
        (
            f"{e}: floor, one plain SQL SUM over {FIGURES_TABLE} (30 days)",
            f"median {_ms(result.floor.median)} ({TIMED} queries after {WARMUP} untimed)",
        ),
    ]


@benchmark(
    "reports",
    "the national reports dashboard (median page time) and the rollups brought up to date "
    "after a day of changes, on SQLite (N) and PostgreSQL (5N)",
)
def run(options: Options) -> Result:
    count = options.applications or DEFAULT_APPLICATIONS
    day = _day_size(count)
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-reports-"))
    results: list[EngineResult] = []
    notes: list[str] = []
    try:
        for engine, database in engines("reports", notes):
            size = count * (POSTGRES_FACTOR if database else 1)
            if database and REUSED_POSTGRES:
                reused = reused_postgres(REUSED_POSTGRES)
                results.append(_engine(engine, size, day, workdir, reused, reused=True))
                continue
            with engine_database(database, keep=options.keep) as url:
                results.append(_engine(engine, size, day, workdir, url))
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    verdicts = []
    for result in results:
        page_ok = result.page.median <= TARGET_PAGE
        update_ok = result.update["seconds"] <= TARGET_UPDATE
        design = DEFAULT_APPLICATIONS * (
            ISSUE_POSTGRES_FACTOR if result.engine == "PostgreSQL" else 1
        )
        judged = (
            "" if result.applications >= design else f" (a smaller run: {result.applications:,} "
            f"applications, a day scaled to {sum(result.day['made'].values()):,} events)"
        )  # fmt: skip
        verdicts.append(
            f"**{result.engine}**{judged}: national dashboard median "
            f"{_ms(result.page.median)} against a target of at most {1000 * TARGET_PAGE:.0f} ms: "
            f"{'met' if page_ok else 'NOT met'}; rollups up to date after a day of changes in "
            f"{result.update['seconds']:.2f} s against at most {TARGET_UPDATE:.0f} s: "
            f"{'met' if update_ok else 'NOT met'}. The page takes "
            f"{result.page.median / result.floor.median:,.0f}× the plain SQL sum."
        )
    lodgings, changes = day
    notes = verdicts + notes
    if REUSED_POSTGRES:
        notes.append(
            f"The PostgreSQL leg reused the database {REUSED_POSTGRES} "
            "(TMS_BENCH_REPORTS_POSTGRES_DATABASE), which earlier steps had made with this "
            f"leg's own commands: `tms generate --applications {count * POSTGRES_FACTOR:,} "
            f"--seed {SEED}`, VACUUM ANALYZE, `tms rebuild_rollups`, then earlier days of "
            "changes folded in; so its data and rebuild rows are not timed here. The run "
            "migrated it, VACUUM ANALYZEd it, checked its rollups were current, and went on "
            "from the day of changes as a fresh leg does."
        )
    notes += [
        f"Method: `tms generate --applications N --seed {SEED}` (TMS_MODE=demo, untimed) into "
        f"a fresh SQLite file with N = {count:,}, and into a scratch PostgreSQL database with "
        f"{POSTGRES_FACTOR}N = {count * POSTGRES_FACTOR:,} (`--applications N` sets both); "
        "PostgreSQL is then VACUUM ANALYZEd. The generated histories are inserted without "
        "signals, which the rollups do not need: they read the history table. Then "
        "`tms rebuild_rollups` (the whole command, Django start included) must fold in "
        "every generated event.",
        f"The day of changes: the design point of 10 million applications a year is "
        f"{DAY_LODGINGS:,} lodgings and about {DAY_EVENTS:,} history events a day; this run "
        f"made {lodgings:,} lodgings and {changes:,} other changes"
        + (
            ""
            if count >= DEFAULT_APPLICATIONS
            else f" (the design day scaled by {count:,}/{DEFAULT_APPLICATIONS:,})"
        )
        + ", the same day on both engines. A child (TMS_MODE=demo, the database task backend) "
        f"works in {ROUNDS} rounds: each lodges its share one by one with "
        "`application_lodge` (synthetic applicants, random active service and centre, "
        "seeded), then draws its share of applications at random from those in each source "
        "status, a quarter each for start processing (lodged), dispatch (processing), "
        "acknowledge receipt (dispatched) and hand over (ready), and applies them, actions "
        f"shuffled together, with `applications_change_bulk` in chunks of {CHUNK:,} and a "
        "system actor: the real UPDATE, history events and listeners (SMS queued, webhooks). "
        "Today's lodgings are drawn in the later rounds too. The history must have grown by "
        "exactly the changes made.",
        "Timed: `rollups_update(settle=timedelta(0))` in its own child, which folds in every "
        "event made (their number is checked) and recomputes the SMS figures of the last 7 "
        "days. Then, in the same child, `rollups_rebuild` replays the whole history; the sums "
        "of every DailyFigures counter, of every DailyDurations histogram (cases and cases × "
        "days, per measure), of the DailySms figures, and the three tables' row counts must "
        "equal those after the update, or the run fails.",
        f"Pages: a child with the server's settings (TMS_MODE=demo; local-memory cache) signs an "
        "analyst in with a verified second factor (`tms.testing.staff`) and GETs each page "
        f"through Django's test Client (all middleware, the view, the template) {WARMUP} times "
        f"untimed, then {TIMED} times timed: `/staff/reports/` with no parameters (national, "
        "last 30 days, turnaround by agency: the target's page), `?period=90`, and "
        "`/performance/` (90 days) with the cache cleared before every request. PostgreSQL is "
        "ANALYZEd before (untimed). Then each selector is called once alone for the national "
        "30 days. The last 30 days must have documents ready, or the run fails.",
        f"Floor, as context: one SELECT of the SUM of every counter of {FIGURES_TABLE} for the "
        f"same 30 days, with the plain driver (sqlite3 / psycopg) on one open connection, "
        f"median of {TIMED} after {WARMUP} untimed; the page adds the other figures (each "
        "selector's queries), the filter form, the charts' data and the template.",
        "Load average (1 min) at the start and end of each engine's run: "
        + ", ".join(f"{r.engine} {r.load[0]:.2f} → {r.load[1]:.2f}" for r in results)
        + f", on {os.cpu_count()} CPUs; above 0, other work was sharing the CPUs.",
    ]
    servers = " and ".join(r.server for r in results) or "SQLite"
    sizes = " and ".join(f"{r.applications:,} ({r.engine})" for r in results)
    return Result(
        name="reports",
        title=f"the reports dashboard and its rollups on {sizes} applications",
        command=(
            f"TMS_BENCH_REPORTS_POSTGRES_FACTOR={POSTGRES_FACTOR} " if POSTGRES_FACTOR != 5 else ""
        )
        + (f"TMS_BENCH_REPORTS_POSTGRES_DATABASE={REUSED_POSTGRES} " if REUSED_POSTGRES else "")
        + "TMS_MODE=test python -m benchmarks.run --only reports"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"{servers}, on the same machine"),
        rows=[row for result in results for row in _rows(result)],
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
