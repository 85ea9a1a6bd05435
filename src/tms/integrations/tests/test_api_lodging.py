"""Bulk lodging (SPEC §7): up to 1,000 items a request, each answered on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tms.applications import references
from tms.applications.models import ActorKind, Application, ApplicationEvent, Channel
from tms.notifications.models import Message
from tms.testing.builders import make_centre


def error_of(result: dict) -> tuple[str, str]:
    assert result["ok"] is False and result["reference"] is None, result
    return result["error"]["code"], result["error"]["field"]


@pytest.mark.django_db
def test_a_lodged_application_gets_a_reference_history_and_sms(nrb_api, item, id_service):
    response = nrb_api.lodge(item("NRB-0001", phone="0712 345 678", id_number=" 12345678 "))

    [result] = nrb_api.results(response)
    assert result["index"] == 0 and result["ok"] is True and result["error"] is None
    assert result["status"] == "lodged"
    assert references.is_well_formed(result["reference"])
    application = Application.objects.get()
    assert application.reference == result["reference"]
    assert (application.agency_ref, application.service) == ("NRB-0001", id_service)
    assert application.applicant_phone == "+254712345678"
    assert application.applicant_id_number == "12345678"
    event = ApplicationEvent.objects.get()
    assert (event.actor_kind, event.channel) == (ActorKind.AGENCY, Channel.AGENCY_API)
    assert event.actor_label == "NRB: NRB prod"
    message = Message.objects.get()
    assert (message.application, message.event, message.to) == (
        application,
        "lodged",
        "+254712345678",
    )
    assert references.display(application.reference) in message.body


@pytest.mark.django_db
def test_the_lodging_time_the_agency_reports_is_kept(nrb_api, item):
    lodged_at = (timezone.now() - timedelta(days=3)).replace(microsecond=0)

    nrb_api.results(nrb_api.lodge(item("NRB-0001", lodged_at=lodged_at.isoformat())))

    application = Application.objects.get()
    assert application.lodged_at == lodged_at
    assert ApplicationEvent.objects.get().occurred_at == lodged_at
    assert ApplicationEvent.objects.get().recorded_at > lodged_at + timedelta(days=2)


@pytest.mark.django_db
def test_a_thousand_items_are_lodged_in_one_request(nrb_api, item):
    items = [item(f"NRB-{i:05d}", phone=f"07{i:08d}") for i in range(1000)]

    results = nrb_api.results(nrb_api.lodge(*items))

    assert [r["index"] for r in results] == list(range(1000))
    assert all(r["ok"] and r["status"] == "lodged" for r in results)
    assert len({r["reference"] for r in results}) == 1000
    assert Application.objects.count() == 1000
    assert ApplicationEvent.objects.count() == 1000
    assert Message.objects.filter(event="lodged").count() == 1000
    assert Application.objects.get(agency_ref="NRB-00999").reference == results[999]["reference"]


@pytest.mark.django_db
def test_more_than_a_thousand_items_are_refused_whole(nrb_api, item):
    items = [item(f"NRB-{i:05d}") for i in range(1001)]

    response = nrb_api.lodge(*items)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation") and problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["items"]
    assert "1000" in problem["errors"][0]["message"]
    assert not Application.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["agency_ref", "service", "centre"])
def test_control_characters_are_refused_not_stored(nrb_api, item, field):
    # Found by the schemathesis run: PostgreSQL refuses NUL even in a lookup (a 500).
    bad = item("NRB-NUL")
    bad[field] = "NRB\u0000X"
    response = nrb_api.lodge(bad)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith(field)
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_an_empty_request_is_refused(nrb_api):
    response = nrb_api.lodge()
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"


@pytest.mark.django_db
def test_each_bad_item_is_answered_with_code_detail_and_field(nrb_api, item, kra_service):
    items = [
        item("OK-1"),
        item("BAD-SERVICE", service="NRB-NOPE"),
        item("BAD-CENTRE", centre="NOWHERE"),
        item("THEIR-SERVICE", service="KRA-PIN"),
        item("BAD-PHONE", phone="0123"),
        item("NO-ID", id_number=""),
        item("NO-ID-NEEDED", service="NRB-ID-REPL", id_number=""),
        item("BLANK-NAME", name="   "),
    ]

    results = nrb_api.results(nrb_api.lodge(*items))

    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["ok"] for r in results] == [True, False, False, False, False, False, True, False]
    assert error_of(results[1]) == ("unknown-service", "service")
    assert error_of(results[2]) == ("unknown-centre", "centre")
    # Another agency's service answers as an unknown one.
    assert results[3]["error"] == results[1]["error"]
    assert error_of(results[4]) == ("invalid", "applicant.phone")
    assert error_of(results[5]) == ("invalid", "applicant.id_number")
    assert "ID or birth certificate number" in results[5]["error"]["detail"]
    assert error_of(results[7]) == ("invalid", "applicant.name")
    assert all(r["error"]["detail"] for r in results if not r["ok"])
    assert set(Application.objects.values_list("agency_ref", flat=True)) == {
        "OK-1",
        "NO-ID-NEEDED",
    }
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_closed_centre_and_a_withdrawn_service_are_refused(nrb_api, item, id_service):
    make_centre("SHUT", is_active=False)
    results = nrb_api.results(nrb_api.lodge(item("AT-SHUT", centre="SHUT")))
    assert error_of(results[0]) == ("invalid", "centre")

    id_service.is_active = False
    id_service.save()
    results = nrb_api.results(nrb_api.lodge(item("WITHDRAWN")))
    assert error_of(results[0]) == ("invalid", "service")
    assert not Application.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lodged_at", "detail"),
    [
        ("2099-01-01T08:00:00+03:00", "cannot be in the future"),
        ("2025-01-01T08:00:00", "must include a time zone"),
    ],
    ids=["in-the-future", "without-time-zone"],
)
def test_an_impossible_lodging_time_names_the_field(nrb_api, item, lodged_at, detail):
    results = nrb_api.results(nrb_api.lodge(item("NRB-0001", lodged_at=lodged_at)))

    assert results[0]["error"]["code"] == "invalid"
    assert detail in results[0]["error"]["detail"]
    assert results[0]["error"]["field"] == "lodged_at"
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_a_blank_agency_ref_is_refused(nrb_api, item):
    """Without its agency_ref a resent application would be lodged again each time."""
    response = nrb_api.lodge(item("   "))

    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "agency_ref")]
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_items_the_schema_refuses_are_named_by_index_and_field(nrb_api, item):
    no_phone = item("NRB-0002")
    del no_phone["applicant"]["phone"]
    items = [item("NRB-0001"), no_phone, item("NRB-0003", centre=""), item("x" * 65)]

    response = nrb_api.lodge(*items)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    named = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert named == {(1, "applicant.phone"), (2, "centre"), (3, "agency_ref")}
    assert all(e["message"] for e in response.json()["errors"])
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_a_400_problem(nrb_api):
    response = nrb_api.client.post(
        "/api/v1/agency/applications",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {nrb_api.token}"},
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400


@pytest.mark.django_db
def test_resending_a_lodged_agency_ref_answers_its_reference_and_changes_nothing(
    nrb_api, item, count_changes
):
    [first] = nrb_api.results(nrb_api.lodge(item("NRB-0001")))
    before = count_changes()

    # The same application again, even with other details (e.g. a corrected phone).
    results = nrb_api.results(
        nrb_api.lodge(item("NRB-0001", phone="0733 000 111"), item("NRB-0002"))
    )

    assert results[0] == {
        "index": 0,
        "ok": True,
        "reference": first["reference"],
        "status": "existing",
        "error": None,
    }
    assert results[1]["status"] == "lodged"
    after = count_changes()
    assert after == {key: value + 1 for key, value in before.items()}  # NRB-0002 only
    assert Application.objects.get(agency_ref="NRB-0001").applicant_phone == "+254712345678"


@pytest.mark.django_db
def test_one_agency_ref_twice_in_a_request_lodges_once(nrb_api, item):
    results = nrb_api.results(nrb_api.lodge(item("NRB-0001"), item("NRB-0001")))

    assert [r["status"] for r in results] == ["lodged", "existing"]
    assert results[0]["reference"] == results[1]["reference"]
    assert Application.objects.count() == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_the_citizens_language_chooses_the_sms_language(nrb_api, item):
    sw = item("NRB-SW")
    sw["applicant"]["language"] = "sw"
    nrb_api.results(nrb_api.lodge(item("NRB-EN"), sw))

    bodies = {
        m.application.agency_ref: (m.language, m.body)
        for m in Message.objects.select_related("application")
        if m.application is not None
    }
    assert bodies["NRB-EN"][0] == "en" and bodies["NRB-SW"][0] == "sw"
    assert bodies["NRB-EN"][1] != bodies["NRB-SW"][1]
