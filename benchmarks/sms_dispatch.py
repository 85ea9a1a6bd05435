"""``sms-dispatch``: personalised SMS from the outbox to the Africa's Talking simulator.

Every message has its own text, so each is one HTTP request (AFRICASTALKING.md). The
rows are bulk-inserted as ``queued`` (untimed), then drained by the real dispatcher,
``services.dispatch_due(gateway=AfricasTalkingGateway(...))`` called in a loop until
nothing is due, in a child process with its own settings (TMS_SMS_BATCH,
TMS_SMS_CONCURRENCY), on SQLite and on PostgreSQL. A real ``tms worker`` then drains
the same number again, at the default settings.

The simulator (``python -m tms.notifications.tests.simulator``) runs as its own
process. Its capacity is the floor, measured in the same run just before each
dispatcher run: a plain httpx loop, no Django and no database, sending the very same
personalised requests with the same concurrency through one pooled client configured
like the gateway's.

The child entry points (``python -m benchmarks.sms_dispatch drain|fill ...``) are
also used by ``sms-campaign``; the helpers here (simulator process, scratch
PostgreSQL database) are shared with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, benchmark

DEFAULT_MESSAGES = 20_000
API_KEY = "bench-sms-key"
USERNAME = "tms"
# (TMS_SMS_BATCH, TMS_SMS_CONCURRENCY) for the in-process dispatcher; the first is the
# default configuration, which the targets are judged on.
CONFIGS = ((500, 8), (1000, 16), (200, 4))
TARGET_RATE = 500.0
TARGET_RATIO = 0.5
ADMIN_URL_ENV = "TMS_BENCH_POSTGRES"  # an admin connection that may CREATE DATABASE
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TMS = [sys.executable, "-m", "tms.cli"]


# --- Shared helpers ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Simulator:
    """The Africa's Talking simulator as a separate process (its own GIL)."""

    def __init__(self) -> None:
        # The runner logs every httpx request at INFO; the control calls are not news.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tms.notifications.tests.simulator", "--port", "0",
             "--api-key", API_KEY, "--username", USERNAME],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMS_MODE": "test"},
        )  # fmt: skip
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.base_url = f"http://127.0.0.1:{port}"
        self.control = httpx.Client(base_url=self.base_url + "/__sim__/", timeout=30)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control.get("stats").json()
        return stats

    def reset(self) -> None:
        self.control.post("reset").raise_for_status()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def close(self) -> None:
        self.control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def postgres_admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def postgres_available() -> str | None:
    """None when an admin connection works, else why not."""
    import psycopg

    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {postgres_admin_url()} is not available: {exc}"
    return None


def postgres_database_url(name: str) -> str:
    """The Django URL of the database ``name`` on the benchmarks' server."""
    import psycopg

    params = psycopg.conninfo.conninfo_to_dict(postgres_admin_url())
    return (
        f"postgres://{params.get('user') or 'postgres'}@{params.get('host') or '127.0.0.1'}:"
        f"{params.get('port') or 5432}/{name}"
    )


@contextlib.contextmanager
def scratch_postgres(name: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database for this run; dropped afterwards unless ``keep``."""
    import psycopg
    from psycopg import sql

    admin = postgres_admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    django_url = postgres_database_url(name)
    try:
        yield django_url
    finally:
        if keep:
            print(f"Kept database {name}", flush=True)
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def engines(label: str, notes: list[str]) -> list[tuple[str, str | None]]:
    """The engines a benchmark runs on: SQLite always, PostgreSQL (a scratch database
    named after ``label``) when its server answers; else a note says why not."""
    found: list[tuple[str, str | None]] = [("SQLite", None)]
    missing = postgres_available()
    if missing is None:
        found.append(("PostgreSQL", f"tms_bench_{label}_{os.getpid()}"))
    else:
        notes.append(f"The PostgreSQL leg was skipped: {missing}.")
    return found


@contextlib.contextmanager
def engine_database(database: str | None, *, keep: bool = False) -> Iterator[str | None]:
    """The URL of a scratch PostgreSQL database named ``database``, or None for SQLite."""
    if database is None:
        yield None
    else:
        with scratch_postgres(database, keep=keep) as url:
            yield url


def base_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """Settings for a child process: demo mode, this database, quiet logs, no quiet hours."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tms.settings",
        "TMS_MODE": "demo",
        "TMS_DATA_DIR": str(data_dir),
        "TMS_QUIET_HOURS": "",
        "TMS_LOG_LEVEL": "WARNING",
        "TMS_ALLOWED_HOSTS": "127.0.0.1",
        "TMS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
    }
    env.pop("TMS_DATABASE_URL", None)
    if database_url:
        env["TMS_DATABASE_URL"] = database_url
    return env


def worker_env(env: dict[str, str], sim: Simulator) -> dict[str, str]:
    """What a ``tms worker`` needs to send through the simulator."""
    return {
        **env,
        "TMS_SMS_BACKEND": "africastalking",
        "TMS_AT_USERNAME": USERNAME,
        "TMS_AT_API_KEY": API_KEY,
        "TMS_AT_BASE_URL": sim.base_url,
    }


def start_worker(
    env: dict[str, str],
    log: Path,
    args: Sequence[str] = ("--interval", "0.2", "--no-startup-delay"),
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command line
            [*TMS, "worker", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def migrate(env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run([*TMS, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    return time.perf_counter() - began


def child_json(
    command: list[str], env: dict[str, str], module: str = "benchmarks.sms_dispatch"
) -> dict[str, Any]:
    """Run ``python -m <module> ...`` (a benchmark's child entry); its last stdout line
    is JSON."""
    finished = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", module, *command],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    data: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return data


def count_query(database_url: str | None, data_dir: Path, query: str) -> int:
    """One integer from the scratch database, without Django (polling while others write)."""
    if database_url:
        import psycopg

        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
            row = conn.execute(query).fetchone()
    else:
        with contextlib.closing(
            sqlite3.connect(f"file:{data_dir / 'tms.sqlite3'}?mode=ro", uri=True, timeout=30)
        ) as conn:
            row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def personalised(i: int) -> tuple[str, str]:
    """The ``i``th message: its own number and its own text (a rendered ready notice)."""
    return (
        f"+2547{10_000_000 + i:08d}",
        "Your National ID card is READY for collection at Huduma Centre GPO. "
        f"Ref: {i % 10_000:04d} {i // 10_000 % 10_000:04d} {i * 7919 % 100_000:05d}. "
        "Bring: Your lodging slip. Open Mon-Fri 8:00-17:00.",
    )


# --- The floor: plain httpx to the simulator ----------------------------------------------


@dataclass
class Floor:
    concurrency: int
    requests: int
    seconds: float
    client_cpu: float
    simulator_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def floor_requests(base_url: str, count: int, concurrency: int) -> dict[str, float]:
    """In a child process with no Django: the same personalised requests as the gateway
    sends, straight from httpx; the timing, as JSON-able data."""
    url = base_url + "/version1/messaging"
    headers = {
        "apiKey": API_KEY,
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    forms = []
    for i in range(count):
        to, text = personalised(i)
        forms.append({"username": USERNAME, "to": to, "message": text, "bulkSMSMode": "1"})
    # The gateway's own pool limits, so the only difference is what lies around the call.
    client = httpx.Client(
        timeout=httpx.Timeout(10.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        follow_redirects=False,
    )

    def send(form: dict[str, str]) -> None:
        response = client.post(url, data=form, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"simulator answered {response.status_code}")
        if response.json()["SMSMessageData"]["Recipients"][0]["statusCode"] != 101:
            raise RuntimeError("simulator refused a recipient")

    with client:
        send(forms[0])  # connect first: the dispatcher's pool is warm after its first batch
        cpu = time.process_time()
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for _ in pool.map(send, forms[1:]):
                pass
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
    return {"requests": count - 1, "seconds": seconds, "cpu": cpu}


def measure_floor(sim: Simulator, count: int, concurrency: int) -> Floor:
    sim.reset()
    sim_cpu = sim.cpu()
    data = child_json(
        ["floor", "--messages", str(count), "--sim-url", sim.base_url,
         "--concurrency", str(concurrency)],
        {**os.environ, "TMS_MODE": "test"},
    )  # fmt: skip
    sim_cpu = sim.cpu() - sim_cpu
    if sim.stats()["accepted"] != count:
        raise RuntimeError("the floor's sends were not all accepted")
    sim.reset()
    return Floor(concurrency, int(data["requests"]), data["seconds"], data["cpu"], sim_cpu)


# --- The child: fill the outbox, drain it with dispatch_due -------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()


def fill_outbox(count: int) -> float:
    """Bulk-insert ``count`` queued personalised messages (replacing any); seconds taken."""
    from django.db import connection
    from django.utils import timezone

    from tms.notifications.models import Event, Message, Priority
    from tms.notifications.rendering import render_text

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Message._meta.db_table}")
    now = timezone.now()
    batch: list[Message] = []
    for i in range(count):
        to, text = personalised(i)
        rendered = render_text(text, {})
        batch.append(
            Message(
                event=Event.READY,
                priority=Priority.URGENT,
                to=to,
                body=rendered.body,
                language="en",
                segments=rendered.segments,
                encoding=rendered.encoding,
                next_attempt_at=now,
                created_at=now,
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch, batch_size=1000)
            batch = []
    Message.objects.bulk_create(batch, batch_size=1000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Message._meta.db_table}")
    return time.perf_counter() - began


@dataclass
class PhaseClock:
    """Wall time spent in the dispatcher's database phases (claim, record)."""

    seconds: dict[str, float] = field(default_factory=lambda: {"claim": 0.0, "record": 0.0})

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - began

        return timed


def drain(sim_url: str, profile: str | None) -> dict[str, Any]:
    """Call dispatch_due until nothing is due; what happened, as JSON-able data."""
    from django.conf import settings
    from django.db.models import Count

    from tms.notifications import services
    from tms.notifications.gateways.africastalking import AfricasTalkingGateway
    from tms.notifications.models import Message

    clock = PhaseClock()
    # Instrumentation only: dispatch_due looks these up as module globals at each call.
    services._claim = clock.wrap("claim", services._claim)
    services._record = clock.wrap("record", services._record)
    gateway = AfricasTalkingGateway(USERNAME, API_KEY, base_url=sim_url)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    calls = accepted = claimed = 0
    cpu = time.process_time()
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    while True:
        summary = services.dispatch_due(gateway=gateway)
        calls += 1
        claimed += summary.claimed
        accepted += summary.accepted
        if not summary.claimed:
            break
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    gateway.close()
    if profiler and profile:
        profiler.dump_stats(profile)
    states = dict(Message.objects.values("state").annotate(n=Count("id")).values_list("state", "n"))
    return {
        "batch": settings.TMS_SMS_BATCH,
        "concurrency": settings.TMS_SMS_CONCURRENCY,
        "seconds": seconds,
        "cpu": cpu,
        "calls": calls,
        "claimed": claimed,
        "accepted": accepted,
        "claim_seconds": clock.seconds["claim"],
        "record_seconds": clock.seconds["record"],
        "states": states,
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sms_dispatch")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill", help="Bulk-insert N queued personalised messages.")
    fill.add_argument("--messages", type=int, required=True)
    run = sub.add_parser("drain", help="Fill the outbox, then drain it with dispatch_due.")
    run.add_argument("--messages", type=int, required=True)
    run.add_argument("--sim-url", required=True)
    run.add_argument("--profile", help="Write a cProfile of the drain loop here.")
    floor = sub.add_parser("floor", help="Plain httpx to the simulator; no Django.")
    floor.add_argument("--messages", type=int, required=True)
    floor.add_argument("--sim-url", required=True)
    floor.add_argument("--concurrency", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "floor":
        print(json.dumps(floor_requests(args.sim_url, args.messages, args.concurrency)))
        return 0
    _setup_django()
    filled = fill_outbox(args.messages)
    if args.command == "fill":
        print(json.dumps({"fill_seconds": filled}))
        return 0
    result = drain(args.sim_url, args.profile)
    result["fill_seconds"] = filled
    print(json.dumps(result))
    return 0


# --- The benchmark ------------------------------------------------------------------------


@dataclass
class Run:
    engine: str
    batch: int
    concurrency: int
    messages: int
    seconds: float
    dispatcher_cpu: float
    simulator_cpu: float
    claim_seconds: float
    record_seconds: float
    floors: tuple[Floor, Floor]  # just before and just after

    @property
    def floor(self) -> Floor:
        """The faster of the two, so that the ratio errs against the dispatcher."""
        return max(self.floors, key=lambda floor: floor.rate)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.floor.rate


@dataclass
class WorkerRun:
    engine: str
    messages: int
    seconds: float  # from the first message sent to the last
    startup: float  # from starting the worker to its first message sent
    worker_cpu: float
    simulator_cpu: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _dispatch_runs(engine: str, sim: Simulator, env: dict[str, str], messages: int) -> list[Run]:
    runs = []
    for batch, concurrency in CONFIGS:
        before = measure_floor(sim, messages, concurrency)
        sim_cpu = sim.cpu()
        data = child_json(
            ["drain", "--messages", str(messages), "--sim-url", sim.base_url],
            {**env, "TMS_SMS_BATCH": str(batch), "TMS_SMS_CONCURRENCY": str(concurrency)},
        )
        sim_cpu = sim.cpu() - sim_cpu
        stats = sim.stats()
        after = measure_floor(sim, messages, concurrency)
        if data["states"] != {"sent": messages} or stats["accepted"] != messages:
            raise RuntimeError(f"{engine}: not every message was sent once: {data} {stats}")
        if stats["duplicate_sends"] or stats["requests"] != messages:
            raise RuntimeError(f"{engine}: expected one request a message: {stats}")
        run = Run(
            engine=engine,
            batch=batch,
            concurrency=concurrency,
            messages=messages,
            seconds=data["seconds"],
            dispatcher_cpu=data["cpu"],
            simulator_cpu=sim_cpu,
            claim_seconds=data["claim_seconds"],
            record_seconds=data["record_seconds"],
            floors=(before, after),
        )
        print(
            f"  {engine} dispatch_due, batch {batch}, concurrency {concurrency}: "
            f"{run.rate:,.0f} messages/s; floor {before.rate:,.0f} before, "
            f"{after.rate:,.0f} after ({run.ratio:.0%})",
            flush=True,
        )
        runs.append(run)
    return runs


def _worker_run(
    engine: str,
    sim: Simulator,
    env: dict[str, str],
    messages: int,
    database_url: str | None,
    data_dir: Path,
) -> WorkerRun:
    """A real ``tms worker`` drains a filled outbox; progress is polled from the database."""
    child_json(["fill", "--messages", str(messages)], env)
    sim.reset()
    sent_query = "SELECT COUNT(*) FROM notifications_message WHERE state = 'sent'"
    # The scheduler enqueues send-due-sms at once and every second after; that is the
    # only kick, since the rows were bulk-inserted.
    wenv = {
        **worker_env(env, sim),
        "TMS_SMS_SWEEP_SECONDS": "1",
        "TMS_SCHEDULE_CHECK_SECONDS": "0.5",
    }
    sim_cpu = sim.cpu()
    began = time.perf_counter()
    worker = start_worker(wenv, data_dir / "worker.log")
    first: tuple[float, int] | None = None
    worker_cpu = 0.0
    try:
        deadline = began + 600
        while True:
            now = time.perf_counter()
            if now > deadline or worker.poll() is not None:
                log = (data_dir / "worker.log").read_text()[-2000:]
                raise RuntimeError(f"{engine}: the worker did not drain the outbox: {log}")
            sent = count_query(database_url, data_dir, sent_query)
            if sent and first is None:
                first = (now, sent)
            if sent >= messages:
                finished = now
                break
            worker_cpu = cpu_seconds(worker.pid)
            time.sleep(0.1)
    finally:
        stop_process(worker)
    sim_cpu = sim.cpu() - sim_cpu
    stats = sim.stats()
    if stats["accepted"] != messages or stats["duplicate_sends"]:
        raise RuntimeError(f"{engine}: the worker's sends do not add up: {stats}")
    assert first is not None
    return WorkerRun(
        engine=engine,
        messages=messages - first[1],
        seconds=finished - first[0],
        startup=first[0] - began,
        worker_cpu=worker_cpu,
        simulator_cpu=sim_cpu,
    )


def _rows(runs: list[Run], workers: list[WorkerRun]) -> list[tuple[str, str]]:
    rows = []
    for run in runs:
        label = f"{run.engine}, dispatch_due, batch {run.batch}, concurrency {run.concurrency}"
        rows.append(
            (
                label,
                f"{run.rate:,.0f} messages/s ({run.messages:,} in {run.seconds:.1f} s); floor "
                f"{run.floors[0].rate:,.0f} / {run.floors[1].rate:,.0f} requests/s (before / "
                f"after); ratio {run.ratio:.0%} of the faster",
            )
        )
    for run in runs:
        other = run.seconds - run.claim_seconds - run.record_seconds
        rows.append(
            (
                f"{run.engine}, batch {run.batch}/concurrency {run.concurrency}: where time went",
                f"claim {run.claim_seconds:.1f} s, sending {other:.1f} s, record "
                f"{run.record_seconds:.1f} s; CPU a message: dispatcher "
                f"{1000 * run.dispatcher_cpu / run.messages:.2f} ms (floor's client "
                f"{1000 * run.floor.client_cpu / run.floor.requests:.2f} ms), simulator "
                f"{1000 * run.simulator_cpu / run.messages:.2f} ms",
            )
        )
    for worker in workers:
        rows.append(
            (
                f"{worker.engine}, real `tms worker` (batch 500, concurrency 8)",
                f"{worker.rate:,.0f} messages/s ({worker.messages:,} in {worker.seconds:.1f} s "
                f"after a {worker.startup:.1f} s start); CPU worker {worker.worker_cpu:.1f} s, "
                f"simulator {worker.simulator_cpu:.1f} s",
            )
        )
    return rows


def _verdicts(runs: list[Run]) -> list[str]:
    notes = []
    for engine in dict.fromkeys(run.engine for run in runs):
        mine = [run for run in runs if run.engine == engine]
        default = mine[0]
        best = max(mine, key=lambda run: run.rate)
        rate_ok = default.rate >= TARGET_RATE
        ratio_ok = default.ratio >= TARGET_RATIO
        notes.append(
            f"**{engine}, default settings (batch {default.batch}, concurrency "
            f"{default.concurrency})**: {default.rate:,.0f} messages/s against a target of "
            f"{TARGET_RATE:,.0f}: {'met' if rate_ok else 'NOT met'}; {default.ratio:.0%} of the "
            f"simulator's {default.floor.rate:,.0f} requests/s against a target of "
            f"{TARGET_RATIO:.0%}: {'met' if ratio_ok else 'NOT met'}. Best of the settings "
            f"tried: batch {best.batch}, concurrency {best.concurrency}, {best.rate:,.0f} "
            f"messages/s ({best.ratio:.0%} of its floor)."
        )
    floors = [run.floor for run in runs]
    client = sum(floor.client_cpu for floor in floors) / sum(floor.requests for floor in floors)
    server = sum(floor.simulator_cpu for floor in floors) / sum(floor.requests for floor in floors)
    overhead = [
        (run.claim_seconds + run.record_seconds) / run.seconds for run in runs if run.seconds
    ]
    busy = sum(floor.client_cpu / floor.seconds for floor in floors) / len(floors)
    notes.append(
        "What limits both: the floor is bound by its client, not by the simulator. "
        f"Over all floor runs the httpx client used {1000 * client:.2f} ms of CPU a request "
        f"({busy:.0%} of one CPU on average, and one GIL, however many threads), the "
        f"simulator {1000 * server:.2f} ms (so on one CPU of its own it could serve roughly "
        f"{1 / server:,.0f} requests/s). The dispatcher pays the same httpx cost, plus its "
        "database phases, which do not overlap the sending: claim and record took "
        f"{min(overhead):.0%} to {max(overhead):.0%} of the dispatcher's wall time."
    )
    return notes


@benchmark(
    "sms-dispatch",
    "personalised SMS drained from the outbox by dispatch_due to the Africa's Talking "
    "simulator (one request each), on SQLite and PostgreSQL, against a plain httpx floor",
)
def run(options: Options) -> Result:
    messages = options.applications or DEFAULT_MESSAGES
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-sms-"))
    runs: list[Run] = []
    workers: list[WorkerRun] = []
    notes: list[str] = []
    server = "PostgreSQL (not available)"
    try:
        with Simulator() as sim:
            for engine, database in engines("sms", notes):
                data_dir = workdir / engine.lower()
                data_dir.mkdir()
                with engine_database(database, keep=options.keep) as url:
                    env = base_env(data_dir, url)
                    migrate(env)
                    if url:
                        server = _postgres_version(url)
                    print(f"{engine}: {messages:,} personalised messages", flush=True)
                    runs += _dispatch_runs(engine, sim, env, messages)
                    worker = _worker_run(engine, sim, env, messages, url, data_dir)
                    print(f"  {engine} tms worker: {worker.rate:,.0f} messages/s", flush=True)
                    workers.append(worker)
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    load_after = os.getloadavg()[0]
    notes = [*_verdicts(runs), *notes]
    notes += [
        f"Method: {messages:,} queued messages, each to its own number with its own text "
        "(so one HTTP request each), are bulk-inserted untimed into a freshly migrated "
        "database; a child process (TMS_MODE=demo, TMS_QUIET_HOURS empty) then calls "
        "`dispatch_due(gateway=AfricasTalkingGateway(...))` until it claims nothing, with "
        "TMS_SMS_BATCH and TMS_SMS_CONCURRENCY as shown. Timed: that loop, from the first "
        "claim to the last record. Every message must end `sent`, and the simulator must "
        "have answered exactly one request per message with no duplicate.",
        "The floor is the simulator's capacity as an httpx client sees it, measured just "
        "before each dispatcher run with its concurrency: the same personalised requests "
        "(same form fields and headers), from threads sharing one client with the "
        "gateway's pool limits, no Django, no database. The simulator is a separate "
        "process (Python's ThreadingHTTPServer), so it does not share the dispatcher's GIL; "
        "both share the machine's CPUs, and with PostgreSQL the server does too.",
        "Where time went: the wall time inside `_claim` (SELECT and UPDATE of a batch, one "
        "transaction) and `_record` (a SELECT of the live claims and one UPDATE a message, "
        "one transaction), measured by wrapping those functions in the child; the rest of "
        "`dispatch_due` is the concurrent HTTP sending. CPU is user + system seconds.",
        "The `tms worker` row: a real worker process (TMS_SMS_BACKEND=africastalking to the "
        "simulator, default batch and concurrency) started on a filled outbox; "
        "TMS_SMS_SWEEP_SECONDS=1 so its scheduler enqueues send-due-sms at once (the "
        "bulk-inserted rows started no task). The rate counts from the first message seen "
        "sent to the last (polled every 0.1 s from the database).",
        f"Load average (1 min) when the run began: {load_before:.2f}, when it ended: "
        f"{load_after:.2f}, on {os.cpu_count()} CPUs. The dispatcher (or the floor's client) "
        "and the simulator each keep about one CPU busy, so above about 2 other work was "
        "sharing the CPUs, and the times are longer than on an idle machine.",
    ]
    return Result(
        name="sms-dispatch",
        title=f"{messages:,} personalised SMS through dispatch_due to the AT simulator",
        command="TMS_MODE=test python -m benchmarks.run --only sms-dispatch"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"SQLite {sqlite3.sqlite_version} and {server}, on the same machine"),
        rows=_rows(runs, workers),
        notes=notes,
    )


def _postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0].split()[0] if row else '?'}"


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
