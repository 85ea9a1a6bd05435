"""The Africa's Talking simulator answers as AFRICASTALKING.md says, checked with raw HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tms.notifications.tests.simulator import AUTH_FAILED, AtSimulator, CallbackReceiver

KEY = "sim-test-key"
FORM = "application/x-www-form-urlencoded"
GOOD_HEADERS = {"apiKey": KEY, "Accept": "application/json", "Content-Type": FORM}
A, B = "+254711000111", "+254722000222"


@pytest.fixture
def sim() -> Iterator[AtSimulator]:
    with AtSimulator(api_key=KEY, seed=1) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def post(
    http: httpx.Client,
    sim: AtSimulator,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/version1/messaging",
) -> httpx.Response:
    data = {"username": "tms", "to": A, "message": "Hello"} if fields is None else fields
    return http.post(
        sim.base_url + path,
        content=urlencode(data).encode(),
        headers=GOOD_HEADERS if headers is None else headers,
    )


def test_a_valid_request_gets_201_with_the_documented_json(
    sim: AtSimulator, http: httpx.Client
) -> None:
    response = post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "Hello"})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 2/2 Total Cost: KES 1.6000"
    assert [r["number"] for r in data["Recipients"]] == [A, B]
    for entry in data["Recipients"]:
        assert set(entry) == {"statusCode", "number", "status", "cost", "messageId"}
        assert entry["statusCode"] == 101
        assert entry["status"] == "Success"
        assert entry["cost"] == "KES 0.8000"
        assert re.fullmatch(r"ATXid_[0-9a-f]{32}", entry["messageId"])
    assert sim.accepted == 2
    assert {(r.message_id, r.number, r.text) for r in sim.records} == {
        (e["messageId"], e["number"], "Hello") for e in data["Recipients"]
    }


def test_cost_is_per_segment(sim: AtSimulator, http: httpx.Client) -> None:
    response = post(http, sim, {"username": "tms", "to": A, "message": "x" * 161})
    entry = response.json()["SMSMessageData"]["Recipients"][0]
    assert entry["cost"] == "KES 1.6000"
    unicode = post(http, sim, {"username": "tms", "to": A, "message": "’" * 135})
    assert unicode.json()["SMSMessageData"]["Recipients"][0]["cost"] == "KES 2.4000"


@pytest.mark.parametrize("headers", [{}, {"apiKey": "wrong"}, {"apiKey": ""}])
def test_missing_or_wrong_api_key_gets_401_plain_text(
    sim: AtSimulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    base_headers = {"Accept": "application/json", "Content-Type": FORM}
    response = post(http, sim, headers={**base_headers, **headers})
    assert response.status_code == 401
    assert response.text == AUTH_FAILED
    assert response.headers["content-type"].startswith("text/plain")
    assert sim.accepted == 0


def test_configured_username_is_enforced(http: httpx.Client) -> None:
    with AtSimulator(api_key=KEY, username="tms") as sim:
        assert post(http, sim, {"username": "other", "to": A, "message": "x"}).status_code == 401
        assert post(http, sim, {"username": "tms", "to": A, "message": "x"}).status_code == 201


def test_wrong_content_type_is_refused(sim: AtSimulator, http: httpx.Client) -> None:
    response = http.post(
        sim.base_url + "/version1/messaging",
        json={"username": "tms", "to": A, "message": "Hello"},
        headers={"apiKey": KEY, "Accept": "application/json"},
    )
    assert response.status_code == 415
    assert sim.accepted == 0


def test_accept_must_ask_for_json(sim: AtSimulator, http: httpx.Client) -> None:
    response = post(http, sim, headers={"apiKey": KEY, "Accept": "text/xml", "Content-Type": FORM})
    assert response.status_code == 406


@pytest.mark.parametrize("missing", ["username", "to", "message"])
def test_a_missing_or_empty_field_gets_400(
    sim: AtSimulator, http: httpx.Client, missing: str
) -> None:
    fields = {"username": "tms", "to": A, "message": "Hello"}
    del fields[missing]
    response = post(http, sim, fields)
    assert response.status_code == 400
    assert missing in response.text
    fields[missing] = ""
    assert post(http, sim, fields).status_code == 400
    assert sim.accepted == 0


def test_wrong_path_is_404_and_wrong_method_405(sim: AtSimulator, http: httpx.Client) -> None:
    assert post(http, sim, path="/version1/messages").status_code == 404
    assert post(http, sim, path="/messaging").status_code == 404
    assert http.get(sim.base_url + "/version1/messaging", headers=GOOD_HEADERS).status_code == 405
    assert sim.accepted == 0


def test_numbers_that_are_not_e164_are_refused_per_recipient(
    sim: AtSimulator, http: httpx.Client
) -> None:
    response = post(http, sim, {"username": "tms", "to": f"0711000111,{A}", "message": "Hi"})
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
    refused, ok = data["Recipients"]
    assert refused == {
        "statusCode": 403,
        "number": "0711000111",
        "status": "InvalidPhoneNumber",
        "cost": "0",
        "messageId": "None",
    }
    assert ok["statusCode"] == 101
    assert sim.accepted == 1


def test_unknown_sender_id_is_refused_when_sender_ids_are_configured(http: httpx.Client) -> None:
    with AtSimulator(api_key=KEY, sender_ids={"TMS"}) as sim:
        bad = post(http, sim, {"username": "tms", "to": A, "message": "x", "from": "OTHER"})
        assert bad.json()["SMSMessageData"]["Recipients"][0]["statusCode"] == 402
        assert bad.json()["SMSMessageData"]["Message"] == "Sent to 0/1 Total Cost: 0"
        good = post(http, sim, {"username": "tms", "to": A, "message": "x", "from": "TMS"})
        assert good.json()["SMSMessageData"]["Recipients"][0]["statusCode"] == 101
        assert sim.records[0].sender_id == "TMS"


def test_fail_next_hits_only_valid_requests_then_service_resumes(
    sim: AtSimulator, http: httpx.Client
) -> None:
    sim.fail_next(2, http_status=503)
    assert post(http, sim, headers={}).status_code == 401  # does not use one up
    assert post(http, sim).status_code == 503
    assert post(http, sim).status_code == 503
    assert post(http, sim).status_code == 201
    assert sim.accepted == 1


def test_standing_modes(sim: AtSimulator, http: httpx.Client) -> None:
    sim.set_mode(http_status=401)
    assert post(http, sim).text == AUTH_FAILED
    sim.set_mode(recipient_codes={A: 405}, all_recipients_code=500)
    data = post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "x"}).json()
    codes = [(r["statusCode"], r["status"]) for r in data["SMSMessageData"]["Recipients"]]
    assert codes == [(405, "InsufficientBalance"), (500, "InternalServerError")]
    sim.set_mode(omit_recipients=[B])
    data = post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "x"}).json()
    assert [r["number"] for r in data["SMSMessageData"]["Recipients"]] == [A]
    sim.set_mode(delay=0.3)
    started = time.monotonic()
    assert post(http, sim).status_code == 201
    assert time.monotonic() - started >= 0.3
    sim.set_mode()
    assert post(http, sim).status_code == 201
    assert sim.accepted == 3


def test_duplicates_are_counted(sim: AtSimulator, http: httpx.Client) -> None:
    post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "Ready"})
    post(http, sim, {"username": "tms", "to": A, "message": "Ready"})
    post(http, sim, {"username": "tms", "to": A, "message": "Other"})
    assert sim.count(A) == 3
    assert sim.duplicates() == {(A, "Ready"): 2}
    stats = sim.stats()
    assert stats["accepted"] == 4
    assert stats["duplicate_sends"] == 1
    assert stats["duplicate_numbers"] == {A: 3}


def test_control_endpoints(sim: AtSimulator, http: httpx.Client) -> None:
    base = sim.base_url + "/__sim__/"
    assert http.post(base + "fail_next", json={"n": 1, "http_status": 502}).status_code == 200
    assert post(http, sim).status_code == 502
    assert http.post(base + "mode", json={"all_recipients_code": 403}).status_code == 200
    entry = post(http, sim).json()["SMSMessageData"]["Recipients"][0]
    assert entry["statusCode"] == 403
    assert http.post(base + "mode", json={}).status_code == 200
    post(http, sim)
    stats = http.get(base + "stats").json()
    assert stats["accepted"] == 1
    assert stats["http_answers"] == {"201": 2, "502": 1}
    assert stats["refused"] == {"403": 1}
    records = http.get(base + "records", params={"number": A}).json()
    assert [r["number"] for r in records] == [A]
    assert http.post(base + "mode", json={"nonsense": 1}).status_code == 400
    assert http.post(base + "reset").status_code == 200
    assert sim.accepted == 0


def test_deliver_posts_documented_report_fields(sim: AtSimulator, http: httpx.Client) -> None:
    post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "x"})
    first, second = sim.records
    with CallbackReceiver() as receiver:
        answers = sim.deliver(receiver.url, status="Success", network_code="63903")
        assert answers == [200, 200]
        path, headers, form = receiver.posts[0]
        assert path == "/callbacks/africastalking/delivery"
        assert headers["Content-Type"] == FORM
        assert form == {
            "id": first.message_id,
            "status": "Success",
            "phoneNumber": A,
            "networkCode": "63903",
        }
        sim.deliver(
            receiver.url,
            status="Failed",
            failure_reason="UserInBlackList",
            message_ids=[second.message_id],
            retry_count=2,
        )
        assert receiver.forms[-1] == {
            "id": second.message_id,
            "status": "Failed",
            "phoneNumber": B,
            "networkCode": "63902",
            "failureReason": "UserInBlackList",
            "retryCount": "2",
        }
    assert sim.stats()["reports_posted"] == 3


def test_automatic_reports_in_order_with_failures(sim: AtSimulator, http: httpx.Client) -> None:
    with CallbackReceiver() as receiver:
        sim.configure_reports(
            receiver.url, statuses=["Submitted", "Success"], failures={B: "UserIsInactive"}
        )
        post(http, sim, {"username": "tms", "to": f"{A},{B}", "message": "x"})
        assert receiver.wait_for(4)
        assert sim.wait_for_reports()
        by_number: dict[str, list[tuple[str, str | None]]] = {}
        for form in receiver.forms:
            by_number.setdefault(form["phoneNumber"], []).append(
                (form["status"], form.get("failureReason"))
            )
    assert sorted(by_number[A]) == [("Submitted", None), ("Success", None)]
    assert sorted(by_number[B]) == [("Failed", "UserIsInactive"), ("Submitted", None)]
    assert {f["id"] for f in receiver.forms} == {r.message_id for r in sim.records}


def test_automatic_reports_can_be_delayed_duplicated_and_reordered(
    sim: AtSimulator, http: httpx.Client
) -> None:
    numbers = [f"+2547110{i:05d}" for i in range(40)]
    with CallbackReceiver() as receiver:
        sim.configure_reports(receiver.url, delay=0.2, jitter=0.3, duplicates=0.5)
        started = time.monotonic()
        post(http, sim, {"username": "tms", "to": ",".join(numbers), "message": "x"})
        assert receiver.wait_for(40)
        assert time.monotonic() - started >= 0.2
        assert sim.wait_for_reports()
        arrived = [form["phoneNumber"] for form in receiver.forms]
    assert set(arrived) == set(numbers)
    assert len(arrived) > len(numbers)  # some twice (seeded: not flaky)
    assert arrived != sorted(arrived, key=numbers.index)  # not in sending order


def test_a_failing_receiver_is_counted_not_raised(sim: AtSimulator, http: httpx.Client) -> None:
    post(http, sim)
    with CallbackReceiver(status=500) as receiver:
        assert sim.deliver(receiver.url) == [500]
    assert sim.deliver("http://127.0.0.1:9/nothing-listens") == [0]
    assert sim.stats()["reports_failed"] == 2


def test_runs_as_a_process(tmp_path: Path) -> None:
    dump = tmp_path / "records.jsonl"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tms.notifications.tests.simulator"),
            *("--port", "0", "--api-key", KEY, "--dump", str(dump)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=5) as http:
            response = http.post(
                base + "/version1/messaging",
                data={"username": "tms", "to": f"{A},{B}", "message": "Hi"},
                headers={"apiKey": KEY, "Accept": "application/json"},
            )
            assert response.status_code == 201
            assert http.get(base + "/__sim__/stats").json()["accepted"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout is not None
        process.stdout.close()
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert sorted(r["number"] for r in lines) == [A, B]
