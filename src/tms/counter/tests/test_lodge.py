"""Lodging at the counter: the form, its errors, the SMS, and one lodging per form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tms.accounts.roles import Role
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.conftest import on_postgres
from tms.counter import services
from tms.counter.forms import lodge_token_issue
from tms.counter.models import LodgeToken
from tms.notifications.models import Event, Message
from tms.testing.staff import make_staff, sign_in, staff_of
from tms.testing.threads import run_in_threads

pytestmark = pytest.mark.django_db


def token_from(response: Any) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the form carries a one-time token"
    return match.group(1)


def form_data(browser: Client, service: Any, **fields: str) -> dict[str, str]:
    response = browser.get(reverse("counter-lodge"))
    assert response.status_code == 200
    return {
        "token": token_from(response),
        "service": str(service.pk),
        "applicant_name": "Wanjiku  Kamau",
        "applicant_phone": "0712 345 678",
        "applicant_id_number": "",
        "language": "en",
        "representative_name": "",
        "representative_phone": "",
        **fields,
    }


def test_the_form_marks_services_that_need_an_id_number(browser, service, id_service):
    page = browser.get(reverse("counter-lodge")).content.decode()

    assert "Passport (ID number needed)" in page
    assert "Certificate of Good Conduct (ID number needed)" not in page
    assert "Certificate of Good Conduct" in page


def test_lodging_records_the_application_at_the_officers_centre_and_shows_the_slip(
    browser, officer, centre, id_service
):
    data = form_data(
        browser,
        id_service,
        applicant_id_number="12345678",
        language="sw",
        representative_name="Peter Kamau",
        representative_phone="+254 722 000 111",
    )

    response = browser.post(reverse("counter-lodge"), data)

    application = Application.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("counter-slip", args=[application.reference])
    assert application.centre == centre and application.service == id_service
    assert application.applicant_name == "Wanjiku Kamau"
    assert application.applicant_phone == "+254712345678"
    assert application.applicant_id_number == "12345678"
    assert application.language == "sw"
    assert application.representative_name == "Peter Kamau"
    assert application.representative_phone == "+254722000111"
    event = ApplicationEvent.objects.get(application=application)
    assert event.channel == Channel.COUNTER and event.actor_user_id == officer.pk
    # The lodged SMS, in Swahili, to the citizen and to the person applying for them.
    lodged = Message.objects.filter(application=application, event=Event.LODGED)
    assert sorted(lodged.values_list("to", flat=True)) == ["+254712345678", "+254722000111"]
    assert all("Pasipoti" in body for body in lodged.values_list("body", flat=True))


def test_without_a_representative_only_the_citizen_gets_the_sms(browser, service):
    browser.post(reverse("counter-lodge"), form_data(browser, service))

    assert list(Message.objects.values_list("event", "to")) == [(Event.LODGED, "+254712345678")]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"applicant_id_number": ""}, "applicant_id_number", "needs the applicant's ID"),
        ({"applicant_phone": "0712"}, "applicant_phone", "Enter a valid mobile phone number."),
        ({"applicant_name": "   "}, "applicant_name", "This field is required."),
        (
            {"representative_name": "Peter Kamau"},
            "representative_phone",
            "Enter the phone number of the person applying",
        ),
        (
            {"representative_phone": "0722000111"},
            "representative_name",
            "Enter the name of the person applying",
        ),
        (
            {"representative_name": "Peter", "representative_phone": "07220"},
            "representative_phone",
            "Enter a valid mobile phone number.",
        ),
    ],
)
def test_errors_are_shown_by_field_and_nothing_is_lodged(
    browser, id_service, fields, field, message
):
    data = form_data(browser, id_service, **{"applicant_id_number": "12345678", **fields})

    response = browser.post(reverse("counter-lodge"), data)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert not Application.objects.exists() and not Message.objects.exists()
    assert not LodgeToken.objects.exists()
    # The same form (and token) can be corrected and submitted.
    assert token_from(response) == data["token"]


def test_a_form_corrected_after_an_error_lodges_once(browser, id_service):
    data = form_data(browser, id_service)
    assert browser.post(reverse("counter-lodge"), data).status_code == 400

    response = browser.post(reverse("counter-lodge"), {**data, "applicant_id_number": "1234"})

    assert response.status_code == 302
    assert Application.objects.count() == 1


def test_submitting_the_same_form_twice_lodges_once_and_shows_the_same_slip(browser, service):
    data = form_data(browser, service)

    first = browser.post(reverse("counter-lodge"), data)
    second = browser.post(reverse("counter-lodge"), data, follow=True)

    application = Application.objects.get()
    assert first["Location"] == second.redirect_chain[0][0]
    assert second.redirect_chain[0][0] == reverse("counter-slip", args=[application.reference])
    assert "already lodged" in second.content.decode()
    assert Message.objects.filter(event=Event.LODGED).count() == 1
    # A new form is a new application.
    assert browser.post(reverse("counter-lodge"), form_data(browser, service)).status_code == 302
    assert Application.objects.count() == 2


@pytest.mark.parametrize("token", ["forged", "another officer"])
def test_a_forged_or_foreign_token_lodges_nothing(browser, service, centre, token):
    data = form_data(browser, service)
    if token == "forged":
        data["token"] = "x" + data["token"]
    else:
        colleague = make_staff(Role.COUNTER_OFFICER, centre=centre)
        data["token"] = lodge_token_issue(colleague.pk)

    response = browser.post(reverse("counter-lodge"), data)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not Application.objects.exists()
    assert token_from(response) != data["token"]  # a fresh one to try again with


def test_an_inactive_service_is_not_offered(browser, service):
    service.is_active = False
    service.save()

    response = browser.post(reverse("counter-lodge"), form_data(browser, service))

    assert response.status_code == 400
    assert "service" in response.context["form"].errors
    assert not Application.objects.exists()


def test_roles_without_lodging_are_refused(client, service):
    agency_officer = make_staff(Role.AGENCY_OFFICER, agency=service.agency)
    sign_in(client, agency_officer)

    assert client.get(reverse("counter-lodge")).status_code == 403


def test_a_centre_manager_lodges_at_their_own_centre(client, centre, service):
    sign_in(client, make_staff(Role.CENTRE_MANAGER, centre=centre))

    assert client.post(reverse("counter-lodge"), form_data(client, service)).status_code == 302
    assert Application.objects.get().centre == centre


@pytest.mark.django_db(transaction=True)
def test_two_submissions_racing_with_one_token_lodge_once(officer, service):
    if not on_postgres():
        pytest.skip("SQLite writes one transaction at a time; the race needs PostgreSQL")
    staff = staff_of(officer)

    def submit(_index: int) -> int:
        application, _new = services.counter_lodge(
            staff=staff,
            token="one-form",
            service=service,
            applicant_name="Wanjiku Kamau",
            applicant_phone="0712345678",
        )
        return application.pk

    results = run_in_threads(4, submit)

    assert len(set(results)) == 1, results
    assert Application.objects.count() == 1
    assert Message.objects.filter(event=Event.LODGED).count() == 1
