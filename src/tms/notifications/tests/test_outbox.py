from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tms.applications.services import Actor, application_acknowledge_receipt, application_hand_over
from tms.notifications import services
from tms.notifications.gateways.console import ConsoleGateway
from tms.notifications.models import Event, Message, MessageState
from tms.testing.builders import lodge


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    settings.TMS_QUIET_HOURS = ""


@pytest.mark.django_db
def test_lodging_queues_the_lodged_message_in_the_same_transaction():
    application = lodge(phone="0712 345 678", language="sw")

    message = Message.objects.get(application=application)
    assert message.event == Event.LODGED
    assert message.to == "+254712345678"
    assert message.language == "sw"
    assert "4" in message.body and "Ombi lako" in message.body
    assert message.state == MessageState.QUEUED


@pytest.mark.django_db
def test_a_change_that_rolls_back_leaves_no_message():
    with pytest.raises(RuntimeError), transaction.atomic():
        lodge()
        raise RuntimeError("the process died before commit")

    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_ready_and_collected_messages_follow_the_lifecycle():
    application = lodge()
    application_acknowledge_receipt(application, actor=Actor.system())
    application_hand_over(application, actor=Actor.system())

    events = list(
        Message.objects.filter(application=application)
        .order_by("id")
        .values_list("event", flat=True)
    )
    assert events == [Event.LODGED, Event.READY, Event.COLLECTED]


@pytest.mark.django_db
def test_dispatch_sends_most_urgent_first_and_records_the_gateway_answer():
    application = lodge()
    application_acknowledge_receipt(application, actor=Actor.system())
    services.reply_queue(to="+254700000001", text="Help text", language="en")

    summary = services.dispatch_due(gateway=ConsoleGateway(), limit=1)

    assert summary.claimed == 1
    first = Message.objects.get(state=MessageState.SENT)
    assert first.event == Event.REPLY
    assert (first.gateway_message_id or "").startswith("console-")
    services.dispatch_due(gateway=ConsoleGateway(), limit=1)
    assert Message.objects.get(event=Event.READY).state == MessageState.SENT


@pytest.mark.django_db
def test_quiet_hours_hold_everything_but_replies(settings, monkeypatch):
    settings.TMS_QUIET_HOURS = "20:00-07:00"
    night = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)  # 22:30 in Nairobi
    monkeypatch.setattr(timezone, "now", lambda: night)
    lodge()
    services.reply_queue(to="+254700000001", text="Your reference is ...", language="en")

    services.dispatch_due(gateway=ConsoleGateway())

    states = dict(Message.objects.values_list("event", "state"))
    assert states == {Event.LODGED: MessageState.QUEUED, Event.REPLY: MessageState.SENT}
    assert services.in_quiet_hours(night)
    assert not services.in_quiet_hours(night + timedelta(hours=9))  # 07:30 Nairobi


@pytest.mark.django_db
def test_stale_sends_become_unknown_then_reconciled_from_a_delivery_report():
    lodge(phone="0712000111")
    now = timezone.now()
    claimed = services._claim(gateway_name="console", limit=10, now=now)  # a sender that then dies
    assert len(claimed) == 1
    services.delivery_report_record(
        gateway_message_id="ATXid_lost", status="Success", phone="+254712000111"
    )

    later = now + services.lease() + timedelta(seconds=1)
    summary = services.sweep_stale_sends(now=later)

    message = Message.objects.get()
    assert summary.marked_unknown == 1 and summary.reconciled == 1
    assert message.gateway_message_id == "ATXid_lost"
    assert message.state == MessageState.DELIVERED


@pytest.mark.django_db
def test_unknown_sends_without_a_report_are_queued_again_after_the_hold():
    lodge()
    now = timezone.now()
    services._claim(gateway_name="console", limit=10, now=now)

    services.sweep_stale_sends(now=now + services.lease() + timedelta(seconds=1))
    assert Message.objects.get().state == MessageState.UNKNOWN
    services.sweep_stale_sends(
        now=now + services.lease() + services.unknown_hold() + timedelta(seconds=2)
    )

    message = Message.objects.get()
    assert message.state == MessageState.QUEUED
    assert "unknown" in message.failure_reason


@pytest.mark.django_db
def test_a_delivery_report_before_the_send_is_recorded_is_applied_afterwards():
    lodge()
    claimed = services._claim(gateway_name="console", limit=10, now=timezone.now())
    services.delivery_report_record(gateway_message_id="ATXid_early", status="Success")

    from tms.notifications.gateways.base import Outcome, RecipientResult

    result = RecipientResult(
        claimed[0].to, Outcome.ACCEPTED, 101, "Success", "ATXid_early", None, ""
    )
    services._record([(claimed[0], result)], now=timezone.now(), summary=services.DispatchSummary())

    assert Message.objects.get().state == MessageState.DELIVERED


@pytest.mark.django_db
def test_reports_out_of_order_never_move_a_final_state_back():
    lodge()
    claimed = services._claim(gateway_name="console", limit=10, now=timezone.now())
    from tms.notifications.gateways.base import Outcome, RecipientResult

    result = RecipientResult(claimed[0].to, Outcome.ACCEPTED, 101, "Success", "ATXid_1", None, "")
    services._record([(claimed[0], result)], now=timezone.now(), summary=services.DispatchSummary())
    services.delivery_report_record(gateway_message_id="ATXid_1", status="Success")
    services.delivery_report_record(gateway_message_id="ATXid_1", status="Buffered")
    services.delivery_report_record(gateway_message_id="ATXid_1", status="Success")

    message = Message.objects.get()
    assert message.state == MessageState.DELIVERED
    assert message.reports.count() == 3


@pytest.mark.django_db
def test_a_report_that_raced_the_send_record_is_matched_by_the_sweeper():
    # On PostgreSQL the report and the send's record can commit side by side unseen.
    lodge()
    services.delivery_report_record(gateway_message_id="ATXid_race", status="Success")
    Message.objects.update(state=MessageState.SENT, gateway_message_id="ATXid_race")

    summary = services.sweep_stale_sends()

    assert summary.late_reports == 1
    assert Message.objects.get().state == MessageState.DELIVERED
