"""The backlog: age buckets, counts and reprint cost, drill-down scope, reminder history."""

from __future__ import annotations

import csv
from datetime import date, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tms.accounts.roles import Role
from tms.applications.references import display
from tms.applications.services import Actor, application_hand_over
from tms.audit.models import AuditAction, AuditRecord
from tms.backlog import selectors
from tms.backlog.tests.conftest import make_ready
from tms.notifications.models import Event, Message
from tms.notifications.reminders import reminders_queue
from tms.testing.builders import make_centre, make_service
from tms.testing.staff import make_staff, sign_in, staff_of

pytestmark = pytest.mark.django_db

LATE = time(23, 59, 59)
EARLY = time(0, 0, 1)


@pytest.fixture
def world(today: date) -> dict:
    centre_a, centre_b = make_centre("CA"), make_centre("CB")
    id_card = make_service("ID", reprint_cost_kes=Decimal("700"))
    passport = make_service("PP", reprint_cost_kes=Decimal("1500.50"))
    a = {}
    # Each boundary on its worst side: the earliest second of the younger day and the
    # last second of the older one (UTC dates would put these in other buckets).
    for days, at in [(0, EARLY), (7, EARLY), (8, LATE), (30, EARLY), (31, LATE), (90, EARLY)]:
        a[days] = make_ready(service=id_card, centre=centre_a, days_ago=days, today=today, at=at)
    a[91] = make_ready(service=id_card, centre=centre_a, days_ago=91, today=today, at=LATE)
    for _ in range(2):
        make_ready(service=passport, centre=centre_a, days_ago=100, today=today)
    collected = make_ready(service=id_card, centre=centre_a, days_ago=3, today=today)
    application_hand_over(collected, actor=Actor.system("test"))
    b = [make_ready(service=id_card, centre=centre_b, days_ago=10, today=today) for _ in range(3)]
    manager_a = make_staff(Role.CENTRE_MANAGER, centre=centre_a)
    return {
        "a": a,
        "b": b,
        "centre_a": centre_a,
        "centre_b": centre_b,
        "id_card": id_card,
        "passport": passport,
        "manager_a": manager_a,
        "collected": collected,
    }


def test_buckets_by_nairobi_day_boundaries(world: dict, today: date) -> None:
    keys = {}
    for days, application in world["a"].items():
        found = [
            bucket.key
            for bucket in selectors.BUCKETS
            if selectors.backlog_list(
                staff_of(world["manager_a"]), bucket=bucket, today=today
            ).filter(pk=application.pk)
        ]
        keys[days] = found
    assert keys == {
        0: ["0-7"],
        7: ["0-7"],
        8: ["8-30"],
        30: ["8-30"],
        31: ["31-90"],
        90: ["31-90"],
        91: ["91+"],
    }


def test_table_counts_and_reprint_cost(world: dict, today: date) -> None:
    table = selectors.backlog_table(staff_of(world["manager_a"]), today=today)
    by_code = {row.code: row for row in table.rows}
    assert by_code["ID"].counts == [2, 2, 2, 1]
    assert by_code["ID"].total == 7
    assert by_code["ID"].cost == Decimal("4900.00")
    assert by_code["PP"].counts == [0, 0, 0, 2]
    assert by_code["PP"].cost == Decimal("3001.00")
    assert table.totals.counts == [2, 2, 2, 3]
    assert table.totals.total == 9
    assert table.totals.cost == Decimal("7901.00")
    # Centre B's three documents and the collected one are not in centre A's backlog.
    assert [row.code for row in table.rows] == ["ID", "PP"]


def test_administrator_sees_all_centres_or_one(world: dict, today: date) -> None:
    admin = staff_of(make_staff(Role.ADMINISTRATOR))
    assert selectors.backlog_table(admin, today=today).totals.total == 12
    only_b = selectors.backlog_table(admin, centre_id=world["centre_b"].pk, today=today)
    assert only_b.totals.counts == [0, 3, 0, 0]


def test_manager_cannot_widen_scope_with_centre_filter(world: dict, today: date) -> None:
    manager = staff_of(world["manager_a"])
    assert selectors.backlog_table(manager, centre_id=world["centre_b"].pk).totals.total == 0


def test_backlog_page_shows_table(client, world: dict, django_assert_max_num_queries) -> None:
    sign_in(client, world["manager_a"])
    with django_assert_max_num_queries(8):
        response = client.get(reverse("backlog"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "4,900.00" in body or "4900.00" in body
    assert "7,901.00" in body or "7901.00" in body
    drill = reverse("backlog-list") + f"?service={world['id_card'].pk}&amp;bucket=8-30"
    assert drill in body


def test_counter_officer_and_analyst_have_no_backlog(client, world: dict) -> None:
    sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=world["centre_a"]))
    assert client.get(reverse("backlog")).status_code == 403
    assert client.get(reverse("backlog-list")).status_code == 403


def test_drill_down_lists_only_own_centre(client, world: dict) -> None:
    sign_in(client, world["manager_a"])
    url = reverse("backlog-list")
    response = client.get(url, {"service": world["id_card"].pk, "bucket": "8-30"})
    assert response.status_code == 200
    body = response.content.decode()
    assert display(world["a"][8].reference) in body
    assert display(world["a"][30].reference) in body
    assert display(world["a"][7].reference) not in body
    for other in world["b"]:
        assert display(other.reference) not in body
    # Asking for centre B's documents explicitly changes nothing for a centre manager.
    response = client.get(url, {"centre": world["centre_b"].pk})
    for other in world["b"]:
        assert display(other.reference) not in response.content.decode()
    # Names and phones are masked.
    assert "Wanjiku" not in body
    assert "W*** K***" in body
    assert "+254 7** *** 678" in body


def test_administrator_drill_down_into_another_centre(client, world: dict) -> None:
    sign_in(client, make_staff(Role.ADMINISTRATOR))
    response = client.get(reverse("backlog-list"), {"centre": world["centre_b"].pk})
    body = response.content.decode()
    assert all(display(other.reference) in body for other in world["b"])
    assert display(world["a"][8].reference) not in body


def test_drill_down_rejects_bad_filter(client, world: dict) -> None:
    sign_in(client, world["manager_a"])
    assert client.get(reverse("backlog-list"), {"bucket": "2-3"}).status_code == 400
    assert client.get(reverse("backlog-list"), {"service": "999999"}).status_code == 400


def test_drill_down_query_count_does_not_grow_with_rows(
    client, world: dict, today: date, django_assert_max_num_queries
) -> None:
    sign_in(client, world["manager_a"])
    url = reverse("backlog-list")
    client.get(url)  # the first request after sign-in also saves the session
    with CaptureQueriesContext(connection) as small:
        first = client.get(url, {"service": world["passport"].pk})
    for _ in range(12):
        make_ready(service=world["passport"], centre=world["centre_a"], days_ago=95, today=today)
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as large:
        second = client.get(url, {"service": world["passport"].pk})
    assert first.status_code == second.status_code == 200
    assert second.content.decode().count('class="ref"') == 14
    assert len(large) == len(small)


def test_drill_down_pages_without_counting(client, world: dict, today: date) -> None:
    for _ in range(52):
        make_ready(service=world["passport"], centre=world["centre_a"], days_ago=120, today=today)
    sign_in(client, world["manager_a"])
    url = reverse("backlog-list")
    first = client.get(url, {"service": world["passport"].pk})
    assert first.content.decode().count('class="ref"') == 50
    assert "page=2" in first.content.decode()
    second = client.get(url, {"service": world["passport"].pk, "page": 2})
    assert second.content.decode().count('class="ref"') == 4
    assert "page=3" not in second.content.decode()


def test_reminder_history_and_next_reminder(client, world: dict, today: date) -> None:
    application = world["a"][8]
    reminders_queue()  # the real job: a reminder for the 7-day step is now due
    key = f"reminder:{application.pk}:7"
    assert Message.objects.filter(dedupe_key=key).exists()
    sign_in(client, world["manager_a"])
    response = client.get(
        reverse("backlog-list"), {"service": world["id_card"].pk, "bucket": "8-30"}
    )
    entries = {entry.application.pk: entry for entry in response.context["entries"]}
    entry = entries[application.pk]
    assert [sent.event for sent in entry.history] == [Event.READY, Event.REMINDER]
    assert entry.history[1].at.date() >= today - timedelta(days=1)
    # Next: the 14-day step, counted from the Nairobi day it became ready.
    assert entry.next is not None
    assert entry.next.day == today - timedelta(days=8) + timedelta(days=14)
    body = response.content.decode()
    assert "reminder" in body and "(queued)" in body


def test_next_reminder_rules(world: dict, today: date) -> None:
    history = selectors.reminder_history([world["a"][0].pk, world["a"][90].pk])
    service = world["id_card"]
    fresh = selectors.next_reminder(
        world["a"][0], service, history[world["a"][0].pk], today=today, is_opted_out=False
    )
    assert fresh is not None and fresh.day == today + timedelta(days=7)
    # Opted out: no reminders, but the final notice still goes (83 days after ready).
    stopped = selectors.next_reminder(
        world["a"][0], service, history[world["a"][0].pk], today=today, is_opted_out=True
    )
    assert stopped is not None and stopped.day == today + timedelta(days=83)
    assert str(stopped.event_label) == str(Event.FINAL_NOTICE.label)
    # 85 days: past the final-notice day (83), final notice not yet sent: due now.
    late = make_ready(service=service, centre=world["centre_a"], days_ago=85, today=today)
    due = selectors.next_reminder(late, service, [], today=today, is_opted_out=True)
    assert due is not None and due.day == today
    assert str(due.event_label) == str(Event.FINAL_NOTICE.label)
    reminders_queue()  # sends it
    sent = selectors.reminder_history([late.pk])[late.pk]
    assert [m.event for m in sent] == [Event.READY, Event.FINAL_NOTICE]
    assert selectors.next_reminder(late, service, sent, today=today, is_opted_out=False) is None
    # 90 days: the return day itself; nothing more is sent (the notice named this day).
    assert (
        selectors.next_reminder(
            world["a"][90], service, history[world["a"][90].pk], today=today, is_opted_out=False
        )
        is None
    )


def test_print_and_csv_are_audited(client, world: dict) -> None:
    sign_in(client, world["manager_a"])
    params = {"service": world["id_card"].pk, "bucket": "8-30"}
    printed = client.get(reverse("backlog-list-print"), params)
    assert printed.status_code == 200
    assert "backlog/backlog.css" in printed.content.decode()
    exported = client.get(reverse("backlog-list-csv"), params)
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 3  # header and two documents
    assert {row[0] for row in rows[1:]} == {
        display(world["a"][8].reference),
        display(world["a"][30].reference),
    }
    assert rows[1][4] == "'+254 7** *** 678"  # a leading + is neutralised too
    assert "ready" in rows[1][7]
    records = AuditRecord.objects.filter(actor_user=world["manager_a"]).order_by("id")
    assert [(r.action, r.rows, r.centre_id) for r in records] == [
        (AuditAction.PRINT, 2, world["centre_a"].pk),
        (AuditAction.EXPORT, 2, world["centre_a"].pk),
    ]
    assert "Wanjiku" not in "".join(r.detail for r in records)
