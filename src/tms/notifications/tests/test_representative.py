"""Someone applying on the citizen's behalf gets the same messages; the hand-over code SMS."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tms.notifications import segments
from tms.notifications.models import Event, Message, Priority
from tms.notifications.rendering import check_template, example_values, render_text
from tms.notifications.services import handover_code_queue, notify, opt_out
from tms.notifications.texts import DEFAULTS
from tms.testing.builders import lodge

pytestmark = pytest.mark.django_db

CITIZEN = "+254712345678"
REPRESENTATIVE = "+254722000111"


@pytest.fixture
def application():
    return lodge(
        phone="0712345678", representative_name="Peter Kamau", representative_phone="0722 000 111"
    )


def test_lodging_queues_the_message_to_both_with_their_own_dedupe_keys(application):
    messages = Message.objects.filter(application=application, event=Event.LODGED)

    assert sorted(messages.values_list("to", flat=True)) == [CITIZEN, REPRESENTATIVE]
    keys = dict(messages.values_list("to", "dedupe_key"))
    assert keys[REPRESENTATIVE] == f"{keys[CITIZEN]}:representative"
    assert keys[CITIZEN]
    assert len(set(messages.values_list("body", flat=True))) == 1


def test_a_repeated_notice_is_queued_once_to_each(application):
    assert notify(application, Event.READY, dedupe_key="ready:x") is not None
    assert notify(application, Event.READY, dedupe_key="ready:x") is None

    ready = Message.objects.filter(event=Event.READY)
    assert sorted(ready.values_list("to", flat=True)) == [CITIZEN, REPRESENTATIVE]


def test_reminders_skip_whichever_phone_opted_out(application):
    opt_out(phone=REPRESENTATIVE)
    notify(application, Event.REMINDER, dedupe_key="r1", ready_date="1 Jan 2027")
    opt_out(phone=CITIZEN)
    notify(application, Event.REMINDER, dedupe_key="r2", ready_date="1 Jan 2027")

    assert list(Message.objects.filter(event=Event.REMINDER).values_list("to", flat=True)) == [
        CITIZEN
    ]
    # The ready notice still goes to both.
    notify(application, Event.READY, dedupe_key="ready:y")
    assert Message.objects.filter(event=Event.READY).count() == 2


def test_the_same_number_twice_gets_one_message():
    lodge(phone="0712345678", representative_name="Self", representative_phone=CITIZEN)

    assert Message.objects.filter(event=Event.LODGED).count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"representative_name": "Peter Kamau"}, "representative_phone"),
        ({"representative_phone": "0722000111"}, "representative_name"),
        ({"representative_name": "Peter", "representative_phone": "12"}, "representative_phone"),
    ],
)
def test_a_representative_needs_both_a_name_and_a_valid_phone(fields, field):
    with pytest.raises(ValidationError) as refused:
        lodge(**fields)

    assert set(refused.value.message_dict) == {field}


def test_the_handover_code_goes_to_the_citizen_only_and_first(application):
    message = handover_code_queue(application=application, code="048213")

    assert message is not None and message.to == CITIZEN
    assert message.priority == Priority.REPLY
    assert "048213" in message.body
    assert Message.objects.filter(event=Event.HANDOVER_CODE).count() == 1


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_handover_code_text_fits_one_segment(language):
    body = DEFAULTS[(Event.HANDOVER_CODE, language)]
    check_template(Event.HANDOVER_CODE, body)

    rendered = render_text(
        body,
        {
            "reference": "4821 7730 9155 2",
            "code": "048213",
            **example_values(Event.LODGED, language),
        },
    )

    assert "{" not in rendered.body and "048213" in rendered.body
    assert segments.count(rendered.body).segments == 1
    assert rendered.encoding == "GSM-7"


@pytest.mark.django_db
def test_reminders_and_notices_reach_the_representative_too() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tms.applications.models import Application
    from tms.notifications.models import Event, Message
    from tms.notifications.reminders import reminders_queue
    from tms.notifications.services import opt_out
    from tms.testing.builders import lodge as lodge_application

    application = lodge_application(
        representative_name="Otieno Ouma", representative_phone="0722000111"
    )
    Application.objects.filter(pk=application.pk).update(
        status="ready", ready_at=timezone.now() - timedelta(days=8)
    )
    reminders_queue()
    reminders = Message.objects.filter(application=application, event=Event.REMINDER)
    assert sorted(m.to for m in reminders) == ["+254712345678", "+254722000111"]

    # STOP from the representative's phone stops their reminders only.
    Message.objects.filter(event=Event.REMINDER).delete()
    opt_out(phone="+254722000111")
    reminders_queue()
    reminders = Message.objects.filter(application=application, event=Event.REMINDER)
    assert [m.to for m in reminders] == ["+254712345678"]
