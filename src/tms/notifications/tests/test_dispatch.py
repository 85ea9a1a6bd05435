"""The dispatcher against the loopback Africa's Talking simulator (real HTTP both ways)."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tms.notifications import services, tasks
from tms.notifications.gateways.africastalking import AfricasTalkingGateway
from tms.notifications.models import Message, MessageState, SendingPause
from tms.notifications.rendering import Rendered
from tms.notifications.tests.simulator import AtSimulator
from tms.testing import database

KEY = "dispatch-test-key"
A, B, C = "+254711000111", "+254722000222", "+254733000333"


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    settings.TMS_QUIET_HOURS = ""


@pytest.fixture(autouse=True)
def gateway_seen_up():
    # Whether this process saw the gateway down outlives a test; start each from "up".
    services._gateway_down.clear()
    yield
    services._gateway_down.clear()


@pytest.fixture
def sim() -> Iterator[AtSimulator]:
    with AtSimulator(api_key=KEY, username="tms", seed=3) as simulator:
        yield simulator


@pytest.fixture
def gateway(sim, monkeypatch) -> Iterator[AfricasTalkingGateway]:
    client = AfricasTalkingGateway("tms", KEY, base_url=sim.base_url, timeout=1.0)
    # Sends started on commit (by the task) go to the simulator too.
    monkeypatch.setattr(tasks, "gateway", lambda: client)
    yield client
    client.close()


def queue(to: str, text: str = "Your ID card is ready at Huduma Centre GPO.") -> Message:
    message = services.message_queue(
        event="ready", to=to, rendered=Rendered(text, 1, "GSM-7"), language="en"
    )
    assert message is not None
    return message


def states() -> dict[str, str]:
    return dict(Message.objects.values_list("to", "state"))


@pytest.mark.django_db
def test_accepted_messages_record_the_gateway_id_and_cost(sim, gateway):
    queue(A, "Ref 1111: ready.")
    queue(B, "Ref 2222: ready.")

    summary = services.dispatch_due(gateway=gateway)

    assert summary.accepted == 2
    for message in Message.objects.all():
        assert message.state == MessageState.SENT
        assert (message.gateway_message_id or "").startswith("ATXid_")
        assert message.cost is not None and message.cost > 0 and message.currency == "KES"
    assert sim.accepted == 2


@pytest.mark.django_db
def test_identical_texts_go_in_one_request(sim, gateway):
    for number in (A, B, C):
        queue(number)

    services.dispatch_due(gateway=gateway)

    assert sim.stats()["requests"] == 1
    assert sim.accepted == 3


@pytest.mark.django_db
def test_a_gateway_5xx_is_retried_later_with_back_off(sim, gateway):
    queue(A)
    sim.fail_next(1, http_status=503)

    summary = services.dispatch_due(gateway=gateway)

    message = Message.objects.get()
    assert summary.retrying == 1
    assert message.state == MessageState.QUEUED and message.attempts == 1
    assert message.next_attempt_at > timezone.now() + timedelta(seconds=10)
    assert services.dispatch_due(gateway=gateway).claimed == 0  # not before its time
    Message.objects.update(next_attempt_at=timezone.now())
    services.dispatch_due(gateway=gateway)
    assert states() == {A: MessageState.SENT}


@pytest.mark.django_db
def test_a_timeout_leaves_the_fate_unknown_rather_than_resending_at_once(sim, gateway):
    queue(A)
    sim.set_mode(delay=2.0)  # longer than the client's 1 s timeout

    services.dispatch_due(gateway=gateway)

    message = Message.objects.get()
    assert message.state == MessageState.UNKNOWN
    assert message.next_attempt_at >= timezone.now() + services.unknown_hold() - timedelta(
        seconds=5
    )


@pytest.mark.django_db
def test_bad_credentials_pause_sending_and_keep_the_messages(sim, gateway, mailoutbox):
    queue(A)
    bad = AfricasTalkingGateway("tms", "wrong-key", base_url=sim.base_url, timeout=1.0)

    summary = services.dispatch_due(gateway=bad)
    bad.close()

    assert summary.paused
    message = Message.objects.get()
    assert message.state == MessageState.QUEUED
    assert message.attempts == 0  # the account failed, not the message
    assert SendingPause.objects.filter(resolved_at__isnull=True).count() == 1
    assert services.dispatch_due(gateway=gateway).claimed == 0  # paused
    services.sending_resume()
    services.dispatch_due(gateway=gateway)
    assert states() == {A: MessageState.SENT}


@pytest.mark.django_db(transaction=True)
def test_the_staff_alert_is_mailed_when_sending_pauses(sim, gateway, mailoutbox, settings):
    settings.ADMINS = [("Operations", "ops@example.go.ke")]
    sim.set_mode(all_recipients_code=405)  # InsufficientBalance

    queue(A)  # the send starts when the queueing commits

    assert [mail.subject for mail in mailoutbox] == ["[Django] SMS sending paused"]
    assert Message.objects.get().state == MessageState.QUEUED


@pytest.mark.django_db
def test_per_recipient_outcomes_are_recorded_each_on_its_own(sim, gateway):
    for number in (A, B, C):
        queue(number)
    sim.set_mode(recipient_codes={A: 403, B: 500})  # InvalidPhoneNumber, InternalServerError

    summary = services.dispatch_due(gateway=gateway)

    assert states() == {A: MessageState.FAILED, B: MessageState.QUEUED, C: MessageState.SENT}
    assert "InvalidPhoneNumber" in Message.objects.get(to=A).failure_reason
    assert summary.failed == 1 and summary.retrying == 1 and summary.accepted == 1


@pytest.mark.django_db
def test_temporary_failures_give_up_after_the_attempt_limit(sim, gateway):
    queue(A)
    sim.set_mode(http_status=500)
    for _ in range(services.MAX_ATTEMPTS):
        Message.objects.update(next_attempt_at=timezone.now())
        services.dispatch_due(gateway=gateway)

    message = Message.objects.get()
    assert message.state == MessageState.FAILED
    assert message.attempts == services.MAX_ATTEMPTS
    assert "gave up" in message.failure_reason


@pytest.mark.django_db(transaction=True)
def test_delivery_reports_from_the_gateway_complete_each_message(sim, gateway, live_server):
    queue(A, "one")
    queue(B, "two")
    services.dispatch_due(gateway=gateway)
    sent = {m.to: m.gateway_message_id for m in Message.objects.all()}

    sim.deliver(f"{live_server.url}/callbacks/africastalking/delivery", message_ids=[sent[A]])
    sim.deliver(
        f"{live_server.url}/callbacks/africastalking/delivery",
        status="Failed",
        failure_reason="UserIsInactive",
        message_ids=[sent[B]],
    )

    assert states() == {A: MessageState.DELIVERED, B: MessageState.FAILED}
    assert Message.objects.get(to=B).failure_reason == "UserIsInactive"
    assert Message.objects.get(to=A).network_code == "63902"


@pytest.mark.django_db
def test_when_the_gateway_answers_again_the_backlog_drains_replies_first(sim, gateway):
    # Queued while the gateway was down: each waits out its own back-off afterwards.
    sim.set_mode(http_status=503)
    queue(A, "Your ID card is ready.")
    services.dispatch_due(gateway=gateway)
    services.reply_queue(to=B, text="Ref 1111: being processed.", language="en")
    services.dispatch_due(gateway=gateway)
    assert Message.objects.filter(state=MessageState.QUEUED, attempts=1).count() == 2
    assert services.dispatch_due(gateway=gateway).claimed == 0  # both are backing off

    # Back up: the first message sent after the outage makes the waiting ones due at once.
    sim.set_mode()
    queue(C, "Your passport is ready.")
    first = services.dispatch_due(gateway=gateway, limit=1)
    assert first.accepted == 1
    rest = services.dispatch_due(gateway=gateway, limit=1)
    last = services.dispatch_due(gateway=gateway, limit=1)

    assert (rest.accepted, last.accepted) == (1, 1)
    assert [record.number for record in sim.records] == [C, B, A]  # the reply before A
    assert set(states().values()) == {MessageState.SENT}


@pytest.mark.django_db
def test_a_send_in_a_process_that_saw_no_outage_leaves_back_offs_alone(sim, gateway):
    queue(A)
    sim.set_mode(http_status=503)
    services.dispatch_due(gateway=gateway)
    sim.set_mode()
    waiting = Message.objects.get(to=A).next_attempt_at

    # Another process, which never met the outage, sends successfully.
    services._gateway_down.clear()
    queue(B)
    services.dispatch_due(gateway=gateway)

    assert Message.objects.get(to=A).next_attempt_at == waiting


@pytest.mark.django_db(transaction=True)
def test_outcomes_wait_for_a_database_restart_instead_of_being_lost(sim, gateway, monkeypatch):
    """The gateway took the message, then the database went away for a second: the
    outcome is recorded when it is back, so the claim never lapses into a resend."""
    real_send = gateway.send

    def send_then_restart(**kwargs):
        answer = real_send(**kwargs)
        threading.Timer(1.0, database.take_away(connection)).start()
        return answer

    monkeypatch.setattr(gateway, "send", send_then_restart)
    queue(A)  # committed: the send task runs at once (the test task backend)

    message = Message.objects.get()
    assert message.state == MessageState.SENT and message.gateway_message_id
    assert message.attempts == 1
    assert len(sim.records) == 1
