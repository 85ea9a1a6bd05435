"""The public home page and the health check."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_the_home_page_loads(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Follow your document application" in page
    assert reverse("admin:index") in page


@pytest.mark.django_db
def test_the_home_page_speaks_swahili_when_asked(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="sw")
    assert response.status_code == 200
    assert response["Content-Language"] == "sw"


@pytest.mark.django_db
def test_the_health_check_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_pages_only_answer_safe_methods(client, path):
    assert client.post(path).status_code == 405
    assert client.head(path).status_code == 200
