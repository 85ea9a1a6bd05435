"""Many changes in one statement: the same rules and events as one at a time, and one
signal for them all."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tms.applications.bulk import Change, applications_change_bulk
from tms.applications.lifecycle import Action, InvalidTransition, Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import Actor, ApplicationConflict
from tms.applications.signals import status_changed, statuses_changed
from tms.applications.tests.expected_lifecycle import assert_entered_at
from tms.testing.builders import lodge, make_centre, make_service

ACTOR = Actor.agency("NRB: test")


@pytest.fixture
def three():
    service, centre = make_service(), make_centre()
    yesterday = timezone.now() - timedelta(days=1)
    return [
        lodge(service=service, centre=centre, phone=f"07120000{n:02d}", lodged_at=yesterday)
        for n in range(3)
    ]


def chain_is_consistent(application: Application) -> bool:
    events = list(ApplicationEvent.objects.filter(application=application).order_by("version"))
    previous = ""
    for version, event in enumerate(events, start=1):
        if event.version != version or event.from_status != previous:
            return False
        previous = event.to_status
    application.refresh_from_db()
    return application.status == previous and application.version == len(events)


@pytest.mark.django_db
def test_valid_changes_apply_with_their_events_and_signals(three):
    heard = []
    statuses_changed.connect(
        lambda **kw: heard.append(
            [(a.pk, e.to_status, e.application is a) for a, e in kw["changes"]]
        ),
        weak=False,
        dispatch_uid="t",
    )
    occurred = timezone.now() - timedelta(hours=1)
    try:
        outcomes = applications_change_bulk(
            [
                Change(three[0], Action.START_PROCESSING, occurred),
                Change(three[1], Action.REQUIRE_ACTION, note="Bring your birth certificate."),
                Change(three[2], Action.REJECT, note="Duplicate application."),
            ],
            actor=ACTOR,
        )
    finally:
        statuses_changed.disconnect(dispatch_uid="t")

    assert outcomes == [None, None, None]
    assert heard == [  # once, for all three, in order
        [
            (three[0].pk, Status.PROCESSING, True),
            (three[1].pk, Status.ACTION_REQUIRED, True),
            (three[2].pk, Status.REJECTED, True),
        ]
    ]
    assert all(chain_is_consistent(a) for a in three)
    assert three[2].closed_at is not None
    assert ApplicationEvent.objects.get(application=three[0], version=2).occurred_at == occurred
    assert three[1].version == 2  # the caller's copies are current


@pytest.mark.django_db
def test_each_change_fails_on_its_own(three):
    stale = Application.objects.get(pk=three[2].pk)
    Application.objects.filter(pk=stale.pk).update(version=5)  # someone else moved it on

    outcomes = applications_change_bulk(
        [
            Change(three[0], Action.HAND_OVER),
            Change(three[1], Action.REQUIRE_ACTION, note="  "),
            Change(stale, Action.DISPATCH),
        ],
        actor=ACTOR,
    )

    assert isinstance(outcomes[0], InvalidTransition)
    assert "Allowed from Lodged" in outcomes[0].message
    assert isinstance(outcomes[1], ValidationError)
    assert isinstance(outcomes[2], ApplicationConflict)
    assert ApplicationEvent.objects.count() == 3  # only the three lodgings


@pytest.mark.django_db
def test_two_changes_to_one_application_apply_in_order(three):
    outcomes = applications_change_bulk(
        [Change(three[0], Action.START_PROCESSING), Change(three[0], Action.DISPATCH)],
        actor=ACTOR,
    )

    assert outcomes == [None, None]
    assert three[0].status == Status.DISPATCHED
    assert chain_is_consistent(three[0])


def test_every_listener_of_one_change_also_hears_many():
    """A listener that handled only ``status_changed`` would miss every manifest and agency
    bulk update without a sound."""
    single = {r.__module__ for r in status_changed._live_receivers(Application)[0]}
    many = {r.__module__ for r in statuses_changed._live_receivers(Application)[0]}
    assert {"tms.notifications.listeners", "tms.integrations.listeners"} <= single
    assert single == many


@pytest.mark.django_db
def test_each_event_carries_when_its_from_status_was_entered(three):
    start = timezone.now() - timedelta(hours=20)
    for hours, action in ((1, Action.START_PROCESSING), (3, Action.DISPATCH)):
        applications_change_bulk(
            [
                Change(app, action, occurred_at=start + timedelta(hours=hours + n))
                for n, app in enumerate(three)
            ],
            actor=ACTOR,
        )
    for n, app in enumerate(three):
        events = list(ApplicationEvent.objects.filter(application=app).order_by("version"))
        app.refresh_from_db()
        assert [e.entered_at for e in events] == [
            None,
            app.lodged_at,
            start + timedelta(hours=1 + n),
        ]
        assert app.status_entered_at == start + timedelta(hours=3 + n)
        assert_entered_at(events, app.status_entered_at)
