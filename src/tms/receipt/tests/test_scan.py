"""Every scan outcome, through the JSON endpoint (the page's script) and through the plain
form (no JavaScript: POST, redirect, GET), with what it must and must not change."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import ActorKind, Application, ApplicationEvent, Channel
from tms.directory.models import Centre, Service
from tms.notifications.models import Event, Message, MessageState
from tms.testing.builders import make_agency, make_service

SCAN = reverse("receipt-scan")
SCAN_JSON = reverse("receipt-scan-json")


def scan_json(client: Client, raw: str) -> dict[str, Any]:
    response = client.post(SCAN_JSON, {"code": raw}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def scan_form(client: Client, raw: str) -> str:
    """The no-JavaScript path: POST the form, follow the redirect, return the page."""
    response = client.post(SCAN, {"code": raw})
    assert response.status_code == 302
    assert response["Location"] == SCAN
    page = client.get(SCAN)
    assert page.status_code == 200
    return page.content.decode()


def ready_messages(application: Application) -> int:
    return Message.objects.filter(application=application, event=Event.READY).count()


def an_unused_reference() -> str:
    while True:
        reference = references.generate()
        if not Application.objects.filter(reference=reference).exists():
            return reference


def with_bad_check_digit(reference: str) -> str:
    last = (int(reference[-1]) + 1) % 10
    return reference[:-1] + str(last)


@dataclass(frozen=True)
class Case:
    """A scan: what to set up, what the officer scans, what the answer must be."""

    name: str
    kind: str
    tone: str
    setup: Callable[[Any], tuple[str, Application | None]]
    says: tuple[str, ...] = ()
    becomes: Status | None = None  # the application's status afterwards (None: unchanged)


def _dispatched(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED)
    return references.display(application.reference), application


def _lodged_plain_digits(f: Any) -> tuple[str, Application]:
    application = f.make(Status.LODGED)
    return application.reference, application


def _processing_with_dashes(f: Any) -> tuple[str, Application]:
    application = f.make(Status.PROCESSING)
    ref = application.reference
    return f"{ref[:4]}-{ref[4:8]}-{ref[8:12]}-{ref[12]}", application


def _ready(f: Any) -> tuple[str, Application]:
    application = f.make(Status.READY)
    return application.reference, application


def _unknown(f: Any) -> tuple[str, None]:
    return an_unused_reference(), None


def _check_digit(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED)
    return with_bad_check_digit(application.reference), application


def _too_short(f: Any) -> tuple[str, None]:
    return "4821 7730 9155", None


def _other_centre(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED, centre=f.other_centre)
    return application.reference, application


def _state(status: Status) -> Callable[[Any], tuple[str, Application]]:
    def setup(f: Any) -> tuple[str, Application]:
        application = f.make(status)
        return application.reference, application

    return setup


def _agency_barcode_with_reference(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED)
    return f"NRB/PP/2024/00771|{application.reference}|A4", application


def _agency_ref(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED, agency_ref="PP-2024-778812")
    return "PP-2024-778812", application


def _agency_ref_of_two_agencies(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED, agency_ref="DOC-1001")
    second = make_service(agency=make_agency())
    f.make(Status.DISPATCHED, agency_ref="DOC-1001", service=second)
    return "DOC-1001", application


def _agency_ref_of_other_centre(f: Any) -> tuple[str, Application]:
    application = f.make(Status.DISPATCHED, agency_ref="BC-55", centre=f.other_centre)
    return "BC-55", application


def _not_a_barcode_we_know(f: Any) -> tuple[str, None]:
    return "HELLO-WORLD", None


CASES = [
    Case("dispatched", "acknowledged", "success", _dispatched, ("Passport", "SMS"), Status.READY),
    Case("lodged", "acknowledged", "success", _lodged_plain_digits, (), Status.READY),
    Case("processing", "acknowledged", "success", _processing_with_dashes, (), Status.READY),
    Case("ready", "already_ready", "warning", _ready, ("Already ready", "Nothing was changed")),
    Case("unknown", "unknown", "error", _unknown, ("No application has this reference",)),
    Case("check digit", "typing_error", "error", _check_digit, ("typing error", "check digit")),
    Case("too short", "typing_error", "error", _too_short, ("typing error", "13 digits")),
    Case("other centre", "other_centre", "warning", _other_centre, ("Huduma Centre Mombasa",)),
    *[
        Case(f"{status}", "wrong_state", "error", _state(status), (str(status.label),))
        for status in (
            Status.ACTION_REQUIRED,
            Status.COLLECTED,
            Status.RETURNED,
            Status.REJECTED,
            Status.CANCELLED,
        )
    ],
    Case("barcode with reference", "acknowledged", "success", _agency_barcode_with_reference,
         (), Status.READY),
    Case("agency reference", "acknowledged", "success", _agency_ref, (), Status.READY),
    Case("agency reference of two agencies", "unknown", "error", _agency_ref_of_two_agencies,
         ("Several agencies",)),
    Case("agency reference of another centre", "unknown", "error", _agency_ref_of_other_centre,
         ("no application at this centre",)),
    Case("not a barcode we know", "unknown", "error", _not_a_barcode_we_know, ()),
]  # fmt: skip


@dataclass
class Fixtures:
    make: Any
    other_centre: Centre
    service: Service


@pytest.fixture
def f(make_application: Any, other_centre: Centre, service: Service) -> Fixtures:
    return Fixtures(make_application, other_centre, service)


def _before(application: Application | None) -> tuple[str, int, int, int] | None:
    if application is None:
        return None
    application.refresh_from_db()
    return (
        application.status,
        application.version,
        ApplicationEvent.objects.filter(application=application).count(),
        ready_messages(application),
    )


def _check_effect(case: Case, application: Application | None, before: Any, officer: Any) -> None:
    if application is None:
        return
    application.refresh_from_db()
    if case.becomes is None:
        assert _before(application) == before, "a refused scan must change nothing"
        return
    status, version, events, messages = before
    assert application.status == case.becomes
    assert application.version == version + 1
    assert ApplicationEvent.objects.filter(application=application).count() == events + 1
    assert application.ready_at is not None
    event = ApplicationEvent.objects.get(application=application, version=version + 1)
    assert (event.action, event.from_status, event.to_status) == (
        "acknowledge_receipt",
        status,
        Status.READY,
    )
    assert event.actor_kind == ActorKind.STAFF
    assert event.actor_user_id == officer.pk
    assert event.channel == Channel.COUNTER
    assert ready_messages(application) == messages + 1
    assert Message.objects.get(
        application=application, event=Event.READY, state=MessageState.QUEUED
    )


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_outcome_through_the_json_endpoint(
    browser: Client, officer: Any, f: Fixtures, case: Case
) -> None:
    raw, application = case.setup(f)
    before = _before(application)

    answer = scan_json(browser, raw)

    outcome = answer["outcome"]
    assert (outcome["kind"], outcome["tone"]) == (case.kind, case.tone)
    assert outcome["label"]
    for text in case.says:
        assert text in outcome["message"], outcome
    if application is not None and case.kind not in {"typing_error", "unknown"}:
        assert outcome["reference"] == references.display(application.reference)
    tally = {row["kind"]: row["count"] for row in answer["tally"]}
    assert tally[case.kind] == 1
    assert answer["total"] == 1
    assert answer["recent"][0]["kind"] == case.kind
    assert answer["recent"][0]["message"] == outcome["message"]
    assert (answer["undo"] is not None) == (case.kind == "acknowledged")
    _check_effect(case, application, before, officer)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_outcome_through_the_form_without_javascript(
    browser: Client, officer: Any, f: Fixtures, case: Case
) -> None:
    raw, application = case.setup(f)
    before = _before(application)

    page = scan_form(browser, raw)

    assert f'class="scan-result tone-{case.tone}"' in page
    for text in case.says:
        assert text in page
    assert f'<tr data-kind="{case.kind}" class="tone-{case.tone}">' in page
    assert '<td class="count" id="scan-total">1</td>' in page
    _check_effect(case, application, before, officer)
    # The answer is shown once: a reload shows the count, not the answer again.
    again = browser.get(SCAN).content.decode()
    assert "scan-result tone-" not in again
    assert '<td class="count" id="scan-total">1</td>' in again


@pytest.mark.django_db
def test_an_empty_scan_is_answered_and_changes_nothing(browser: Client) -> None:
    answer = scan_json(browser, "   ")
    assert answer["outcome"]["kind"] == "typing_error"
    assert "Nothing was scanned" in answer["outcome"]["message"]


@pytest.mark.django_db
def test_the_json_endpoint_needs_the_field_and_a_post(browser: Client) -> None:
    response = browser.post(SCAN_JSON, {"other": "1"})
    assert response.status_code == 400
    assert "code" in json.loads(response.content)["error"]
    assert browser.get(SCAN_JSON).status_code == 405


@pytest.mark.django_db
def test_a_second_scan_of_the_same_slip_is_harmless_and_the_sms_goes_once(
    browser: Client, make_application: Any, colleague: Any, client: Client
) -> None:
    application = make_application(Status.DISPATCHED)
    first = scan_json(browser, application.reference)
    second = scan_json(browser, application.reference)
    assert first["outcome"]["kind"] == "acknowledged"
    assert second["outcome"]["kind"] == "already_ready"
    # A colleague scanning the same document, through the form, changes nothing either.
    from tms.testing.staff import sign_in

    other = sign_in(Client(), colleague)
    assert "Already ready" in scan_form(other, references.display(application.reference))
    application.refresh_from_db()
    assert application.status == Status.READY
    assert application.version == 3  # lodged, dispatched, ready: one acknowledgement
    assert ready_messages(application) == 1
    tally = {row["kind"]: row["count"] for row in second["tally"]}
    assert tally["acknowledged"] == 1
    assert tally["already_ready"] == 1
    assert second["total"] == 2


@pytest.mark.django_db
def test_the_page_has_the_form_the_live_region_and_the_script(browser: Client) -> None:
    response = browser.get(SCAN)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="code"' in page
    assert "autofocus" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert f'data-json-url="{SCAN_JSON}"' in page
    assert 'aria-live="assertive"' in page
    assert 'id="scan-mute"' in page and "hidden" in page  # shown by the script only
    assert "receipt/scan.js" in page and "receipt/scan.css" in page
    assert "Nothing scanned yet." in page
    for asset in ("receipt/scan.js", "receipt/scan.css"):
        from django.contrib.staticfiles import finders

        assert finders.find(asset), asset
