"""Readiness (/readyz): database, cache and migrations, each named when it fails."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from tms.core import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def forget_migrations_answer(monkeypatch):
    # The positive answer is remembered per process; each test asks afresh.
    monkeypatch.setattr(health, "_migrations_applied", False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


def test_ready_when_database_cache_and_migrations_are(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "migrations": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]
    assert "Set-Cookie" not in response  # no session


def test_the_positive_migrations_answer_is_remembered(client, django_assert_max_num_queries):
    assert client.get("/readyz").status_code == 200
    # Later probes: SELECT 1 only, no migration graph built from django_migrations.
    with django_assert_max_num_queries(1):
        assert client.get("/readyz").status_code == 200


def test_an_unreachable_cache_is_named_without_its_error(client):
    port = closed_port()
    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
    }
    with override_settings(CACHES={"default": redis}):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "failed", "migrations": "ok"},
    }
    assert str(port) not in response.content.decode()


def test_an_unapplied_migration_is_named(client):
    # As after deploying new code before `tms migrate`: the newest migration of an app is
    # not recorded as applied (rolled back with the test).
    latest = (
        MigrationRecorder.Migration.objects.filter(app="core").order_by("-applied", "-id").first()
    )
    assert latest is not None
    MigrationRecorder(connection).record_unapplied(latest.app, latest.name)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "migrations": "failed"}


def test_a_database_that_does_not_answer_is_named(client, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise ConnectionRefusedError("connection to server at 10.0.0.9 failed")

    # A stand-in: stopping the test database's server is not possible from inside the test.
    monkeypatch.setattr(health, "connections", {"default": Unreachable()})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "failed",
        "cache": "ok",
        "migrations": "not checked",
    }
    assert "10.0.0.9" not in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_readiness_only_answers_safe_methods(client, method):
    assert getattr(client, method)("/readyz").status_code == 405
