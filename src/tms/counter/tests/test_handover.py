"""Hand-over: verify the collector (citizen or delegate, optionally a one-time SMS code),
then hand over and record who collected, in one transaction."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tms.accounts.roles import Role
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.applications.services import Actor, ApplicationConflict, application_return
from tms.audit.models import AuditAction, AuditRecord
from tms.counter import services
from tms.counter.models import CollectorKind, Handover, HandoverCode
from tms.counter.services import Collector, handover_record
from tms.notifications.models import Event, Message
from tms.testing.builders import lodge
from tms.testing.staff import make_staff, sign_in, staff_of

from .conftest import ready

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, id_service):
    return ready(centre=centre, service=id_service, applicant_id_number="A 1234567")


@pytest.fixture
def coded(centre, code_service):
    return ready(centre=centre, service=code_service, applicant_id_number="12345678")


def hand_over(browser, application, **fields):
    application.refresh_from_db()
    data = {"version": application.version, "collector": "citizen", **fields}
    return browser.post(reverse("counter-handover", args=[application.reference]), data)


def send_code(browser, application):
    return browser.post(reverse("counter-handover-code", args=[application.reference]))


def last_code(application) -> str:
    body = Message.objects.filter(application=application, event=Event.HANDOVER_CODE).latest("id")
    match = re.search(r"\b(\d{6})\b", body.body)
    assert match, body.body
    return match.group(1)


def test_the_citizen_with_a_matching_id_number_collects(browser, officer, application):
    response = hand_over(browser, application, citizen_id_number="a1234 567")

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.COLLECTED and application.closed_at is not None
    handover = Handover.objects.get(application=application)
    assert handover.collector_kind == CollectorKind.CITIZEN
    assert handover.handed_over_by == officer and not handover.code_verified
    assert handover.delegate_name == handover.delegate_id_number == handover.relationship == ""
    event = application.events.get(action="hand_over")
    assert event.channel == Channel.COUNTER and event.actor_user_id == officer.pk
    collected = Message.objects.get(application=application, event=Event.COLLECTED)
    assert collected.to == application.applicant_phone
    page = browser.get(reverse("counter-application", args=[application.reference])).content
    assert b"Collected by the citizen." in page


def test_a_mismatching_id_number_is_refused(browser, application):
    response = hand_over(browser, application, citizen_id_number="A7654321")

    assert response.status_code == 400
    assert "does not match" in response.content.decode()
    application.refresh_from_db()
    assert application.status == Status.READY
    assert not Handover.objects.exists()
    assert not Message.objects.filter(event=Event.COLLECTED).exists()


def test_an_id_number_is_needed_when_the_application_has_one(browser, application):
    response = hand_over(browser, application)

    assert response.status_code == 400
    assert "citizen_id_number" in response.context["form"].errors
    assert not Handover.objects.exists()


def test_without_an_id_number_on_file_the_citizen_collects_with_the_reference(
    browser, centre, service
):
    application = ready(centre=centre, service=service)
    page = browser.get(reverse("counter-application", args=[application.reference])).content
    assert b'name="citizen_id_number"' not in page

    assert hand_over(browser, application).status_code == 302
    assert Handover.objects.get().collector_kind == CollectorKind.CITIZEN


def test_a_delegate_is_named_and_carries_the_citizens_id(browser, application):
    response = hand_over(
        browser,
        application,
        collector="delegate",
        citizen_id_number="A1234567",
        delegate_name="  Peter   Otieno ",
        delegate_id_number="2345 6789",
        relationship="brother",
    )

    assert response.status_code == 302
    handover = Handover.objects.get(application=application)
    assert handover.collector_kind == CollectorKind.DELEGATE
    assert handover.delegate_name == "Peter Otieno"
    assert handover.delegate_id_number == "23456789"
    assert handover.relationship == "brother"
    assert application.events.get(action="hand_over").note == "Collected by a delegate (brother)."


def test_a_delegate_without_name_id_or_relationship_is_refused(browser, application):
    response = hand_over(browser, application, collector="delegate", citizen_id_number="A1234567")

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"delegate_name", "delegate_id_number", "relationship"} <= set(errors)
    assert not Handover.objects.exists()


def test_a_delegate_without_the_citizens_id_number_is_refused(browser, application):
    response = hand_over(
        browser,
        application,
        collector="delegate",
        delegate_name="Peter Otieno",
        delegate_id_number="23456789",
        relationship="brother",
    )

    assert response.status_code == 400
    assert "citizen_id_number" in response.context["form"].errors


# --- The one-time code ---------------------------------------------------------------------


def test_the_code_is_sent_to_the_citizens_phone_stored_hashed_and_recorded(browser, officer, coded):
    response = send_code(browser, coded)

    assert response.status_code == 302
    message = Message.objects.get(event=Event.HANDOVER_CODE)
    code = last_code(coded)
    assert message.to == coded.applicant_phone and message.priority == 0
    assert message.body.startswith("Your collection code for")
    record = HandoverCode.objects.get(application=coded)
    assert code not in record.code_hash and len(record.code_hash) == 64
    assert record.expires_at - record.sent_at == timedelta(minutes=10)
    audit = AuditRecord.objects.get(action=AuditAction.HANDOVER_CODE)
    assert audit.application == coded and audit.actor_user == officer
    assert "712345678" not in audit.detail


def test_the_right_code_hands_over(browser, coded):
    send_code(browser, coded)

    response = hand_over(browser, coded, citizen_id_number="12345678", code=last_code(coded))

    assert response.status_code == 302
    assert Handover.objects.get(application=coded).code_verified
    assert HandoverCode.objects.get(application=coded).used_at is not None


def test_the_code_is_needed_and_must_have_been_sent(browser, coded):
    response = hand_over(browser, coded, citizen_id_number="12345678", code="123456")

    assert response.status_code == 400
    assert "No code has been sent" in response.content.decode()
    assert not Handover.objects.exists()


def test_a_wrong_code_is_refused_and_counted(browser, coded):
    send_code(browser, coded)
    wrong = f"{(int(last_code(coded)) + 1) % 1000000:06d}"

    response = hand_over(browser, coded, citizen_id_number="12345678", code=wrong)

    assert response.status_code == 400
    assert "4 tries left" in response.content.decode()
    assert HandoverCode.objects.get().wrong_tries == 1
    coded.refresh_from_db()
    assert coded.status == Status.READY


def test_after_five_wrong_tries_even_the_right_code_is_refused(browser, coded):
    send_code(browser, coded)
    code = last_code(coded)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        assert (
            hand_over(browser, coded, citizen_id_number="12345678", code=wrong).status_code == 400
        )

    response = hand_over(browser, coded, citizen_id_number="12345678", code=code)

    assert response.status_code == 400
    assert "Too many wrong tries" in response.content.decode()
    assert HandoverCode.objects.get().wrong_tries == 5
    assert not Handover.objects.exists()


def test_an_expired_code_is_refused(browser, coded):
    send_code(browser, coded)
    HandoverCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = hand_over(browser, coded, citizen_id_number="12345678", code=last_code(coded))

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not Handover.objects.exists()


def test_a_new_code_waits_a_minute_and_replaces_the_old_one(browser, coded):
    send_code(browser, coded)
    first = last_code(coded)

    response = send_code(browser, coded)
    assert HandoverCode.objects.count() == 1
    assert "Wait" in browser.get(response["Location"]).content.decode()

    HandoverCode.objects.update(sent_at=timezone.now() - timedelta(seconds=61))
    send_code(browser, coded)
    assert HandoverCode.objects.count() == 2
    second = last_code(coded)
    if first != second:  # one chance in a million that they are equal
        stale = hand_over(browser, coded, citizen_id_number="12345678", code=first)
        assert stale.status_code == 400
    assert hand_over(browser, coded, citizen_id_number="12345678", code=second).status_code == 302
    assert AuditRecord.objects.filter(action=AuditAction.HANDOVER_CODE).count() == 2


def test_a_code_is_not_sent_for_services_without_one(browser, application):
    response = send_code(browser, application)

    assert "without a code" in browser.get(response["Location"]).content.decode()
    assert (
        not HandoverCode.objects.exists()
        and not Message.objects.filter(event=Event.HANDOVER_CODE).exists()
    )


def test_a_used_code_cannot_be_used_again(officer, coded):
    staff = staff_of(officer)
    services.handover_code_send(staff=staff, application=coded)
    code = last_code(coded)
    HandoverCode.objects.update(used_at=timezone.now())

    with pytest.raises(ValidationError) as refused:
        services.handover_code_check(application=coded, code=code)

    assert "used already" in str(refused.value)


# --- States, scope and conflicts -----------------------------------------------------------


def test_only_ready_documents_are_handed_over(browser, centre, id_service):
    lodged = lodge(centre=centre, service=id_service, applicant_id_number="1")
    page = browser.get(reverse("counter-application", args=[lodged.reference])).content.decode()
    assert "Only ready documents can be handed over" in page
    assert 'action="/staff/find/' not in page

    response = hand_over(browser, lodged, citizen_id_number="1")

    assert response.status_code == 409
    assert "Cannot hand over: the application is Lodged" in response.content.decode()
    assert not Handover.objects.exists()
    assert send_code(browser, lodged).status_code == 302
    assert not HandoverCode.objects.exists()


def test_another_centres_document_is_refused(client, application, other_centre):
    sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=other_centre))

    assert hand_over(client, application, citizen_id_number="A1234567").status_code == 403
    assert send_code(client, application).status_code == 403
    application.refresh_from_db()
    assert application.status == Status.READY


def test_an_agency_officer_sees_but_does_not_hand_over(client, application):
    agency_officer = make_staff(Role.AGENCY_OFFICER, agency=application.agency)
    sign_in(client, agency_officer)

    page = client.get(reverse("counter-application", args=[application.reference]))
    assert page.status_code == 200 and b"handed over at its own centre" in page.content
    assert hand_over(client, application, citizen_id_number="A1234567").status_code == 403
    with pytest.raises(Exception, match="Your role does not allow this"):
        handover_record(
            staff=staff_of(agency_officer),
            application=application,
            collector=Collector(CollectorKind.CITIZEN, citizen_id_number="A1234567"),
        )


def test_someone_acting_meanwhile_gets_a_clear_conflict(browser, centre, application):
    seen = application.version
    manager = make_staff(Role.CENTRE_MANAGER, centre=centre)
    application_return(application, actor=Actor.staff(manager))

    response = browser.post(
        reverse("counter-handover", args=[application.reference]),
        {"version": seen, "collector": "citizen", "citizen_id_number": "A1234567"},
    )

    assert response.status_code == 409
    page = response.content.decode()
    assert "changed by someone else" in page and "Returned" in page
    assert not Handover.objects.exists()


def test_of_two_officers_handing_over_at_once_one_wins(officer, centre, application):
    colleague = make_staff(Role.COUNTER_OFFICER, centre=centre)
    mine = Application.objects.get(pk=application.pk)
    theirs = Application.objects.get(pk=application.pk)
    collector = Collector(CollectorKind.CITIZEN, citizen_id_number="A1234567")

    handover_record(staff=staff_of(officer), application=mine, collector=collector)
    with pytest.raises(ApplicationConflict):
        handover_record(staff=staff_of(colleague), application=theirs, collector=collector)

    assert Handover.objects.get().handed_over_by == officer
    assert ApplicationEvent.objects.filter(application=application, action="hand_over").count() == 1
    assert Message.objects.filter(event=Event.COLLECTED).count() == 1


def test_a_failure_after_the_hand_over_undoes_it(monkeypatch, officer, coded):
    """The hand-over, the spent code and the Handover row commit together or not at all."""
    staff = staff_of(officer)
    services.handover_code_send(staff=staff, application=coded)
    code = last_code(coded)

    def broken(**fields):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Handover.objects, "create", broken)
    with pytest.raises(RuntimeError):
        handover_record(
            staff=staff,
            application=coded,
            collector=Collector(CollectorKind.CITIZEN, citizen_id_number="12345678"),
            code=code,
        )

    coded.refresh_from_db()
    assert coded.status == Status.READY
    assert HandoverCode.objects.get().used_at is None
    assert not Message.objects.filter(event=Event.COLLECTED).exists()
