"""Changes made together (manifests, agency bulk updates) queue the same messages as
changes made one at a time: the same words, recipients and dedupe keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tms.applications.bulk import Change, applications_change_bulk
from tms.applications.lifecycle import Action
from tms.applications.models import Application
from tms.applications.services import Actor, application_change
from tms.applications.signals import statuses_changed
from tms.notifications.models import Event, Message
from tms.notifications.rendering import format_date, render
from tms.testing.builders import lodge, make_centre, make_service

pytestmark = pytest.mark.django_db
ACTOR = Actor.agency("NRB: test")
REPRESENTATIVE = "+254722000111"


@pytest.fixture
def applications():
    service = make_service(name_en="Passport", name_sw="Pasipoti")
    centre = make_centre()
    yesterday = timezone.now() - timedelta(days=1)
    return [
        lodge(service=service, centre=centre, phone="0712000001", lodged_at=yesterday),
        lodge(
            service=service,
            centre=centre,
            phone="0712000002",
            language="sw",
            lodged_at=yesterday,
            representative_name="Peter Kamau",
            representative_phone="0722 000 111",
        ),
        lodge(service=service, centre=centre, phone="0712000003", lodged_at=yesterday),
    ]


def _messages(
    application: Application, event: Event
) -> list[tuple[str, str, str | None, int, str]]:
    return sorted(
        Message.objects.filter(application=application, event=event).values_list(
            "to", "body", "dedupe_key", "segments", "encoding"
        )
    )


def test_bulk_changes_queue_what_one_change_at_a_time_would(applications):
    first, second, third = applications
    application_change(third, Action.START_PROCESSING, actor=ACTOR)
    collected_on = timezone.now() - timedelta(hours=2)

    outcomes = applications_change_bulk(
        [
            Change(first, Action.ACKNOWLEDGE_RECEIPT),
            Change(second, Action.ACKNOWLEDGE_RECEIPT),
            Change(third, Action.REQUIRE_ACTION, note="Bring two passport photos."),
        ],
        actor=ACTOR,
    )
    assert outcomes == [None, None, None]
    outcomes = applications_change_bulk(
        [Change(second, Action.HAND_OVER, occurred_at=collected_on)], actor=ACTOR
    )
    assert outcomes == [None]

    ready = render(Event.READY, first)
    assert _messages(first, Event.READY) == [
        ("+254712000001", ready.body, f"ready:{first.pk}:2", ready.segments, ready.encoding)
    ]
    ready_sw = render(Event.READY, second)
    assert "Pasipoti" in ready_sw.body  # in the citizen's language
    key = f"ready:{second.pk}:2"
    assert _messages(second, Event.READY) == sorted(
        [
            ("+254712000002", ready_sw.body, key, ready_sw.segments, ready_sw.encoding),
            (
                REPRESENTATIVE,
                ready_sw.body,
                f"{key}:representative",
                ready_sw.segments,
                ready_sw.encoding,
            ),
        ]
    )
    note = render(Event.ACTION_REQUIRED, third, note="Bring two passport photos.")
    assert _messages(third, Event.ACTION_REQUIRED) == [
        ("+254712000003", note.body, f"action_required:{third.pk}:3", note.segments, note.encoding)
    ]
    collected = render(Event.COLLECTED, second, date=format_date(collected_on.date(), "sw"))
    assert [m[1] for m in _messages(second, Event.COLLECTED)] == [collected.body] * 2


def test_a_repeated_signal_queues_nothing_twice(applications):
    first = applications[0]
    applications_change_bulk([Change(first, Action.ACKNOWLEDGE_RECEIPT)], actor=ACTOR)
    event = first.events.get(version=2)

    statuses_changed.send(sender=Application, changes=[(first, event)])

    assert Message.objects.filter(application=first, event=Event.READY).count() == 1


def test_messages_go_only_if_the_changes_commit(applications):
    first = applications[0]
    with pytest.raises(RuntimeError), transaction.atomic():
        applications_change_bulk([Change(first, Action.ACKNOWLEDGE_RECEIPT)], actor=ACTOR)
        assert Message.objects.filter(application=first, event=Event.READY).count() == 1
        raise RuntimeError("the manifest chunk failed")

    assert not Message.objects.filter(application=first, event=Event.READY).exists()
