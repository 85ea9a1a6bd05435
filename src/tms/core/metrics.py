"""Prometheus metrics at /metrics: requests and latency by route, and figures read from
the database at scrape time (task queue, SMS by state, self-service lookups).

Under ``tms serve`` several worker processes each count their own requests; the
prometheus_client multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by ``tms serve``
before anything imports this module) adds them up at scrape time. Without it (tests,
runserver) the default registry of the one process is used.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from tms.core.request_context import client_address

logger = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a 1 ms lookup answered from the cache to a 10 s manifest upload.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Any other method is counted as "other": a label must not take unbounded values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
STATIC_ROUTE = "<static>"

HTTP_REQUESTS = Counter(
    "tms_http_requests",
    "HTTP requests answered, by URL route, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "tms_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered, never the path itself: a path holds references,
    which are personal-ish and unbounded."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route or match.view_name or UNMATCHED_ROUTE
    if request.path.startswith(settings.STATIC_URL):
        return STATIC_ROUTE  # answered by WhiteNoise before URL resolution
    return UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    """Counts and times every request; placed early, so that the time includes the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
        HTTP_LATENCY.labels(route=route).observe(elapsed)
        return response


class DatabaseCollector:
    """Gauges read from the database when scraped, remembered for ``max_age`` seconds so
    that several scrapers (or a fast one) cost one set of queries."""

    def __init__(self, max_age: float = 15.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._metrics: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age:
                try:
                    self._metrics = self.read()
                except DatabaseError:
                    # The request figures are still worth serving; /readyz reports the database.
                    logger.warning("metrics: the database could not be read")
                    return []
                self._read_at = time.monotonic()
            return list(self._metrics)

    def read(self) -> list[Metric]:
        return [*self._task_queue(), self._sms_messages(), *self._lookups()]

    def _task_queue(self) -> list[Metric]:
        from django_tasks_db.models import DBTaskResult

        depth = GaugeMetricFamily(
            "tms_task_queue_depth", "Background tasks waiting to run, by queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "tms_task_queue_oldest_age_seconds",
            "Age of the oldest background task waiting to run, by queue (0 when none waits).",
            labels=["queue"],
        )
        running = GaugeMetricFamily(
            "tms_task_running", "Background tasks running now, by queue.", labels=["queue"]
        )
        now = timezone.now()
        waiting = {
            row["queue_name"]: row
            for row in DBTaskResult.objects.ready()
            .values("queue_name")
            .annotate(waiting=Count("id"), oldest=Min("enqueued_at"))
            .order_by()
        }
        busy = dict(
            DBTaskResult.objects.running()
            .values("queue_name")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("queue_name", "n")
        )
        queues = sorted({*settings.TASKS["default"].get("QUEUES", ["default"]), *waiting, *busy})
        for queue in queues:
            row = waiting.get(queue)
            depth.add_metric([queue], row["waiting"] if row else 0)
            oldest = row["oldest"] if row else None
            age.add_metric([queue], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
            running.add_metric([queue], busy.get(queue, 0))
        return [depth, age, running]

    def _sms_messages(self) -> Metric:
        from tms.notifications.models import Message, MessageState

        counts = dict(
            Message.objects.values("state")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("state", "n")
        )
        family = GaugeMetricFamily(
            "tms_sms_messages", "SMS messages in the outbox, by state.", labels=["state"]
        )
        for state in sorted({*MessageState.values, *counts}):
            family.add_metric([state], counts.get(state, 0))
        return family

    def _lookups(self) -> list[Metric]:
        from tms.tracking.models import LookupTally

        totals = dict(
            LookupTally.objects.values("channel")
            .annotate(n=Sum("lookups"))
            .order_by()
            .values_list("channel", "n")
        )
        today = dict(
            LookupTally.objects.filter(day=timezone.localdate()).values_list("channel", "lookups")
        )
        total = CounterMetricFamily(
            "tms_lookups",
            "Self-service status lookups (each a visit to a centre avoided), by channel.",
            labels=["channel"],
        )
        today_family = GaugeMetricFamily(
            "tms_lookups_today",
            "Self-service status lookups today (Africa/Nairobi), by channel.",
            labels=["channel"],
        )
        for channel in sorted({*totals, *today}):
            total.add_metric([channel], totals.get(channel) or 0)
            today_family.add_metric([channel], today.get(channel, 0))
        return [total, today_family]


DATABASE_COLLECTOR = DatabaseCollector()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


def scrape(database: DatabaseCollector = DATABASE_COLLECTOR) -> bytes:
    """The metrics in Prometheus text format: every process's under ``tms serve``."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(database)
    return generate_latest(registry)


@cache
def _allowed_networks(
    allow: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allow)


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to TMS_METRICS_TOKEN, or an address in TMS_METRICS_ALLOW."""
    token = settings.TMS_METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return hmac.compare_digest(offered.strip().encode(), token.encode())
    if not settings.TMS_PROXY_COUNT and "X-Forwarded-For" in request.headers:
        # A proxy we were not told about (TMS_PROXY_COUNT) stands in front: the address
        # we see is the proxy's (often 127.0.0.1), not the caller's.
        return False
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(
        address in network for network in _allowed_networks(tuple(settings.TMS_METRICS_ALLOW))
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics; a 404 for anyone not allowed, so the endpoint is not advertised."""
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
