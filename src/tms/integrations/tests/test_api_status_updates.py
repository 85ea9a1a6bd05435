"""Bulk status updates (SPEC §3, §7): the statuses an agency may set, each item on its
own, refusals naming the current and allowed states."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tms.applications.models import ActorKind, Application, ApplicationEvent, Channel
from tms.applications.references import display
from tms.applications.services import (
    Actor,
    application_acknowledge_receipt,
    application_hand_over,
)
from tms.notifications.models import Message

SYSTEM = Actor.system("test")


@pytest.fixture
def lodged(nrb_api, item):
    """Lodge NRB-0001 (and more if asked) through the API; returns the references."""

    def lodge(*agency_refs: str) -> list[str]:
        results = nrb_api.results(nrb_api.lodge(*[item(ref) for ref in agency_refs]))
        return [r["reference"] for r in results]

    return lodge


def history(reference: str) -> list[tuple[str, str, str]]:
    return list(
        ApplicationEvent.objects.filter(application__reference=reference)
        .order_by("version")
        .values_list("from_status", "to_status", "note")
    )


def status_of(reference: str) -> str:
    return Application.objects.get(reference=reference).status


@pytest.mark.django_db
def test_processing_from_lodged(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "processing"}))

    assert result == {
        "index": 0,
        "ok": True,
        "reference": ref,
        "status": "processing",
        "error": None,
    }
    assert history(ref)[-1] == ("lodged", "processing", "")
    event = ApplicationEvent.objects.get(application__reference=ref, version=2)
    assert (event.actor_kind, event.channel, event.actor_label) == (
        ActorKind.AGENCY,
        Channel.AGENCY_API,
        "NRB: NRB prod",
    )


@pytest.mark.django_db
def test_action_required_carries_the_note_to_the_citizen(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    note = "Bring 2 photos."

    [result] = nrb_api.results(
        nrb_api.update({"reference": ref, "status": "action_required", "note": note})
    )

    assert result["ok"] and result["status"] == "action_required"
    assert history(ref)[-1] == ("lodged", "action_required", note)
    message = Message.objects.get(event="action_required")
    assert note in message.body


@pytest.mark.django_db
def test_action_required_without_a_note_is_refused(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "action_required"}))

    assert result["ok"] is False
    assert (result["error"]["code"], result["error"]["field"]) == ("invalid", "note")
    assert result["error"]["detail"] == "Say what the citizen must do."
    assert status_of(ref) == "lodged"


@pytest.mark.django_db
def test_processing_again_once_the_citizen_has_acted(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    nrb_api.update({"reference": ref, "status": "action_required", "note": "Bring a photo."})

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "processing"}))

    assert result["ok"] and result["status"] == "processing"
    assert history(ref)[-1][:2] == ("action_required", "processing")
    assert ApplicationEvent.objects.get(application__reference=ref, version=3).action == (
        "resolve_action"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("start", ["lodged", "processing"])
def test_dispatched(nrb_api, lodged, start):
    [ref] = lodged("NRB-0001")
    if start == "processing":
        nrb_api.update({"reference": ref, "status": "processing"})

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "dispatched"}))

    assert result["ok"] and status_of(ref) == "dispatched"
    assert history(ref)[-1][:2] == (start, "dispatched")


@pytest.mark.django_db
def test_rejected_with_a_reason(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    reason = "The fingerprints could not be matched."

    [result] = nrb_api.results(
        nrb_api.update({"reference": ref, "status": "rejected", "reason": reason})
    )

    assert result["ok"] and result["status"] == "rejected"
    application = Application.objects.get(reference=ref)
    assert application.closed_at is not None
    assert history(ref)[-1] == ("lodged", "rejected", reason)


@pytest.mark.django_db
def test_rejected_without_a_reason_is_refused(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "rejected"}))

    assert (result["error"]["code"], result["error"]["field"]) == ("invalid", "reason")
    assert status_of(ref) == "lodged"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["ready", "collected", "returned", "cancelled", "lodged"])
def test_statuses_the_agency_may_not_set_are_refused_by_the_schema(nrb_api, lodged, status):
    [ref] = lodged("NRB-0001")

    response = nrb_api.update({"reference": ref, "status": status})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "status")]
    assert status_of(ref) == "lodged"


@pytest.mark.django_db
def test_a_refused_transition_names_the_current_and_allowed_states(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    nrb_api.update({"reference": ref, "status": "dispatched"})

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "processing"}))

    assert result["ok"] is False and result["reference"] is None
    assert (result["error"]["code"], result["error"]["field"]) == ("invalid-transition", "status")
    assert result["error"]["detail"] == (
        "Cannot start processing: the application is On its way to the centre. "
        "Allowed from On its way to the centre: acknowledge receipt."
    )
    assert status_of(ref) == "dispatched"
    assert len(history(ref)) == 2


@pytest.mark.django_db
def test_a_collected_application_cannot_be_updated(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    application = Application.objects.get(reference=ref)
    application_acknowledge_receipt(application, actor=SYSTEM)
    application_hand_over(application, actor=SYSTEM)

    results = nrb_api.results(
        nrb_api.update(
            {"reference": ref, "status": "processing"},
            {"reference": ref, "status": "rejected", "reason": "Too late."},
        )
    )

    for result in results:
        assert result["error"]["code"] == "invalid-transition"
        assert "the application is Collected" in result["error"]["detail"]
        assert "Allowed from Collected: none (final state)." in result["error"]["detail"]
    assert status_of(ref) == "collected"


@pytest.mark.django_db
def test_an_application_is_named_by_the_agencys_reference(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(nrb_api.update({"agency_ref": "NRB-0001", "status": "processing"}))

    assert result["ok"] and result["reference"] == ref
    assert status_of(ref) == "processing"


@pytest.mark.django_db
def test_references_may_be_sent_as_printed(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(nrb_api.update({"reference": display(ref), "status": "processing"}))

    assert result["ok"] and status_of(ref) == "processing"


@pytest.mark.django_db
def test_unknown_and_mistyped_references_are_not_found(nrb_api, lodged):
    [ref] = lodged("NRB-0001")
    typo = ref[:-1] + str((int(ref[-1]) + 1) % 10)
    i = next(i for i in range(len(ref) - 1) if ref[i] != ref[i + 1])
    swapped = ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :]  # neighbours swapped

    results = nrb_api.results(
        nrb_api.update(
            {"reference": typo, "status": "processing"},
            {"reference": swapped, "status": "processing"},
            {"agency_ref": "NRB-9999", "status": "processing"},
            {"reference": ref, "status": "processing"},
        )
    )

    for result in results[:3]:
        assert result["ok"] is False
        assert result["error"] == {
            "code": "not-found",
            "detail": "No application of this agency matches.",
            "field": "reference",
        }
    assert results[3]["ok"] is True


@pytest.mark.django_db
def test_the_time_the_change_happened_is_kept_in_the_history(nrb_api, item):
    lodged_at = timezone.now() - timedelta(days=5)
    [lodged] = nrb_api.results(nrb_api.lodge(item("NRB-0001", lodged_at=lodged_at.isoformat())))
    happened = (timezone.now() - timedelta(days=2)).replace(microsecond=0)

    nrb_api.update(
        {
            "reference": lodged["reference"],
            "status": "processing",
            "occurred_at": happened.isoformat(),
        }
    )

    event = ApplicationEvent.objects.get(application__reference=lodged["reference"], version=2)
    assert event.occurred_at == happened
    assert event.recorded_at > happened + timedelta(days=1)
    data = nrb_api.get(f"applications/{lodged['reference']}").json()
    assert datetime.fromisoformat(data["history"][1]["occurred_at"]) == happened


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("when", "detail"),
    [
        (lambda: timezone.now() + timedelta(hours=1), "cannot be in the future"),
        (lambda: timezone.now() - timedelta(days=30), "before the application was lodged"),
    ],
    ids=["in-the-future", "before-lodging"],
)
def test_an_impossible_time_of_change_names_the_field(nrb_api, lodged, when, detail):
    [ref] = lodged("NRB-0001")

    [result] = nrb_api.results(
        nrb_api.update(
            {"reference": ref, "status": "processing", "occurred_at": when().isoformat()}
        )
    )

    assert result["error"]["code"] == "invalid"
    assert detail in result["error"]["detail"]
    assert result["error"]["field"] == "occurred_at"
    assert status_of(ref) == "lodged"


@pytest.mark.django_db
def test_two_items_for_one_application_apply_in_order(nrb_api, lodged):
    [ref] = lodged("NRB-0001")

    results = nrb_api.results(
        nrb_api.update(
            {"reference": ref, "status": "processing"},
            {"agency_ref": "NRB-0001", "status": "dispatched"},
        )
    )

    # Each item answers the status it set, not where the application ended up.
    assert [(r["ok"], r["status"]) for r in results] == [(True, "processing"), (True, "dispatched")]
    application = Application.objects.get(reference=ref)
    assert (application.status, application.version) == ("dispatched", 3)
    assert [h[:2] for h in history(ref)] == [
        ("", "lodged"),
        ("lodged", "processing"),
        ("processing", "dispatched"),
    ]


@pytest.mark.django_db
def test_an_item_after_a_refused_one_for_the_same_application_sees_it_unchanged(nrb_api, lodged):
    """Item 0 is refused (no note), so the application is still lodged when item 1
    asks for processing: that is start processing, which is allowed."""
    [ref] = lodged("NRB-0001")

    results = nrb_api.results(
        nrb_api.update(
            {"reference": ref, "status": "action_required"},  # no note: refused
            {"reference": ref, "status": "processing"},
        )
    )

    assert results[0]["error"]["field"] == "note"
    assert results[1]["ok"] is True, results[1]
    assert [h[:2] for h in history(ref)] == [("", "lodged"), ("lodged", "processing")]


@pytest.mark.django_db
def test_a_refused_item_does_not_undo_the_others(nrb_api, lodged):
    first, second, third = lodged("NRB-0001", "NRB-0002", "NRB-0003")

    results = nrb_api.results(
        nrb_api.update(
            {"reference": first, "status": "processing"},
            {"reference": second, "status": "rejected"},  # no reason
            {"reference": third, "status": "dispatched"},
            {"reference": first, "status": "action_required"},  # no note
        )
    )

    assert [r["ok"] for r in results] == [True, False, True, False]
    assert [status_of(r) for r in (first, second, third)] == ["processing", "lodged", "dispatched"]
    assert Application.objects.get(reference=first).version == 2


@pytest.mark.django_db
def test_an_application_changed_by_someone_else_meanwhile_is_a_conflict(
    nrb_api, lodged, monkeypatch
):
    """The item loads the application, then a centre officer changes it before the
    update lands: the item is answered with the conflict, nothing is overwritten."""
    from tms.integrations import services

    [ref] = lodged("NRB-0001")
    real = services.applications_for_items

    def load_then_change(**kwargs):
        found = real(**kwargs)
        application_acknowledge_receipt(Application.objects.get(reference=ref), actor=SYSTEM)
        return found

    monkeypatch.setattr(services, "applications_for_items", load_then_change)

    [result] = nrb_api.results(nrb_api.update({"reference": ref, "status": "dispatched"}))

    assert (result["error"]["code"], result["error"]["field"]) == ("conflict", "status")
    assert "Ready for collection" in result["error"]["detail"]
    assert status_of(ref) == "ready"


@pytest.mark.django_db
def test_a_thousand_updates_in_one_request(nrb_api, item):
    lodged = nrb_api.results(nrb_api.lodge(*[item(f"NRB-{i:05d}") for i in range(1000)]))
    updates = [
        {"reference": r["reference"], "status": "processing"}
        if i % 2
        else {"agency_ref": f"NRB-{i:05d}", "status": "dispatched"}
        for i, r in enumerate(lodged)
    ]

    results = nrb_api.results(nrb_api.update(*updates))

    assert [r["index"] for r in results] == list(range(1000))
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:3]
    assert Application.objects.filter(status="processing", version=2).count() == 500
    assert Application.objects.filter(status="dispatched", version=2).count() == 500
    assert ApplicationEvent.objects.filter(version=2, channel=Channel.AGENCY_API).count() == 1000
