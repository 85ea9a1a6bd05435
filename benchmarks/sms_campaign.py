"""``sms-campaign``: queue a 500,000-message reminder campaign on PostgreSQL, then check
that a citizen's reply still goes first while a real ``tms worker`` dispatches it.

Set-up (untimed): a scratch PostgreSQL database, ``tms generate --applications 2N``
(about 15.5% come out ``ready``), then collected applications, spread over the table,
are turned back into uncollected ``ready`` ones with one SQL UPDATE (status, ready date
7 to 46 days ago, no closing date) until N ready applications have waited 7 days or
more. No message exists yet, so each of those is due one reminder (or a final notice);
overdue applications not yet ready are due a delay apology as well.

Timed: ``reminders_queue()`` in a child process (TMS_MODE=demo, TMS_DATABASE_URL at the
scratch database). Then a ``tms worker`` (TMS_SMS_BACKEND=africastalking to the
simulator, default batch and concurrency, TMS_QUIET_HOURS empty) dispatches the
backlog while another child queues a reply with ``reply_queue()`` every few seconds
and times each until its state is ``sent``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, Skipped, benchmark
from benchmarks.sms_dispatch import (
    TMS,
    Simulator,
    base_env,
    cpu_seconds,
    migrate,
    postgres_available,
    scratch_postgres,
    start_worker,
    stop_process,
    worker_env,
)

DEFAULT_READY = 500_000
GENERATE_FACTOR = 2  # applications generated per ready application wanted
SEED = 1
TARGET_QUEUE_SECONDS = 120.0
TARGET_REPLY_SECONDS = 5.0
REPLY_EVERY = 2.0  # seconds between replies
REPLY_WINDOW = 45.0  # seconds of the worker's dispatching during which replies are sent
REPLY_TIMEOUT = 60.0
HOURLY_JOB = "queue-reminders"


# --- Children -----------------------------------------------------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()


def _hold_hourly_job() -> None:
    """Mark the worker's hourly queue-reminders job as already run for the next hours, so
    the worker started later does not examine the whole campaign again instead of
    sending (this run stands for that job)."""
    from django.utils import timezone

    from tms.core import schedule
    from tms.core.models import ScheduledRun

    job = schedule.JOBS[HOURLY_JOB]
    now = timezone.now()
    for step in range(3):
        ScheduledRun.objects.get_or_create(
            job=job.name, period_start=job.period_start(now + step * job.every)
        )


def queue_campaign(profile: str | None) -> dict[str, Any]:
    from django.db.models import Count

    from tms.notifications.models import Message
    from tms.notifications.reminders import reminders_queue

    _hold_hourly_job()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu = time.process_time()
    began = time.perf_counter()
    summary = reminders_queue()
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    by_event = dict(
        Message.objects.values("event").annotate(n=Count("id")).values_list("event", "n")
    )
    return {
        "seconds": seconds,
        "cpu": cpu,
        "examined": summary.examined,
        "queued": summary.queued,
        "by_event": by_event,
        "rows": sum(by_event.values()),
    }


def send_replies(window: float, every: float) -> dict[str, Any]:
    """Queue a reply every ``every`` seconds for ``window`` seconds; time each to ``sent``."""
    from tms.notifications.models import Message, MessageState
    from tms.notifications.services import reply_queue

    def sent_count() -> int:
        return Message.objects.filter(state=MessageState.SENT).count()

    samples: list[dict[str, Any]] = []
    sent_before = sent_count()
    began = time.perf_counter()
    n = 0
    while time.perf_counter() - began < window:
        n += 1
        queued_at = time.perf_counter()
        message = reply_queue(
            to=f"+25479{n:07d}",
            text=f"Ref 4821 7730 {n:04d} 2: READY for collection at Huduma Centre GPO.",
            language="en",
        )
        assert message is not None
        state: str = MessageState.QUEUED
        while time.perf_counter() - queued_at < REPLY_TIMEOUT:
            state = Message.objects.filter(pk=message.pk).values_list("state", flat=True)[0]
            if state not in {MessageState.QUEUED, MessageState.SENDING}:
                break
            time.sleep(0.01)
        latency = time.perf_counter() - queued_at
        samples.append({"at": queued_at - began, "latency": latency, "state": state})
        time.sleep(max(0.0, queued_at + every - time.perf_counter()))
    seconds = time.perf_counter() - began
    return {"samples": samples, "seconds": seconds, "sent": sent_count() - sent_before}


def claim_plan() -> dict[str, Any]:
    """How the dispatcher's claim fares on the queued campaign: ``services._claim`` timed
    three times (each rolled back), and PostgreSQL's plan for its SELECT, built as
    ``_claim`` builds it."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tms.notifications import services
    from tms.notifications.models import Message, MessageState

    timings = []
    for _ in range(3):
        with transaction.atomic():
            began = time.perf_counter()
            claimed = services._claim(gateway_name="bench", limit=500, now=timezone.now())
            timings.append(time.perf_counter() - began)
            transaction.set_rollback(True)
    with transaction.atomic():
        due = (
            Message.objects.filter(state=MessageState.QUEUED, next_attempt_at__lte=timezone.now())
            .order_by("priority", "next_attempt_at", "id")
            .select_for_update(skip_locked=True)
        )
        query = due.values_list("id", "to", "body", "attempts")[:500].query
        sql, params = query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return {"claimed": len(claimed), "seconds": timings, "plan": plan}


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sms_campaign")
    sub = parser.add_subparsers(dest="command", required=True)
    queue = sub.add_parser("queue", help="Time reminders_queue() once.")
    queue.add_argument("--profile", help="Write a cProfile of it here.")
    replies = sub.add_parser("replies", help="Queue replies; time each until sent.")
    replies.add_argument("--window", type=float, default=REPLY_WINDOW)
    replies.add_argument("--every", type=float, default=REPLY_EVERY)
    sub.add_parser("claim", help="Time the dispatcher's claim on the queued outbox.")
    args = parser.parse_args(argv)
    _setup_django()
    if args.command == "queue":
        result = queue_campaign(args.profile)
    elif args.command == "claim":
        result = claim_plan()
    else:
        result = send_replies(args.window, args.every)
    print(json.dumps(result))
    return 0


# --- Set-up in the parent (plain psycopg) -------------------------------------------------


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


ELIGIBLE = """
SELECT COUNT(*) FROM applications_application
WHERE status = 'ready'
  AND (now() AT TIME ZONE %(tz)s)::date - (ready_at AT TIME ZONE %(tz)s)::date >= 7
"""

# Collected applications, spread over the table by a multiplicative hash of the id,
# become uncollected ready ones that waited 7 to 46 days (within every retention).
CONVERT = """
WITH chosen AS (
    SELECT id FROM applications_application WHERE status = 'collected'
    ORDER BY (id * 2654435761) %% 4294967296 LIMIT %(n)s
)
UPDATE applications_application AS a
SET status = 'ready',
    closed_at = NULL,
    ready_at = now() - make_interval(days => 7 + (a.id %% 40)::int,
                                     secs => (a.id %% 36000)::float8),
    status_changed_at = now() - make_interval(days => 7 + (a.id %% 40)::int,
                                              secs => (a.id %% 36000)::float8)
FROM chosen WHERE a.id = chosen.id
"""


def prepare(url: str, ready: int, time_zone: str) -> dict[str, int]:
    with _connect(url) as conn:
        generated = conn.execute(ELIGIBLE, {"tz": time_zone}).fetchone()[0]
        needed = max(0, ready - generated)
        converted = conn.execute(CONVERT, {"n": needed}).rowcount if needed else 0
        eligible = conn.execute(ELIGIBLE, {"tz": time_zone}).fetchone()[0]
        conn.execute("VACUUM ANALYZE")
        total, ready_all = conn.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'ready') "
            "FROM applications_application"
        ).fetchone()
        messages = conn.execute("SELECT COUNT(*) FROM notifications_message").fetchone()[0]
    if eligible < ready:
        raise RuntimeError(f"only {eligible:,} ready applications need a reminder")
    if messages:
        raise RuntimeError("the scratch database already has messages")
    return {
        "applications": total,
        "ready": ready_all,
        "generated_eligible": generated,
        "converted": converted,
        "eligible": eligible,
    }


def _child(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    began = time.perf_counter()
    finished = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.sms_campaign", *command],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    data: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return data, time.perf_counter() - began


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@benchmark(
    "sms-campaign",
    "reminders_queue() for a 500,000-message campaign on PostgreSQL, then reply latency "
    "while a real tms worker dispatches it (skipped without PostgreSQL)",
)
def run(options: Options) -> Result:
    from django.conf import settings

    missing = postgres_available()
    if missing is not None:
        raise Skipped(missing)
    ready = options.applications or DEFAULT_READY
    generate = GENERATE_FACTOR * ready
    loads = {"the run began": os.getloadavg()[0]}
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-campaign-"))
    server = "PostgreSQL"
    try:
        with (
            Simulator() as sim,
            scratch_postgres(f"tms_bench_sms_{os.getpid()}", keep=options.keep) as url,
        ):
            env = base_env(workdir, url)
            migrate(env)
            with _connect(url) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                server = f"PostgreSQL {row[0].split()[0]}"
            print(f"$ tms generate --applications {generate} --seed {SEED}", flush=True)
            began = time.perf_counter()
            subprocess.run(  # noqa: S603 - our own command line
                [*TMS, "generate", "--applications", str(generate), "--seed", str(SEED),
                 "--no-progress"],
                env=env,
                check=True,
            )  # fmt: skip
            generate_seconds = time.perf_counter() - began
            began = time.perf_counter()
            setup = prepare(url, ready, settings.TIME_ZONE)
            prepare_seconds = time.perf_counter() - began
            print(f"Set up: {setup}", flush=True)

            print("Timing reminders_queue()...", flush=True)
            loads["queueing began"] = os.getloadavg()[0]
            queued, queue_wall = _child(["queue"], env)
            loads["queueing ended"] = os.getloadavg()[0]
            print(
                f"  queued {queued['queued']:,} in {queued['seconds']:.1f} s {queued['by_event']}",
                flush=True,
            )
            if queued["rows"] != queued["queued"]:
                raise RuntimeError(f"rows and summary disagree: {queued}")

            claim, _ = _child(["claim"], env)
            print(f"  claim of 500 from the backlog: {claim['seconds']}", flush=True)
            print("\n".join(claim["plan"]), flush=True)

            print("Starting a tms worker; sending replies while it dispatches...", flush=True)
            sim.reset()
            sim_cpu = sim.cpu()
            worker = start_worker(worker_env(env, sim), workdir / "worker.log", args=())
            worker_cpu = 0.0
            try:
                replies, _ = _child(["replies"], env)
                worker_cpu = cpu_seconds(worker.pid)
                if worker.poll() is not None:
                    log = (workdir / "worker.log").read_text()[-2000:]
                    raise RuntimeError(f"the worker stopped: {log}")
            finally:
                stop_process(worker)
            sim_cpu = sim.cpu() - sim_cpu
            loads["replies ended"] = os.getloadavg()[0]
            stats = sim.stats()
            if stats["duplicate_sends"]:
                raise RuntimeError(f"duplicate sends: {stats}")
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    samples = replies["samples"]
    latencies = [sample["latency"] for sample in samples]
    unsent = [sample for sample in samples if sample["state"] != "sent"]
    worst = max(latencies)
    queue_ok = queued["seconds"] < TARGET_QUEUE_SECONDS
    reply_ok = worst <= TARGET_REPLY_SECONDS and not unsent
    rate = queued["queued"] / queued["seconds"]
    cycle = replies["seconds"] / max(1, round(replies["sent"] / 500))
    events = ", ".join(f"{event} {n:,}" for event, n in sorted(queued["by_event"].items()))
    rows = [
        ("applications (generated, then prepared)", f"{setup['applications']:,}"),
        (
            "ready applications that waited ≥ 7 days, no message yet",
            f"{setup['eligible']:,} ({setup['generated_eligible']:,} as generated, "
            f"{setup['converted']:,} turned from collected back to ready)",
        ),
        ("reminders_queue(): time", f"{queued['seconds']:.1f} s"),
        ("messages queued (Message rows created)", f"{queued['rows']:,} ({events})"),
        ("queued messages/s", f"{rate:,.0f}"),
        ("applications examined", f"{queued['examined']:,}"),
        (
            "CPU of the queueing process",
            f"{queued['cpu']:.1f} s ({queued['cpu'] / queued['seconds']:.0%} of its wall time)",
        ),
        ("child process wall time (Django start-up included)", f"{queue_wall:.1f} s"),
        (
            "reply latency, queued to sent, while the worker dispatches the campaign",
            f"median {median(latencies):.2f} s, 90th percentile {_percentile(latencies, 0.9):.2f} "
            f"s, max {worst:.2f} s ({len(samples)} replies, one every {REPLY_EVERY:.0f} s)",
        ),
        (
            "campaign messages sent by the worker meanwhile",
            f"{replies['sent']:,} in {replies['seconds']:.0f} s "
            f"({replies['sent'] / replies['seconds']:,.0f} messages/s; CPU worker "
            f"{worker_cpu:.1f} s, simulator {sim_cpu:.1f} s)",
        ),
        (
            "the dispatcher's claim of 500 from this backlog (`services._claim`, idle)",
            f"{median(claim['seconds']) * 1000:,.0f} ms (median of 3, rolled back); plan: "
            + "; ".join(
                re.sub(r"\(actual time=\S+ (rows=\d+) loops=\d+\)", r"(\1)", line)
                .strip()
                .removeprefix("->")
                .strip()
                for line in claim["plan"]
                if "Scan" in line or "Sort Method" in line or "Sort Key" in line
            ),
        ),
        ("set-up: tms generate", f"{generate_seconds:.1f} s ({generate:,} applications)"),
        ("set-up: SQL conversion and VACUUM ANALYZE", f"{prepare_seconds:.1f} s"),
    ]
    notes = [
        f"**Queueing target (under {TARGET_QUEUE_SECONDS:.0f} s for 500,000 messages)**: "
        f"{queued['rows']:,} messages in {queued['seconds']:.1f} s: "
        + ("met." if queue_ok and queued["rows"] >= 500_000 else "NOT met.")
        + (
            ""
            if queued["rows"] >= 500_000
            else " (This run was smaller than 500,000 messages: it cannot meet the target.)"
        ),
        f"**Replies-first target (sent within {TARGET_REPLY_SECONDS:.0f} s)**: worst "
        f"{worst:.3f} s over {len(samples)} replies"
        + (f", {len(unsent)} not sent within {REPLY_TIMEOUT:.0f} s" if unsent else "")
        + (": met." if reply_ok else ": NOT met."),
        f"Set-up: `tms generate --applications {generate:,} --seed {SEED}` into a scratch "
        "database (about 15.5% come out ready, with their own ready dates), then one SQL "
        f"UPDATE turned {setup['converted']:,} collected applications, chosen by a hash of "
        "their id so they spread over the table, back into ready ones (ready date 7 to 46 "
        "days ago, inside every service's retention; closing date cleared; their history "
        "rows left as they were, which the campaign does not read), until "
        f"{setup['eligible']:,} ready applications had waited 7 days or more; then VACUUM "
        "ANALYZE. This stands in for generating ~3.3 million applications (about 4.5 "
        "minutes here), which the 10-minute budget of a benchmark does not allow. The "
        "campaign's keyset scan of applications by id reads the whole table, so on a "
        "3.3-million-row table it reads about 3 times as many rows; overdue applications "
        "(delay apologies) would also be about 3 times as many.",
        "Timed: `reminders_queue()` alone, from its call to its return, in a child process "
        "with TMS_MODE=demo and TMS_DATABASE_URL at the scratch database, with no worker "
        "running (nothing else touching the database). Before it, the worker's hourly "
        f"`{HOURLY_JOB}` job is marked as run for the next hours (untimed), so that the "
        "worker started afterwards sends rather than examining the campaign again; this "
        "run stands for that job. Its on-commit kicks enqueue send-due-sms tasks in the "
        "database task queue, which the worker then runs.",
        "Replies-first: a `tms worker` (defaults: batch 500, concurrency 8, polling every "
        "1 s) with TMS_SMS_BACKEND=africastalking to the simulator (a separate process) "
        "and TMS_QUIET_HOURS empty starts on the queued campaign; a child process then "
        f"calls `reply_queue(to=..., text=..., language='en')` every {REPLY_EVERY:.0f} s "
        f"for {REPLY_WINDOW:.0f} s and polls the message's state every 10 ms until it "
        "leaves queued/sending; latency is from just before `reply_queue()` to the first "
        "poll that sees it `sent`.",
        "The claim row is measured after queueing and before the worker starts, with "
        "nothing else running: `services._claim(limit=500)` in a transaction that is "
        "rolled back, and `EXPLAIN ANALYZE` of its SELECT as the ORM builds it. Each of "
        "the worker's dispatch cycles (claim, send, record) starts with that claim; "
        f"meanwhile the worker's cycles took {cycle:.2f} s each on average "
        f"({replies['seconds']:.0f} s for {replies['sent']:,} messages in batches of 500), and "
        "a reply, claimed first by priority, is marked sent only when its whole batch has "
        "been sent and recorded, so its latency is up to about two cycles.",
        "Load average (1 min) when "
        + ", when ".join(f"{moment} {load:.2f}" for moment, load in loads.items())
        + f", on {os.cpu_count()} CPUs, which the queueing or sending process, PostgreSQL "
        "and the simulator share; each of them keeps about one CPU busy, so above about 1 "
        "other work was sharing the CPUs, and the times are longer than on an idle machine.",
    ]
    return Result(
        name="sms-campaign",
        title=f"{queued['rows']:,}-message reminder campaign on PostgreSQL, and replies first",
        command="TMS_MODE=test python -m benchmarks.run --only sms-campaign"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(f"{server}, on the same machine"),
        rows=rows,
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
