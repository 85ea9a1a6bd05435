"""Structured logs: one JSON object per line with the request id, the id carried into
background tasks, and phone, ID numbers and names never written."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from tms.accounts.roles import Role
from tms.applications.models import Application
from tms.applications.references import display
from tms.applications.services import Actor, application_acknowledge_receipt
from tms.core.logs import JsonFormatter, PersonalDataExceptionReporter, redact
from tms.core.request_context import RequestIdMiddleware, current_request_id
from tms.testing.builders import make_centre, make_service
from tms.testing.staff import make_staff, sign_in

LOGGER = "tms.core.tests.logging"


@pytest.fixture
def json_lines():
    """The application's own console handler (with its filters), writing JSON to a buffer:
    returns a function giving the lines written so far, each parsed."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    old_stream, old_formatter = handler.setStream(buffer), handler.formatter
    handler.setFormatter(JsonFormatter())
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        handler.flush()
        text = buffer.getvalue()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    lines.raw = buffer.getvalue  # type: ignore[attr-defined]
    try:
        yield lines
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)
        logging.getLogger().setLevel(root_level)


# --- The safety net ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sending to +254712345678",
        "sending to 254712345678",
        "sending to 0712345678",
        "sending to 0112345678",
        "sending to +254112345678",
        "sending to 0712 345 678",
        "sending to +254 712 345 678",
        "GET /staff/find/?kind=phone&q=%2B254712345678",
        "GET /staff/find/?kind=phone&q=0712+345+678",
        "phone=0712345678&x=1",
    ],
)
def test_kenyan_phone_numbers_are_masked(text):
    masked = redact(text)
    assert "<phone>" in masked
    assert not re.search(r"\d{3}\D?\d{3}\D?\d{3}", masked.replace("254", "")), masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ID 12345678 did not match", "ID <id-number> did not match"),
        ("id_number=1234567", "id_number=<id-number>"),
        ("birth certificate 123456789.", "birth certificate <id-number>."),
    ],
)
def test_id_numbers_standing_alone_are_masked(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "reference 4821773091552 looked up",  # 13 digits: a tracking reference
        "4821 7730 9155 2",
        "took 0.12345678 s",
        "task 12345678-9abc-4def-8123-456789abcdef done",
        "at 2026-03-19 08:34:18",
        "KES 700.00, 154 segments, 42 rows",
    ],
)
def test_other_numbers_are_left_alone(text):
    assert redact(text) == text


def test_the_handler_masks_messages_arguments_extras_and_exceptions(json_lines):
    logger = logging.getLogger(LOGGER)
    logger.warning("no match for %s", "+254712345678", extra={"detail": "ID 23456789"})
    try:
        raise ValueError("no application for 0712 345 678")
    except ValueError:
        logger.exception("lookup failed")

    warning, error = json_lines()
    assert warning["message"] == "no match for <phone>"
    assert warning["detail"] == "ID <id-number>"
    assert error["message"] == "lookup failed"
    assert "Traceback" in error["exception"] and "ValueError" in error["exception"]
    assert "<phone>" in error["exception"]
    assert "712" not in json_lines.raw() and "23456789" not in json_lines.raw()


# --- Lines and request ids ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_line_is_one_json_object_with_time_level_logger_message_and_request_id(
    client, json_lines
):
    response = client.post(
        "/callbacks/africastalking/delivery",
        {"id": "ATXid_unknown", "status": "Success", "phoneNumber": "+254712345678"},
        HTTP_X_REQUEST_ID="lb-7f3a.9_x",
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a.9_x"
    line = next(
        line for line in json_lines() if line["message"].startswith("delivery report for an id")
    )
    assert line["level"] == "INFO"
    assert line["logger"] == "tms.notifications.services"
    assert line["request_id"] == "lb-7f3a.9_x"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", line["time"])


@pytest.mark.django_db
def test_lines_written_after_the_view_answered_carry_the_request_id(client, json_lines):
    # Django logs a 404 after the middleware returned.
    client.get("/no/such/page/", HTTP_X_REQUEST_ID="abc123")
    line = next(line for line in json_lines() if line["logger"] == "django.request")
    assert line["message"] == "Not Found: /no/such/page/"
    assert line["request_id"] == "abc123"
    assert line["status_code"] == 404
    assert "request" not in line
    assert current_request_id() is None  # cleared when the request finished


@pytest.mark.django_db
@pytest.mark.parametrize("offered", [None, "", "x" * 65, "a b", "<script>", "id\nFAKE line"])
def test_a_request_without_a_sane_id_gets_a_new_one(client, offered):
    headers = {} if offered is None else {"HTTP_X_REQUEST_ID": offered}
    first = client.get("/healthz", **headers)["X-Request-ID"]
    second = client.get("/healthz", **headers)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@task()
def log_inside_a_task() -> None:
    logging.getLogger(LOGGER).info("inside the task")


@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_the_worker_logs_with_the_id_of_the_request_that_enqueued_it(json_lines):
    cache.clear()
    backend = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}

    def view(request):
        log_inside_a_task.enqueue()
        return HttpResponse("queued")

    with override_settings(TASKS={"default": backend}):
        response = RequestIdMiddleware(view)(
            RequestFactory().get("/", HTTP_X_REQUEST_ID="req-enqueuer-42")
        )
        assert response["X-Request-ID"] == "req-enqueuer-42"
        from tms.core.request_context import forget_request_id

        forget_request_id()  # the request is over, as after request_finished
        assert DBTaskResult.objects.filter(status="READY").count() == 1

        call_command("worker", batch=True, no_schedule=True, startup_delay=False, verbosity=0)

    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    inside = next(line for line in json_lines() if line["message"] == "inside the task")
    assert inside["request_id"] == "req-enqueuer-42"
    assert current_request_id() is None  # and cleared once the task finished


# --- Real flows write no personal data -------------------------------------------------------

NAME = ("Wanjiku", "Nyambura", "Kamau")
REPRESENTATIVE = ("Otieno", "Achieng")
PHONE_DIGITS = ("712345678", "712 345 678", "722000111", "722 000 111")
ID_NUMBER = "23456789"


@pytest.fixture
def every_logger_at_debug():
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.django_db
def test_real_flows_log_no_phone_name_or_id_number(
    client, caplog, json_lines, every_logger_at_debug, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    cache.clear()
    centre = make_centre(name="Huduma Centre GPO")
    service = make_service(name_en="Passport", requires_id_number=True)
    staff = sign_in(client, make_staff(Role.COUNTER_OFFICER, centre=centre))
    public = Client()

    def step(call):
        # Runs the SMS sends that the request queued after its commit, as in production.
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    # Lodging at the counter, through its form.
    form = staff.get(reverse("counter-lodge")).content.decode()
    found = re.search(r'name="token" value="([^"]+)"', form)
    assert found, "the form carries a one-time token"
    token = found.group(1)
    lodged = step(
        lambda: staff.post(
            reverse("counter-lodge"),
            {
                "token": token,
                "service": str(service.pk),
                "applicant_name": " ".join(NAME),
                "applicant_phone": "0712 345 678",
                "applicant_id_number": ID_NUMBER,
                "language": "en",
                "representative_name": " ".join(REPRESENTATIVE),
                "representative_phone": "+254 722 000 111",
            },
        )
    )
    assert lodged.status_code == 302
    application = Application.objects.get()
    reference = application.reference

    # Tracking by reference, and the lost-reference form with a phone (known and not).
    assert public.get("/track/", {"ref": display(reference)}).status_code == 200
    assert step(lambda: public.post("/track/lost/", {"phone": "0712 345 678"})).status_code == 200
    assert step(lambda: public.post("/track/lost/", {"phone": "0712 000 111"})).status_code == 200

    # USSD: menu, track by reference, references by SMS.
    for text in ("", "1", f"1*{reference}", "2"):
        ussd = step(
            lambda text=text: public.post(
                "/callbacks/africastalking/ussd",
                {
                    "sessionId": "ATUid_log_1",
                    "serviceCode": "*384*1234#",
                    "phoneNumber": "+254712345678",
                    "networkCode": "63902",
                    "text": text,
                },
            )
        )
        assert ussd.status_code == 200

    # Incoming SMS: a reference, then STOP.
    for text in (reference, "STOP"):
        sms = step(
            lambda text=text: public.post(
                "/callbacks/africastalking/sms",
                {
                    "from": "+254712345678",
                    "to": "22384",
                    "text": text,
                    "date": "2026-03-19 08:34:18",
                    "id": f"ATXid_in_{text}",
                    "linkId": "SampleLinkId123",
                    "networkCode": "63902",
                },
            )
        )
        assert sms.status_code == 200

    # A delivery report names the phone.
    report = public.post(
        "/callbacks/africastalking/delivery",
        {"id": "ATXid_unknown", "status": "Success", "phoneNumber": "+254712345678"},
    )
    assert report.status_code == 200

    # The hand-over search by phone and by ID number, a bad search, and the hand-over.
    application_acknowledge_receipt(application, actor=Actor.system("test"))
    for kind, term in (("phone", "0712345678"), ("id_number", ID_NUMBER), ("phone", "07123")):
        staff.get(reverse("counter-find"), {"kind": kind, "q": term})
    application.refresh_from_db()
    handed = step(
        lambda: staff.post(
            reverse("counter-handover", args=[reference]),
            {
                "version": application.version,
                "collector": "citizen",
                "citizen_id_number": ID_NUMBER,
            },
        )
    )
    assert handed.status_code == 302

    written = [record.getMessage() for record in caplog.records]
    written += [record.exc_text or "" for record in caplog.records]
    written.append(json_lines.raw())
    assert len(caplog.records) >= 10, "the flows wrote log lines to check"
    everything = "\n".join(written)
    for secret in (*NAME, *REPRESENTATIVE, *PHONE_DIGITS, ID_NUMBER):
        assert secret not in everything, secret


@pytest.fixture
def failing_counter(monkeypatch, settings):
    """A counter officer's client whose search fails with a bug."""
    settings.ADMINS = [("Operations", "ops@example.org")]

    def broken(**kwargs):
        applicant_name = "Wanjiku Kamau"  # a local variable an error report could show
        raise RuntimeError(f"bug while handling {len(applicant_name)} characters")

    from tms.counter import services

    monkeypatch.setattr(services, "counter_search", broken)
    officer = make_staff(Role.COUNTER_OFFICER)
    return sign_in(Client(raise_request_exception=False), officer)


@pytest.mark.django_db
def test_errors_mailed_to_administrators_carry_no_personal_data(failing_counter, mailoutbox):
    search = failing_counter.get(reverse("counter-find"), {"q": "0712 345 678", "kind": "phone"})

    assert search.status_code == 500
    [mail] = mailoutbox
    text = mail.subject + mail.body
    assert "RuntimeError" in text and "counter_search" in text  # still useful
    for personal in ("Wanjiku", "0712 345 678", "712345678"):
        assert personal not in text


def test_an_error_report_masks_form_values(rf):
    request = rf.post("/staff/lodge/", {"applicant_name": "Wanjiku Kamau", "note": "23456789"})
    try:
        raise RuntimeError("a bug")
    except RuntimeError as error:
        report = PersonalDataExceptionReporter(request, type(error), error, error.__traceback__)
        text = report.get_traceback_text()

    assert "applicant_name" in text and "Wanjiku" not in text and "23456789" not in text
