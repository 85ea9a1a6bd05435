"""While the database cannot be reached, every request fails cleanly and at once: 503
with Retry-After, a problem document under /api/v1/, a page elsewhere; no traceback
logged per request. The database really is unreachable here (tms.testing.database),
and is reached again afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from tms.applications.references import with_check_digit
from tms.core import outage
from tms.testing import database

REFERENCE = with_check_digit("482177309155")  # well formed; no such application


@pytest.fixture
def database_down() -> Iterator[None]:
    with database.unreachable(connection):
        yield


@pytest.fixture
def client() -> Client:
    # As a browser or integrator meets it: the answer, not the exception.
    return Client(raise_request_exception=False)


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_problem_details(database_down, client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get(f"/api/v1/track/{REFERENCE}")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "30"
    problem = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/unavailable")
    assert all(record.exc_info is None for record in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
def test_a_page_answers_503_in_the_citizens_language(database_down, client):
    response = client.get(f"/track/?ref={REFERENCE}", HTTP_ACCEPT_LANGUAGE="sw")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "text/html" in response["Content-Type"]
    assert "Huduma haipatikani kwa muda mfupi" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_outage_met_before_the_view_is_a_503_too(database_down, client, caplog):
    # A session cookie makes the idle sign-out middleware read the session first.
    client.cookies["sessionid"] = "a-session-the-database-holds"

    with caplog.at_level(logging.INFO):
        response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
def test_requests_are_served_again_once_the_database_is_back(client):
    with database.unreachable(connection):
        assert client.get(f"/api/v1/track/{REFERENCE}").status_code == 503

    # The same process, no restart: the next request opens a new connection.
    assert client.get(f"/api/v1/track/{REFERENCE}").status_code in (404, 422)
    assert client.get("/readyz").status_code == 200


def test_other_errors_are_still_500s(rf):
    request = rf.get("/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = outage.server_error(request)
    assert response.status_code == 500


@pytest.mark.django_db(transaction=True)
def test_a_session_that_cannot_be_saved_in_an_outage_is_a_503_not_a_400(rf):
    store = SessionStore()
    store["scans"] = [1]
    store.create()
    request = rf.post("/staff/scan/json/")
    request.session = SessionStore(session_key=store.session_key)
    request.session["scans"] = [1, 2]  # changed: saved on the way out

    with database.unreachable(connection):
        response = outage.SessionMiddleware(lambda r: HttpResponse()).process_response(
            request, HttpResponse("scanned")
        )

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
