"""``serve-processes``: lookups/s with one and with two ``tms serve`` processes (issue 8).

Shows whether the web tier scales with processes on one machine. The data, the
references, the server environment and the closed-loop load are those of
``benchmarks.lookups`` (its helpers are reused): N applications (default 1,000,000)
generated once into a temporary SQLite file, 10,000 real references, wrk cycling
through them on the public JSON lookup (``/api/v1/track/<ref>``) and the HTML page
(``/track/?ref=<ref>``), 32 keep-alive connections, TMS_MODE=production with the
limiter's counters in Redis (REDIS_URL, db 14) since several processes must share
them, the lookup limits raised so that the limiter runs but never refuses.

Configurations, ``--threads 4`` (``tms serve``'s default) throughout: one process
with ``--workers 1`` against two such processes, and one with ``--workers 2``
against two such. Each process has its own port and its own TMS_METRICS_DIR (``tms
serve`` empties it at start, so two processes must not share one).

Two processes are loaded by two wrk instances run at the same time, one a process,
each with half the connections and half the wrk threads; their requests are added
up. Chosen over one port shared with SO_REUSEPORT because it needs no change to
``tms serve``, splits the load exactly in half (the kernel spreads SO_REUSEPORT
connections by a hash of their addresses, so 32 connections need not split 16/16),
and the client side stays the same as in the one-process rows: 2 wrk threads, 32
connections in all. The second instance's list of paths is rotated so that, between
them, the two instances send the same sequence of references as one wrk with two
threads does.

Each configuration is measured twice, in the order A B C D, then D C B A, so that a
drift in the machine's other work weighs on all of them alike; a row adds up both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.lookups import (
    CONNECTIONS,
    DEFAULT_APPLICATIONS,
    LONG,
    REDIS_URL,
    REFERENCES,
    SEED,
    TMS,
    WARM,
    WRK_SCRIPT,
    WRK_THREADS,
    Closed,
    Server,
    _commit,
    _cpu,
    _generate,
    _redis_available,
    _references,
    _say,
    _write_lines,
    _wrk,
    production_env,
    serving,
)
from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, Skipped, benchmark

THREADS = 4  # tms serve's default (TMS_WEB_THREADS)
WORKERS = (1, 2)  # --workers of each process
PROCESSES = (1, 2)
ROUNDS = 2
KINDS = {"json": "JSON", "html": "HTML"}
STRIDE = 7919  # the wrk script's offset between its threads' starting points
TARGET_RATIO = 1.5  # two/one with --workers 1, JSON, on a machine with >= 2 idle CPUs
CACHE_PREFIX = "tms-bench-serve"

Config = tuple[int, int]  # (processes, workers each)


def _together(runs: list[Closed], *, concurrent: bool) -> Closed:
    """Runs added up: at the same time (one window: the longest) or one after another."""

    def total(values: list[float]) -> float:
        return max(values) if concurrent else sum(values)

    return Closed(
        requests=sum(r.requests for r in runs),
        seconds=total([r.seconds for r in runs]),
        bytes_read=sum(r.bytes_read for r in runs),
        bad=sum(r.bad for r in runs),
        server_cpu=sum(r.server_cpu for r in runs),
        wrk_cpu=sum(r.wrk_cpu for r in runs),
        machine_busy=total([r.machine_busy for r in runs]),
        load=runs[0].load,
    )


def _load(servers: list[Server], files: list[Path], seconds: float, script: Path) -> Closed:
    """One closed-loop run against all ``servers`` at once, a wrk instance each."""
    if len(servers) == 1:
        return _wrk(servers[0], files[0], seconds, script)
    connections = CONNECTIONS // len(servers)
    threads = max(WRK_THREADS // len(servers), 1)
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = list(
            pool.map(
                lambda server, paths: _wrk(server, paths, seconds, script, connections, threads),
                servers,
                files,
            )
        )
    return _together(runs, concurrent=True)


def _measure(
    config: Config,
    env: dict[str, str],
    files: dict[str, list[Path]],
    probe: str,
    script: Path,
    workdir: Path,
) -> dict[str, tuple[Closed, float]]:
    """Start the configuration's processes, warm them, run JSON then HTML: each run's
    figures and the Redis server's CPU seconds meanwhile."""
    processes, workers = config
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                serving(
                    "tms",
                    {**env, "TMS_METRICS_DIR": str(workdir / f"metrics-{i}")},
                    workers,
                    THREADS,
                    probe,
                    workdir / "servers.log",
                )
            )
            for i in range(processes)
        ]
        for kind in KINDS:
            _load(servers, files[kind], WARM, script)
        measured = {}
        for kind in KINDS:
            redis_before = _redis_cpu()
            closed = _load(servers, files[kind], LONG, script)
            measured[kind] = (closed, _redis_cpu() - redis_before)
        return measured


def _redis_cpu() -> float:
    """CPU seconds of the local redis-server processes so far: the shared cache works
    for every lookup, and would otherwise count as 'other processes'."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "redis-server":
                total += _cpu(int(comm.parent.name))
    return total


def _limiter_keys(delete: bool) -> int:
    """The limiter's keys under this benchmark's prefix in Redis (deleted if asked)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{CACHE_PREFIX}:*", count=1000))
        if delete:
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def _name(config: Config) -> str:
    processes, workers = config
    return f"{processes} process{'es' if processes > 1 else ''} x --workers {workers}"


def _row_text(total: Closed, runs: list[Closed], redis_cpu: float) -> str:
    cpu = total.server_cpu / max(total.requests, 1)
    redis = redis_cpu / total.seconds
    return (
        f"{total.rate:,.0f}/s ({total.requests:,} in {total.seconds:.1f} s; the "
        f"{len(runs)} runs {', '.join(f'{r.rate:,.0f}' for r in runs)}/s); non-2xx answers "
        f"and socket errors: {total.bad:,}; server CPU {1e6 * cpu:,.0f} µs a request, "
        f"{total.server_cpu / total.seconds:.2f} CPUs busy; Redis {redis:.2f} CPU, wrk "
        f"{total.wrk_cpu / total.seconds:.2f} CPU, other processes "
        f"{max(total.others - redis, 0.0):.2f} CPU"
    )


@benchmark(
    "serve-processes",
    "public lookups/s (JSON and HTML) with one and with two `tms serve` processes on the "
    "same machine, limiter counters shared in Redis",
)
def run(options: Options) -> Result:
    if shutil.which("wrk") is None:
        raise Skipped("wrk is not installed (apt-get install -y wrk)")
    if not _redis_available():
        # Without a shared cache each process would count the limits on its own.
        raise Skipped(f"nothing answers PING at {REDIS_URL}; the processes must share counters")
    count = options.applications or DEFAULT_APPLICATIONS
    load_start = os.getloadavg()
    commit = _commit()
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-serve-"))
    configs: list[Config] = [(p, w) for w in WORKERS for p in PROCESSES]
    runs: dict[Config, dict[str, list[Closed]]] = {c: {k: [] for k in KINDS} for c in configs}
    redis_seconds = {c: dict.fromkeys(KINDS, 0.0) for c in configs}
    try:
        print(f"Generating {count:,} applications into {workdir} (untimed)...", flush=True)
        database, generate_seconds = _generate(workdir, count)
        _say(f"generated in {generate_seconds:.0f} s")
        references = _references(database, REFERENCES)
        paths = {
            "json": [f"/api/v1/track/{r}" for r in references],
            "html": [f"/track/?ref={r}" for r in references],
        }
        # Per kind, one list of paths a process; the second starts where one wrk's
        # second thread would.
        shift = STRIDE % len(references)
        files = {
            kind: [
                _write_lines(workdir / f"{kind}-{i}.txt", lines[i * shift :] + lines[: i * shift])
                for i in range(max(PROCESSES))
            ]
            for kind, lines in paths.items()
        }
        script = workdir / "cycle.lua"
        script.write_text(WRK_SCRIPT)
        env = {
            **production_env(workdir),
            "TMS_CACHE_URL": REDIS_URL,
            "TMS_CACHE_PREFIX": CACHE_PREFIX,
        }
        subprocess.run(  # noqa: S603 - production needs the static manifest
            [*TMS, "collectstatic", "--noinput", "-v0"], env=env, check=True
        )
        _limiter_keys(delete=True)  # a clean start, whatever an earlier run left

        for round_ in range(ROUNDS):
            for config in configs if round_ % 2 == 0 else configs[::-1]:
                measured = _measure(config, env, files, paths["json"][0], script, workdir)
                for kind, (closed, redis_cpu) in measured.items():
                    runs[config][kind].append(closed)
                    redis_seconds[config][kind] += redis_cpu
                _say(
                    f"round {round_ + 1}, {_name(config)}: "
                    + ", ".join(f"{KINDS[k]} {c.rate:,.0f}/s" for k, (c, _) in measured.items())
                )
        limiter_keys = _limiter_keys(delete=True)
        load_end = os.getloadavg()
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    totals = {c: {k: _together(runs[c][k], concurrent=False) for k in KINDS} for c in configs}
    cpus = os.cpu_count() or 1
    rows: list[tuple[str, str]] = [
        ("CPUs on this machine", f"{cpus} (`os.cpu_count()`); wrk runs on the same machine"),
        (
            "server",
            f"`tms serve`, gunicorn gthread, {THREADS} threads a worker, TMS_MODE=production, "
            f"limiter counters in Redis ({REDIS_URL})",
        ),
    ]
    ratios: dict[tuple[str, int], float] = {}
    for kind, label in KINDS.items():
        for workers in WORKERS:
            one, two = totals[(1, workers)][kind], totals[(2, workers)][kind]
            ratio = two.rate / one.rate
            ratios[(kind, workers)] = ratio
            cpu_one = one.server_cpu / max(one.requests, 1)
            cpu_two = two.server_cpu / max(two.requests, 1)
            rows += [
                (
                    f"{label} lookups/s, {_name((1, workers))}",
                    _row_text(one, runs[(1, workers)][kind], redis_seconds[(1, workers)][kind]),
                ),
                (
                    f"{label} lookups/s, {_name((2, workers))}",
                    _row_text(two, runs[(2, workers)][kind], redis_seconds[(2, workers)][kind]),
                ),
                (
                    f"{label} two/one, --workers {workers}",
                    f"{ratio:.2f} by rate; server CPU a request two/one {cpu_two / cpu_one:.2f}",
                ),
            ]

    # What the two single-worker processes could have had: the CPUs less wrk's, Redis's
    # and the other processes'.
    two_single = totals[(2, 1)]["json"]
    two_redis = redis_seconds[(2, 1)]["json"] / two_single.seconds
    two_wrk = two_single.wrk_cpu / two_single.seconds
    two_others = max(two_single.others - two_redis, 0.0)
    left = cpus - two_wrk - two_redis - two_others
    ratio = ratios[("json", 1)]
    if ratio >= TARGET_RATIO:
        verdict = "met"
    elif left < 2:
        verdict = (
            f"NOT met here, and not testable here: the judgement needs >= 2 idle CPUs for "
            f"the servers, and wrk, Redis and the other processes left them {left:.2f}"
        )
    else:
        verdict = "NOT met"
    # Each round's ratio: how much the machine's other work moved the figure.
    by_round = ", ".join(
        f"{two.rate / one.rate:.2f}"
        for one, two in zip(runs[(1, 1)]["json"], runs[(2, 1)]["json"], strict=True)
    )
    notes = [
        f"**Judgement** (JSON, two processes against one, `--workers 1` each): ratio "
        f"{ratio:.2f} (round by round: {by_round}) against {TARGET_RATIO:g} on a machine "
        f"with >= 2 idle CPUs: {verdict}. "
        f"With `--workers 2` each: {ratios[('json', 2)]:.2f}. HTML: "
        f"{ratios[('html', 1)]:.2f} and {ratios[('html', 2)]:.2f}.",
        f"**Only {cpus} CPUs, shared.** This machine has {cpus} CPUs, and wrk and other work run "
        "on it too: a second process can only add what idle cores allow. One process with "
        "one worker is held to about one CPU (one Python interpreter, one GIL, however "
        "many threads; a little more while SQLite and the sockets release the GIL); a "
        "second such process can use a second CPU if one is idle. With `--workers 2` one "
        "process can already use both CPUs, so a second process has "
        f"nothing left to add here. In the two-process, one-worker JSON rows wrk used "
        f"{two_wrk:.2f} CPU, Redis {two_redis:.2f} and other processes {two_others:.2f}, "
        f"leaving the gunicorn processes {left:.2f} CPUs. On a machine with more idle cores "
        "than processes x workers, the same figures would measure the scaling itself; here "
        "they measure what is left after the load generator, Redis and the other work.",
        f"Code: commit {commit}. Data: {count:,} applications made by `tms generate --seed "
        f"{SEED}` into a temporary SQLite file (untimed, {generate_seconds:.0f} s), shared by "
        f"all the processes; the load cycles through {len(references):,} real references "
        "drawn at random from it.",
        "Server: as in the `lookups` benchmark (production settings, security middleware, "
        "a test secret key, plain HTTP on loopback), with TMS_CACHE_URL="
        f"{REDIS_URL} and TMS_CACHE_PREFIX={CACHE_PREFIX}: the limiter's counters are shared "
        "by the processes as in a deployment with several. The per-address and "
        "per-reference lookup limits are raised to 1000000/m because all the load comes "
        "from one address: the limiter still counts every lookup (its keys in Redis: "
        f"{limiter_keys:,} at the end, then deleted) but never refuses, as the non-2xx "
        "figure of each row shows.",
        f"Load: wrk -t{WRK_THREADS} -c{CONNECTIONS} against one process; against two, one "
        f"wrk -t{max(WRK_THREADS // 2, 1)} -c{CONNECTIONS // 2} a process, both run at the "
        "same time, their requests added up over the longer of their two windows. "
        f"Each run is {LONG:g} s after a {WARM:g} s warm-up of each kind on freshly started "
        f"servers; each configuration is run {ROUNDS} times (A B C D, then D C B A) and a "
        "row adds both runs up. Server CPU is user + system of the gunicorn masters and "
        "workers over the runs; 'CPUs busy' is that over the wall time; Redis is the "
        "redis-server process's CPU; 'other processes' is the machine's busy CPU less the "
        "servers', Redis's and wrk's.",
        f"Load average (1, 5, 15 min) when the run began: {load_start[0]:.2f}, "
        f"{load_start[1]:.2f}, {load_start[2]:.2f}; at the end: {load_end[0]:.2f}, "
        f"{load_end[1]:.2f}, {load_end[2]:.2f}, on {cpus} CPUs.",
    ]
    return Result(
        name="serve-processes",
        title=f"lookups/s with one and with two `tms serve` processes, {count:,} applications",
        command="TMS_MODE=test python -m benchmarks.run --only serve-processes"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(),
        rows=rows,
        notes=notes,
    )
