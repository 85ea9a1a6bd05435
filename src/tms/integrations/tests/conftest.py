"""Fixtures for the agency API tests: two agencies (NRB and KRA), their tokens, and a
test client that speaks to /api/v1/agency/ with a bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tms.applications.models import Application, ApplicationEvent
from tms.directory.models import Agency, Centre, Service
from tms.integrations.tokens import token_create
from tms.notifications.models import Message
from tms.testing.builders import make_agency, make_centre, make_service

BASE = "/api/v1/agency/"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache and are keyed by token id, which the
    database may hand out again in the next test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def nrb(db: None) -> Agency:
    return make_agency("NRB", name="National Registration Bureau")


@pytest.fixture
def kra(db: None) -> Agency:
    return make_agency("KRA", name="Kenya Revenue Authority")


@pytest.fixture
def id_service(nrb: Agency) -> Service:
    return make_service("NRB-ID-NEW", agency=nrb, name_en="New ID card", requires_id_number=True)


@pytest.fixture
def replacement_service(nrb: Agency) -> Service:
    return make_service("NRB-ID-REPL", agency=nrb, name_en="Replacement ID card")


@pytest.fixture
def kra_service(kra: Agency) -> Service:
    return make_service("KRA-PIN", agency=kra, name_en="KRA PIN certificate")


@pytest.fixture
def gpo(db: None) -> Centre:
    return make_centre("GPO", name="Huduma Centre GPO")


@pytest.fixture
def mombasa(db: None) -> Centre:
    return make_centre("MSA", name="Huduma Centre Mombasa", county="Mombasa")


class AgencyClient:
    """The Django test client with an agency's bearer token on every request."""

    def __init__(self, token: str | None, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    def _headers(self, key: str | None = None) -> dict[str, str]:
        headers = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(BASE + path, params or {}, headers=self._headers())

    def post(self, path: str, body: Any, *, key: str | None = None) -> Any:
        return self.client.post(
            BASE + path,
            json.dumps(body),
            content_type="application/json",
            headers=self._headers(key),
        )

    def lodge(self, *items: dict[str, Any], key: str | None = None) -> Any:
        return self.post("applications", {"items": list(items)}, key=key)

    def update(self, *items: dict[str, Any], key: str | None = None) -> Any:
        return self.post("status-updates", {"items": list(items)}, key=key)

    def results(self, response: Any) -> list[dict[str, Any]]:
        assert response.status_code == 200, response.content
        return response.json()["results"]


@pytest.fixture
def nrb_token(nrb: Agency) -> str:
    return token_create(agency=nrb, name="NRB prod")[1]


@pytest.fixture
def kra_token(kra: Agency) -> str:
    return token_create(agency=kra, name="KRA prod")[1]


@pytest.fixture
def nrb_api(nrb_token: str, id_service: Service, replacement_service: Service, gpo: Centre) -> Any:
    return AgencyClient(nrb_token)


@pytest.fixture
def kra_api(kra_token: str, kra_service: Service, gpo: Centre) -> Any:
    return AgencyClient(kra_token)


@pytest.fixture
def anonymous_api(db: None) -> Any:
    return AgencyClient(None)


def lodge_item(
    agency_ref: str,
    *,
    service: str = "NRB-ID-NEW",
    centre: str = "GPO",
    name: str = "Wanjiku Kamau",
    phone: str = "0712 345 678",
    id_number: str = "12345678",
    **extra: Any,
) -> dict[str, Any]:
    """One item of a bulk lodging request (NRB's new ID card at GPO unless told)."""
    applicant = {"name": name, "phone": phone, "id_number": id_number}
    return {
        "agency_ref": agency_ref,
        "service": service,
        "centre": centre,
        "applicant": applicant,
        **extra,
    }


@pytest.fixture
def item() -> Callable[..., dict[str, Any]]:
    return lodge_item


def counts() -> dict[str, int]:
    """What a request may change: compared before and after a retry."""
    return {
        "applications": Application.objects.count(),
        "events": ApplicationEvent.objects.count(),
        "messages": Message.objects.count(),
    }


@pytest.fixture
def count_changes() -> Callable[[], dict[str, int]]:
    return counts


@pytest.fixture(autouse=True)
def settled_change_feed(settings: Any) -> None:
    """Tests read the change feed at once; in service it lags 30 s (see selectors.settle)."""
    settings.TMS_CHANGE_FEED_SETTLE_SECONDS = 0
