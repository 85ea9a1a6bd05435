"""Finding applications: by reference, agency reference, phone or ID number, within scope,
every search recorded with its term masked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tms.accounts.roles import Role
from tms.applications.references import display
from tms.audit.models import AuditAction, AuditRecord
from tms.counter.selectors import SearchKind
from tms.counter.services import counter_search, mask_term
from tms.testing.builders import lodge
from tms.testing.staff import make_staff, sign_in, staff_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(centre, id_service):
    return lodge(
        centre=centre,
        service=id_service,
        name="Jane Wanjiku Kamau",
        phone="0712345678",
        applicant_id_number="12 34-5678",
        agency_ref="PP-2026-001",
    )


@pytest.fixture
def theirs(other_centre, id_service):
    """Same phone and ID number, lodged at another centre."""
    return lodge(
        centre=other_centre,
        service=id_service,
        name="Jane Wanjiku Kamau",
        phone="0712345678",
        applicant_id_number="12345678",
        agency_ref="PP-2026-002",
    )


def search(browser, kind, q):
    return browser.get(reverse("counter-find"), {"kind": kind, "q": q})


def test_a_reference_typed_with_spaces_opens_the_application(browser, officer, mine, theirs):
    response = search(browser, "reference", display(mine.reference))

    assert response.status_code == 302
    assert response["Location"] == reverse("counter-application", args=[mine.reference])
    record = AuditRecord.objects.get(action=AuditAction.SEARCH)
    assert record.detail == f"reference: {mine.reference}"
    assert record.rows == 1 and record.actor_user == officer and record.centre == mine.centre


def test_another_centres_reference_is_not_found(browser, mine, theirs):
    response = search(browser, "reference", theirs.reference)

    assert response.status_code == 200
    assert response.context["results"] == []
    assert "Nothing matches" in response.content.decode()
    assert AuditRecord.objects.get(action=AuditAction.SEARCH).rows == 0


@pytest.mark.parametrize(
    ("kind", "q", "masked"),
    [
        ("phone", "0712 345 678", "phone: +2547******78"),
        ("phone", "+254712345678", "phone: +2547******78"),
        ("id_number", "12345678", "id_number: ****5678"),
        ("id_number", "12 345 678", "id_number: ****5678"),
        ("agency_ref", "PP-2026-001", "agency_ref: PP-2026-001"),
    ],
)
def test_each_kind_finds_within_the_centre_only_and_is_recorded_masked(
    browser, mine, theirs, kind, q, masked
):
    mine.applicant_id_number = "12345678"  # stored as typed at lodging; search ignores case
    mine.save(update_fields=["applicant_id_number"])

    response = search(browser, kind, q)

    page = response.content.decode()
    assert response.status_code == 200
    assert [row["reference"] for row in response.context["results"]] == [mine.reference]
    assert theirs.reference not in page and display(theirs.reference) not in page
    assert "J*** W*** K***" in page and "Jane" not in page
    record = AuditRecord.objects.get(action=AuditAction.SEARCH)
    assert record.detail == masked and record.rows == 1
    assert "712345678" not in record.detail and "12345678" not in record.detail


def test_an_agency_officer_finds_across_centres_within_their_agency(client, mine, theirs):
    agency_officer = make_staff(Role.AGENCY_OFFICER, agency=mine.agency)
    outsider = make_staff(Role.AGENCY_OFFICER)

    found = counter_search(staff=staff_of(agency_officer), kind=SearchKind.PHONE, term="0712345678")
    nothing = counter_search(staff=staff_of(outsider), kind=SearchKind.PHONE, term="0712345678")

    assert {a.pk for a in found} == {mine.pk, theirs.pk}
    assert nothing == []
    assert sorted(r or 0 for r in AuditRecord.objects.values_list("rows", flat=True)) == [0, 2]


@pytest.mark.parametrize(
    ("kind", "q", "error"),
    [
        ("reference", "1234 5678 9012 4", "typing error"),
        ("phone", "07123", "Enter a valid mobile phone number."),
    ],
)
def test_a_term_that_cannot_match_is_explained_and_not_searched(browser, mine, kind, q, error):
    response = search(browser, kind, q)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not AuditRecord.objects.filter(action=AuditAction.SEARCH).exists()


def test_masking_keeps_too_little_to_reuse():
    assert mask_term(SearchKind.PHONE, "+254712345678") == "+2547******78"
    assert mask_term(SearchKind.ID_NUMBER, "A1234567") == "****4567"
    assert mask_term(SearchKind.ID_NUMBER, "123") == "****"


def test_opening_an_application_shows_what_hand_over_needs_and_is_recorded(browser, officer, mine):
    response = browser.get(reverse("counter-application", args=[mine.reference]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Jane Wanjiku Kamau" in page  # to compare with the document shown
    assert "+254 7** *** 678" in page and "712345678" not in page
    assert "5678" not in page  # the ID number is typed to be checked, never shown
    record = AuditRecord.objects.get(action=AuditAction.VIEW)
    assert record.application == mine and record.actor_user == officer


def test_another_centres_application_cannot_be_opened(browser, theirs):
    response = browser.get(reverse("counter-application", args=[theirs.reference]))

    assert response.status_code == 403
    assert not AuditRecord.objects.exists()


def test_analysts_cannot_search(client, mine):
    sign_in(client, make_staff(Role.ANALYST))

    assert search(client, "phone", "0712345678").status_code == 403
    assert not AuditRecord.objects.exists()
