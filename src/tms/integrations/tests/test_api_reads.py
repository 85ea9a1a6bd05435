"""Reads: reference data, one application by either reference, and the change feed."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from tms.applications.models import Application, ApplicationEvent
from tms.applications.references import display
from tms.testing.builders import make_centre, make_service


def lodge_one(api, item, agency_ref: str = "NRB-0001", **fields) -> str:
    [result] = api.results(api.lodge(item(agency_ref, **fields)))
    assert result["ok"], result
    return result["reference"]


# --- Reference data -------------------------------------------------------------------


@pytest.mark.django_db
def test_services_lists_only_the_token_agencys_active_services(nrb_api, nrb, kra_service):
    make_service("NRB-OLD", agency=nrb, is_active=False)

    response = nrb_api.get("services")

    assert response.status_code == 200
    services = response.json()
    assert [s["code"] for s in services] == ["NRB-ID-NEW", "NRB-ID-REPL"]
    assert services[0] == {
        "code": "NRB-ID-NEW",
        "name_en": "New ID card",
        "name_sw": "Huduma NRB-ID-NEW",
        "turnaround_days": 10,
        "retention_days": 90,
        "requires_id_number": True,
    }


@pytest.mark.django_db
def test_centres_lists_every_open_centre_whoever_asks(nrb_api, kra_api, mombasa):
    make_centre("OLD", is_active=False)

    for api in (nrb_api, kra_api):
        response = api.get("centres")
        assert response.status_code == 200
        assert sorted(c["code"] for c in response.json()) == ["GPO", "MSA"]
    msa = next(c for c in response.json() if c["code"] == "MSA")
    assert msa["name"] == "Huduma Centre Mombasa" and msa["county"] == "Mombasa"
    assert {"address", "opening_hours", "phone"} <= set(msa)


# --- One application ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_application_is_found_by_our_reference(nrb_api, item):
    reference = lodge_one(nrb_api, item, name="Otieno Odhiambo")
    nrb_api.update({"reference": reference, "status": "processing"})

    response = nrb_api.get(f"applications/{reference}")

    assert response.status_code == 200
    data = response.json()
    assert data["reference"] == reference
    assert data["agency_ref"] == "NRB-0001"
    assert (data["service"], data["centre"]) == ("NRB-ID-NEW", "GPO")
    assert (data["status"], data["version"]) == ("processing", 2)
    assert data["ready_at"] is None and data["closed_at"] is None
    assert data["due_date"] == Application.objects.get().due_date.isoformat()
    assert [(e["from_status"], e["to_status"], e["version"]) for e in data["history"]] == [
        ("", "lodged", 1),
        ("lodged", "processing", 2),
    ]
    assert {e["channel"] for e in data["history"]} == {"agency_api"}
    # Data minimisation (SPEC §11): the agency already has the applicant's details.
    assert "Otieno" not in response.content.decode()


@pytest.mark.django_db
def test_an_application_is_found_by_its_reference_as_printed(nrb_api, item):
    reference = lodge_one(nrb_api, item)

    for typed in (display(reference), display(reference).replace(" ", "-")):
        response = nrb_api.get(f"applications/{quote(typed)}")
        assert response.status_code == 200, typed
        assert response.json()["reference"] == reference


@pytest.mark.django_db
def test_an_application_is_found_by_the_agencys_own_reference(nrb_api, item):
    reference = lodge_one(nrb_api, item, agency_ref="NRB-2025-000123")

    response = nrb_api.get("applications/agency_ref:NRB-2025-000123")

    assert response.status_code == 200
    assert response.json()["reference"] == reference


@pytest.mark.django_db
def test_an_agency_reference_with_slashes_can_be_looked_up(nrb_api, item):
    """Agencies commonly number files like NRB/2025/000123; lodging accepts such a
    reference, so the lookup by agency_ref must reach it too."""
    reference = lodge_one(nrb_api, item, agency_ref="NRB/2025/000123")

    response = nrb_api.get("applications/agency_ref:" + quote("NRB/2025/000123", safe=""))

    assert response.status_code == 200, response.content
    assert response.json()["reference"] == reference


@pytest.mark.django_db
def test_unknown_and_mistyped_references_are_not_found(nrb_api, item):
    reference = lodge_one(nrb_api, item)
    typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)

    for identifier in (typo, "agency_ref:NRB-9999", "agency_ref:", "hello"):
        response = nrb_api.get(f"applications/{identifier}")
        assert response.status_code == 404, identifier
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["type"].endswith("/not-found")


# --- Change feed ----------------------------------------------------------------------


def read_feed(api, since, limit: int) -> tuple[list[tuple[str, int]], int]:
    """Follow next_cursor while more pages wait; the (reference, version) of every
    item, and the number of pages."""
    seen: list[tuple[str, int]] = []
    params: dict[str, object] = {"since": since.isoformat(), "limit": limit}
    pages = 0
    while True:
        response = api.get("changes", params)
        assert response.status_code == 200, response.content
        page = response.json()
        pages += 1
        assert len(page["items"]) <= limit
        seen += [(c["reference"], c["version"]) for c in page["items"]]
        if not page["more"]:
            return seen, pages
        params["cursor"] = page["next_cursor"]
        assert pages < 100, "the feed does not end"


def make_25_events(api, item) -> list[str]:
    """10 lodged, 10 processing, 5 dispatched: 25 history events."""
    references = [
        r["reference"] for r in api.results(api.lodge(*[item(f"F-{i}") for i in range(10)]))
    ]
    api.results(api.update(*[{"reference": r, "status": "processing"} for r in references]))
    api.results(api.update(*[{"reference": r, "status": "dispatched"} for r in references[:5]]))
    return references


def expected_order(**filters) -> list[tuple[str, int]]:
    return [
        (e.application.reference, e.version)
        for e in ApplicationEvent.objects.filter(**filters)
        .select_related("application")
        .order_by("recorded_at", "id")
    ]


@pytest.mark.django_db
def test_the_change_feed_pages_through_every_event_once_in_order(nrb_api, item):
    make_25_events(nrb_api, item)
    # Several events recorded at the same moment straddle the first page break.
    tied = list(ApplicationEvent.objects.order_by("recorded_at", "id").values_list("id", flat=True))
    moment = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    ApplicationEvent.objects.filter(id__in=tied[6:14]).update(recorded_at=moment)
    ApplicationEvent.objects.filter(id__in=tied[:6]).update(recorded_at=moment - timedelta(1))

    seen, pages = read_feed(nrb_api, timezone.now() - timedelta(days=2), limit=10)

    assert pages == 3
    assert len(seen) == 25 and len(set(seen)) == 25
    assert seen == expected_order()


@pytest.mark.django_db
def test_the_change_feed_starts_at_since(nrb_api, item):
    make_25_events(nrb_api, item)
    old = list(ApplicationEvent.objects.order_by("id").values_list("id", flat=True)[:5])
    ApplicationEvent.objects.filter(id__in=old).update(
        recorded_at=timezone.now() - timedelta(days=3)
    )
    since = timezone.now() - timedelta(days=1)

    seen, _ = read_feed(nrb_api, since, limit=7)

    assert len(seen) == 20
    assert seen == expected_order(recorded_at__gte=since)


@pytest.mark.django_db
def test_a_change_feed_item_says_what_changed(nrb_api, item):
    reference = lodge_one(nrb_api, item)
    nrb_api.update({"reference": reference, "status": "processing"})

    response = nrb_api.get("changes", {"since": "2000-01-01T00:00:00Z"})

    items = response.json()["items"]
    assert response.json()["more"] is False
    assert items[-1]["reference"] == reference and items[-1]["agency_ref"] == "NRB-0001"
    assert (items[-1]["from_status"], items[-1]["to_status"]) == ("lodged", "processing")
    assert items[-1]["channel"] == "agency_api"
    assert {"occurred_at", "recorded_at", "version"} <= set(items[-1])


@pytest.mark.django_db
def test_the_change_feed_is_empty_after_the_last_change(nrb_api, item):
    lodge_one(nrb_api, item)

    response = nrb_api.get(
        "changes", {"since": (timezone.now() + timedelta(seconds=1)).isoformat()}
    )

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None, "more": False}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        base64.urlsafe_b64encode(b"yesterday|12").decode(),
        base64.urlsafe_b64encode(b"2025-01-01T00:00:00+00:00|twelve").decode(),
        base64.urlsafe_b64encode(b"2025-01-01T00:00:00+00:00").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        # A moment without a time zone is not one this API gives either.
        base64.urlsafe_b64encode(b"2025-01-01T00:00:00|12").decode(),
    ],
    ids=["not-base64", "bad-time", "bad-id", "no-id", "not-text", "naive-time"],
)
def test_a_bad_cursor_is_a_400_problem(nrb_api, item, cursor):
    lodge_one(nrb_api, item)

    response = nrb_api.get("changes", {"since": "2025-01-01T00:00:00Z", "cursor": cursor})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/invalid-cursor")
    assert response.json()["instance"] == "/api/v1/agency/changes"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"since": "last week"},
        {"since": "2025-01-01T00:00:00Z", "limit": 0},
        {"since": "2025-01-01T00:00:00Z", "limit": 1001},
        # Without a time zone the moment is ambiguous (lodging refuses such times too).
        {"since": "2025-01-01T00:00:00"},
        {"since": "2025-01-01"},
    ],
    ids=["no-since", "bad-since", "limit-0", "limit-1001", "naive-since", "date-only-since"],
)
def test_a_bad_since_or_limit_is_a_422_problem(nrb_api, params):
    response = nrb_api.get("changes", params)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation")
    assert problem["errors"] and all(e["field"] for e in problem["errors"])


# --- Errors are problem details everywhere under /api/v1/ ------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/agency/no-such-thing", "/api/v1/no-such-thing"])
def test_an_unknown_path_under_the_api_is_a_404_problem(nrb_api, path):
    response = nrb_api.client.get(path, headers={"Authorization": f"Bearer {nrb_api.token}"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404 and response.json()["instance"] == path


@pytest.mark.django_db
def test_a_wrong_method_is_a_405_problem(nrb_api):
    response = nrb_api.get("applications")  # lodging is POST only

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 405
