"""The running count, undo of a scan made by mistake, scope across centres, roles, CSRF,
conflicts and the cost of one scan in queries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tms.accounts.roles import Role
from tms.accounts.scope import NotAllowed
from tms.applications import references
from tms.applications.lifecycle import Action, Status, action_reaching
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import ApplicationConflict, application_hand_over
from tms.applications.tests.expected_lifecycle import perform
from tms.directory.models import Centre
from tms.notifications.models import Event, Message, MessageState
from tms.receipt import services as receipt_services
from tms.receipt.services import UNDO_WINDOW, ScanKind, UndoRefused, scan_acknowledge, scan_undo
from tms.receipt.tally import SESSION_KEY
from tms.testing.staff import make_staff, sign_in, staff_of

SCAN = reverse("receipt-scan")
SCAN_JSON = reverse("receipt-scan-json")
UNDO = reverse("receipt-scan-undo")
RESET = reverse("receipt-scan-reset")


def scan(client: Client, raw: str) -> dict[str, Any]:
    response = client.post(SCAN_JSON, {"code": raw})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def undo_json(client: Client, application_id: int | str) -> tuple[int, dict[str, Any]]:
    response = client.post(UNDO, {"application": application_id}, HTTP_ACCEPT="application/json")
    return response.status_code, json.loads(response.content)


def events(application: Application) -> list[tuple[str, str, str]]:
    return list(
        ApplicationEvent.objects.filter(application=application)
        .order_by("version")
        .values_list("action", "from_status", "to_status")
    )


# --- The count ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_count_survives_a_reload_and_starts_again_on_request(
    browser: Client, make_application: Any
) -> None:
    first, second = make_application(), make_application()
    scan(browser, first.reference)
    scan(browser, second.reference)
    scan(browser, second.reference)
    answer = scan(browser, "12345")
    tally = {row["kind"]: row["count"] for row in answer["tally"]}
    assert tally == {
        "acknowledged": 2, "already_ready": 1, "other_centre": 0, "wrong_state": 0,
        "unknown": 0, "typing_error": 1, "conflict": 0, "undone": 0,
    }  # fmt: skip
    assert answer["total"] == 4
    assert [entry["kind"] for entry in answer["recent"]] == [
        "typing_error", "already_ready", "acknowledged", "acknowledged",
    ]  # fmt: skip

    page = browser.get(SCAN).content.decode()  # a reload keeps it
    assert '<tr data-kind="acknowledged" class="tone-success">' in page
    assert '<td class="count" id="scan-total">4</td>' in page
    assert references.display(second.reference) in page

    assert browser.post(RESET).status_code == 302
    page = browser.get(SCAN).content.decode()
    assert '<td class="count" id="scan-total">0</td>' in page
    assert "Nothing scanned yet." in page


@pytest.mark.django_db
def test_the_last_scans_list_is_bounded(browser: Client) -> None:
    for _ in range(20):
        answer = scan(browser, "1")
    assert len(answer["recent"]) == 12
    assert answer["total"] == 20


# --- Undo ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_undo_takes_the_last_receipt_back_and_withdraws_the_unsent_sms(
    browser: Client, make_application: Any, officer: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    answer = scan(browser, application.reference)
    assert answer["undo"]["application"] == application.pk
    assert answer["undo"]["reference"] == references.display(application.reference)
    assert Message.objects.filter(application=application, event=Event.READY).count() == 1

    status, undone = undo_json(browser, application.pk)

    assert status == 200
    assert undone["outcome"]["kind"] == "undone"
    assert "SMS was not sent" in undone["outcome"]["message"]
    assert undone["undo"] is None
    tally = {row["kind"]: row["count"] for row in undone["tally"]}
    assert (tally["acknowledged"], tally["undone"]) == (0, 1)
    assert undone["total"] == 1  # still one scan made
    application.refresh_from_db()
    assert application.status == Status.DISPATCHED
    assert application.ready_at is None
    assert application.version == 4
    # The history keeps both events; the undo is the officer's, at the counter.
    assert events(application)[-2:] == [
        ("acknowledge_receipt", "dispatched", "ready"),
        ("undo_receipt", "ready", "dispatched"),
    ]
    assert ApplicationEvent.objects.get(application=application, version=4).actor_user_id == (
        officer.pk
    )
    assert not Message.objects.filter(application=application, event=Event.READY).exists()
    # Scanning the right document later acknowledges it again, with its own SMS.
    again = scan(browser, application.reference)
    assert again["outcome"]["kind"] == "acknowledged"
    assert Message.objects.filter(application=application, event=Event.READY).count() == 1


@pytest.mark.django_db
def test_undo_without_javascript_redirects_and_shows_the_answer(
    browser: Client, make_application: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    page = browser.post(SCAN, {"code": application.reference}) and browser.get(SCAN)
    text = page.content.decode()
    assert f'name="application" value="{application.pk}"' in text
    assert "Undo receipt of" in text

    response = browser.post(UNDO, {"application": application.pk})
    assert response.status_code == 302
    text = browser.get(SCAN).content.decode()
    assert "Receipt undone" in text
    assert 'id="scan-undo" class="scan-undo" hidden' in text
    application.refresh_from_db()
    assert application.status == Status.DISPATCHED


@pytest.mark.django_db
def test_undo_after_the_sms_left_keeps_the_message_and_says_so(
    browser: Client, make_application: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    scan(browser, application.reference)
    Message.objects.filter(application=application).update(state=MessageState.SENT)

    status, undone = undo_json(browser, application.pk)

    assert status == 200
    assert "had already been sent" in undone["outcome"]["message"]
    assert Message.objects.get(application=application, event=Event.READY).state == (
        MessageState.SENT
    )


@pytest.mark.django_db
def test_undo_is_refused_when_too_late(
    browser: Client, make_application: Any, officer: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    scan(browser, application.reference)
    application.refresh_from_db()
    staff = staff_of(officer)
    late = timezone.now() + UNDO_WINDOW + timedelta(seconds=5)
    with pytest.raises(UndoRefused, match="within 10 minutes"):
        scan_undo(staff=staff, application_id=application.pk, version=application.version, now=late)

    # Through the page: the session's acknowledgement is out of time, the button gone.
    session = browser.session
    data = session[SESSION_KEY]
    data["last_ack"]["at"] = (timezone.now() - UNDO_WINDOW - timedelta(seconds=5)).isoformat()
    session[SESSION_KEY] = data
    session.save()
    assert 'id="scan-undo" class="scan-undo" hidden' in browser.get(SCAN).content.decode()
    status, answer = undo_json(browser, application.pk)
    assert status == 409
    assert answer["outcome"]["kind"] == "undo_refused"
    application.refresh_from_db()
    assert application.status == Status.READY


@pytest.mark.django_db
def test_undo_is_refused_for_someone_elses_scan(
    browser: Client, make_application: Any, colleague: Any, officer: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    theirs = scan_acknowledge(staff=staff_of(colleague), raw=application.reference)
    assert theirs.kind == ScanKind.ACKNOWLEDGED
    with pytest.raises(UndoRefused, match="Only the officer who scanned"):
        scan_undo(
            staff=staff_of(officer), application_id=application.pk, version=theirs.version or 0
        )

    # Even with the colleague's scan planted in this officer's session.
    session = browser.session
    session[SESSION_KEY] = {
        "tally": {}, "recent": [], "result": None,
        "last_ack": {"application": application.pk, "version": theirs.version,
                     "reference": theirs.reference, "at": timezone.now().isoformat()},
    }  # fmt: skip
    session.save()
    status, answer = undo_json(browser, application.pk)
    assert status == 409
    assert "Only the officer who scanned" in answer["outcome"]["message"]
    application.refresh_from_db()
    assert application.status == Status.READY
    assert (
        Message.objects.filter(
            application=application, event=Event.READY, state=MessageState.QUEUED
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_undo_is_refused_when_something_happened_since(
    browser: Client, make_application: Any, officer: Any
) -> None:
    application = make_application(Status.DISPATCHED)
    scan(browser, application.reference)
    application.refresh_from_db()
    application_hand_over(application, actor=staff_of(officer).actor())

    status, answer = undo_json(browser, application.pk)

    assert status == 409
    assert "Something else has happened" in answer["outcome"]["message"]
    application.refresh_from_db()
    assert application.status == Status.COLLECTED
    assert events(application)[-1] == ("hand_over", "ready", "collected")


@pytest.mark.django_db
def test_undo_names_the_last_acknowledgement_only(browser: Client, make_application: Any) -> None:
    first, second = make_application(), make_application()
    scan(browser, first.reference)
    scan(browser, second.reference)
    status, answer = undo_json(browser, first.pk)  # a stale page's button
    assert status == 409
    assert "Only the last acknowledgement" in answer["outcome"]["message"]
    status, answer = undo_json(browser, "not a number")
    assert status == 409
    first.refresh_from_db()
    assert first.status == Status.READY
    status, answer = undo_json(browser, second.pk)
    assert status == 200


@pytest.mark.django_db
def test_nothing_to_undo(browser: Client) -> None:
    status, answer = undo_json(browser, 1)
    assert status == 409
    assert "no recent acknowledgement" in answer["outcome"]["message"]


def test_the_undo_is_a_correction_never_reached_by_a_wanted_status() -> None:
    """An agency reporting "dispatched" for a ready application is still refused."""
    assert action_reaching(Status.READY, Status.DISPATCHED) is None
    assert action_reaching(Status.PROCESSING, Status.DISPATCHED) == Action.DISPATCH


# --- Scope and roles ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_officer_cannot_receive_or_undo_another_centres_application_by_any_path(
    browser: Client, make_application: Any, other_centre: Centre, officer: Any
) -> None:
    theirs = make_application(Status.DISPATCHED, centre=other_centre, agency_ref="X-1")
    attempts = [
        theirs.reference,
        references.display(theirs.reference),
        f"AGENCY|{theirs.reference}|END",
        "X-1",
    ]
    for raw in attempts:
        kind = scan(browser, raw)["outcome"]["kind"]
        assert kind in {"other_centre", "unknown"}, (raw, kind)
        assert scan_acknowledge(staff=staff_of(officer), raw=raw).kind == kind
        browser.post(SCAN, {"code": raw})
    # Undo of the other centre's receipt, by the service and through a planted session.
    other_officer = make_staff(Role.COUNTER_OFFICER, centre=other_centre)
    done = scan_acknowledge(staff=staff_of(other_officer), raw=theirs.reference)
    assert done.kind == ScanKind.ACKNOWLEDGED
    with pytest.raises(UndoRefused):
        scan_undo(staff=staff_of(officer), application_id=theirs.pk, version=done.version or 0)
    session = browser.session
    session[SESSION_KEY] = {
        "tally": {}, "recent": [], "result": None,
        "last_ack": {"application": theirs.pk, "version": done.version,
                     "reference": done.reference, "at": timezone.now().isoformat()},
    }  # fmt: skip
    session.save()
    status, answer = undo_json(browser, theirs.pk)
    assert status == 409
    assert answer["outcome"]["reference"] == done.reference  # what the session said, no more
    theirs.refresh_from_db()
    assert theirs.status == Status.READY
    assert [a for a, _, _ in events(theirs)] == ["lodge", "dispatch", "acknowledge_receipt"]
    assert ApplicationEvent.objects.get(application=theirs, version=3).actor_user_id == (
        other_officer.pk
    )


@pytest.mark.django_db
def test_a_centre_manager_may_scan(client: Client, make_application: Any, centre: Centre) -> None:
    sign_in(client, make_staff(Role.CENTRE_MANAGER, centre=centre))
    assert scan(client, make_application().reference)["outcome"]["kind"] == "acknowledged"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_OFFICER, Role.ANALYST, Role.ADMINISTRATOR])
def test_roles_without_counter_work_are_refused(
    client: Client, make_application: Any, role: Role
) -> None:
    application = make_application(Status.DISPATCHED)
    user = make_staff(role, agency=application.agency if role == Role.AGENCY_OFFICER else None)
    sign_in(client, user)
    assert client.get(SCAN).status_code == 403
    assert client.post(SCAN, {"code": application.reference}).status_code == 403
    assert client.post(SCAN_JSON, {"code": application.reference}).status_code == 403
    assert client.post(UNDO, {"application": application.pk}).status_code == 403
    with pytest.raises(NotAllowed):
        scan_acknowledge(staff=staff_of(user), raw=application.reference)
    application.refresh_from_db()
    assert application.status == Status.DISPATCHED


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client: Client, make_application: Any) -> None:
    application = make_application(Status.DISPATCHED)
    for response in (client.get(SCAN), client.post(SCAN_JSON, {"code": application.reference})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("staff-login"))
    application.refresh_from_db()
    assert application.status == Status.DISPATCHED


@pytest.mark.django_db
def test_the_json_endpoint_requires_the_csrf_token(officer: Any, make_application: Any) -> None:
    application = make_application(Status.DISPATCHED)
    client = sign_in(Client(enforce_csrf_checks=True), officer)

    refused = client.post(SCAN_JSON, {"code": application.reference})
    assert refused.status_code == 403
    application.refresh_from_db()
    assert application.status == Status.DISPATCHED

    client.get(SCAN)  # sets the CSRF cookie, as the page does for its script
    token = client.cookies["csrftoken"].value
    answer = client.post(SCAN_JSON, {"code": application.reference}, HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200
    assert json.loads(answer.content)["outcome"]["kind"] == "acknowledged"


# --- Conflicts and cost -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_conflict_is_retried_once_and_answered_from_the_fresh_state(
    officer: Any, colleague: Any, make_application: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = make_application(Status.DISPATCHED)
    real = receipt_services.application_acknowledge_receipt
    calls: list[int] = []

    def colleague_first(app: Application, **kwargs: Any) -> Application:
        if not calls:  # the colleague's scan lands between our read and our write
            perform(Application.objects.get(pk=app.pk), Action.ACKNOWLEDGE_RECEIPT)
        calls.append(app.version)
        return real(app, **kwargs)

    monkeypatch.setattr(receipt_services, "application_acknowledge_receipt", colleague_first)
    outcome = scan_acknowledge(staff=staff_of(officer), raw=application.reference)
    assert outcome.kind == ScanKind.ALREADY_READY
    assert calls == [2]  # tried once; the fresh read showed it ready, so no second write
    assert Message.objects.filter(application=application, event=Event.READY).count() == 1


@pytest.mark.django_db
def test_a_second_conflict_is_reported(
    officer: Any, make_application: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = make_application(Status.DISPATCHED)
    calls: list[int] = []

    def always_conflict(app: Application, **kwargs: Any) -> Application:
        calls.append(1)
        raise ApplicationConflict(reference=app.reference, current=Status.DISPATCHED)

    monkeypatch.setattr(receipt_services, "application_acknowledge_receipt", always_conflict)
    outcome = scan_acknowledge(staff=staff_of(officer), raw=application.reference)
    assert outcome.kind == ScanKind.CONFLICT
    assert len(calls) == 2
    assert "Scan it again" in outcome.message


@pytest.mark.django_db
def test_one_scan_costs_a_bounded_number_of_queries(
    browser: Client, make_application: Any, django_assert_max_num_queries: Any
) -> None:
    warm, application = make_application(), make_application()
    scan(browser, warm.reference)  # caches (SMS templates) warm, as in service
    # The test's transaction turns each atomic block into SAVEPOINT/RELEASE (3 pairs).
    with django_assert_max_num_queries(16) as captured:
        answer = scan(browser, application.reference)
    assert answer["outcome"]["kind"] == "acknowledged"
    statements = [
        q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper()
    ]
    # Session, user, second factor, staff profile; the scan; the webhook listener's
    # endpoints; the session's tally.
    assert len(statements) <= 10, statements
    tables = ("applications_application", "applications_applicationevent", "notifications_message")
    scan_work = [sql.split(" (")[0][:60] for sql in statements if any(t in sql for t in tables)]
    assert [sql.split('"')[0].strip() for sql in scan_work] == [
        "SELECT", "UPDATE", "INSERT INTO", "INSERT INTO",
    ], scan_work  # fmt: skip
    selects = [sql for sql in statements if 'FROM "applications_application"' in sql]
    assert len(selects) == 1, selects  # one lookup by reference, centre and service joined
    assert '"reference" =' in selects[0] and "INNER JOIN" in selects[0]
