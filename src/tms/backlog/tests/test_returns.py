"""The return list: only documents past retention, batch confirmation re-checked by the
service, printable and exportable lists with an audit record."""

from __future__ import annotations

import csv
from datetime import date, time
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tms.accounts.roles import Role
from tms.accounts.scope import NotAllowed
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.references import display
from tms.applications.services import Actor, application_hand_over
from tms.audit.models import AuditAction, AuditRecord
from tms.backlog import selectors, services
from tms.backlog.tests.conftest import make_ready
from tms.testing.builders import make_agency, make_centre, make_service
from tms.testing.staff import make_staff, sign_in, staff_of

pytestmark = pytest.mark.django_db

LATE = time(23, 59, 59)
EARLY = time(0, 0, 1)


@pytest.fixture
def world(today: date) -> dict[str, Any]:
    centre_a, centre_b = make_centre("RA"), make_centre("RB")
    registry, immigration = make_agency("REG"), make_agency("IMM")
    id_card = make_service("RID", agency=registry, retention_days=90)
    passport = make_service("RPP", agency=immigration, retention_days=30)
    w: dict[str, Any] = {"centre_a": centre_a, "centre_b": centre_b}
    # Past retention: ready day + retention < today (by Nairobi days).
    w["id_due"] = make_ready(service=id_card, centre=centre_a, days_ago=91, today=today, at=LATE)
    w["id_older"] = make_ready(service=id_card, centre=centre_a, days_ago=200, today=today)
    w["pp_due"] = make_ready(service=passport, centre=centre_a, days_ago=31, today=today, at=LATE)
    # Not yet: the return day is today.
    w["id_today"] = make_ready(service=id_card, centre=centre_a, days_ago=90, today=today, at=EARLY)
    w["pp_today"] = make_ready(
        service=passport, centre=centre_a, days_ago=30, today=today, at=EARLY
    )
    w["id_fresh"] = make_ready(service=id_card, centre=centre_a, days_ago=10, today=today)
    w["other_centre"] = make_ready(service=id_card, centre=centre_b, days_ago=150, today=today)
    w["manager_a"] = make_staff(Role.CENTRE_MANAGER, centre=centre_a)
    return w


def test_return_list_only_past_retention_grouped_oldest_first(world: dict, today: date) -> None:
    found = list(selectors.return_list(staff_of(world["manager_a"]), today=today))
    # IMM before REG; within an agency, oldest first.
    assert found == [world["pp_due"], world["id_older"], world["id_due"]]
    summary = selectors.return_summary(staff_of(world["manager_a"]), today=today)
    assert [(s.code, s.documents) for s in summary] == [("IMM", 1), ("REG", 2)]


def test_administrator_sees_every_centre_but_cannot_confirm(
    client, world: dict, today: date
) -> None:
    admin = make_staff(Role.ADMINISTRATOR)
    assert world["other_centre"] in selectors.return_list(staff_of(admin), today=today)
    sign_in(client, admin)
    page = client.get(reverse("backlog-returns"))
    assert page.status_code == 200
    assert display(world["other_centre"].reference) in page.content.decode()
    assert 'type="checkbox"' not in page.content.decode()
    posted = client.post(
        reverse("backlog-returns-confirm"), {"application": [world["other_centre"].pk]}
    )
    assert posted.status_code == 403
    with pytest.raises(NotAllowed):
        services.returns_confirm(staff=staff_of(admin), application_ids=[world["id_due"].pk])
    world["other_centre"].refresh_from_db()
    assert world["other_centre"].status == Status.READY


def test_page_lists_and_selects_all(client, world: dict) -> None:
    sign_in(client, world["manager_a"])
    page = client.get(reverse("backlog-returns"))
    body = page.content.decode()
    for name in ("pp_due", "id_older", "id_due"):
        assert f'value="{world[name].pk}" id="return-{world[name].pk}">' in body
    for name in ("id_today", "pp_today", "id_fresh", "other_centre"):
        assert display(world[name].reference) not in body
    selected = client.get(reverse("backlog-returns"), {"all": "1"}).content.decode()
    assert selected.count(" checked>") == 3


def test_batch_returns_valid_ones_and_reports_the_rest(client, world: dict) -> None:
    handed = world["id_older"]
    application_hand_over(handed, actor=Actor.system("test"))  # collected since the page loaded
    sign_in(client, world["manager_a"])
    response = client.post(
        reverse("backlog-returns-confirm"),
        {
            "application": [
                world["id_due"].pk,
                world["pp_due"].pk,
                handed.pk,
                world["id_today"].pk,  # not yet past retention: hand-made form
                world["other_centre"].pk,  # another centre's
                999_999_999,  # no such application
            ],
            "note": "Batch of the week",
            "next": reverse("backlog-returns"),
        },
    )
    assert response.status_code == 200
    outcome = response.context["outcome"]
    assert sorted(outcome.returned) == sorted(
        [display(world["id_due"].reference), display(world["pp_due"].reference)]
    )
    reasons = {refusal.reference: refusal.reason for refusal in outcome.refused}
    assert "Collected" in reasons[display(handed.reference)]
    assert "retention" in reasons[display(world["id_today"].reference)]
    assert [r.reference for r in outcome.refused].count("") == 2  # nothing revealed
    assert display(world["other_centre"].reference) not in response.content.decode()
    body = response.content.decode()
    assert "2 documents were returned" in body
    for name, status in [
        ("id_due", Status.RETURNED),
        ("pp_due", Status.RETURNED),
        ("id_today", Status.READY),
        ("other_centre", Status.READY),
    ]:
        world[name].refresh_from_db()
        assert world[name].status == status, name
    event = ApplicationEvent.objects.get(application=world["id_due"], to_status=Status.RETURNED)
    assert event.note == "Batch of the week"
    assert event.actor_user_id == world["manager_a"].pk
    assert event.channel == "staff_web"


def test_a_conflict_in_the_batch_is_reported_the_others_returned(
    world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone hands one document over between the service's check and the batch update."""
    real = services.applications_change_bulk
    raced = world["id_older"]

    def racing(changes: Any, *, actor: Any) -> Any:
        application_hand_over(Application.objects.get(pk=raced.pk), actor=Actor.system("desk"))
        return real(changes, actor=actor)

    monkeypatch.setattr(services, "applications_change_bulk", racing)
    outcome = services.returns_confirm(
        staff=staff_of(world["manager_a"]),
        application_ids=[world["id_due"].pk, raced.pk, world["pp_due"].pk],
    )
    assert len(outcome.returned) == 2
    assert [r.reference for r in outcome.refused] == [display(raced.reference)]
    assert "changed by someone else" in outcome.refused[0].reason
    raced.refresh_from_db()
    assert raced.status == Status.COLLECTED


def test_empty_or_bad_selection_is_refused(client, world: dict) -> None:
    with pytest.raises(ValidationError):
        services.returns_confirm(staff=staff_of(world["manager_a"]), application_ids=[])
    sign_in(client, world["manager_a"])
    response = client.post(reverse("backlog-returns-confirm"), {"application": ["x"]})
    assert response.status_code == 400
    response = client.post(reverse("backlog-returns-confirm"), {}, follow=True)
    assert "Select at least one document" in response.content.decode()


def test_csv_neutralises_formulas_and_is_audited(client, today: date) -> None:
    centre = make_centre("RC")
    service = make_service("RCS", retention_days=5)
    tricky = make_ready(
        service=service,
        centre=centre,
        days_ago=9,
        today=today,
        name='=HYPERLINK("http://evil.example","x")',
        agency_ref="=1+2",
    )
    make_ready(service=service, centre=centre, days_ago=8, today=today, agency_ref="@SUM(A1)")
    manager = make_staff(Role.CENTRE_MANAGER, centre=centre)
    sign_in(client, manager)
    response = client.get(reverse("backlog-returns-csv"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    rows = list(csv.reader(StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Agency", "Reference", "Agency reference"]
    assert rows[1][1] == display(tricky.reference)
    assert rows[1][2] == "'=1+2"
    assert rows[1][5] == "'=***"
    assert rows[2][2] == "'@SUM(A1)"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    printed = client.get(reverse("backlog-returns-print"))
    assert printed.status_code == 200
    assert display(tricky.reference) in printed.content.decode()
    records = list(AuditRecord.objects.filter(actor_user=manager).order_by("id"))
    assert [(r.action, r.rows, r.centre_id) for r in records] == [
        (AuditAction.EXPORT, 2, centre.pk),
        (AuditAction.PRINT, 2, centre.pk),
    ]


def test_counter_officer_cannot_see_returns(client, world: dict) -> None:
    sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"]))
    assert client.get(reverse("backlog-returns")).status_code == 403
    assert client.get(reverse("backlog-returns-csv")).status_code == 403
    response = client.post(
        reverse("backlog-returns-confirm"), {"application": [world["id_due"].pk]}
    )
    assert response.status_code == 403
