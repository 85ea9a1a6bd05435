"""``lookups``: public status lookups (JSON and HTML) under the production server.

A database of N applications (default 1,000,000) is generated once into a temporary
SQLite file (``tms generate``, untimed), and 10,000 real references are read from it
with ``sqlite3``. ``tms serve`` (gunicorn gthread) then runs with TMS_MODE=production,
its security middleware and the rate limiter on, and is loaded with requests that
cycle through those references:

- closed loop (throughput): ``wrk`` with a Lua script that steps through the
  references, 32 keep-alive connections;
- open loop (latency): ``python -m benchmarks.floors drive`` in its own process, a
  fixed schedule of 500 requests/s, each request's latency counted from its due time.

Beside it, in the same run, on the same gunicorn configuration and the same data, two
floors answer the same indexed lookup by reference (``benchmarks.floors``): a bare
Django view (no middleware) and a plain WSGI callable on ``sqlite3`` (no Django). A
child process (``python -m benchmarks.lookups breakdown``) then splits one lookup's
CPU time between the parts of the code that serve it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from benchmarks.machine import describe, now_text
from benchmarks.registry import Options, Result, Skipped, benchmark

DEFAULT_APPLICATIONS = 1_000_000
REFERENCES = 10_000
SEED = 1
# (workers, threads) tried on JSON before the measured runs; the best serves them all.
SERVER_CONFIGS = ((2, 4), (3, 4), (4, 4), (2, 8))
CONNECTIONS = 32
WRK_THREADS = 2
LONG = 15.0  # seconds of each main closed-loop run
SHORT = 10.0  # the extra rows (304, Redis, floors re-measured at the end)
SWEEP = 6.0
WARM = 2.0
RATE = 500.0  # requests/s offered in the open-loop runs
ETAGS = 2_000  # references whose ETag is fetched for the conditional-request row
TARGET_JSON = 2_000.0
TARGET_JSON_RATIO = 0.60
TARGET_HTML = 1_000.0
TARGET_P99_MS = 50.0
REDIS_URL = "redis://127.0.0.1:6379/14"
TMS = [sys.executable, "-m", "tms.cli"]
ROOT = Path(__file__).resolve().parent.parent
SECRET = "a-test-secret-key-that-is-long-enough-for-django-1234567890"  # noqa: S105

WRK_SCRIPT = """
-- Each line: a path, optionally a tab and an ETag to send in If-None-Match.
-- setup runs in the main state and gives each thread its own starting point (start_at).
local requests = {}
local count = 0
local index = 0
local next_start = 0
setup = function(thread)
  thread:set("start_at", next_start)
  next_start = next_start + 7919
end
init = function(args)
  for line in io.lines(args[1]) do
    local path, etag = line:match("^([^\\t]+)\\t?(.*)$")
    local headers = {}
    if etag ~= "" then headers["If-None-Match"] = etag end
    count = count + 1
    requests[count] = wrk.format("GET", path, headers)
  end
  index = (start_at or 0) % count
end
request = function()
  index = index % count + 1
  return requests[index]
end
"""


# --- Processes ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _machine_busy() -> tuple[float, float]:
    """(busy CPU seconds, wall seconds) of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / tick, time.monotonic()


@dataclass
class Server:
    """A gunicorn master (and its workers) on 127.0.0.1:port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        return _cpu(self.process.pid) + sum(_cpu(c) for c in _children(self.process.pid))

    def workers(self) -> int:
        return len(_children(self.process.pid))


@contextlib.contextmanager
def serving(
    kind: str, env: dict[str, str], workers: int, threads: int, probe: str, log: Path
) -> Iterator[Server]:
    """Start ``tms serve`` (kind ``tms``), the bare-Django floor (``bare``) or the plain
    WSGI floor (``plain``), wait until ``probe`` answers 200, stop it afterwards."""
    port = _free_port()
    bind = ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    env = dict(env)
    if kind == "plain":
        command = [sys.executable, "-m", "benchmarks.floors", "serve-plain", *bind]
    else:
        command = [*TMS, "serve", *bind, "--no-collectstatic"]
        if kind == "bare":
            env["DJANGO_SETTINGS_MODULE"] = "benchmarks.floor_settings"
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(kind, process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"{kind} server exited:\n" + "\n".join(tail))
            with contextlib.suppress(OSError):
                if _get(port, probe)[0] == 200 and server.workers() >= workers:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not answer {probe}; see {log}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, int]:
    """(status, ETag, body length) of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, response.getheader("ETag") or "", len(body)
    finally:
        conn.close()


# --- Load ---------------------------------------------------------------------------------------


@dataclass
class Closed:
    """One closed-loop wrk run."""

    requests: int
    seconds: float
    bytes_read: float
    bad: int  # non-2xx/3xx answers plus socket errors
    server_cpu: float
    wrk_cpu: float
    machine_busy: float  # CPU seconds used by everything on the machine meanwhile
    load: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def others(self) -> float:
        """CPUs' worth used by processes other than the server and wrk."""
        return max(self.machine_busy - self.server_cpu - self.wrk_cpu, 0.0) / self.seconds

    def text(self) -> str:
        bad = f", {self.bad:,} bad answers" if self.bad else ""
        cpu = self.server_cpu / max(self.requests, 1)
        ceiling = (os.cpu_count() or 1) / cpu if cpu else float("nan")
        return (
            f"{self.rate:,.0f}/s ({self.requests:,} in {self.seconds:.1f} s{bad}); server "
            f"CPU {1e6 * cpu:,.0f} µs a request (all {os.cpu_count()} CPUs to the server "
            f"alone would allow at most {ceiling:,.0f}/s); other processes used "
            f"{self.others:.2f} CPU meanwhile"
        )


_SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _wrk(
    server: Server,
    paths: Path,
    seconds: float,
    script: Path,
    connections: int = CONNECTIONS,
    threads: int = WRK_THREADS,
) -> Closed:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(script), server.url, "--", str(paths),
    ]  # fmt: skip
    load = os.getloadavg()[0]
    cpu_before = server.cpu()
    busy_before, _ = _machine_busy()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    _, wait_status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    output = process.stdout.read() if process.stdout else ""
    busy_after, _ = _machine_busy()
    server_cpu = server.cpu() - cpu_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {output}")
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s), ([\d.]+)([KMG]?B) read", output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output: {output}")
    duration = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return Closed(
        requests=int(found.group(1)),
        seconds=duration,
        bytes_read=float(found.group(4)) * _SIZE[found.group(5)],
        bad=bad,
        server_cpu=server_cpu,
        wrk_cpu=usage.ru_utime + usage.ru_stime,
        machine_busy=busy_after - busy_before,
        load=load,
    )


@dataclass
class Open:
    """One open-loop run at a fixed offered rate (the driver's JSON)."""

    data: dict[str, Any]
    server_cpu: float

    def text(self) -> str:
        d = self.data
        statuses = d["statuses"]
        bad = sum(n for status, n in statuses.items() if status not in ("200", "304"))
        bad_text = f", {bad:,} bad answers" if bad else ""
        return (
            f"p50 {d['p50_ms']:,.1f} ms, p90 {d['p90_ms']:,.1f} ms, p99 {d['p99_ms']:,.1f} ms, "
            f"max {d['max_ms']:,.0f} ms ({d['requests']:,} requests at {d['achieved_rate']:,.0f}/s"
            f"{bad_text}; sent late by p50 {d['lag_p50_ms']:,.1f} ms, p99 "
            f"{d['lag_p99_ms']:,.1f} ms; driver {d['driver_cpu_us_per_request']:.0f} µs CPU "
            "a request)"
        )


def _open_loop(
    server: Server, paths: Path, seconds: float, env: dict[str, str], rate: float = RATE
) -> Open:
    cpu_before = server.cpu()
    finished = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.floors", "drive", "--url", server.url,
         "--paths", str(paths), "--rate", str(rate), "--duration", str(seconds),
         "--warmup", str(WARM), "--connections", str(CONNECTIONS)],
        env=env, check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return Open(data=data, server_cpu=server.cpu() - cpu_before)


# --- Data -----------------------------------------------------------------------------------------


def _generate(workdir: Path, count: int) -> tuple[Path, float]:
    env = {**os.environ, "TMS_MODE": "demo", "TMS_DATA_DIR": str(workdir)}
    env.pop("TMS_DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([*TMS, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own command line
        [*TMS, "generate", "--applications", str(count), "--seed", str(SEED), "--no-progress"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return workdir / "tms.sqlite3", time.perf_counter() - began


def _references(database: Path, wanted: int) -> list[str]:
    """``wanted`` real references, drawn at random (seeded), in random order."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        low, high = db.execute("SELECT MIN(id), MAX(id) FROM applications_application").fetchone()
        ids = random.Random(SEED).sample(range(low, high + 1), min(wanted, high - low + 1))
        found: list[str] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found += [
                row[0]
                for row in db.execute(
                    f"SELECT reference FROM applications_application WHERE id IN ({marks})", chunk
                )
            ]
    random.Random(SEED).shuffle(found)
    return found


def _etags(server: Server, paths: list[str]) -> tuple[list[str], Counter[int]]:
    """Each path's current ETag (fetched with 4 threads; also warms the server)."""

    def fetch(path: str) -> tuple[int, str]:
        status, etag, _ = _get(server.port, path)
        return status, etag

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(fetch, paths))
    statuses = Counter(status for status, _ in answers)
    return [etag for _, etag in answers], statuses


# --- Where one lookup's CPU goes (child process) ------------------------------------------------


def _per_call(function: Callable[[Any], Any], items: list[Any]) -> float:
    """Thread CPU µs a call of ``function``, over ``items``."""
    began = time.thread_time()
    for item in items:
        function(item)
    return 1e6 * (time.thread_time() - began) / len(items)


def connection_costs() -> dict[str, float]:
    """CPU µs a call of opening and closing a SQLite connection, for comparison with a
    lookup: Django's (with the settings' pragmas), sqlite3's alone, and sqlite3's with
    a first statement (which makes SQLite read the schema)."""
    from django.conf import settings
    from django.db import connection

    def reopen(_: int) -> None:
        connection.close()
        connection.ensure_connection()

    django_us = _per_call(reopen, list(range(200)))
    connection.close()
    name = settings.DATABASES["default"]["NAME"]

    def plain_open(first: str | None) -> None:
        db = sqlite3.connect(name)
        if first:
            db.execute(first).fetchall()
        db.close()

    return {
        "conn_max_age": float(settings.DATABASES["default"].get("CONN_MAX_AGE") or 0),
        "django_connect_close_us": django_us,
        "sqlite_open_close_us": _per_call(plain_open, [None] * 200),
        "sqlite_open_first_statement_close_us": _per_call(
            plain_open, ["SELECT 1 FROM applications_application LIMIT 0"] * 200
        ),
    }


# (module, attribute, part): the functions a lookup may pass through. Those the code
# does not have (any more) are left out, so the breakdown follows the code as it is.
PARTS = (
    ("django.core.handlers.base:BaseHandler", "_get_response",
     "view code (routing, ninja, serialisation, ETag)"),
    ("django.db.backends.sqlite3.base:DatabaseWrapper", "connect",
     "opening the SQLite connection"),
    ("django.db.backends.sqlite3.base:DatabaseWrapper", "close",
     "closing the SQLite connection"),
    ("tms.tracking.api", "first_limit", "rate limiter (2 cache checks)"),
    ("tms.tracking.views", "first_limit", "rate limiter (2 cache checks)"),
    ("tms.tracking.api", "public_status", "public_status, the rest"),
    ("tms.tracking.views", "public_status", "public_status, the rest"),
    ("tms.tracking.selectors", "application_get", "application_get (ORM, select_related)"),
    ("tms.tracking.selectors", "_timeline", "timeline"),
    ("tms.tracking.selectors", "estimate_for", "estimate"),
    ("tms.tracking.selectors", "_estimate", "estimate"),
    ("tms.tracking.selectors", "query_allowed", "query_allowed"),
    ("tms.tracking.api", "lookup_count", "lookup tally"),
    ("tms.tracking.views", "lookup_count", "lookup tally"),
    ("tms.tracking.views", "render", "template rendering"),
)  # fmt: skip


def breakdown(kind: str, references: list[str], count: int) -> dict[str, Any]:
    """CPU µs a lookup spent in each part, exclusive of the parts nested inside it,
    over ``count`` lookups through the WSGI handler with the production settings (the
    environment says which), one thread; the SQL statements' execution is a part of
    its own. Also the SQL statements a lookup runs."""
    import importlib
    import io

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()
    from django.db import connections

    costs = connection_costs()
    spent: dict[str, float] = defaultdict(float)
    stack: list[list[float]] = []  # [start, time spent in nested parts]

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            stack.append([time.thread_time(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                began, nested = stack.pop()
                total = time.thread_time() - began
                spent[name] += total - nested
                if stack:
                    stack[-1][1] += total

        return wrapper

    patched = []
    for target, attribute, name in PARTS:
        module_name, _, class_name = target.partition(":")
        owner: Any = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
        if hasattr(owner, attribute):
            setattr(owner, attribute, timed(name, getattr(owner, attribute)))
            patched.append(f"{target}.{attribute}")

    statements = 0
    sql_execute = timed("SQL execution (sqlite3, Django's cursor wrapper)", lambda f, *a: f(*a))

    def execution(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return sql_execute(execute, sql, params, many, context)

    connections["default"].execute_wrappers.append(execution)
    # As the server's workers load it: the lookup takes its shorter middleware chain.
    from tms.wsgi import application

    def respond(environ: dict[str, Any]) -> str:
        statuses: list[str] = []
        body = application(environ, cast(Any, lambda status, headers: statuses.append(status)))
        b"".join(body)
        body.close()  # request_finished: Django closes an expired connection here
        return statuses[0]

    handler = timed("middleware, WSGI handler, request_finished", respond)

    def call(reference: str) -> None:
        if kind == "html":
            path, query = "/track/", f"ref={reference}"
        else:
            path, query = f"/api/v1/track/{reference}", ""
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
        }  # fmt: skip
        status = handler(environ)
        if not status.startswith("200"):
            raise RuntimeError(f"{path}?{query}: {status}")

    for reference in references[:200]:
        call(reference)
    spent.clear()
    statements = 0
    measured = references[200 : 200 + count]
    began = time.thread_time()
    for reference in measured:
        call(reference)
    total = time.thread_time() - began
    return {
        "connection": costs,
        "patched": patched,
        "lookups": len(measured),
        "cpu_us": 1e6 * total / len(measured),
        "queries": statements / len(measured),
        "parts_us": {
            name: 1e6 * s / len(measured)
            for name, s in sorted(spent.items(), key=lambda item: -item[1])
        },
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lookups")
    parser.add_argument("command", choices=["breakdown"])
    parser.add_argument("--kind", choices=["json", "html"], required=True)
    parser.add_argument("--references", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    references = args.references.read_text().split()
    print(json.dumps(breakdown(args.kind, references, args.count)))
    return 0


def _breakdown(kind: str, references: Path, env: dict[str, str]) -> dict[str, Any]:
    finished = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.lookups", "breakdown", "--kind", kind,
         "--references", str(references)],
        env=env, check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return data


def _breakdown_text(data: dict[str, Any]) -> str:
    parts = "; ".join(f"{name} {us:,.0f}" for name, us in data["parts_us"].items() if round(us) > 0)
    return (
        f"{data['cpu_us']:,.0f} µs CPU a lookup, {data['queries']:.2f} SQL statements a "
        f"lookup; µs by part: {parts}"
    )


def _connection_text(costs: dict[str, float]) -> str:
    return (
        f"CONN_MAX_AGE {costs['conn_max_age']:g} s in these settings; a new Django "
        f"connection (open with the pragmas, then close) {costs['django_connect_close_us']:,.0f} "
        f"µs CPU; a bare sqlite3 open+close {costs['sqlite_open_close_us']:,.0f} µs, and "
        f"{costs['sqlite_open_first_statement_close_us']:,.0f} µs with a first statement "
        "(SQLite reads the schema)"
    )


# --- The benchmark -----------------------------------------------------------------------------


def _commit() -> str:
    """The commit measured, and whether src/ differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head}{' with uncommitted changes under src/' if dirty else ''}"


def production_env(workdir: Path) -> dict[str, str]:
    """``tms serve``'s environment: production settings on the SQLite file in ``workdir``,
    plain HTTP on loopback, the lookup limits raised so that the limiter runs but never
    refuses the one address all the load comes from; default (locmem) cache."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tms.settings",
        "TMS_MODE": "production",
        "TMS_SECRET_KEY": SECRET,
        "TMS_DATA_DIR": str(workdir),
        "TMS_ALLOWED_HOSTS": "127.0.0.1",
        "TMS_SECURE_COOKIES": "0",
        "TMS_RATE_LOOKUP_PER_ADDRESS": "1000000/m",
        "TMS_RATE_LOOKUP_PER_REFERENCE": "1000000/m",
        "TMS_LOG_LEVEL": "WARNING",
    }
    for name in ("TMS_DATABASE_URL", "TMS_CACHE_URL", "TMS_DEBUG", "TMS_PROXY_COUNT"):
        env.pop(name, None)
    return env


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _say(text: str) -> None:
    print(
        f"  [{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()[0]:.2f}] {text}",
        flush=True,
    )


@benchmark(
    "lookups",
    "public status lookups (JSON API and HTML page) under the production server, beside a "
    "bare-Django and a plain-WSGI floor doing the same indexed query",
)
def run(options: Options) -> Result:
    if shutil.which("wrk") is None:
        raise Skipped("wrk is not installed (apt-get install -y wrk)")
    count = options.applications or DEFAULT_APPLICATIONS
    load_start = os.getloadavg()
    commit_start = _commit()
    workdir = Path(tempfile.mkdtemp(prefix="tms-bench-lookups-"))
    rows: list[tuple[str, str]] = []
    notes: list[str] = []
    try:
        print(f"Generating {count:,} applications into {workdir} (untimed)...", flush=True)
        database, generate_seconds = _generate(workdir, count)
        _say(f"generated in {generate_seconds:.0f} s")
        references = _references(database, REFERENCES)
        refs_file = _write_lines(workdir / "references.txt", references)
        json_paths = [f"/api/v1/track/{r}" for r in references]
        html_paths = [f"/track/?ref={r}" for r in references]
        floor_paths = [f"/floor/{r}" for r in references]
        files = {
            "json": _write_lines(workdir / "json.txt", json_paths),
            "html": _write_lines(workdir / "html.txt", html_paths),
            "floor": _write_lines(workdir / "floor.txt", floor_paths),
        }
        script = workdir / "cycle.lua"
        script.write_text(WRK_SCRIPT)
        logs = workdir / "servers.log"

        env = production_env(workdir)
        subprocess.run(  # noqa: S603 - production needs the static manifest
            [*TMS, "collectstatic", "--noinput", "-v0"], env=env, check=True
        )
        probe_json, probe_floor = json_paths[0], floor_paths[0]

        def warm(server: Server, paths: Path) -> None:
            _wrk(server, paths, WARM, script)

        # 1. Which workers x threads serve best on this machine (JSON, locmem cache).
        sweep: dict[tuple[int, int], Closed] = {}
        for workers, threads in SERVER_CONFIGS:
            with serving("tms", env, workers, threads, probe_json, logs) as server:
                warm(server, files["json"])
                sweep[(workers, threads)] = _wrk(server, files["json"], SWEEP, script)
            _say(f"sweep {workers}x{threads}: {sweep[(workers, threads)].rate:,.0f}/s")
        workers, threads = max(sweep, key=lambda config: sweep[config].rate)
        config = f"{workers} workers x {threads} threads"

        # 2. The floors, first time.
        with serving("plain", env, workers, threads, probe_floor, logs) as server:
            warm(server, files["floor"])
            plain = _wrk(server, files["floor"], LONG, script)
            _say(f"plain WSGI floor: {plain.rate:,.0f}/s")
            plain_open = _open_loop(server, files["floor"], SHORT, env)
            _say(f"plain WSGI floor at {RATE:.0f}/s: p99 {plain_open.data['p99_ms']:.1f} ms")
        with serving("bare", env, workers, threads, probe_floor, logs) as server:
            warm(server, files["floor"])
            bare = _wrk(server, files["floor"], LONG, script)
            _say(f"bare Django floor: {bare.rate:,.0f}/s")

        # 3. The application, default (per-process locmem) cache.
        with serving("tms", env, workers, threads, probe_json, logs) as server:
            json_etags, etag_statuses = _etags(server, json_paths[:ETAGS])
            if set(etag_statuses) != {200}:
                raise RuntimeError(f"JSON lookups answered {dict(etag_statuses)}")
            status = _get(server.port, json_paths[0], {"If-None-Match": json_etags[0]})[0]
            if status != 304:
                raise RuntimeError(f"a repeated lookup with its ETag answered {status}")
            conditional = _write_lines(
                workdir / "json-304.txt",
                [f"{p}\t{e}" for p, e in zip(json_paths, json_etags, strict=False)],
            )
            warm(server, files["html"])
            json_closed = _wrk(server, files["json"], LONG, script)
            _say(f"JSON: {json_closed.rate:,.0f}/s")
            html_closed = _wrk(server, files["html"], LONG, script)
            _say(f"HTML: {html_closed.rate:,.0f}/s")
            not_modified = _wrk(server, conditional, SHORT, script)
            _say(f"JSON with If-None-Match: {not_modified.rate:,.0f}/s")
            json_open = _open_loop(server, files["json"], LONG, env)
            _say(f"JSON at {RATE:.0f}/s: p99 {json_open.data['p99_ms']:.1f} ms")
            html_open = _open_loop(server, files["html"], LONG, env)
            _say(f"HTML at {RATE:.0f}/s: p99 {html_open.data['p99_ms']:.1f} ms")
            easy_rate = max(50.0, 50.0 * int(json_closed.rate / 2 / 50))
            easy_open = _open_loop(server, files["json"], SHORT, env, easy_rate)
            _say(f"JSON at {easy_rate:.0f}/s: p99 {easy_open.data['p99_ms']:.1f} ms")

        # 4. The shared-cache deployment: the limiter's counters in Redis.
        redis_rows: list[tuple[str, str]] = []
        if _redis_available():
            redis_env = {**env, "TMS_CACHE_URL": REDIS_URL, "TMS_CACHE_PREFIX": "tms-bench"}
            with serving("tms", redis_env, workers, threads, probe_json, logs) as server:
                warm(server, files["json"])
                redis_json = _wrk(server, files["json"], SHORT, script)
                _say(f"JSON, Redis cache: {redis_json.rate:,.0f}/s")
                redis_html = _wrk(server, files["html"], SHORT, script)
                _say(f"HTML, Redis cache: {redis_html.rate:,.0f}/s")
                redis_open = _open_loop(server, files["json"], SHORT, redis_env)
                _say(f"JSON, Redis, at {RATE:.0f}/s: p99 {redis_open.data['p99_ms']:.1f} ms")
            redis_rows = [
                ("JSON lookups/s, Redis cache (closed loop)", redis_json.text()),
                ("HTML lookups/s, Redis cache (closed loop)", redis_html.text()),
                (f"JSON latency at {RATE:.0f} requests/s offered, Redis cache", redis_open.text()),
            ]
        else:
            notes.append(f"The Redis rows were skipped: nothing answers PING at {REDIS_URL}.")

        # 5. The floors again, so that drift in the machine's other load shows.
        with serving("plain", env, workers, threads, probe_floor, logs) as server:
            warm(server, files["floor"])
            plain_after = _wrk(server, files["floor"], SHORT, script)
        with serving("bare", env, workers, threads, probe_floor, logs) as server:
            warm(server, files["floor"])
            bare_after = _wrk(server, files["floor"], SHORT, script)
        _say(f"floors again: plain {plain_after.rate:,.0f}/s, bare {bare_after.rate:,.0f}/s")
        # The application again too: the ratios compare the faster run of each side.
        with serving("tms", env, workers, threads, probe_json, logs) as server:
            warm(server, files["json"])
            json_after = _wrk(server, files["json"], SHORT, script)
        _say(f"JSON again: {json_after.rate:,.0f}/s")

        # 6. Where a lookup's CPU goes (in-process, one thread, production settings).
        json_parts = _breakdown("json", refs_file, env)
        html_parts = _breakdown("html", refs_file, env)
        redis_parts = (
            _breakdown("json", refs_file, {**env, "TMS_CACHE_URL": REDIS_URL,
                                           "TMS_CACHE_PREFIX": "tms-bench"})
            if redis_rows
            else None
        )  # fmt: skip
        load_end = os.getloadavg()
        commit_end = _commit()
    finally:
        if options.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    bare_best = max(bare.rate, bare_after.rate)
    plain_best = max(plain.rate, plain_after.rate)
    json_best = max(json_closed.rate, json_after.rate)
    json_ratio = json_best / bare_best

    def cpu_ratio(floor: Closed, ours: Closed) -> str:
        """The floor's server CPU a request over ours: the share of the floor's rate
        our CPU a request allows when the CPUs are the limit."""
        mine = ours.server_cpu / max(ours.requests, 1)
        theirs = floor.server_cpu / max(floor.requests, 1)
        return f"{theirs / mine:.0%} by server CPU a request"

    json_ok = json_closed.rate >= TARGET_JSON
    ratio_ok = json_ratio >= TARGET_JSON_RATIO
    html_ok = html_closed.rate >= TARGET_HTML
    json_p99_ok = json_open.data["p99_ms"] <= TARGET_P99_MS
    html_p99_ok = html_open.data["p99_ms"] <= TARGET_P99_MS
    bytes_200 = json_closed.bytes_read / max(json_closed.requests, 1)
    bytes_304 = not_modified.bytes_read / max(not_modified.requests, 1)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    sweep_text = "; ".join(
        f"{w}x{t}: {c.rate:,.0f}/s ({1e6 * c.server_cpu / max(c.requests, 1):,.0f} µs CPU a "
        f"request, other processes {c.others:.2f} CPU)"
        for (w, t), c in sweep.items()
    )
    bare_text = f"{bare.text()}; at the end {bare_after.rate:,.0f}/s"
    plain_text = f"{plain.text()}; at the end {plain_after.rate:,.0f}/s"
    not_modified_text = (
        f"{not_modified.text()}; {bytes_304:,.0f} B read a response against "
        f"{bytes_200:,.0f} B for a 200"
    )
    rows += [
        ("server", f"`tms serve`, gunicorn gthread, {config} (best of the sweep below)"),
        (
            "JSON lookups/s (`/api/v1/track/<ref>`, closed loop)",
            f"{json_closed.text()}; at the end {json_after.rate:,.0f}/s",
        ),
        ("HTML lookups/s (`/track/?ref=<ref>`, closed loop)", html_closed.text()),
        ("floor: bare Django view, no middleware", bare_text),
        ("floor: plain WSGI + sqlite3, no Django", plain_text),
        (
            "JSON / bare-Django floor",
            f"{json_ratio:.0%} by rate (the faster run of each: {json_best:,.0f}/s against "
            f"{bare_best:,.0f}/s); "
            f"{cpu_ratio(bare, json_closed)}",
        ),
        (
            "JSON / plain-WSGI floor",
            f"{json_best / plain_best:.0%} by rate ({json_best:,.0f}/s against "
            f"{plain_best:,.0f}/s); "
            f"{cpu_ratio(plain, json_closed)}",
        ),
        (
            "HTML / bare-Django floor",
            f"{html_closed.rate / bare_best:.0%} by rate; {cpu_ratio(bare, html_closed)}",
        ),
        (
            "HTML / plain-WSGI floor",
            f"{html_closed.rate / plain_best:.0%} by rate; {cpu_ratio(plain, html_closed)}",
        ),
        (
            "bare-Django floor / plain-WSGI floor",
            f"{bare_best / plain_best:.0%} by rate; {cpu_ratio(plain, bare)}",
        ),
        (f"JSON latency at {RATE:.0f} requests/s offered (open loop)", json_open.text()),
        (f"HTML latency at {RATE:.0f} requests/s offered (open loop)", html_open.text()),
        (f"plain-WSGI floor latency at {RATE:.0f} requests/s offered", plain_open.text()),
        (
            f"JSON latency at {easy_rate:,.0f} requests/s offered (half its closed-loop rate)",
            easy_open.text(),
        ),
        ("JSON with If-None-Match (304 Not Modified)", not_modified_text),
        *redis_rows,
        ("where a JSON lookup's CPU goes (one thread, in-process)", _breakdown_text(json_parts)),
        ("where an HTML lookup's CPU goes (one thread, in-process)", _breakdown_text(html_parts)),
        ("a new SQLite connection, for comparison", _connection_text(json_parts["connection"])),
        *(
            [("where a JSON lookup's CPU goes, Redis cache", _breakdown_text(redis_parts))]
            if redis_parts
            else []
        ),
        ("worker sweep (JSON, closed loop)", sweep_text),
    ]
    notes += [
        f"**Targets** (JSON and HTML at {config}, default locmem cache): JSON "
        f"{json_closed.rate:,.0f} lookups/s against {TARGET_JSON:,.0f}: {verdict(json_ok)}; "
        f"JSON {json_ratio:.0%} of the bare-Django floor against {TARGET_JSON_RATIO:.0%}: "
        f"{verdict(ratio_ok)}; HTML {html_closed.rate:,.0f} lookups/s against "
        f"{TARGET_HTML:,.0f}: {verdict(html_ok)}; p99 at {RATE:.0f} requests/s offered "
        f"against {TARGET_P99_MS:.0f} ms: JSON {json_open.data['p99_ms']:.1f} ms "
        f"{verdict(json_p99_ok)}, HTML {html_open.data['p99_ms']:.1f} ms "
        f"{verdict(html_p99_ok)}. JSON is {json_best / plain_best:.0%} of the "
        "plain-WSGI floor."
        + (
            f" With the Redis cache (shared-cache deployment): JSON {redis_json.rate:,.0f}/s, "
            f"HTML {redis_html.rate:,.0f}/s, JSON p99 at {RATE:.0f}/s "
            f"{redis_open.data['p99_ms']:,.1f} ms."
            if redis_rows
            else ""
        ),
        f"Code: commit {commit_start}"
        + ("" if commit_end == commit_start else f" at the start, {commit_end} at the end")
        + f". Data: {count:,} applications with histories made by `tms generate --seed {SEED}` "
        f"into a temporary SQLite file (untimed, {generate_seconds:.0f} s); the load cycles "
        f"through {len(references):,} real references drawn at random from it (each wrk "
        "thread from its own starting point), so the lookups hit the whole table.",
        "Server: `tms serve` with TMS_MODE=production (security middleware, WhiteNoise, "
        "sessions, CSRF, locale, clickjacking), a test TMS_SECRET_KEY, "
        "TMS_ALLOWED_HOSTS=127.0.0.1 and TMS_SECURE_COOKIES=0 (plain HTTP on loopback). "
        "The JSON lookup takes the production server's shorter middleware chain "
        "(settings.PUBLIC_LOOKUP_MIDDLEWARE, ADR 0004: request id, metrics, outage, "
        "security, locale, common, clickjacking, problem details, client address); the "
        "HTML page takes the whole chain. "
        "The per-address and per-reference lookup limits are raised to 1000000/m because "
        "all the load comes from one address: the limiter still runs (two checks a "
        "lookup: in the default cache an incr each, and an add when a window's counter "
        "starts; with Redis one script run counts both, one round trip) but "
        "never refuses; every answer counted here was a 200 (or a 304 "
        "in the If-None-Match row) unless the row says otherwise. The default cache is "
        f"Django's per-process locmem; the Redis rows use TMS_CACHE_URL={REDIS_URL}, the "
        "shared-cache deployment.",
        f"Workers: the sweep runs JSON for {SWEEP:g} s at each of "
        + ", ".join(f"{w}x{t}" for w, t in SERVER_CONFIGS)
        + f" (workers x threads); the fastest, {config}, serves every other row, floors "
        "included (3x4 is `tms serve`'s default on 2 CPUs). The server is CPU-bound at "
        "every setting, and on a shared machine the order of the settings changes from "
        "run to run with the other work; the CPU a request at each is shown.",
        "Floors (`benchmarks/floors.py`), both on the same gunicorn configuration and "
        "data: the bare-Django floor is `tms serve` itself with "
        "DJANGO_SETTINGS_MODULE=benchmarks.floor_settings (the production settings with "
        "MIDDLEWARE = [] and a URLconf of one view running "
        "`Application.objects.filter(reference=…).values(…)` and returning the row as "
        "JSON); the plain-WSGI floor is a WSGI callable with one sqlite3 connection a "
        "thread (same pragmas) doing the same SELECT by reference, served by the "
        "`tms serve` command with only the loaded application swapped. Both floors were "
        "measured before the application and again after it, and the application's JSON "
        "again after them (a fresh server, the shorter run); the ratios by rate use the "
        "faster run of each side, the ratios by CPU the first runs.",
        f"Closed loop: wrk -t{WRK_THREADS} -c{CONNECTIONS}, {LONG:g} s a row "
        f"({SHORT:g} s for the 304, Redis and repeated floor and JSON rows) after a "
        f"{WARM:g} s warm-up on a freshly started server, keep-alive connections. Server "
        "CPU is user + system of the gunicorn master and workers over the run; 'other "
        "processes' is the machine's busy CPU minus the server's and wrk's. 'All CPUs to "
        "the server alone would allow at most' is the CPU count over the server CPU a "
        "request: a ceiling that other work on the machine cannot lower, so it says "
        "whether a target could be met on an idle machine. The ratios are given both by "
        "rate and by server CPU a request (the floor's CPU a request over ours), the "
        "second being less disturbed by the other work.",
        f"Open loop: `python -m benchmarks.floors drive`, its own process (asyncio, raw "
        f"HTTP/1.1 over {CONNECTIONS} keep-alive connections): request i is due at "
        f"start + i/{RATE:.0f} s and its latency counts from that due time, so a stall "
        f"is charged to every request that queued behind it; {WARM:g} s of warm-up are "
        "left out. 'Sent late' is how long after its due time a request went out: when "
        "the server keeps up, the driver's own lag; when it does not, the wait for one of "
        "the connections to come free (the queue grows for the whole run, so the "
        "latencies then say only that the rate is beyond the server). Its run against "
        "the plain-WSGI floor bounds what the driver and the loopback add, and the run at "
        "half JSON's closed-loop rate shows the latency of a server that keeps up.",
        "304 row: the ETags of the first "
        f"{ETAGS:,} references were fetched first and are sent back in If-None-Match; "
        "the bytes read a response show the answers were 304s without a body.",
        "CPU breakdown: `python -m benchmarks.lookups breakdown` calls the WSGI handler "
        "in-process with the production settings (locmem cache) for 1,000 references "
        "after 200 warm-up calls, wrapping each part to add up its thread CPU time "
        "exclusive of the parts nested in it (the parts are the functions of the lookup "
        "path that the code has: the rate limiter, public_status and the helpers it "
        "calls, the tally, template rendering, the connection's opening and closing, and "
        "each SQL statement's execution through Django's cursor wrapper). 'public_status, "
        "the rest' is its own code: reading the row into a model, building the answer; "
        "'view code' is what is left of the view (URL routing, ninja's parsing and "
        "validation, JSON rendering, the ETag) and 'middleware, WSGI handler, "
        "request_finished' what is left outside it.",
        f"Load average (1, 5, 15 min) when the run began: {load_start[0]:.2f}, "
        f"{load_start[1]:.2f}, {load_start[2]:.2f}; at the end: {load_end[0]:.2f}, "
        f"{load_end[1]:.2f}, {load_end[2]:.2f}, on {os.cpu_count()} CPUs. Above 0, other "
        "work was sharing the CPUs (the 'other processes' figure in each row says how "
        "much during that row), and the rates are lower than on an idle machine.",
    ]
    return Result(
        name="lookups",
        title=f"public status lookups on {count:,} applications under `tms serve`",
        command="TMS_MODE=test python -m benchmarks.run --only lookups"
        + (f" --applications {options.applications}" if options.applications else ""),
        date=now_text(),
        machine=describe(),
        rows=rows,
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
