"""The lodging slip: reference as text, barcode and QR code; nothing personal but a masked name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tms.accounts.roles import Role
from tms.applications.references import display
from tms.audit.models import AuditAction, AuditRecord
from tms.counter.views import barcode_svg, qr_svg, tracking_url
from tms.testing.builders import lodge
from tms.testing.staff import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, id_service):
    return lodge(
        centre=centre,
        service=id_service,
        name="Jane Wanjiku Kamau",
        phone="0712 345 678",
        applicant_id_number="87654321",
        representative_name="Peter Otieno",
        representative_phone="0722000111",
    )


def test_the_slip_shows_the_reference_as_text_barcode_and_qr_code(browser, application):
    response = browser.get(reverse("counter-slip", args=[application.reference]))

    page = response.content.decode()
    assert response.status_code == 200
    assert display(application.reference) in page
    assert 'class="barcode"><svg role="img"' in page
    assert str(barcode_svg(application.reference)) in page
    assert "barcode_group" in page and "<rect" in page  # Code 128 bars
    url = tracking_url(application.reference)
    assert url == f"https://track.go.ke/track/?ref={application.reference}"
    assert str(qr_svg(url)) in page
    assert 'class="qr"><svg role="img"' in page and "<path" in page
    assert "<?xml" not in page  # inline SVG, not documents


def test_the_slip_says_what_the_citizen_needs_and_nothing_personal_beyond_a_masked_name(
    browser, application
):
    page = browser.get(reverse("counter-slip", args=[application.reference])).content.decode()

    assert "J*** W*** K***" in page
    assert "Passport" in page and "Your slip and your ID card" in page
    assert application.centre.name in page
    assert application.due_date.strftime("%Y").lstrip("0") in page
    assert "track.go.ke/track/" in page and "*384*1234#" in page
    for personal in [
        "Jane",
        "Wanjiku",
        "Kamau",
        "87654321",
        "712345678",
        "712 345 678",
        "Peter",
        "722000111",
    ]:
        assert personal not in page, personal


def test_the_slip_is_in_the_citizens_language(browser, centre, id_service):
    application = lodge(centre=centre, service=id_service, applicant_id_number="1", language="sw")

    page = browser.get(reverse("counter-slip", args=[application.reference])).content.decode()

    assert "Pasipoti" in page and "Stakabadhi na kitambulisho" in page
    assert 'lang="sw"' in page


@pytest.mark.parametrize(
    ("paper", "css_class"), [("", "paper-a6"), ("80mm", "paper-80mm"), ("x", "paper-a6")]
)
def test_the_slip_fits_a6_or_an_80mm_roll(browser, application, paper, css_class):
    url = reverse("counter-slip", args=[application.reference])

    page = browser.get(url, {"paper": paper} if paper else {}).content.decode()

    assert f"slip {css_class}" in page
    assert ("@page{size:80mm" in page) == (css_class == "paper-80mm")
    assert "counter/slip.css" in page and "counter/print.js" in page
    assert "data-print" in page


def test_showing_the_slip_is_recorded(browser, officer, application):
    browser.get(reverse("counter-slip", args=[application.reference]))

    record = AuditRecord.objects.get(action=AuditAction.PRINT)
    assert record.application == application and record.actor_user == officer


def test_another_centres_slip_is_refused(client, application, other_centre):
    sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=other_centre))

    response = client.get(reverse("counter-slip", args=[application.reference]))

    assert response.status_code == 403
    assert not AuditRecord.objects.filter(action=AuditAction.PRINT).exists()


def test_an_unknown_or_mistyped_reference_is_not_found(browser, application):
    mistyped = application.reference[:-1] + str((int(application.reference[-1]) + 1) % 10)

    assert browser.get(reverse("counter-slip", args=[mistyped])).status_code == 404
    assert browser.get(reverse("counter-slip", args=["1234567890123"])).status_code == 404
