"""The admin shows applications and their history but never changes them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tms.applications import references
from tms.applications.lifecycle import Action, Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.tests.expected_lifecycle import perform
from tms.testing.builders import lodge


@pytest.fixture
def application(service, centre):
    application = lodge(service=service, centre=centre, agency_ref="KRA-2026-000123")
    return perform(application, Action.START_PROCESSING, note="Forwarded to head office")


def changelist_refs(response) -> list[str]:
    return [a.reference for a in response.context["cl"].result_list]


@pytest.mark.django_db
def test_the_changelist_loads_and_lists_applications(admin_browser, application):
    response = admin_browser.get(reverse("admin:applications_application_changelist"))
    assert response.status_code == 200
    assert changelist_refs(response) == [application.reference]
    assert references.display(application.reference) in response.content.decode()


@pytest.mark.django_db
def test_the_changelist_filters_by_status(admin_browser, application, service, centre):
    lodge(service=service, centre=centre)
    url = reverse("admin:applications_application_changelist")
    response = admin_browser.get(url, {"status__exact": Status.PROCESSING})
    assert response.status_code == 200
    assert changelist_refs(response) == [application.reference]


@pytest.mark.django_db
def test_the_change_page_shows_the_application_and_its_history_read_only(
    admin_browser, application
):
    url = reverse("admin:applications_application_change", args=[application.pk])
    response = admin_browser.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Forwarded to head office" in page
    assert application.applicant_name in page
    assert 'name="_save"' not in page
    assert response.context["has_change_permission"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed",
    [
        references.display,
        lambda ref: ref,
        lambda ref: "-".join(references.display(ref).split()),
        lambda ref: f"  {references.display(ref)}  ",
    ],
)
def test_search_by_a_typed_reference_finds_it(typed, admin_browser, application, service, centre):
    lodge(service=service, centre=centre)
    response = admin_browser.get(
        reverse("admin:applications_application_changelist"), {"q": typed(application.reference)}
    )
    assert response.status_code == 200
    assert changelist_refs(response) == [application.reference]


@pytest.mark.django_db
def test_search_by_agency_reference_finds_it(admin_browser, application, service, centre):
    lodge(service=service, centre=centre)
    response = admin_browser.get(
        reverse("admin:applications_application_changelist"), {"q": "KRA-2026-000123"}
    )
    assert changelist_refs(response) == [application.reference]


@pytest.mark.django_db
def test_search_by_a_part_of_a_reference_finds_nothing(admin_browser, application):
    response = admin_browser.get(
        reverse("admin:applications_application_changelist"), {"q": application.reference[:6]}
    )
    assert response.status_code == 200
    assert changelist_refs(response) == []


@pytest.mark.django_db
def test_applications_cannot_be_added_through_the_admin(admin_browser, service, centre):
    url = reverse("admin:applications_application_add")
    assert admin_browser.get(url).status_code == 403
    response = admin_browser.post(
        url,
        {
            "service": service.pk,
            "centre": centre.pk,
            "agency": service.agency_id,
            "status": "ready",
            "applicant_name": "Mallory",
            "applicant_phone": "+254712345678",
        },
    )
    assert response.status_code == 403
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_applications_cannot_be_changed_through_the_admin(admin_browser, application):
    url = reverse("admin:applications_application_change", args=[application.pk])
    response = admin_browser.post(
        url,
        {
            "status": "collected",
            "applicant_name": "Changed",
            "version": 1,
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    stored = Application.objects.get(pk=application.pk)
    assert (stored.status, stored.version, stored.applicant_name) == (
        Status.PROCESSING,
        2,
        application.applicant_name,
    )
    assert ApplicationEvent.objects.filter(application=application).count() == 2


@pytest.mark.django_db
def test_applications_cannot_be_deleted_through_the_admin(admin_browser, application):
    url = reverse("admin:applications_application_delete", args=[application.pk])
    assert admin_browser.get(url).status_code == 403
    assert admin_browser.post(url, {"post": "yes"}).status_code == 403
    assert Application.objects.filter(pk=application.pk).exists()


@pytest.mark.django_db
def test_applications_cannot_be_bulk_deleted_from_the_changelist(admin_browser, application):
    url = reverse("admin:applications_application_changelist")
    response = admin_browser.get(url)
    assert "delete_selected" not in response.context["cl"].model_admin.get_actions(
        response.wsgi_request
    )
    admin_browser.post(
        url, {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"}
    )
    assert Application.objects.filter(pk=application.pk).exists()
    assert ApplicationEvent.objects.filter(application=application).count() == 2


@pytest.mark.django_db
def test_history_events_are_not_editable_in_the_admin(admin_browser, application):
    url = reverse("admin:applications_application_change", args=[application.pk])
    response = admin_browser.get(url)
    (inline,) = response.context["inline_admin_formsets"]
    assert inline.has_add_permission is False
    assert inline.has_change_permission is False
    assert inline.has_delete_permission is False
