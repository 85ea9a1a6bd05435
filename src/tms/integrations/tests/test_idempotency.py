"""Idempotency-Key (SPEC §7): a retried request changes nothing and gets the first
answer; the key is kept for 24 hours. The race tests use real threads, each with its
own database connection, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tms.applications.models import Application
from tms.integrations import api as agency_api
from tms.integrations import idempotency
from tms.integrations.idempotency import KEEP_FOR, prune
from tms.integrations.models import IdempotencyRecord
from tms.integrations.tests.conftest import AgencyClient
from tms.testing import database
from tms.testing.threads import run_in_threads

TIMEOUT = 60


def assert_problem(response, status: int, kind: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + kind)
    assert response.json()["status"] == status


@pytest.mark.django_db
def test_a_retried_lodging_gets_the_first_answer_and_changes_nothing(nrb_api, item, count_changes):
    items = [item("NRB-0001"), item("NRB-0002", centre="NOWHERE")]
    first = nrb_api.lodge(*items, key="batch-2025-06-01")
    after_first = count_changes()

    retry = nrb_api.lodge(*items, key="batch-2025-06-01")

    assert retry.status_code == first.status_code == 200
    assert retry.json() == first.json()
    # Without the key the same request would answer "existing" for NRB-0001.
    assert retry.json()["results"][0]["status"] == "lodged"
    assert count_changes() == after_first == {"applications": 1, "events": 1, "messages": 1}
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_status_update_gets_the_first_answer_and_changes_nothing(
    nrb_api, item, count_changes
):
    [lodged] = nrb_api.results(nrb_api.lodge(item("NRB-0001")))
    update = {"reference": lodged["reference"], "status": "processing"}
    first = nrb_api.update(update, key="update-1")
    after_first = count_changes()

    retry = nrb_api.update(update, key="update-1")

    assert retry.json() == first.json()
    assert retry.json()["results"][0]["ok"] is True  # not "cannot start processing" again
    assert count_changes() == after_first
    assert Application.objects.get().version == 2


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(nrb_api, item, count_changes):
    nrb_api.lodge(item("NRB-0001"), key="batch-1")
    before = count_changes()

    response = nrb_api.lodge(item("NRB-0002"), key="batch-1")

    assert_problem(response, 422, "idempotency-key-reused")
    assert count_changes() == before
    assert not Application.objects.filter(agency_ref="NRB-0002").exists()


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_refused(nrb_api, item):
    # One body that both endpoints accept (unknown fields are ignored).
    both = {"items": [{**item("NRB-0001"), "status": "processing"}]}
    nrb_api.post("applications", both, key="k-1")

    response = nrb_api.post("status-updates", both, key="k-1")

    assert_problem(response, 422, "idempotency-key-reused")
    assert Application.objects.get().status == "lodged"


@pytest.mark.django_db
def test_keys_belong_to_one_agency(nrb_api, kra_api, item, count_changes):
    """KRA sending NRB's exact request with NRB's key must not get NRB's answer."""
    body = [item("SHARED-001")]
    nrb_answer = nrb_api.lodge(*body, key="shared-key").json()

    kra_answer = kra_api.lodge(*body, key="shared-key").json()

    assert kra_answer != nrb_answer
    assert kra_answer["results"][0]["error"]["code"] == "unknown-service"
    assert nrb_answer["results"][0]["reference"] not in str(kra_answer)
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_a_400_problem(nrb_api, item, key):
    response = nrb_api.lodge(item("NRB-0001"), key=key)

    assert_problem(response, 400, "idempotency-key")
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_a_key_of_255_characters_is_accepted(nrb_api, item):
    response = nrb_api.lodge(item("NRB-0001"), key="k" * 255)
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_request_that_crashed_frees_its_key_for_the_retry(nrb_api, item, monkeypatch):
    real = agency_api.applications_lodge_bulk

    def crash(**kwargs: Any) -> Any:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(agency_api, "applications_lodge_bulk", crash)
    with pytest.raises(RuntimeError):
        nrb_api.lodge(item("NRB-0001"), key="batch-1")
    assert not IdempotencyRecord.objects.exists()

    monkeypatch.setattr(agency_api, "applications_lodge_bulk", real)
    retry = nrb_api.lodge(item("NRB-0001"), key="batch-1")
    assert retry.json()["results"][0]["status"] == "lodged"


@pytest.mark.django_db(transaction=True)
def test_a_database_restart_mid_request_frees_the_key_once_it_is_back(nrb_api, item, monkeypatch):
    """The database goes away during the request and is back a second later: the
    answer is a 503, and the retry with the same key runs (not "still being processed")."""
    real = agency_api.applications_lodge_bulk
    request_connection = connection  # this thread's: the test client runs the view here

    def database_restarts(**kwargs: Any) -> Any:
        threading.Timer(1.0, database.take_away(request_connection)).start()
        return real(**kwargs)  # its first query fails: the database is away

    monkeypatch.setattr(agency_api, "applications_lodge_bulk", database_restarts)
    first = nrb_api.lodge(item("NRB-0001"), key="batch-1")
    assert_problem(first, 503, "unavailable")
    assert not IdempotencyRecord.objects.exists()

    monkeypatch.setattr(agency_api, "applications_lodge_bulk", real)
    retry = nrb_api.lodge(item("NRB-0001"), key="batch-1")
    assert retry.status_code == 200, retry.content
    assert retry.json()["results"][0]["status"] == "lodged"
    assert Application.objects.count() == 1


@pytest.mark.django_db
def test_a_key_left_in_progress_by_a_dead_worker_does_not_block_retries(nrb_api, item, monkeypatch):
    """A worker killed mid-request (OOM, deploy) never records its answer. Its retry,
    long after any request could still be running, must run rather than wait 30 s
    and be told "still being processed" for the next 24 hours."""
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST", 0.2)
    body = [item("NRB-0001")]
    nrb_api.lodge(*body, key="batch-1")
    IdempotencyRecord.objects.update(
        status_code=None, response_body="", created_at=timezone.now() - timedelta(minutes=30)
    )

    retry = nrb_api.lodge(*body, key="batch-1")

    assert retry.status_code == 200, retry.content
    assert retry.json()["results"][0]["ok"] is True
    assert Application.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_pruned_after_24_hours(nrb_api, item):
    nrb_api.lodge(item("NRB-0001"), key="old")
    nrb_api.lodge(item("NRB-0002"), key="recent")
    now = timezone.now()
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=now - KEEP_FOR - timedelta(minutes=1)
    )
    IdempotencyRecord.objects.filter(key="recent").update(
        created_at=now - KEEP_FOR + timedelta(minutes=5)
    )

    assert prune() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    # A pruned key may be used for a new request; a kept one still guards its own.
    assert nrb_api.lodge(item("NRB-0003"), key="old").json()["results"][0]["status"] == "lodged"
    assert_problem(nrb_api.lodge(item("NRB-0003"), key="recent"), 422, "idempotency-key-reused")


# --- At the same moment, in two threads ----------------------------------------------------


def at_once(count: int, send: Callable[[Client], Any]) -> list[Any]:
    """Call send(client) in ``count`` threads released together; their results in order."""
    barrier = threading.Barrier(count)

    def work(index: int) -> Any:
        client = Client()
        barrier.wait(TIMEOUT)
        return send(client)

    results = run_in_threads(count, work)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, failed
    return results


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_get_one_answer_and_one_set_of_changes(
    nrb_token, id_service, gpo, item, count_changes
):
    items = [item(f"NRB-{i:03d}") for i in range(20)]

    responses = at_once(
        2, lambda client: AgencyClient(nrb_token, client).lodge(*items, key="batch-at-once")
    )

    assert [r.status_code for r in responses] == [200, 200]
    first, second = (r.json() for r in responses)
    assert first == second
    assert all(r["status"] == "lodged" for r in first["results"])
    assert count_changes() == {"applications": 20, "events": 20, "messages": 20}
    assert IdempotencyRecord.objects.get().status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_identical_status_updates_at_once_apply_once(
    nrb_token, id_service, gpo, item, count_changes
):
    api = AgencyClient(nrb_token)
    lodged = api.results(api.lodge(*[item(f"NRB-{i:03d}") for i in range(10)]))
    updates = [{"reference": r["reference"], "status": "dispatched"} for r in lodged]
    before = count_changes()

    responses = at_once(
        2, lambda client: AgencyClient(nrb_token, client).update(*updates, key="dispatch-1")
    )

    first, second = (r.json() for r in responses)
    assert first == second
    assert all(r["ok"] for r in first["results"])
    assert count_changes()["events"] == before["events"] + 10
    assert set(Application.objects.values_list("status", "version")) == {("dispatched", 2)}


@pytest.mark.django_db(transaction=True)
def test_without_a_key_the_agency_ref_still_keeps_concurrent_lodgings_apart(
    nrb_token, id_service, gpo, item, count_changes
):
    items = [item(f"NRB-{i:03d}") for i in range(10)]

    responses = at_once(4, lambda client: AgencyClient(nrb_token, client).lodge(*items))

    answers = [r.json()["results"] for r in responses]
    for index in range(10):
        column = [answer[index] for answer in answers]
        assert all(result["ok"] for result in column), column
        assert len({result["reference"] for result in column}) == 1
        assert sorted(result["status"] for result in column).count("lodged") == 1
    assert count_changes() == {"applications": 10, "events": 10, "messages": 10}
