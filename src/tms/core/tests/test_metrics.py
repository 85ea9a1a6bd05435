"""/metrics: who may read it, request counts by route, database gauges, and several
processes adding up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tms.applications.references import with_check_digit
from tms.core.metrics import DatabaseCollector, scrape
from tms.core.tests.test_processes import free_port
from tms.notifications.models import Message, MessageState
from tms.testing.browser import server_env
from tms.testing.builders import lodge
from tms.tracking.models import LookupTally

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


# --- Access ------------------------------------------------------------------------------


def test_this_machine_may_read_the_metrics_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "tms_http_requests_total" in response.content.decode()


@override_settings(TMS_METRICS_ALLOW=["10.20.0.0/16", "192.0.2.7"])
@pytest.mark.parametrize(
    ("address", "allowed"),
    [("10.20.3.4", True), ("192.0.2.7", True), ("10.21.0.1", False), ("127.0.0.1", False)],
)
def test_addresses_and_networks_in_the_allow_list_may_read_them(client, address, allowed):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == (200 if allowed else 404)


@override_settings(TMS_METRICS_TOKEN="a-long-scrape-token", TMS_METRICS_ALLOW=[])
def test_a_scraper_with_the_token_may_read_them_from_anywhere(client):
    good = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer a-long-scrape-token"
    )
    wrong = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer a-long-scrape-tokeN"
    )
    none = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert good.status_code == 200
    assert wrong.status_code == none.status_code == 404
    assert "tms_" not in wrong.content.decode()


def test_through_an_undeclared_proxy_the_address_is_not_trusted(client):
    # A proxy on this machine makes every caller look like 127.0.0.1.
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert response.status_code == 404


@override_settings(TMS_PROXY_COUNT=1, TMS_METRICS_ALLOW=["10.0.0.0/8"])
def test_behind_a_declared_proxy_the_callers_address_counts(client):
    inside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.1.1")
    outside = client.get("/metrics", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert inside.status_code == 200
    assert outside.status_code == 404


# --- Requests by route ---------------------------------------------------------------------


def requests_counted(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("tms_http_requests_total", labels) or 0.0


def latencies_counted(route: str) -> float:
    return (
        REGISTRY.get_sample_value("tms_http_request_duration_seconds_count", {"route": route})
        or 0.0
    )


def test_requests_are_counted_and_timed_by_route_never_by_path(client):
    reference = with_check_digit("482177309155")
    before_track = requests_counted("track/", "GET", "200")
    before_query = requests_counted("track/<str:reference>/query", "POST", "302")
    before_unmatched = requests_counted("<unmatched>", "GET", "404")
    before_latency = latencies_counted("track/")

    client.get("/track/")
    client.get("/track/")
    client.post(f"/track/{reference}/query")
    client.get("/no/such/page/0712345678")

    assert requests_counted("track/", "GET", "200") == before_track + 2
    assert requests_counted("track/<str:reference>/query", "POST", "302") == before_query + 1
    assert requests_counted("<unmatched>", "GET", "404") == before_unmatched + 1
    assert latencies_counted("track/") == before_latency + 2
    text = client.get("/metrics").content.decode()
    assert 'route="track/<str:reference>/query"' in text
    assert reference not in text and "0712345678" not in text


def test_a_request_in_an_unknown_method_is_counted_as_other(client):
    before = requests_counted("track/", "other", "405")
    client.generic("BREW", "/track/")
    assert requests_counted("track/", "other", "405") == before + 1


# --- Database gauges -------------------------------------------------------------------------


def enqueue_row(queue: str, age: timedelta, status: str = "READY") -> None:
    row = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="tms.core.tasks.prune_finished_tasks",
        queue_name=queue,
        backend_name="default",
        run_after=get_date_max(),
        status=status,
    )
    DBTaskResult.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - age)


def test_gauges_show_the_queue_the_outbox_and_the_lookups(client):
    enqueue_row("sms", timedelta(minutes=5))
    enqueue_row("sms", timedelta(seconds=30))
    enqueue_row("bulk", timedelta(seconds=1), status="RUNNING")
    lodge(phone="0712000001")
    lodge(phone="0712000002")
    lodge(phone="0712000003")
    Message.objects.filter(pk=Message.objects.order_by("pk")[0].pk).update(
        state=MessageState.FAILED
    )
    today = timezone.localdate()
    LookupTally.objects.create(day=today, channel="web", lookups=40)
    LookupTally.objects.create(day=today - timedelta(days=1), channel="web", lookups=60)
    LookupTally.objects.create(day=today - timedelta(days=1), channel="ussd", lookups=7)

    found = samples(scrape(DatabaseCollector(max_age=0)).decode())

    assert value(found, "tms_task_queue_depth", queue="sms") == 2
    assert value(found, "tms_task_queue_depth", queue="bulk") == 0
    assert value(found, "tms_task_queue_depth", queue="default") == 0
    oldest = value(found, "tms_task_queue_oldest_age_seconds", queue="sms")
    assert oldest is not None and 299 <= oldest < 330
    assert value(found, "tms_task_queue_oldest_age_seconds", queue="default") == 0
    assert value(found, "tms_task_running", queue="bulk") == 1
    queued = Message.objects.filter(state=MessageState.QUEUED).count()
    assert queued >= 2
    assert value(found, "tms_sms_messages", state="queued") == queued
    assert value(found, "tms_sms_messages", state="failed") == 1
    assert value(found, "tms_sms_messages", state="delivered") == 0
    assert value(found, "tms_lookups_total", channel="web") == 100
    assert value(found, "tms_lookups_total", channel="ussd") == 7
    assert value(found, "tms_lookups_today", channel="web") == 40
    assert value(found, "tms_lookups_today", channel="ussd") == 0


def test_the_database_is_read_at_most_once_per_period(django_assert_num_queries):
    collector = DatabaseCollector(max_age=60)
    list(collector.collect())
    with django_assert_num_queries(0):
        list(collector.collect())


# --- Several processes -------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from tms.core import metrics
    metrics.HTTP_REQUESTS.labels(route="track/", method="GET", status="200").inc(int(sys.argv[1]))
    metrics.HTTP_LATENCY.labels(route="track/").observe(0.003)
    """
)


def test_several_processes_add_up_in_multiprocess_mode(tmp_path: Path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tms.settings",
    }
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", WRITER, count], env=env, check=True)

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in registry.collect()
        for s in family.samples
    }

    labels = frozenset({"route": "track/", "method": "GET", "status": "200"}.items())
    assert found[("tms_http_requests_total", labels)] == 7
    assert (
        found[("tms_http_request_duration_seconds_count", frozenset({"route": "track/"}.items()))]
        == 2
    )
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process


def test_the_served_application_adds_up_its_worker_processes(tmp_path: Path):
    env = server_env(tmp_path, "production")  # its own SQLite file, no outside TMS_*
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from the last run")
    tms = [sys.executable, "-m", "tms.cli"]
    subprocess.run([*tms, "migrate", "-v0"], env=env, check=True)
    port = free_port()
    process = subprocess.Popen(
        [
            *tms,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "1",
            "--no-collectstatic",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base) as http:
            for _ in range(20):
                # A new connection each time, so that both workers take some.
                assert httpx.get(f"{base}/readyz").status_code == 200
            text = http.get("/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=30)

    found = samples(text)
    assert value(found, "tms_http_requests_total", route="readyz", method="GET", status="200") == 20
    assert value(found, "tms_sms_messages", state="queued") == 0
    assert not (metrics_dir / "counter_99999.db").exists()
    assert list(metrics_dir.glob("counter_*.db"))
