"""A token reaches its own agency's applications only (SPEC §7): KRA's token can read,
change and even learn the existence of none of NRB's applications, by any endpoint."""

from __future__ import annotations

import pytest

from tms.applications.models import Application, ApplicationEvent
from tms.applications.references import is_well_formed
from tms.testing.builders import make_service

SINCE = {"since": "2000-01-01T00:00:00Z"}


@pytest.fixture
def nrbs(nrb_api, item) -> Application:
    """One NRB application, moved along so that it has some history."""
    [result] = nrb_api.results(nrb_api.lodge(item("SHARED-001")))
    nrb_api.results(nrb_api.update({"reference": result["reference"], "status": "processing"}))
    return Application.objects.get(reference=result["reference"])


def without_instance(response) -> dict:
    body = dict(response.json())
    body.pop("instance")
    return body


@pytest.mark.django_db
def test_another_agencys_application_looks_exactly_like_a_missing_one(nrbs, kra_api):
    missing_reference = "0000000000000"
    assert is_well_formed(missing_reference)  # so it is not refused as a typing error
    pairs = [
        (nrbs.reference, missing_reference),
        ("agency_ref:SHARED-001", "agency_ref:NO-SUCH-REF"),
    ]
    for theirs, missing in pairs:
        their_response = kra_api.get(f"applications/{theirs}")
        missing_response = kra_api.get(f"applications/{missing}")

        assert their_response.status_code == missing_response.status_code == 404
        assert their_response["Content-Type"] == missing_response["Content-Type"]
        assert their_response["Content-Type"] == "application/problem+json"
        assert without_instance(their_response) == without_instance(missing_response)
        assert set(their_response.headers) == set(missing_response.headers)
        assert nrbs.reference not in their_response.content.decode().replace(
            their_response.json()["instance"], ""
        )


@pytest.mark.django_db
def test_another_agencys_application_cannot_be_updated(nrbs, kra_api):
    results = kra_api.results(
        kra_api.update(
            {"reference": nrbs.reference, "status": "dispatched"},
            {"agency_ref": "SHARED-001", "status": "rejected", "reason": "Not ours."},
            {"reference": "0000000000000", "status": "dispatched"},
        )
    )

    assert results[0]["error"] == results[1]["error"] == results[2]["error"]
    assert results[0]["error"]["code"] == "not-found"
    nrbs_now = Application.objects.get(pk=nrbs.pk)
    assert (nrbs_now.status, nrbs_now.version) == ("processing", 2)
    assert ApplicationEvent.objects.filter(application=nrbs).count() == 2


@pytest.mark.django_db
def test_lodging_with_another_agencys_agency_ref_creates_ones_own(nrbs, kra_api, item):
    [result] = kra_api.results(kra_api.lodge(item("SHARED-001", service="KRA-PIN")))

    assert result["ok"] is True
    assert result["status"] == "lodged"  # not "existing": that would reveal NRB's
    assert result["reference"] != nrbs.reference
    mine = Application.objects.get(reference=result["reference"])
    assert (mine.agency.code, mine.agency_ref) == ("KRA", "SHARED-001")
    assert Application.objects.filter(agency_ref="SHARED-001").count() == 2
    # Each agency now finds its own by agency_ref.
    assert kra_api.get("applications/agency_ref:SHARED-001").json()["reference"] == mine.reference


@pytest.mark.django_db
def test_another_agencys_service_cannot_be_lodged_against(nrbs, kra_api, item):
    [result] = kra_api.results(kra_api.lodge(item("KRA-1", service="NRB-ID-NEW")))

    assert result["error"]["code"] == "unknown-service"
    assert not Application.objects.filter(agency__code="KRA").exists()


@pytest.mark.django_db
def test_the_change_feed_shows_none_of_another_agencys_events(nrbs, kra_api, item):
    [kra_result] = kra_api.results(kra_api.lodge(item("KRA-1", service="KRA-PIN")))

    kra_items = kra_api.get("changes", SINCE).json()["items"]

    assert [(c["reference"], c["to_status"]) for c in kra_items] == [
        (kra_result["reference"], "lodged")
    ]


@pytest.mark.django_db
def test_the_change_feed_cursor_of_one_agency_does_not_open_anothers(nrbs, nrb_api, kra_api):
    first = nrb_api.get("changes", {**SINCE, "limit": 1}).json()
    assert first["next_cursor"]

    response = kra_api.get("changes", {**SINCE, "cursor": first["next_cursor"]})

    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.django_db
def test_services_shows_none_of_another_agencys(nrb_api, kra_api, kra):
    make_service("KRA-TCC", agency=kra)

    assert [s["code"] for s in kra_api.get("services").json()] == ["KRA-PIN", "KRA-TCC"]
    assert [s["code"] for s in nrb_api.get("services").json()] == ["NRB-ID-NEW", "NRB-ID-REPL"]


@pytest.mark.django_db
def test_an_agency_reference_is_unique_per_agency_only(nrb_api, kra_api, item):
    nrb_result = nrb_api.results(nrb_api.lodge(item("SAME")))[0]
    kra_result = kra_api.results(kra_api.lodge(item("SAME", service="KRA-PIN")))[0]

    assert nrb_result["status"] == kra_result["status"] == "lodged"
    nrb_update, kra_update = (
        api.results(api.update({"agency_ref": "SAME", "status": "dispatched"}))[0]
        for api in (nrb_api, kra_api)
    )
    assert nrb_update["reference"] == nrb_result["reference"]
    assert kra_update["reference"] == kra_result["reference"]
