"""Signed webhooks to agencies (SPEC §7), delivered over real HTTP to a receiver on the
loopback interface: queued with the change, signed, retried with back-off, logged."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tms.applications.models import Application, Channel
from tms.applications.services import (
    Actor,
    application_acknowledge_receipt,
    application_dispatch,
    application_hand_over,
    application_reject,
    application_return,
    application_start_processing,
)
from tms.integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from tms.integrations.tests.receiver import WebhookReceiver
from tms.integrations.webhooks import GIVE_UP_AFTER, deliver_due, endpoint_create
from tms.testing.builders import lodge
from tms.tracking.services import query_raise

STAFF = Actor.system("centre officer")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def endpoint(nrb, receiver) -> WebhookEndpoint:
    endpoint = endpoint_create(agency=nrb, url=receiver.url)
    receiver.secret = endpoint.secret
    return endpoint


@pytest.fixture
def application(id_service, gpo) -> Application:
    return lodge(
        service=id_service, centre=gpo, agency_ref="NRB-0001", applicant_id_number="12345678"
    )


def ready(application: Application) -> Application:
    return application_acknowledge_receipt(application, actor=STAFF)


def collected(application: Application) -> Application:
    return application_hand_over(ready(application), actor=STAFF)


def returned(application: Application) -> Application:
    return application_return(ready(application), actor=STAFF)


def queried(application: Application) -> Application:
    Application.objects.filter(pk=application.pk).update(
        due_date=timezone.localdate() - timedelta(days=3)
    )
    application.refresh_from_db()
    query_raise(application=application, channel=Channel.WEB)
    return application


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_due() -> None:
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())


# --- What is queued, and what the agency receives ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "event", "status"),
    [
        (ready, "application.ready", "ready"),
        (collected, "application.collected", "collected"),
        (returned, "application.returned", "returned"),
        (queried, "query.raised", "lodged"),
    ],
)
def test_each_event_is_queued_signed_and_delivered(
    endpoint, receiver, application, change, event, status
):
    change(application)
    application.refresh_from_db()
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.state == DeliveryState.PENDING and delivery.endpoint == endpoint
    assert delivery.next_attempt_at <= timezone.now()

    assert deliver_due() == WebhookDelivery.objects.count()

    [got] = [r for r in receiver.received if r.headers["x-tms-event"] == event]
    assert got.signature_ok, "the signature does not verify with the endpoint's secret"
    assert got.path == "/hooks/tms"
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["x-tms-timestamp"]) - time.time()) < 60
    payload = got.payload
    assert payload["id"] == got.headers["x-tms-delivery"] == delivery.event_id
    assert payload["type"] == event
    data = payload["data"]
    assert data["reference"] == application.reference
    assert data["agency_ref"] == "NRB-0001"
    assert data["status"] == status
    assert data["centre"] == "GPO"
    if event == "query.raised":
        assert data["channel"] == "web" and data["query_id"] and data["raised_at"]
    else:
        assert data["version"] == application.version
        assert data["occurred_at"]
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None


@pytest.mark.django_db
def test_the_payload_carries_no_personal_data(endpoint, receiver, id_service, gpo):
    application = lodge(
        service=id_service,
        centre=gpo,
        name="Otieno Odhiambo",
        phone="0722 111 222",
        applicant_id_number="31415926",
        agency_ref="NRB-0002",
    )
    ready(application)
    deliver_due()

    body = receiver.received[0].body.decode()
    for personal in ("Otieno", "Odhiambo", "254722111222", "31415926"):
        assert personal not in body


@pytest.mark.django_db
def test_changes_agencies_make_themselves_are_not_sent_back(endpoint, receiver, application):
    application_start_processing(application, actor=STAFF)
    application_dispatch(application, actor=STAFF)
    other = lodge(service=application.service, centre=application.centre, applicant_id_number="1")
    application_reject(other, actor=STAFF, reason="Blurred photo.")

    assert not WebhookDelivery.objects.exists()
    assert deliver_due() == 0
    assert receiver.received == []


@pytest.mark.django_db
def test_a_tampered_body_fails_the_signature_check(endpoint, receiver, application):
    ready(application)
    deliver_due()
    got = receiver.received[0]

    assert receiver.verify(got.headers, got.body)
    assert not receiver.verify(got.headers, got.body.replace(b"ready", b"rejected"))
    assert not receiver.verify({**got.headers, "x-tms-timestamp": "1"}, got.body)


@pytest.mark.django_db
def test_other_agencies_endpoints_get_nothing(endpoint, receiver, application, kra):
    with WebhookReceiver() as kra_receiver:
        kra_receiver.secret = endpoint_create(agency=kra, url=kra_receiver.url).secret

        collected(application)
        deliver_due()

        assert kra_receiver.received == []
    assert not WebhookDelivery.objects.filter(endpoint__agency=kra).exists()
    assert [r.headers["x-tms-event"] for r in receiver.received] == [
        "application.ready",
        "application.collected",
    ]


@pytest.mark.django_db
def test_each_active_endpoint_gets_its_own_signed_copy(endpoint, receiver, application, nrb):
    with WebhookReceiver() as second:
        second.secret = endpoint_create(agency=nrb, url=second.url).secret
        paused = endpoint_create(agency=nrb, url="https://old.nrb.go.ke/hooks")
        paused.is_active = False
        paused.save()

        ready(application)
        deliver_due()

        assert len(receiver.received) == len(second.received) == 1
        assert receiver.received[0].signature_ok and second.received[0].signature_ok
        assert (
            receiver.received[0].headers["x-tms-signature"]
            != (second.received[0].headers["x-tms-signature"])
        )
    assert not WebhookDelivery.objects.filter(endpoint=paused).exists()


# --- Retries and the log ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_receiver_error_is_retried_later_until_it_recovers(endpoint, receiver, application):
    receiver.answer_with(500)
    ready(application)

    deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        1,
        500,
        "HTTP 500",
    )
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=10)
    assert deliver_due() == 0  # not before its time
    assert len(receiver.received) == 1

    receiver.answer_with(204)
    make_due()
    assert deliver_due() == 1

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (2, 204, "")
    assert receiver.received[0].payload == receiver.received[1].payload  # the same event


@pytest.mark.django_db
def test_a_closed_port_is_retried_later(nrb, application):
    endpoint_create(agency=nrb, url=f"http://127.0.0.1:{free_port()}/hooks")
    ready(application)

    deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error == "ConnectError"
    assert delivery.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_the_wait_grows_with_each_failure(endpoint, receiver, application):
    receiver.answer_with(503)
    ready(application)
    waits = []
    for _ in range(6):
        make_due()
        before = timezone.now()
        deliver_due()
        waits.append(WebhookDelivery.objects.get().next_attempt_at - before)

    assert waits[-1] > waits[0] * 4  # 30 s doubling, with jitter of ±50 %
    assert all(wait <= timedelta(hours=1, minutes=31) for wait in waits)
    assert WebhookDelivery.objects.get().attempts == 6


@pytest.mark.django_db
def test_after_24_hours_of_failures_the_delivery_is_given_up(endpoint, receiver, application):
    receiver.answer_with(500)
    ready(application)
    WebhookDelivery.objects.update(
        created_at=timezone.now() - GIVE_UP_AFTER + timedelta(minutes=10)
    )
    deliver_due()
    assert WebhookDelivery.objects.get().state == DeliveryState.PENDING  # not 24 hours yet

    WebhookDelivery.objects.update(created_at=timezone.now() - GIVE_UP_AFTER)
    make_due()
    deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert (delivery.attempts, delivery.last_error) == (2, "HTTP 500")
    make_due()
    assert deliver_due() == 0  # given up is final


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_counts_as_a_failure(nrb, application):
    with WebhookReceiver() as receiver:
        receiver.answer_with(302)
        endpoint_create(agency=nrb, url=receiver.url)
        ready(application)

        deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status_code) == (DeliveryState.PENDING, 302)


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_is_delivered_at_once_by_the_task(nrb, id_service, gpo):
    with WebhookReceiver() as receiver:
        receiver.secret = endpoint_create(agency=nrb, url=receiver.url).secret
        application = lodge(service=id_service, centre=gpo, applicant_id_number="12345678")

        ready(application)  # commits; the delivery task runs on commit

        assert [r.headers["x-tms-event"] for r in receiver.received] == ["application.ready"]
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED


# --- Endpoint URLs ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.nrb.go.ke/tms",
        "http://127.0.0.1:8080/hooks",
        "http://localhost:8080/hooks",
        "http://[::1]:8080/hooks",
    ],
)
def test_https_and_loopback_http_endpoints_are_accepted(nrb, url):
    assert endpoint_create(agency=nrb, url=url).url == url


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.nrb.go.ke/tms",  # plain HTTP to a public name
        "http://203.0.113.10/tms",  # plain HTTP to a non-loopback address
        "http://10.0.0.5/tms",
        "http://localhost.example.com/tms",
        "http://127.0.0.1.nip.io/tms",
        "ftp://hooks.nrb.go.ke/tms",
        "https:///no-host",
        "hooks.nrb.go.ke/tms",
    ],
)
def test_other_endpoints_are_refused(nrb, url):
    with pytest.raises(ValidationError) as refused:
        endpoint_create(agency=nrb, url=url)

    assert "url" in refused.value.message_dict
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_each_endpoint_gets_its_own_long_secret(nrb):
    first = endpoint_create(agency=nrb, url="https://a.nrb.go.ke/hooks")
    second = endpoint_create(agency=nrb, url="https://b.nrb.go.ke/hooks")

    assert first.secret != second.secret
    assert len(first.secret) >= 32


@pytest.mark.django_db
def test_changes_made_together_are_each_queued_and_delivered(endpoint, receiver, id_service, gpo):
    """A manifest (``applications_change_bulk``) marks many ready in one go: one webhook
    each, with the centre's code, as one change at a time would send."""
    from tms.applications.bulk import Change, applications_change_bulk
    from tms.applications.lifecycle import Action

    applications = [
        lodge(
            service=id_service,
            centre=gpo,
            agency_ref=f"NRB-B{n}",
            phone=f"07120000{n:02d}",
            applicant_id_number=f"1234567{n}",
        )
        for n in range(3)
    ]
    outcomes = applications_change_bulk(
        [Change(a, Action.ACKNOWLEDGE_RECEIPT) for a in applications]
        + [Change(applications[0], Action.HAND_OVER)],
        actor=STAFF,
    )

    assert outcomes == [None] * 4
    assert deliver_due() == 4
    got = sorted((r.payload["type"], r.payload["data"]["agency_ref"]) for r in receiver.received)
    assert got == [
        ("application.collected", "NRB-B0"),
        ("application.ready", "NRB-B0"),
        ("application.ready", "NRB-B1"),
        ("application.ready", "NRB-B2"),
    ]
    assert {r.payload["data"]["centre"] for r in receiver.received} == {"GPO"}
    assert all(r.signature_ok for r in receiver.received)
