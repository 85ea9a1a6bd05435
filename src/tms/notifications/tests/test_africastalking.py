"""The real AfricasTalkingGateway against the loopback simulator: no mock of our client."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings as DjangoSettings

from tms.notifications.gateways import (
    GatewayAccountError,
    GatewayRequestError,
    GatewayTemporaryError,
    Outcome,
    RecipientResult,
)
from tms.notifications.gateways.africastalking import (
    LIVE_BASE_URL,
    SANDBOX_BASE_URL,
    AfricasTalkingGateway,
    from_settings,
    parse_cost,
)
from tms.notifications.tests.simulator import AtSimulator, CallbackReceiver

KEY = "gw-test-key"
A, B, C = "+254711000111", "+254722000222", "+254733000333"
TEXT = "Your passport KE-2026-AB12 is ready at Huduma Centre GPO."


@pytest.fixture
def sim() -> Iterator[AtSimulator]:
    with AtSimulator(api_key=KEY, username="tms", seed=7) as simulator:
        yield simulator


@pytest.fixture
def gateway(sim: AtSimulator) -> Iterator[AfricasTalkingGateway]:
    with AfricasTalkingGateway("tms", KEY, base_url=sim.base_url, timeout=2.0) as gw:
        yield gw


def by_number(results: list[RecipientResult]) -> dict[str, RecipientResult]:
    return {r.number: r for r in results}


def test_success_parses_cost_and_message_id(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    [result] = gateway.send(text=TEXT, recipients=[A])
    [record] = sim.records
    assert result == RecipientResult(
        number=A,
        outcome=Outcome.ACCEPTED,
        status_code=101,
        status="Success",
        gateway_message_id=record.message_id,
        cost=Decimal("0.8000"),
        currency="KES",
    )
    assert (record.number, record.text, record.sender_id) == (A, TEXT, None)


def test_request_is_exactly_the_documented_one(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    gateway.send(text=TEXT, recipients=[A])
    single = sim.last_request
    assert single.headers["apiKey"] == KEY
    assert single.headers["Accept"] == "application/json"
    assert single.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert single.form == {"username": "tms", "to": A, "message": TEXT, "bulkSMSMode": "1"}
    gateway.send(text=TEXT, recipients=[A, B])
    assert sim.last_request.form == {
        "username": "tms",
        "to": f"{A},{B}",
        "message": TEXT,
        "bulkSMSMode": "1",
        "enqueue": "1",  # more than one recipient: AT queues and answers at once
    }


def test_two_segment_text_costs_twice(sim: AtSimulator, gateway: AfricasTalkingGateway) -> None:
    [result] = gateway.send(text="Habari " * 30, recipients=[A])
    assert (result.cost, result.currency) == (Decimal("1.6000"), "KES")


def test_sender_id_is_sent_as_from(sim: AtSimulator) -> None:
    with AfricasTalkingGateway("tms", KEY, sender_id="HUDUMA", base_url=sim.base_url) as gw:
        gw.send(text=TEXT, recipients=[A])
        assert sim.last_request.form["from"] == "HUDUMA"
        gw.send(text=TEXT, recipients=[A], sender_id="OTHER")
        assert sim.last_request.form["from"] == "OTHER"
    assert [r.sender_id for r in sim.records] == ["HUDUMA", "OTHER"]


def test_a_bulk_of_1000_recipients_goes_in_one_request(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    numbers = [f"+2547{i:08d}" for i in range(1000)]
    results = gateway.send(text=TEXT, recipients=numbers)
    assert len(sim.requests) == 1
    assert [r.number for r in results] == numbers
    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    assert len({r.gateway_message_id for r in results}) == 1000
    assert sim.accepted == 1000
    with pytest.raises(ValueError, match="1000"):
        gateway.send(text=TEXT, recipients=[*numbers, "+254799999999"])


def test_http_5xx_is_temporary(sim: AtSimulator, gateway: AfricasTalkingGateway) -> None:
    for status in (500, 502, 503):
        sim.fail_next(1, http_status=status)
        with pytest.raises(GatewayTemporaryError) as caught:
            gateway.send(text=TEXT, recipients=[A, B])
        assert caught.value.maybe_accepted is False
    assert sim.accepted == 0
    assert len(gateway.send(text=TEXT, recipients=[A, B])) == 2  # and the next one goes


def test_429_and_408_are_temporary(sim: AtSimulator, gateway: AfricasTalkingGateway) -> None:
    for status in (408, 429):
        sim.fail_next(1, http_status=status)
        with pytest.raises(GatewayTemporaryError):
            gateway.send(text=TEXT, recipients=[A])


def test_timeout_is_temporary_within_the_client_timeout(sim: AtSimulator) -> None:
    sim.set_mode(delay=5.0)
    with AfricasTalkingGateway("tms", KEY, base_url=sim.base_url, timeout=0.5) as gw:
        started = time.monotonic()
        with pytest.raises(GatewayTemporaryError) as caught:
            gw.send(text=TEXT, recipients=[A])
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5
    # The request arrived: AT may still send it, so a resend could duplicate.
    assert caught.value.maybe_accepted is True


def test_connection_refused_is_temporary_and_surely_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = AfricasTalkingGateway("tms", KEY, base_url=f"http://127.0.0.1:{port}")
    with gw, pytest.raises(GatewayTemporaryError) as caught:
        gw.send(text=TEXT, recipients=[A])
    assert caught.value.maybe_accepted is False


def test_wrong_credentials_are_an_account_error(sim: AtSimulator) -> None:
    for username, key in (("tms", "not-the-key"), ("someone-else", KEY)):
        gw = AfricasTalkingGateway(username, key, base_url=sim.base_url)
        with gw, pytest.raises(GatewayAccountError):
            gw.send(text=TEXT, recipients=[A])
    assert sim.accepted == 0


def test_a_revoked_key_mid_run_is_an_account_error(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    gateway.send(text=TEXT, recipients=[A])
    sim.set_mode(http_status=401)
    with pytest.raises(GatewayAccountError):
        gateway.send(text=TEXT, recipients=[B])


def test_other_4xx_is_a_request_error_not_temporary(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    sim.fail_next(1, http_status=400)
    with pytest.raises(GatewayRequestError) as caught:
        gateway.send(text=TEXT, recipients=[A])
    assert caught.value.status_code == 400
    assert not isinstance(caught.value, GatewayTemporaryError)
    # A wrong base URL (path) is configuration, the same every time.
    gw = AfricasTalkingGateway("tms", KEY, base_url=sim.base_url + "/v2")
    with gw, pytest.raises(GatewayRequestError) as caught:
        gw.send(text=TEXT, recipients=[A])
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    ("code", "outcome", "status"),
    [
        (403, Outcome.PERMANENT, "InvalidPhoneNumber"),
        (406, Outcome.PERMANENT, "UserInBlacklist"),
        (409, Outcome.PERMANENT, "DoNotDisturbRejection"),
        (405, Outcome.ACCOUNT, "InsufficientBalance"),
        (500, Outcome.TEMPORARY, "InternalServerError"),
        (502, Outcome.TEMPORARY, "RejectedByGateway"),
        (102, Outcome.ACCEPTED, "Queued"),
    ],
)
def test_per_recipient_codes_for_every_number(
    sim: AtSimulator, gateway: AfricasTalkingGateway, code: int, outcome: Outcome, status: str
) -> None:
    sim.set_mode(all_recipients_code=code)
    results = gateway.send(text=TEXT, recipients=[A, B])
    for result in results:
        assert (result.outcome, result.status_code, result.status) == (outcome, code, status)
        if outcome is not Outcome.ACCEPTED:
            assert (result.gateway_message_id, result.cost, result.currency) == (
                None,
                Decimal(0),
                "",
            )


def test_per_recipient_codes_for_specific_numbers(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    sim.set_mode(recipient_codes={A: 403, B: 405})
    results = by_number(gateway.send(text=TEXT, recipients=[A, B, C]))
    assert results[A].outcome is Outcome.PERMANENT
    assert results[B].outcome is Outcome.ACCOUNT
    assert results[C].outcome is Outcome.ACCEPTED
    assert [r.number for r in sim.records] == [C]


def test_unknown_code_is_temporary_and_logged_without_the_number(
    sim: AtSimulator, gateway: AfricasTalkingGateway, caplog: pytest.LogCaptureFixture
) -> None:
    sim.set_mode(recipient_codes={A: 499})
    with caplog.at_level(logging.DEBUG, logger="tms.notifications"):
        results = by_number(gateway.send(text=TEXT, recipients=[A, B]))
    assert results[A].outcome is Outcome.TEMPORARY
    assert results[A].status_code == 499
    assert "499" in caplog.text
    assert A not in caplog.text and A[1:] not in caplog.text


def test_a_number_missing_from_the_answer_is_temporary(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    sim.set_mode(omit_recipients=[B])
    results = by_number(gateway.send(text=TEXT, recipients=[A, B]))
    assert results[A].outcome is Outcome.ACCEPTED
    assert results[B] == RecipientResult(
        number=B,
        outcome=Outcome.TEMPORARY,
        status_code=None,
        status="missing from answer",
        gateway_message_id=None,
        cost=None,
        currency="",
    )


def test_an_unreadable_answer_is_temporary_but_maybe_sent(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    sim.set_mode(invalid_json=True)
    with pytest.raises(GatewayTemporaryError) as caught:
        gateway.send(text=TEXT, recipients=[A, B])
    assert caught.value.maybe_accepted is True
    assert sim.accepted == 2  # which is why it matters


def test_numbers_that_are_not_e164_are_not_sent(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    results = by_number(gateway.send(text=TEXT, recipients=["0711000111", A, "+254 7,1"]))
    assert results["0711000111"].outcome is Outcome.PERMANENT
    assert results["+254 7,1"].status == "InvalidPhoneNumber"
    assert results[A].outcome is Outcome.ACCEPTED
    assert sim.last_request.form["to"] == A
    assert gateway.send(text=TEXT, recipients=["12"])[0].outcome is Outcome.PERMANENT
    assert len(sim.requests) == 1  # nothing valid: no request at all


def test_contract_violations_raise(gateway: AfricasTalkingGateway) -> None:
    with pytest.raises(ValueError, match="empty"):
        gateway.send(text="", recipients=[A])
    with pytest.raises(ValueError, match="unique"):
        gateway.send(text=TEXT, recipients=[A, A])
    assert gateway.send(text=TEXT, recipients=[]) == []


def test_no_numbers_or_texts_in_logs(
    sim: AtSimulator, gateway: AfricasTalkingGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        gateway.send(text=TEXT, recipients=[A, B])
        sim.set_mode(omit_recipients=[A], recipient_codes={B: 777})
        gateway.send(text=TEXT, recipients=[A, B])
        sim.set_mode()
        for status in (500, 400, 401):
            sim.fail_next(1, http_status=status)
            with pytest.raises(Exception) as caught:
                gateway.send(text=TEXT, recipients=[A, B])
            logging.getLogger("test").error("failed: %s", caught.value)
    assert caplog.records  # something was logged, so the check below means something
    for value in (A, B, A[1:], B[1:], "KE-2026-AB12", TEXT):
        assert value not in caplog.text


def test_error_bodies_are_masked() -> None:
    from tms.notifications.gateways.africastalking import _NUMBER_LIKE

    assert _NUMBER_LIKE.sub("<n>", "Invalid +254711000111 and 254 711 000 111") == (
        "Invalid <n> and <n>"
    )


def test_base_url_choice() -> None:
    assert AfricasTalkingGateway("sandbox", "k").url == (
        "https://api.sandbox.africastalking.com/version1/messaging"
    )
    assert AfricasTalkingGateway("tms", "k").base_url == LIVE_BASE_URL
    assert AfricasTalkingGateway("sandbox", "k", base_url="http://x:1/").url == (
        "http://x:1/version1/messaging"
    )


def test_sandbox_requests_go_to_the_sandbox_host() -> None:
    # Stop the request before the network with an event hook: shows the URL the
    # client really uses, without reaching Africa's Talking.
    seen: list[httpx.URL] = []

    class Stop(Exception):
        pass

    def hook(request: httpx.Request) -> None:
        seen.append(request.url)
        raise Stop

    with httpx.Client(event_hooks={"request": [hook]}) as client:
        with pytest.raises(Stop):
            AfricasTalkingGateway("sandbox", "k", client=client).send(text=TEXT, recipients=[A])
        with pytest.raises(Stop):
            AfricasTalkingGateway("tms", "k", client=client).send(text=TEXT, recipients=[A])
    assert [str(url) for url in seen] == [
        SANDBOX_BASE_URL + "/version1/messaging",
        LIVE_BASE_URL + "/version1/messaging",
    ]


def test_from_settings(settings: DjangoSettings, sim: AtSimulator) -> None:
    settings.TMS_AT_USERNAME = "tms"
    settings.TMS_AT_API_KEY = KEY
    settings.TMS_AT_SENDER_ID = "HUDUMA"
    settings.TMS_AT_BASE_URL = sim.base_url
    with from_settings() as gw:
        assert gw.send(text=TEXT, recipients=[A])[0].outcome is Outcome.ACCEPTED
    assert sim.last_request.form["from"] == "HUDUMA"
    settings.TMS_AT_BASE_URL = ""
    settings.TMS_AT_USERNAME = "sandbox"
    assert AfricasTalkingGateway.from_settings().base_url == SANDBOX_BASE_URL
    settings.TMS_AT_API_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        from_settings()


def test_repr_hides_the_key() -> None:
    assert "secret-key" not in repr(AfricasTalkingGateway("tms", "secret-key"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KES 0.8000", (Decimal("0.8000"), "KES")),
        ("USD 0.0100", (Decimal("0.0100"), "USD")),
        ("0", (Decimal(0), "")),
        ("KES nonsense", (None, "")),
        ("KES NaN", (None, "")),
        (None, (None, "")),
        ("", (None, "")),
    ],
)
def test_parse_cost(raw: object, expected: tuple[Decimal | None, str]) -> None:
    assert parse_cost(raw) == expected


def test_delivery_reports_carry_the_ids_the_gateway_returned(
    sim: AtSimulator, gateway: AfricasTalkingGateway
) -> None:
    with CallbackReceiver() as receiver:
        results = gateway.send(text=TEXT, recipients=[A, B])
        assert sim.deliver(receiver.url, status="Failed", failure_reason="DeliveryFailure") == [
            200,
            200,
        ]
        sim.configure_reports(receiver.url, statuses=["Buffered", "Success"], network_code="99999")
        [later] = gateway.send(text=TEXT, recipients=[C])
        assert receiver.wait_for(4)
    assert receiver.posts[0][1]["Content-Type"] == "application/x-www-form-urlencoded"
    sent = {r.gateway_message_id: r.number for r in results}
    forms = receiver.forms
    assert {(f["id"], f["phoneNumber"]) for f in forms[:2]} == set(sent.items())
    assert all(
        set(f) == {"id", "status", "phoneNumber", "networkCode", "failureReason"}
        and (f["status"], f["failureReason"], f["networkCode"])
        == ("Failed", "DeliveryFailure", "63902")
        for f in forms[:2]
    )
    assert forms[2:] == [
        {
            "id": later.gateway_message_id,
            "status": "Buffered",
            "phoneNumber": C,
            "networkCode": "99999",
        },
        {
            "id": later.gateway_message_id,
            "status": "Success",
            "phoneNumber": C,
            "networkCode": "99999",
        },
    ]
