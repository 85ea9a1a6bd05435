"""Incoming SMS, posted the way Africa's Talking posts them; answers are reply SMS in the
outbox."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import cache

from tms.applications.models import Channel
from tms.applications.references import display, with_check_digit
from tms.applications.services import (
    Actor,
    application_acknowledge_receipt,
    application_require_action,
)
from tms.core.phones import normalise_phone
from tms.notifications import segments
from tms.notifications.models import Event, Message, OptOut
from tms.testing.builders import lodge, make_centre, make_service
from tms.tracking.models import LookupTally
from tms.tracking.services import lookup_tallies_flush

URL = "/callbacks/africastalking/sms"
SENDER = "+254712345678"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def text_in(client, text: str, sender: str = SENDER, query: str = "", **fields):
    """Post one incoming SMS; the reply queued for it (None when there is none)."""
    before = set(Message.objects.filter(event=Event.REPLY).values_list("id", flat=True))
    response = client.post(
        URL + query,
        {
            "from": sender,
            "to": "22384",
            "text": text,
            "date": "2026-03-19 08:34:18",
            "id": f"ATXid_in_{next(_ids)}",
            "linkId": "SampleLinkId123",
            "networkCode": "63902",
            **fields,
        },
    )
    assert response.status_code == 200, response.content
    replies = Message.objects.filter(event=Event.REPLY).exclude(id__in=before)
    assert replies.count() <= 1
    reply = replies.first()
    if reply is not None:
        assert reply.to == normalise_phone(sender)
        assert segments.count(reply.body).segments <= 2
    return reply


def lookups_counted(channel: Channel) -> int:
    """Lookups recorded so far (tallies are kept in the process and flushed in batches,
    so other tests' lookups may be pending: tests compare before and after)."""
    lookup_tallies_flush()
    return sum(LookupTally.objects.filter(channel=channel).values_list("lookups", flat=True))


@pytest.fixture
def application():
    service = make_service(name_en="Passport (32 pages)", name_sw="Pasipoti (kurasa 32)")
    centre = make_centre(
        "GPO",
        name="Huduma Centre GPO",
        opening_hours="Mon–Fri 8:00–17:00",
        opening_hours_sw="Jtatu–Ijumaa 8:00–17:00",
    )
    return lodge(service=service, centre=centre, phone="0712000999")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form",
    ["{spaced}", "{plain}", "{dashed}", "TRACK {spaced}", "track {plain}", "Track: {dashed}"],
)
def test_a_reference_gets_its_status_back(client, application, form):
    counted_before = lookups_counted(Channel.SMS)
    reference = application.reference
    text = form.format(
        spaced=display(reference), plain=reference, dashed=display(reference).replace(" ", "-")
    )
    reply = text_in(client, text)

    assert reply.body.startswith(f"{display(reference)} (Passport (32 pages)): Lodged.")
    assert "Received; it goes to the agency next." in reply.body
    assert "Centre: Huduma Centre GPO, Mon-Fri 8:00-17:00." in reply.body
    assert "Expected by " in reply.body
    assert reply.language == "en" and reply.encoding == "GSM-7"
    assert lookups_counted(Channel.SMS) == counted_before + 1


@pytest.mark.django_db
def test_hali_answers_in_swahili(client, application):
    application_acknowledge_receipt(application, actor=Actor.system("test"))
    reply = text_in(client, f"hali {display(application.reference)}")

    assert reply.language == "sw"
    assert reply.body.startswith(f"{display(application.reference)} (Pasipoti (kurasa 32)):")
    assert "Tayari kuchukuliwa" in reply.body
    assert "Jtatu-Ijumaa 8:00-17:00" in reply.body


@pytest.mark.django_db
def test_the_language_of_the_latest_application_is_used(client):
    application = lodge(phone=SENDER, language="sw")
    reply = text_in(client, application.reference)

    assert reply.language == "sw" and "Limepokelewa" in reply.body


@pytest.mark.django_db
def test_the_language_chosen_on_ussd_wins(client):
    application = lodge(phone=SENDER, language="en")
    ussd = client.post(
        "/callbacks/africastalking/ussd",
        {"sessionId": "ATUid_1", "phoneNumber": SENDER, "serviceCode": "*384*1234#", "text": "4"},
    )
    assert "4. English" in ussd.content.decode()

    reply = text_in(client, application.reference)

    assert reply.language == "sw" and "Limepokelewa" in reply.body


@pytest.mark.django_db
def test_a_typing_error_says_so(client, application):
    reference = application.reference
    mistyped = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    reply = text_in(client, display(mistyped))
    short = text_in(client, "TRACK 4821 7730")

    assert "typing error" in reply.body
    assert "typing error" in short.body


@pytest.mark.django_db
def test_an_unknown_reference_is_not_found(client):
    unknown = display(with_check_digit("100000000000"))
    reply = text_in(client, unknown)

    assert reply.body.startswith(f"We found no application with reference {unknown}.")


@pytest.mark.django_db
def test_stop_and_start_switch_reminders_with_a_confirmation(client):
    stopped = text_in(client, "STOP")
    assert OptOut.objects.filter(phone=SENDER).exists()
    assert "no more reminders" in stopped.body and "Send START" in stopped.body

    started = text_in(client, "start")
    assert not OptOut.objects.filter(phone=SENDER).exists()
    assert started.body.startswith("Reminders are on again.") and "Send STOP" in started.body

    again = text_in(client, "Stop.")
    assert OptOut.objects.filter(phone=SENDER).count() == 1
    assert again.body == stopped.body


@pytest.mark.django_db
def test_simama_and_anza_answer_in_swahili(client):
    stopped = text_in(client, "simama")
    assert OptOut.objects.filter(phone=SENDER).exists()
    assert stopped.language == "sw" and "ANZA" in stopped.body

    started = text_in(client, "Anza")
    assert not OptOut.objects.exists()
    assert started.language == "sw" and "SIMAMA" in started.body


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["hello", "", "TRACK", "track my passport", "Where is my ID?"])
def test_anything_else_gets_a_short_help_text(client, text):
    reply = text_in(client, text)

    assert reply.body.startswith("Track My Service: send your reference number")
    assert "*384*1234#" in reply.body and "STOP" in reply.body
    assert segments.count(reply.body).segments == 1


@pytest.mark.django_db
def test_hali_alone_gets_the_help_in_swahili(client):
    assert text_in(client, "HALI").language == "sw"


@pytest.mark.django_db
def test_an_invalid_sender_is_ignored(client):
    for sender in ["Safaricom", "22384", "+25471"]:
        assert text_in(client, "STOP", sender=sender) is None
    assert not OptOut.objects.exists()


@pytest.mark.django_db
def test_missing_fields_are_a_400_and_get_is_refused(client):
    no_sender = client.post(URL, {"to": "22384", "text": "STOP"})
    no_text = client.post(URL, {"from": SENDER, "to": "22384"})

    assert no_sender.status_code == no_text.status_code == 400
    assert no_sender["Content-Type"].startswith("text/plain")
    assert client.get(URL).status_code == 405
    assert not OptOut.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
def test_the_callback_token_is_required_when_configured(client, settings):
    settings.TMS_AT_CALLBACK_TOKEN = "s3cret-token"
    fields = {"from": SENDER, "to": "22384", "text": "STOP", "id": "ATXid_1"}

    assert client.post(URL, fields).status_code == 403
    assert client.post(URL + "?token=wrong", fields).status_code == 403
    assert not OptOut.objects.exists() and not Message.objects.exists()
    assert text_in(client, "STOP", query="?token=s3cret-token") is not None
    assert OptOut.objects.exists()


@pytest.mark.django_db
def test_over_the_limit_there_is_no_reply(client, settings):
    settings.TMS_RATE_CALLBACK_PER_PHONE = "2/m"
    assert text_in(client, "hello") is not None
    assert text_in(client, "hello") is not None
    assert text_in(client, "hello") is None
    assert text_in(client, "hello", sender="+254712000111") is not None


@pytest.mark.django_db
def test_the_same_message_delivered_twice_is_answered_once(client):
    assert text_in(client, "hello", id="ATXid_twice") is not None
    assert text_in(client, "hello", id="ATXid_twice") is None


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "sw"])
def test_replies_fit_two_segments_with_the_longest_realistic_values(client, language):
    service = make_service(
        name_en="Certificate of Registration of a Business Name",
        name_sw="Kibali cha Kuishi na Kufanya Kazi (Daraja G)",
    )
    centre = make_centre(
        name="Huduma Centre Nairobi GPO (Teleposta Towers)",
        opening_hours="Mon–Fri 8:00–17:00, Sat 8:00–13:00",
        opening_hours_sw="Jtatu–Ijumaa 8:00–17:00, Jmosi 8:00–13:00",
    )
    application = lodge(service=service, centre=centre, phone=SENDER, language=language)
    note = (
        "Bring two recent passport photos, a letter from your area chief and the original "
        "birth certificate of each parent to the centre before the end of the month."
    )
    application_require_action(application, actor=Actor.system("test"), note=note)
    reply = text_in(client, application.reference)

    count = segments.count(reply.body)
    assert count.encoding == "GSM-7" and count.segments <= 2
    assert "Huduma Centre" in reply.body
    # What the citizen must do comes whole; names give way first.
    assert reply.body.endswith(f"{note}") or reply.body.endswith("...")
    assert "Bring two recent passport photos, a letter from your area chief" in reply.body


@pytest.mark.django_db
def test_a_failure_is_a_503_without_personal_data_in_the_log(client, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError(f"cannot queue a reply to {kwargs['phone']}")

    monkeypatch.setattr("tms.tracking.callbacks.inbound_sms_handle", broken)
    fields = {"from": SENDER, "to": "22384", "text": "STOP", "id": "ATXid_retry"}
    failed = client.post(URL, fields)

    assert failed.status_code == 503
    assert "RuntimeError" in caplog.text and "712345678" not in caplog.text
    monkeypatch.undo()
    assert client.post(URL, fields).status_code == 200  # the gateway's retry is answered
    assert OptOut.objects.filter(phone=SENDER).exists()
