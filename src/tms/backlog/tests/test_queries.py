"""The citizen-query queue: scope per role, answering by SMS, once only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tms.accounts.roles import Role
from tms.accounts.scope import NotAllowed
from tms.applications.models import Channel
from tms.applications.references import display
from tms.audit.models import AuditAction, AuditRecord
from tms.backlog import selectors, services
from tms.notifications.models import Event, Message
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.testing.staff import make_staff, sign_in, staff_of
from tms.tracking.models import CitizenQuery, QueryState
from tms.tracking.services import query_raise

pytestmark = pytest.mark.django_db


def overdue(service: Any, centre: Any, days: int = 60, **fields: Any) -> Any:
    return lodge(
        service=service,
        centre=centre,
        lodged_at=timezone.now() - timedelta(days=days),
        **fields,
    )


@pytest.fixture
def world() -> dict[str, Any]:
    centre_a, centre_b = make_centre("QA"), make_centre("QB")
    agency_x, agency_y = make_agency("QX"), make_agency("QY")
    service_x = make_service("QSX", agency=agency_x)
    service_y = make_service("QSY", agency=agency_y)
    w: dict[str, Any] = {
        "centre_a": centre_a,
        "agency_x": agency_x,
        "ax": overdue(service_x, centre_a, days=70),
        "ay": overdue(service_y, centre_a, days=50, language="sw"),
        "bx": overdue(service_x, centre_b, days=40),
    }
    # Raised through the real service, as the tracking page does.
    w["q_ax"] = query_raise(application=w["ax"], channel=Channel.WEB)
    w["q_ay"] = query_raise(application=w["ay"], channel=Channel.USSD)
    w["q_bx"] = query_raise(application=w["bx"], channel=Channel.SMS)
    return w


def test_queue_scope_per_role(world: dict) -> None:
    counter = staff_of(make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"]))
    agency = staff_of(make_staff(Role.AGENCY_OFFICER, agency=world["agency_x"]))
    admin = staff_of(make_staff(Role.ADMINISTRATOR))
    assert set(selectors.query_queue(counter)) == {world["q_ax"], world["q_ay"]}
    assert set(selectors.query_queue(agency)) == {world["q_ax"], world["q_bx"]}
    assert set(selectors.query_queue(admin)) == {world["q_ax"], world["q_ay"], world["q_bx"]}
    analyst = staff_of(make_staff(Role.ANALYST))
    with pytest.raises(NotAllowed):
        selectors.query_queue(analyst)


def test_queue_page_oldest_first_with_details(client, world: dict) -> None:
    CitizenQuery.objects.filter(pk=world["q_ay"].pk).update(
        raised_at=world["q_ax"].raised_at - timedelta(hours=2)
    )
    sign_in(client, make_staff(Role.CENTRE_MANAGER, centre=world["centre_a"]))
    response = client.get(reverse("queries"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [row["query"].pk for row in rows] == [world["q_ay"].pk, world["q_ax"].pk]
    assert rows[1]["overdue"] > 0
    body = response.content.decode()
    assert display(world["ax"].reference) in body
    assert display(world["bx"].reference) not in body
    assert "USSD" in body


def test_queue_query_count_is_flat(client, world: dict, django_assert_max_num_queries) -> None:
    sign_in(client, make_staff(Role.ADMINISTRATOR))
    client.get(reverse("queries"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("queries"))
    assert len(response.context["rows"]) == 3


def test_answer_queues_sms_and_marks_answered(client, world: dict) -> None:
    officer = make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"])
    sign_in(client, officer)
    url = reverse("query-answer", args=[world["q_ay"].pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"answer": "  Hati yako itafika\nIjumaa.  "})
    assert response.status_code == 302
    query = CitizenQuery.objects.get(pk=world["q_ay"].pk)
    assert query.state == QueryState.ANSWERED
    assert query.answer == "Hati yako itafika Ijumaa."
    assert query.answered_at is not None
    message = Message.objects.get(application=world["ay"], event=Event.REPLY)
    assert message.to == world["ay"].applicant_phone
    assert message.language == "sw"
    assert display(world["ay"].reference) in message.body
    assert "Hati yako itafika Ijumaa." in message.body
    record = AuditRecord.objects.get(action=AuditAction.QUERY_ANSWER)
    assert record.actor_user_id == officer.pk
    assert record.application_id == world["ay"].pk
    # The queue moves it to the answered list.
    assert world["q_ay"] not in selectors.query_queue(staff_of(officer))
    answered = selectors.query_queue(staff_of(officer), state=QueryState.ANSWERED)
    assert list(answered) == [query]


def test_double_answer_is_refused(client, world: dict) -> None:
    officer = make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"])
    staff = staff_of(officer)
    services.query_answer(staff=staff, query=world["q_ax"], answer="It is at the printer.")
    stale = world["q_ax"]  # a second officer still holding the open query
    stale.state = QueryState.OPEN
    with pytest.raises(services.QueryAlreadyAnswered):
        services.query_answer(staff=staff, query=stale, answer="Another answer")
    sign_in(client, officer)
    url = reverse("query-answer", args=[world["q_ax"].pk])
    response = client.post(url, {"answer": "A third answer"}, follow=True)
    assert "already been answered" in response.content.decode()
    assert Message.objects.filter(application=world["ax"], event=Event.REPLY).count() == 1
    assert CitizenQuery.objects.get(pk=world["q_ax"].pk).answer == "It is at the printer."
    assert AuditRecord.objects.filter(action=AuditAction.QUERY_ANSWER).count() == 1


def test_answer_must_be_given_and_short(client, world: dict) -> None:
    staff = staff_of(make_staff(Role.ADMINISTRATOR))
    with pytest.raises(ValidationError):
        services.query_answer(staff=staff, query=world["q_bx"], answer="   ")
    with pytest.raises(ValidationError):
        services.query_answer(
            staff=staff, query=world["q_bx"], answer="x" * (services.ANSWER_MAX_LENGTH + 1)
        )
    sign_in(client, staff.user)
    url = reverse("query-answer", args=[world["q_bx"].pk])
    assert client.post(url, {"answer": ""}).status_code == 400
    assert CitizenQuery.objects.get(pk=world["q_bx"].pk).state == QueryState.OPEN
    assert not Message.objects.filter(event=Event.REPLY).exists()


def test_out_of_scope_query_is_forbidden(client, world: dict) -> None:
    officer = make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"])
    with pytest.raises(NotAllowed):
        services.query_answer(staff=staff_of(officer), query=world["q_bx"], answer="No")
    sign_in(client, officer)
    url = reverse("query-answer", args=[world["q_bx"].pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"answer": "Not mine"}).status_code == 403
    assert client.get(reverse("query-answer", args=[987654])).status_code == 404
    assert CitizenQuery.objects.get(pk=world["q_bx"].pk).state == QueryState.OPEN
    agency_y = make_staff(Role.AGENCY_OFFICER, agency=make_agency("QZ"))
    sign_in(client, agency_y)
    assert client.get(reverse("query-answer", args=[world["q_ax"].pk])).status_code == 403
