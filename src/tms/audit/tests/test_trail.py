"""The audit trail: written with the address, read within scope, never edited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tms.accounts.roles import Role
from tms.applications.models import ApplicationEvent, Channel
from tms.applications.services import application_start_processing
from tms.audit.models import AuditAction, AuditRecord, ImmutableRecord
from tms.audit.services import audit_record
from tms.testing.builders import lodge, make_centre
from tms.testing.staff import make_staff, sign_in, staff_of

pytestmark = pytest.mark.django_db


def test_a_staff_change_through_http_records_who_and_from_where(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    sign_in(client, manager)
    client.post(
        reverse("staff-people"),
        {
            "username": "kip",
            "password": "Counter-officer-2026!",
            "role": Role.COUNTER_OFFICER,
            "centre": manager.staff_profile.centre.pk,
        },
        REMOTE_ADDR="196.201.214.7",
    )
    record = AuditRecord.objects.get()
    assert record.address == "196.201.214.7"
    assert record.actor_label == manager.username


def test_history_events_carry_the_address_of_the_request(client: Client) -> None:
    from tms.core.request_context import _address

    application = lodge()
    token = _address.set("10.0.0.9")
    try:
        application_start_processing(
            application, actor=staff_of(make_staff(Role.ADMINISTRATOR)).actor(Channel.STAFF_WEB)
        )
    finally:
        _address.reset(token)
    assert (
        ApplicationEvent.objects.filter(application=application).latest("version").address
        == "10.0.0.9"
    )


def test_records_cannot_be_changed_or_deleted() -> None:
    staff = staff_of(make_staff(Role.CENTRE_MANAGER))
    record = audit_record(staff, AuditAction.SEARCH, detail="phone +2547******78", rows=1)
    record.detail = "nothing to see"
    with pytest.raises(ImmutableRecord):
        record.save()
    with pytest.raises(ImmutableRecord):
        record.delete()
    with pytest.raises(ImmutableRecord):
        AuditRecord.objects.filter(pk=record.pk).update(detail="x")
    with pytest.raises(ImmutableRecord):
        AuditRecord.objects.all().delete()
    record.refresh_from_db()
    assert record.detail == "phone +2547******78"


def test_the_admin_offers_no_way_to_add_change_or_delete(admin_browser: Client) -> None:
    staff = staff_of(make_staff(Role.CENTRE_MANAGER))
    record = audit_record(staff, AuditAction.EXPORT, rows=3)
    assert admin_browser.get(reverse("admin:audit_auditrecord_changelist")).status_code == 200
    assert admin_browser.get(reverse("admin:audit_auditrecord_add")).status_code == 403
    change = reverse("admin:audit_auditrecord_change", args=[record.pk])
    assert admin_browser.post(change, {"detail": "x"}).status_code == 403
    delete = reverse("admin:audit_auditrecord_delete", args=[record.pk])
    assert admin_browser.post(delete, {"post": "yes"}).status_code == 403
    bulk = admin_browser.post(
        reverse("admin:audit_auditrecord_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditRecord.objects.filter(pk=record.pk).exists()
    # History events likewise: the admin shows them read-only, inside their application.
    event = lodge().events.get()
    assert not _has_event_admin() or (
        admin_browser.post(
            reverse("admin:applications_applicationevent_change", args=[event.pk]), {"note": "x"}
        ).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.note == ""


def _has_event_admin() -> bool:
    from django.contrib import admin

    return ApplicationEvent in admin.site._registry


def test_no_staff_url_writes_to_the_trail_except_through_services() -> None:
    """No URL of the application is routed to anything that edits or deletes audit
    records or history events: the only views in the audit app read."""
    from tms.audit import views

    patterns: list[str] = []

    def walk(resolver: URLResolver, prefix: str = "") -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                walk(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.callback.__module__ == views.__name__:
                patterns.append(prefix + str(entry.pattern))

    walk(get_resolver())
    assert patterns == ["staff/audit/"]
    response = Client().post(reverse("audit-trail"))
    assert response.status_code in (302, 405)


def test_a_manager_browses_own_centre_and_filters(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    centre = manager.staff_profile.centre
    mine = lodge(centre=centre)
    theirs = lodge(centre=make_centre())
    officer = staff_of(make_staff(Role.COUNTER_OFFICER, centre=centre))
    application_start_processing(mine, actor=officer.actor(Channel.STAFF_WEB))
    application_start_processing(theirs, actor=officer.actor(Channel.STAFF_WEB))
    audit_record(officer, AuditAction.SEARCH, detail="ID ****5678", rows=1)
    audit_record(staff_of(make_staff(Role.COUNTER_OFFICER)), AuditAction.SEARCH, detail="elsewhere")
    sign_in(client, manager)

    page = client.get(reverse("audit-trail")).content.decode()
    assert str(mine) in page and str(theirs) not in page
    filtered = client.get(reverse("audit-trail"), {"action": "lodge"}).content.decode()
    assert "<td>start processing</td>" in page
    assert "<td>start processing</td>" not in filtered and str(mine) in filtered
    access = client.get(reverse("audit-trail"), {"kind": "access"}).content.decode()
    assert "ID ****5678" in access and "elsewhere" not in access
    by_user = client.get(
        reverse("audit-trail"), {"kind": "access", "username": "nobody"}
    ).content.decode()
    assert "ID ****5678" not in by_user


def test_counter_officers_and_analysts_cannot_read_the_trail(client: Client) -> None:
    for role in (Role.COUNTER_OFFICER, Role.ANALYST, Role.AGENCY_OFFICER):
        sign_in(client, make_staff(role))
        assert client.get(reverse("audit-trail")).status_code == 403
