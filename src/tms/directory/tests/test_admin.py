"""Administrators manage reference data in the admin."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from tms.directory.models import PublicHoliday
from tms.testing.builders import make_agency, make_centre, make_service


@pytest.fixture
def reference_data(db):
    agency = make_agency("NRB", name="National Registration Bureau")
    return {
        "agency": agency,
        "service": make_service("NRB-ID-NEW", agency=agency, name_en="New ID card"),
        "centre": make_centre("GPO", name="Huduma Centre GPO"),
        "publicholiday": PublicHoliday.objects.create(date=date(2026, 12, 12), name="Jamhuri Day"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["agency", "service", "centre", "publicholiday"])
def test_reference_data_pages_load(model, admin_browser, reference_data):
    row = reference_data[model]
    changelist = admin_browser.get(reverse(f"admin:directory_{model}_changelist"))
    assert changelist.status_code == 200
    assert list(changelist.context["cl"].result_list) == [row]

    change = admin_browser.get(reverse(f"admin:directory_{model}_change", args=[row.pk]))
    assert change.status_code == 200
    assert 'name="_save"' in change.content.decode()

    assert admin_browser.get(reverse(f"admin:directory_{model}_add")).status_code == 200


@pytest.mark.django_db
def test_the_agency_page_lists_its_services(admin_browser, reference_data):
    url = reverse("admin:directory_agency_change", args=[reference_data["agency"].pk])
    assert "NRB-ID-NEW" in admin_browser.get(url).content.decode()


@pytest.mark.django_db
def test_an_administrator_can_record_a_gazetted_holiday(admin_browser, db):
    response = admin_browser.post(
        reverse("admin:directory_publicholiday_add"),
        {"date": "2026-11-13", "name": "National tree-planting day"},
    )
    assert response.status_code == 302
    assert PublicHoliday.objects.get(date=date(2026, 11, 13)).name == "National tree-planting day"


@pytest.mark.django_db
def test_the_admin_refuses_a_lower_case_service_code(admin_browser, reference_data):
    service = reference_data["service"]
    url = reverse("admin:directory_service_change", args=[service.pk])
    page = admin_browser.get(url)
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update({"agency": service.agency_id, "code": "nrb-id-new"})
    response = admin_browser.post(url, data)
    assert response.status_code == 200  # the form comes back with the error
    assert "code" in response.context["adminform"].form.errors
    service.refresh_from_db()
    assert service.code == "NRB-ID-NEW"


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client, reference_data):
    response = client.get(reverse("admin:directory_service_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
