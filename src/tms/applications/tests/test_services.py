"""Lodging and every change of state (SPEC §3), through the real services and database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from tms.applications import references, services
from tms.applications.lifecycle import Action, InvalidTransition, Status, allowed_actions
from tms.applications.models import ActorKind, Application, ApplicationEvent, Channel, Language
from tms.applications.services import Actor, ApplicationConflict, DuplicateAgencyReference
from tms.applications.tests.expected_lifecycle import (
    ACTIONS_AFTER_LODGING,
    EXPECTED,
    PATH_TO,
    A,
    assert_history_consistent,
    bring_to,
    perform,
)
from tms.directory.models import PublicHoliday
from tms.directory.services import public_holidays_load_kenya
from tms.testing.builders import lodge, make_centre, make_service

NAIROBI = ZoneInfo("Africa/Nairobi")
ALL_PAIRS = [(action, status) for action in ACTIONS_AFTER_LODGING for status in Status]


def fresh(application: Application) -> Application:
    return Application.objects.get(pk=application.pk)


def event_count() -> int:
    return ApplicationEvent.objects.count()


# --- Lodging ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_lodging_creates_the_application_and_its_first_event(
    service, centre, officer, officer_actor
):
    lodged_at = timezone.now() - timedelta(days=1)
    before = timezone.now()

    application = services.application_lodge(
        service=service,
        centre=centre,
        applicant_name="  Achieng   Otieno ",
        applicant_phone="0712 345 678",
        applicant_id_number=" 12345678 ",
        actor=officer_actor,
        language=Language.SWAHILI,
        agency_ref=" NRB/2026/001 ",
        lodged_at=lodged_at,
        note="Walk-in",
    )

    stored = fresh(application)
    assert references.is_well_formed(stored.reference)
    assert stored.status == Status.LODGED
    assert stored.version == 1
    assert stored.applicant_name == "Achieng Otieno"
    assert stored.applicant_phone == "+254712345678"
    assert stored.applicant_id_number == "12345678"
    assert stored.language == "sw"
    assert stored.agency_ref == "NRB/2026/001"
    assert stored.agency_id == service.agency_id
    assert stored.centre_id == centre.pk
    assert stored.lodged_at == lodged_at
    assert stored.ready_at is None and stored.closed_at is None
    (event,) = ApplicationEvent.objects.filter(application=stored)
    assert event.action == Action.LODGE
    assert event.from_status == ""
    assert event.to_status == Status.LODGED
    assert event.occurred_at == lodged_at
    assert before <= event.recorded_at <= timezone.now()
    assert event.actor_kind == ActorKind.STAFF
    assert event.actor_user_id == officer.pk
    assert event.actor_label == "officer.njeri"
    assert event.channel == Channel.STAFF_WEB
    assert event.note == "Walk-in"
    assert event.version == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["0712 345 678", "712345678", "254712345678", "+254 712 345 678", "0712-345-678"]
)
def test_lodging_accepts_kenyan_phone_forms_and_stores_e164(typed, service, centre):
    application = lodge(service=service, centre=centre, phone=typed)
    assert fresh(application).applicant_phone == "+254712345678"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["", "   ", "hello", "12345", "0712 345 67", "0712 345 6789", "020 2222222"]
)
def test_lodging_refuses_a_phone_that_cannot_receive_sms(typed, service, centre):
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=centre, phone=typed)
    assert set(caught.value.message_dict) == {"applicant_phone"}
    assert Application.objects.count() == 0
    assert event_count() == 0


@pytest.mark.django_db
def test_lodging_refuses_a_phone_with_letters_in_it(service, centre):
    # phonenumbers reads letters as keypad digits (abc -> 222): the SMS would go to a stranger.
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=centre, phone="0712abc678")
    assert "applicant_phone" in caught.value.message_dict
    assert Application.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_lodging_needs_the_applicants_name(name, service, centre):
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=centre, name=name)
    assert set(caught.value.message_dict) == {"applicant_name"}
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_lodging_needs_an_id_number_when_the_service_requires_one(centre):
    service = make_service(requires_id_number=True)
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=centre, applicant_id_number="   ")
    assert set(caught.value.message_dict) == {"applicant_id_number"}
    assert Application.objects.count() == 0

    application = lodge(service=service, centre=centre, applicant_id_number="23456789")
    assert fresh(application).applicant_id_number == "23456789"


@pytest.mark.django_db
def test_lodging_without_an_id_number_is_fine_when_the_service_does_not_need_one(centre):
    application = lodge(service=make_service(requires_id_number=False), centre=centre)
    assert fresh(application).applicant_id_number == ""


@pytest.mark.django_db
def test_lodging_refuses_an_inactive_service(centre):
    with pytest.raises(ValidationError) as caught:
        lodge(service=make_service(is_active=False), centre=centre)
    assert set(caught.value.message_dict) == {"service"}
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_lodging_refuses_a_closed_centre(service):
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=make_centre(is_active=False))
    assert set(caught.value.message_dict) == {"centre"}
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_lodging_refuses_an_unknown_language(service, centre):
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=centre, language="fr")
    assert set(caught.value.message_dict) == {"language"}


@pytest.mark.django_db
def test_lodging_reports_every_problem_at_once(centre):
    service = make_service(requires_id_number=True, is_active=False)
    with pytest.raises(ValidationError) as caught:
        lodge(service=service, centre=make_centre(is_active=False), name=" ", phone="nope")
    assert set(caught.value.message_dict) == {
        "applicant_name",
        "applicant_phone",
        "applicant_id_number",
        "service",
        "centre",
    }


@pytest.mark.django_db
def test_lodging_refuses_a_time_in_the_future(service, centre):
    with pytest.raises(ValidationError, match="future"):
        lodge(service=service, centre=centre, lodged_at=timezone.now() + timedelta(hours=1))
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_lodging_refuses_a_time_without_a_time_zone(service, centre):
    with pytest.raises(ValidationError, match="time zone"):
        lodge(service=service, centre=centre, lodged_at=datetime(2026, 1, 5, 9, 0))
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_lodging_without_a_time_does_not_record_it_before_it_happened(service, centre):
    application = lodge(service=service, centre=centre)
    (event,) = ApplicationEvent.objects.filter(application=application)
    assert event.occurred_at <= event.recorded_at
    assert fresh(application).lodged_at <= fresh(application).status_changed_at


@pytest.mark.django_db
def test_the_same_agency_reference_cannot_be_lodged_twice_for_one_agency(service, centre):
    lodge(service=service, centre=centre, agency_ref="ECZ-77")
    with pytest.raises(DuplicateAgencyReference) as caught:
        lodge(service=service, centre=centre, agency_ref=" ECZ-77 ")
    assert set(caught.value.message_dict) == {"agency_ref"}
    assert Application.objects.count() == 1

    # Another agency may use the same reference; no reference at all is never a duplicate.
    lodge(centre=centre, agency_ref="ECZ-77")
    lodge(service=service, centre=centre, agency_ref="")
    lodge(service=service, centre=centre, agency_ref="  ")
    assert Application.objects.count() == 4
    assert Application.objects.filter(agency_ref__isnull=True).count() == 2


# --- Due dates --------------------------------------------------------------------------


@pytest.mark.django_db
def test_due_date_skips_christmas_and_the_weekend_when_holidays_are_loaded(centre):
    public_holidays_load_kenya(years=[2020, 2021])
    service = make_service(turnaround_days=2)
    # Thursday 24 Dec 2020; Friday 25 is Christmas, 26 Boxing Day (Saturday).
    application = lodge(
        service=service, centre=centre, lodged_at=datetime(2020, 12, 24, 10, tzinfo=NAIROBI)
    )
    assert fresh(application).due_date == date(2020, 12, 29)


@pytest.mark.django_db
def test_due_date_without_holidays_counts_only_weekends(centre):
    assert not PublicHoliday.objects.exists()
    service = make_service(turnaround_days=2)
    application = lodge(
        service=service, centre=centre, lodged_at=datetime(2020, 12, 24, 10, tzinfo=NAIROBI)
    )
    assert fresh(application).due_date == date(2020, 12, 28)


@pytest.mark.django_db
def test_due_date_christmas_2026(monkeypatch, centre):
    # Lodged Thursday 24 Dec 2026 (the clock is set to that afternoon so it is not "future").
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 24, 15, tzinfo=NAIROBI))
    public_holidays_load_kenya(years=[2026, 2027])
    service = make_service(turnaround_days=2)
    application = lodge(
        service=service, centre=centre, lodged_at=datetime(2026, 12, 24, 10, tzinfo=NAIROBI)
    )
    assert fresh(application).due_date == date(2026, 12, 29)


@pytest.mark.django_db
def test_due_date_counts_from_the_day_in_nairobi_not_utc(centre):
    public_holidays_load_kenya(years=[2020])
    service = make_service(turnaround_days=1)
    # 22:30 UTC on Wednesday 23 Dec is 01:30 on Thursday 24 Dec in Nairobi.
    lodged_at = datetime(2020, 12, 23, 22, 30, tzinfo=ZoneInfo("UTC"))
    application = lodge(service=service, centre=centre, lodged_at=lodged_at)
    assert fresh(application).due_date == date(2020, 12, 28)


@pytest.mark.django_db
def test_due_date_of_an_application_lodged_on_a_holiday_saturday(centre):
    public_holidays_load_kenya(years=[2020])
    service = make_service(turnaround_days=1)
    jamhuri = datetime(2020, 12, 12, 9, tzinfo=NAIROBI)
    application = lodge(service=service, centre=centre, lodged_at=jamhuri)
    assert fresh(application).due_date == date(2020, 12, 14)


# --- Every action from every state ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "status"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_action_from_every_state_follows_the_table(
    action, status, service, centre, officer, officer_actor
):
    lodged_at = timezone.now() - timedelta(days=2)
    application = bring_to(lodge(service=service, centre=centre, lodged_at=lodged_at), status)
    before_version = application.version
    events_before = event_count()
    expected = EXPECTED.get((action, status))
    occurred_at = timezone.now() - timedelta(hours=1)

    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            perform(application, action, actor=officer_actor, occurred_at=occurred_at)
        message = str(caught.value)
        assert str(status.label) in message
        assert caught.value.allowed == allowed_actions(status)
        for allowed in caught.value.allowed:
            assert str(allowed.label) in message
        if not caught.value.allowed:
            assert "none (final state)" in message
        assert event_count() == events_before
        stored = fresh(application)
        assert stored.status == status
        assert stored.version == before_version
        return

    started = timezone.now()
    result = perform(
        application, action, actor=officer_actor, occurred_at=occurred_at, note="Counter note"
    )
    finished = timezone.now()

    stored = fresh(application)
    assert result.status == stored.status == expected
    assert result.version == stored.version == before_version + 1
    assert started <= stored.status_changed_at <= finished
    assert event_count() == events_before + 1
    event = ApplicationEvent.objects.get(application=stored, version=stored.version)
    assert event.action == action
    assert event.from_status == status
    assert event.to_status == expected
    assert event.occurred_at == occurred_at
    assert started <= event.recorded_at <= finished
    assert event.actor_kind == ActorKind.STAFF
    assert event.actor_user_id == officer.pk
    assert event.actor_label == officer.username
    assert event.channel == Channel.STAFF_WEB
    assert event.note == "Counter note"
    assert event.version == stored.version
    if action is Action.ACKNOWLEDGE_RECEIPT:
        assert stored.ready_at == occurred_at
    if expected in {Status.COLLECTED, Status.REJECTED, Status.RETURNED, Status.CANCELLED}:
        assert stored.closed_at == occurred_at
    else:
        assert stored.closed_at is None
    assert_history_consistent(stored)


@pytest.mark.django_db
def test_a_full_journey_reads_back_as_one_history(service, centre):
    application = lodge(service=service, centre=centre)
    for action in [
        Action.START_PROCESSING,
        Action.REQUIRE_ACTION,
        Action.RESOLVE_ACTION,
        Action.DISPATCH,
        Action.ACKNOWLEDGE_RECEIPT,
        Action.HAND_OVER,
    ]:
        application = perform(application, action)
    events = assert_history_consistent(application)
    assert [e.to_status for e in events] == [
        "lodged",
        "processing",
        "action_required",
        "processing",
        "dispatched",
        "ready",
        "collected",
    ]


@pytest.mark.django_db
def test_actor_kinds_and_channels_are_recorded(service, centre):
    application = lodge(service=service, centre=centre, actor=Actor.citizen(Channel.USSD))
    application = perform(application, Action.START_PROCESSING, actor=Actor.agency("NRB system"))
    application = perform(application, Action.DISPATCH, actor=Actor.system("nightly sync"))
    rows = list(
        ApplicationEvent.objects.filter(application=application)
        .order_by("version")
        .values_list("actor_kind", "channel", "actor_label", "actor_user_id")
    )
    assert rows == [
        ("citizen", "ussd", "", None),
        ("agency", "agency_api", "NRB system", None),
        ("system", "system", "nightly sync", None),
    ]


@pytest.mark.django_db
def test_a_very_long_actor_label_is_cut_to_fit(service, centre):
    application = lodge(service=service, centre=centre)
    perform(application, Action.START_PROCESSING, actor=Actor.agency("x" * 500))
    assert ApplicationEvent.objects.get(application=application, version=2).actor_label == "x" * 120


# --- What each action needs ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "   "])
def test_requiring_action_needs_a_note(note, service, centre):
    application = lodge(service=service, centre=centre)
    with pytest.raises(ValidationError) as caught:
        services.application_require_action(application, actor=Actor.system(), note=note)
    assert set(caught.value.message_dict) == {"note"}
    assert fresh(application).status == Status.LODGED
    assert event_count() == 1


@pytest.mark.django_db
def test_requiring_action_stores_the_trimmed_note(service, centre):
    application = lodge(service=service, centre=centre)
    services.application_require_action(
        application, actor=Actor.system(), note="  Bring a passport photo  "
    )
    assert ApplicationEvent.objects.get(application=application, version=2).note == (
        "Bring a passport photo"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "  \n "])
def test_rejecting_needs_a_reason(reason, service, centre):
    application = lodge(service=service, centre=centre)
    with pytest.raises(ValidationError) as caught:
        services.application_reject(application, actor=Actor.system(), reason=reason)
    assert set(caught.value.message_dict) == {"reason"}
    assert fresh(application).status == Status.LODGED
    assert event_count() == 1


@pytest.mark.django_db
def test_the_rejection_reason_is_the_events_note(service, centre):
    application = lodge(service=service, centre=centre)
    services.application_reject(application, actor=Actor.system(), reason=" Fingerprints unclear ")
    assert ApplicationEvent.objects.get(application=application, version=2).note == (
        "Fingerprints unclear"
    )


# --- When it happened ---------------------------------------------------------------------

TIMED_ACTIONS = [Action.START_PROCESSING, Action.ACKNOWLEDGE_RECEIPT, Action.REJECT, Action.CANCEL]


@pytest.mark.django_db
@pytest.mark.parametrize("action", TIMED_ACTIONS, ids=str)
def test_a_change_in_the_future_is_refused(action, service, centre):
    application = lodge(service=service, centre=centre)
    with pytest.raises(ValidationError, match="future"):
        perform(application, action, occurred_at=timezone.now() + timedelta(minutes=10))
    assert fresh(application).version == 1
    assert event_count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("action", TIMED_ACTIONS, ids=str)
def test_a_change_without_a_time_zone_is_refused(action, service, centre):
    application = lodge(service=service, centre=centre)
    with pytest.raises(ValidationError, match="time zone"):
        perform(application, action, occurred_at=datetime.now())
    assert fresh(application).version == 1
    assert event_count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("action", TIMED_ACTIONS, ids=str)
def test_a_change_before_lodging_is_refused(action, service, centre):
    lodged_at = timezone.now() - timedelta(days=3)
    application = lodge(service=service, centre=centre, lodged_at=lodged_at)
    with pytest.raises(ValidationError, match="before the application was lodged"):
        perform(application, action, occurred_at=lodged_at - timedelta(seconds=1))
    assert fresh(application).version == 1
    assert event_count() == 1


@pytest.mark.django_db
def test_a_few_minutes_of_agency_clock_drift_is_accepted(service, centre):
    application = lodge(service=service, centre=centre)
    ahead = timezone.now() + timedelta(minutes=2)
    perform(application, Action.START_PROCESSING, occurred_at=ahead)
    assert ApplicationEvent.objects.get(application=application, version=2).occurred_at == ahead


@pytest.mark.django_db
def test_a_change_without_a_time_happened_now(service, centre):
    application = lodge(service=service, centre=centre)
    before = timezone.now()
    perform(application, Action.START_PROCESSING)
    event = ApplicationEvent.objects.get(application=application, version=2)
    assert before <= event.occurred_at <= event.recorded_at <= timezone.now()


# --- Two people at once (single thread: a stale copy) -----------------------------------


@pytest.mark.django_db
def test_acting_on_a_stale_copy_is_a_conflict_and_writes_nothing(service, centre):
    application = lodge(service=service, centre=centre)
    mine = fresh(application)
    theirs = fresh(application)
    perform(theirs, Action.START_PROCESSING)

    with pytest.raises(ApplicationConflict) as caught:
        perform(mine, Action.CANCEL)

    assert caught.value.current == Status.PROCESSING
    assert caught.value.reference == application.reference
    assert references.display(application.reference) in str(caught.value)
    assert str(Status.PROCESSING.label) in str(caught.value)
    stored = fresh(application)
    assert stored.status == Status.PROCESSING
    assert stored.version == 2
    assert event_count() == 2
    assert_history_consistent(stored)


@pytest.mark.django_db
def test_a_stale_copy_whose_action_is_not_allowed_any_more_is_refused_by_the_table(service, centre):
    application = lodge(service=service, centre=centre)
    mine = fresh(application)
    bring_to(fresh(application), Status.READY)
    mine = fresh(mine)
    with pytest.raises(InvalidTransition):
        perform(mine, Action.CANCEL)
    assert event_count() == 2


# --- status_changed and atomicity ----------------------------------------------------------


@pytest.mark.django_db
def test_status_changed_is_sent_once_per_change_with_the_application_and_event(
    service, centre, connect_receiver
):
    received: list[tuple[str, str, int]] = []

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        assert sender is Application
        stored = ApplicationEvent.objects.get(pk=event.pk)
        received.append((application.status, stored.to_status, stored.version))

    application = lodge(service=service, centre=centre)
    perform(application, Action.DISPATCH)
    assert received == [("lodged", "lodged", 1), ("dispatched", "dispatched", 2)]


class ListenerFailed(Exception):
    pass


@pytest.mark.django_db
def test_a_failing_listener_undoes_the_change(service, centre, connect_receiver):
    application = lodge(service=service, centre=centre)

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        raise ListenerFailed

    with pytest.raises(ListenerFailed):
        perform(fresh(application), Action.START_PROCESSING)

    stored = fresh(application)
    assert stored.status == Status.LODGED
    assert stored.version == 1
    assert event_count() == 1
    assert_history_consistent(stored)


@pytest.mark.django_db
def test_a_failing_listener_leaves_the_callers_copy_unchanged(service, centre, connect_receiver):
    application = lodge(service=service, centre=centre)

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        raise ListenerFailed

    mine = fresh(application)
    with pytest.raises(ListenerFailed):
        perform(mine, Action.START_PROCESSING)
    # Nothing was saved, so the caller's object must still say what the database says.
    assert (mine.status, mine.version) == (Status.LODGED, 1)


@pytest.mark.django_db
def test_a_failing_listener_undoes_the_lodging(service, centre, connect_receiver):
    @connect_receiver
    def listener(sender, application, event, **kwargs):
        raise ListenerFailed

    with pytest.raises(ListenerFailed):
        lodge(service=service, centre=centre)
    assert Application.objects.count() == 0
    assert event_count() == 0


@pytest.mark.django_db
def test_a_listeners_database_error_during_lodging_is_not_taken_for_a_collision(
    service, centre, connect_receiver
):
    PublicHoliday.objects.create(date=date(2020, 1, 1), name="New Year's Day")
    calls: list[int] = []

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        calls.append(1)
        PublicHoliday.objects.create(date=date(2020, 1, 1), name="duplicate")  # unique date

    with pytest.raises(IntegrityError):
        lodge(service=service, centre=centre)
    assert len(calls) == 1, "the listener's error was retried as if the reference collided"
    assert Application.objects.count() == 0


@pytest.mark.django_db
def test_when_the_history_event_cannot_be_written_the_status_change_is_undone(service, centre):
    application = lodge(service=service, centre=centre)
    # Occupy the version the change would write, so the event insert itself fails.
    ApplicationEvent.objects.create(
        application=application,
        action="start_processing",
        from_status="lodged",
        to_status="processing",
        occurred_at=timezone.now(),
        recorded_at=timezone.now(),
        actor_kind=ActorKind.SYSTEM,
        channel=Channel.SYSTEM,
        version=2,
    )

    with pytest.raises(IntegrityError):
        perform(fresh(application), Action.DISPATCH)

    stored = fresh(application)
    assert stored.status == Status.LODGED
    assert stored.version == 1
    assert ApplicationEvent.objects.filter(application=application).count() == 2
    assert not ApplicationEvent.objects.filter(to_status=Status.DISPATCHED).exists()


@pytest.mark.django_db(transaction=True)
def test_status_changed_is_sent_inside_the_changes_transaction(service, centre, connect_receiver):
    seen: list[tuple[bool, bool]] = []

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        seen.append((connection.in_atomic_block, not connection.get_autocommit()))

    application = lodge(service=service, centre=centre)
    perform(application, Action.START_PROCESSING)
    assert seen == [(True, True), (True, True)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_listener_commits_nothing(service, centre, connect_receiver):
    application = lodge(service=service, centre=centre)
    failing = [True]

    @connect_receiver
    def listener(sender, application, event, **kwargs):
        if failing[0]:
            raise ListenerFailed

    with pytest.raises(ListenerFailed):
        perform(fresh(application), Action.ACKNOWLEDGE_RECEIPT)
    stored = fresh(application)
    assert (stored.status, stored.version, stored.ready_at) == (Status.LODGED, 1, None)
    assert event_count() == 1

    failing[0] = False
    perform(fresh(application), Action.ACKNOWLEDGE_RECEIPT)
    assert fresh(application).status == Status.READY
    assert_history_consistent(application)


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(PATH_TO), ids=str)
def test_every_state_reached_through_the_services_has_a_consistent_history(status, service, centre):
    application = bring_to(lodge(service=service, centre=centre), status)
    events = assert_history_consistent(application)
    assert len(events) == len(PATH_TO[status]) + 1


# --- What each event carries of the history before it (for the report rollups) --------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "entered", "status_entered"),
    [
        # An undone receipt scanned from "dispatched": the dispatched stint goes on, so
        # the next receipt's from-status was entered at the dispatch (hour 2).
        (
            [
                A.START_PROCESSING,
                A.DISPATCH,
                A.ACKNOWLEDGE_RECEIPT,
                A.UNDO_RECEIPT,
                A.ACKNOWLEDGE_RECEIPT,
            ],
            [None, 0, 1, 2, 3, 2],
            5,
        ),
        # ... and left undone, the application is back in the stint begun at hour 2.
        (
            [A.START_PROCESSING, A.DISPATCH, A.ACKNOWLEDGE_RECEIPT, A.UNDO_RECEIPT],
            [None, 0, 1, 2, 3],
            2,
        ),
        # Scanned from "processing": the undo starts a new dispatched stint (hour 4).
        (
            [A.START_PROCESSING, A.ACKNOWLEDGE_RECEIPT, A.UNDO_RECEIPT, A.ACKNOWLEDGE_RECEIPT],
            [None, 0, 1, 2, 3],
            4,
        ),
        # Reopened after action required: each stint from its own event.
        (
            [A.REQUIRE_ACTION, A.RESOLVE_ACTION, A.DISPATCH, A.ACKNOWLEDGE_RECEIPT, A.HAND_OVER],
            [None, 0, 1, 2, 3, 4],
            5,
        ),
    ],
)
def test_each_event_carries_when_its_from_status_was_entered(
    service, centre, path, entered, status_entered
):
    start = timezone.now() - timedelta(days=3)
    hour = [start + timedelta(hours=h) for h in range(len(path) + 1)]
    application = lodge(service=service, centre=centre, lodged_at=hour[0])
    assert fresh(application).status_entered_at == hour[0]
    for h, action in enumerate(path, start=1):
        application = perform(application, action, occurred_at=hour[h])
    events = assert_history_consistent(application)
    assert [e.entered_at for e in events] == [None if h is None else hour[h] for h in entered]
    assert fresh(application).status_entered_at == hour[status_entered]


@pytest.mark.django_db
def test_a_back_dated_change_carries_the_time_the_history_gives(service, centre):
    # Recorded in this order, the dispatch said to have happened before the start of
    # processing: the stage starts where the history says, not when it was recorded.
    now = timezone.now()
    application = lodge(service=service, centre=centre, lodged_at=now - timedelta(days=2))
    application = perform(application, A.START_PROCESSING, occurred_at=now - timedelta(hours=5))
    application = perform(application, A.DISPATCH, occurred_at=now - timedelta(hours=9))
    events = assert_history_consistent(application)
    assert events[-1].entered_at == now - timedelta(hours=5)
    assert fresh(application).status_entered_at == now - timedelta(hours=9)
