"""The floors of ``lookups`` and its open-loop load driver.

Floors (both answer ``GET /floor/<reference>`` with the application's row as JSON):

- ``bare_lookup``: a Django view with no middleware (``benchmarks.floor_settings``
  makes this module the URLconf) doing the same indexed query by reference through
  the ORM, served by ``tms serve`` itself.
- ``plain_application``: a WSGI callable, no Django, one ``sqlite3`` connection per
  thread (with the pragmas Django's settings run), the same SELECT by reference;
  served by ``python -m benchmarks.floors serve-plain``, which runs the very
  ``tms serve`` command with only the loaded application swapped, so the gunicorn
  configuration is the same.

The driver (``python -m benchmarks.floors drive``) sends requests on a fixed schedule
(request i is due at start + i / rate) over keep-alive connections and measures each
request's latency from its due time, so a stalled server is charged for the requests
that queue behind it (no coordinated omission). It prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

# The columns both floors read: the application's own row, found by its unique index.
FIELDS = ("reference", "status", "version", "lodged_at", "due_date", "ready_at")
TABLE = "applications_application"


# --- The bare Django floor ----------------------------------------------------------------


def bare_lookup(request: HttpRequest, reference: str) -> HttpResponse:
    from tms.applications.models import Application

    rows = list(Application.objects.filter(reference=reference).values(*FIELDS))
    if not rows:
        return JsonResponse({"detail": "not found"}, status=404)
    response = JsonResponse(rows[0])
    # Without middleware nothing sets it, and gunicorn would answer chunked instead.
    response["Content-Length"] = str(len(response.content))
    return response


urlpatterns = [path("floor/<str:reference>", bare_lookup)]


# --- The plain WSGI floor -----------------------------------------------------------------

_local = threading.local()
_SELECT = f"SELECT {', '.join(FIELDS)} FROM {TABLE} WHERE reference = ?"


def _database() -> sqlite3.Connection:
    db: sqlite3.Connection | None = getattr(_local, "db", None)
    if db is None:
        from django.conf import settings

        db = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30)
        for pragma in str(settings.SQLITE_OPTIONS["init_command"]).split(";"):
            if pragma.strip():
                db.execute(pragma)
        _local.db = db
    return db


def plain_application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    reference = str(environ.get("PATH_INFO", "")).rsplit("/", 1)[-1]
    row = _database().execute(_SELECT, (reference,)).fetchone()
    if row is None:
        status, body = "404 Not Found", b'{"detail": "not found"}'
    else:
        status, body = "200 OK", json.dumps(dict(zip(FIELDS, row, strict=True))).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def serve_plain(bind: str, workers: int, threads: int) -> None:
    """``tms serve`` with ``plain_application`` loaded instead of Django's handler."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django
    from django.core.management import call_command

    django.setup()
    from tms.core.management.commands import serve

    class PlainServer(serve.WebServer):
        def load(self) -> Any:
            return plain_application

    serve.WebServer = PlainServer  # type: ignore[misc]
    call_command("serve", bind=bind, workers=workers, threads=threads, no_collectstatic=True)


# --- The open-loop driver -------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One HTTP/1.1 response: (status, the server keeps the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304):
        await reader.read()  # delimited by closing
        return status, False
    return status, headers.get("connection") != "close"


async def _drive(
    url: str, paths: list[str], rate: float, duration: float, warmup: float, connections: int
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode() for p in paths
    ]
    loop = asyncio.get_running_loop()
    total = int(rate * (warmup + duration))
    measured_from = int(rate * warmup)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    next_index = 0
    start = loop.time() + 0.5  # connections open first

    async def connection() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, port)
        while next_index < total:
            index = next_index
            next_index += 1
            due = start + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = loop.time()
            try:
                writer.write(requests[index % len(requests)])
                status, keep = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                status, keep = 0, False
            done = loop.time()
            if index >= measured_from:
                latencies.append(done - due)
                lags.append(sent - due)
                statuses[status] += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(connection() for _ in range(connections)))
    finished = loop.time()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    measured = total - measured_from
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    span = finished - (start + warmup)
    return {
        "offered_rate": rate,
        "requests": measured,
        "achieved_rate": measured / span if span > 0 else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p90_ms": 1000 * _percentile(latencies, 0.90),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies, default=float("nan")),
        "lag_p50_ms": 1000 * _percentile(lags, 0.50),
        "lag_p99_ms": 1000 * _percentile(lags, 0.99),
        "driver_cpu_us_per_request": 1e6 * cpu / max(total, 1),
        "connections": connections,
    }


def drive(
    url: str, paths: list[str], rate: float, duration: float, warmup: float, connections: int
) -> dict[str, Any]:
    return asyncio.run(_drive(url, paths, rate, duration, warmup, connections))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floors")
    commands = parser.add_subparsers(dest="command", required=True)
    plain = commands.add_parser("serve-plain", help="Serve the plain WSGI floor.")
    plain.add_argument("--bind", required=True)
    plain.add_argument("--workers", type=int, required=True)
    plain.add_argument("--threads", type=int, required=True)
    load = commands.add_parser("drive", help="Open-loop load at a fixed rate; prints JSON.")
    load.add_argument("--url", required=True, help="http://host:port")
    load.add_argument("--paths", type=Path, required=True, help="A file of paths, one a line.")
    load.add_argument("--rate", type=float, required=True)
    load.add_argument("--duration", type=float, required=True)
    load.add_argument("--warmup", type=float, default=2.0)
    load.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if args.command == "serve-plain":
        serve_plain(args.bind, args.workers, args.threads)
        return 0
    paths = [line for line in args.paths.read_text().splitlines() if line]
    began = time.perf_counter()
    result = drive(args.url, paths, args.rate, args.duration, args.warmup, args.connections)
    result["wall_seconds"] = time.perf_counter() - began
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
