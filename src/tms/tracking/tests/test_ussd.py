"""The USSD menu, driven the way Africa's Talking drives it: one form-encoded POST per
answer, ``text`` holding every answer so far joined by ``*``."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tms.applications.lifecycle import Status
from tms.applications.models import Application, Channel
from tms.applications.references import display, with_check_digit
from tms.applications.services import (
    Actor,
    application_acknowledge_receipt,
    application_cancel,
    application_dispatch,
    application_hand_over,
    application_reject,
    application_require_action,
    application_return,
    application_start_processing,
)
from tms.directory.models import KENYAN_COUNTIES
from tms.notifications.models import Event, Message
from tms.testing.builders import lodge, make_centre, make_service
from tms.tracking import services as tracking_services
from tms.tracking.models import LookupTally
from tms.tracking.services import lookup_tallies_flush

URL = "/callbacks/africastalking/ussd"
PHONE = "+254712345678"
SCREEN_LIMIT = 182
_sessions = itertools.count(1)

LONG_CENTRE = "Huduma Centre Nairobi GPO (Teleposta Towers)"
LONG_HOURS = "Mon–Fri 8:00–17:00, Sat 8:00–13:00"
LONG_HOURS_SW = "Jtatu–Ijumaa 8:00–17:00, Jmosi 8:00–13:00"


@pytest.fixture(autouse=True)
def fresh_cache():
    # Rate-limit counters and remembered languages live in the cache.
    cache.clear()
    yield
    cache.clear()


class Dial:
    """One USSD session: each ``send`` adds an answer and posts the whole path."""

    def __init__(self, client, phone: str = PHONE, shortcut: str = "") -> None:
        self.client = client
        self.phone = phone
        self.session_id = f"ATUid_{next(_sessions):08d}"
        self.answers: list[str] = [shortcut] if shortcut else []
        self.screens: list[str] = []

    def post(self, text: str, **extra):
        return self.client.post(
            URL + extra.pop("query", ""),
            {
                "sessionId": self.session_id,
                "serviceCode": "*384*1234#",
                "phoneNumber": self.phone,
                "networkCode": "63902",
                "text": text,
                **extra,
            },
        )

    def start(self) -> str:
        return self._answer()

    def send(self, answer: str) -> str:
        self.answers.append(answer)
        return self._answer()

    def _answer(self) -> str:
        response = self.post("*".join(self.answers))
        body = response.content.decode()
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        assert body.startswith(("CON ", "END ")), body
        assert len(body) < SCREEN_LIMIT, (len(body), body)
        self.screens.append(body)
        return body


def typo_of(reference: str) -> str:
    """The reference with two neighbouring digits swapped (or one changed)."""
    for i in range(len(reference) - 1):
        if reference[i] != reference[i + 1]:
            return reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]
    return reference[:-1] + str((int(reference[-1]) + 1) % 10)


def lookups_counted(channel: Channel) -> int:
    """Lookups recorded so far (tallies are kept in the process and flushed in batches,
    so other tests' lookups may be pending: tests compare before and after)."""
    lookup_tallies_flush()
    return sum(LookupTally.objects.filter(channel=channel).values_list("lookups", flat=True))


@pytest.fixture
def application():
    service = make_service(name_en="Passport (32 pages)", name_sw="Pasipoti (kurasa 32)")
    centre = make_centre(
        "GPO", name=LONG_CENTRE, opening_hours=LONG_HOURS, opening_hours_sw=LONG_HOURS_SW
    )
    return lodge(service=service, centre=centre, phone="0712345678")


# --- Main menu and tracking ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_first_request_shows_the_main_menu(client):
    menu = Dial(client).start()

    assert menu.startswith("CON Track My Service\n")
    assert "1. Track an application" in menu
    assert "2. My references by SMS" in menu
    assert "3. Centres and opening hours" in menu
    assert "4. Kiswahili" in menu


@pytest.mark.django_db
def test_tracking_a_reference_typed_with_spaces(client, application):
    counted_before = lookups_counted(Channel.USSD)
    session = Dial(client)
    session.start()
    prompt = session.send("1")
    status = session.send(display(application.reference))

    assert prompt.startswith("CON Enter the reference number")
    assert "0 Back" in prompt
    assert status.startswith(f"END {display(application.reference)}: Lodged\n")
    assert "Received; it goes to the agency next." in status
    assert f"Centre: {LONG_CENTRE}" in status
    assert "Expected by " in status
    assert lookups_counted(Channel.USSD) == counted_before + 1


@pytest.mark.django_db
def test_a_ready_document_shows_its_date_and_opening_hours(client, application):
    application_acknowledge_receipt(application, actor=Actor.system("test"))
    session = Dial(client, shortcut="1")
    session.start()
    status = session.send(application.reference)

    assert "Ready for collection" in status
    assert f"Collect at {LONG_CENTRE}" in status
    assert f"Ready since {timezone.localdate():%-d %b %Y}." in status
    # Plain dashes: USSD handsets show typographic ones badly.
    assert "Open Mon-Fri 8:00-17:00, Sat 8:00-13:00" in status


@pytest.mark.django_db
def test_a_typing_error_asks_again_and_the_next_try_works(client, application):
    session = Dial(client, shortcut="1")
    session.start()
    retry = session.send(typo_of(application.reference))
    status = session.send(application.reference)

    assert retry.startswith("CON ") and "typing error" in retry
    assert status.startswith("END ") and "Lodged" in status


@pytest.mark.django_db
def test_an_unknown_reference_is_not_found(client):
    unknown = with_check_digit("100000000000")
    session = Dial(client, shortcut="1")
    session.start()
    answer = session.send(display(unknown))

    assert answer.startswith("END We found no application with reference")
    assert display(unknown) in answer


# --- Navigation -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_back_and_main_menu_while_replaying_the_path(client, application):
    make_centre(county="Mombasa")
    session = Dial(client)
    menu = session.start()

    assert session.send("3").startswith("CON Choose a county:")
    assert session.send("0") == menu  # back from the county list
    assert session.send("1").startswith("CON Enter the reference")
    assert "typing error" in session.send("12345")
    assert session.send("0") == menu  # back from a retry goes where the prompt came from
    session.send("3")
    centres = session.send("1")
    assert centres.startswith("CON Centres in Mombasa:")
    assert centres.endswith("0 Back 00 Menu")
    assert session.send("00") == menu
    assert session.send("0") == menu  # back from the main menu stays there
    status = session.send("1")
    assert status.startswith("CON Enter the reference")
    final = session.send(application.reference)
    assert final.startswith("END ") and "Lodged" in final
    assert session.answers[:-1] == ["3", "0", "1", "12345", "0", "3", "1", "00", "0", "1"]


@pytest.mark.django_db
def test_a_dialled_shortcut_arrives_with_the_first_answer(client):
    make_centre(county="Kisumu", name="Huduma Centre Kisumu", opening_hours="Mon-Fri 8-5")
    to_track = Dial(client, shortcut="1").start()
    to_centres = Dial(client, shortcut="3").start()

    assert to_track.startswith("CON Enter the reference")
    assert to_centres.startswith("CON Choose a county:\n1. Kisumu")


INVALID_PATHS = {
    "menu": "7",
    "empty": "3*",
    "county": "3*9",
    "letters": "3*abc",
    "superscript": "3*²",
    "centres": "3*1*5",
    "no-more-pages": "3*1*98",
    "after-back": "1*0*9",
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", INVALID_PATHS.values(), ids=INVALID_PATHS.keys())
def test_an_invalid_choice_ends_the_session_clearly(client, path):
    make_centre(county="Nyeri")
    session = Dial(client)
    session.start()
    for answer in path.split("*"):
        answer_screen = session.send(answer)

    assert answer_screen.startswith("END Sorry, that is not one of the choices.")
    assert "*384*1234#" in answer_screen


@pytest.mark.django_db
def test_an_answer_after_a_final_screen_ends_the_session(client, application):
    session = Dial(client, shortcut="1")
    session.start()
    assert session.send(application.reference).startswith("END ")
    assert session.send("1").startswith("END Sorry, that is not one of the choices.")


# --- Centres and opening hours ------------------------------------------------------------


@pytest.mark.django_db
def test_every_county_with_centres_is_listed_across_pages(client):
    for county in KENYAN_COUNTIES:
        make_centre(county=county)
    make_centre(county="Lamu", is_active=False)
    session = Dial(client, shortcut="3")
    page = session.start()
    listed = []
    while True:
        listed += [line.split(". ", 1)[1] for line in page.splitlines() if ". " in line]
        if "98 More" not in page:
            break
        page = session.send("98")

    assert listed == sorted(KENYAN_COUNTIES)
    assert len(session.screens) > 3
    # Back steps through the pages in order.
    previous_page = session.screens[-2]
    assert session.send("0") == previous_page
    number = listed.index("Nairobi") + 1
    assert session.send(str(number)).startswith("CON Centres in Nairobi:")


@pytest.mark.django_db
def test_a_county_with_many_long_named_centres_is_paginated(client):
    names = [
        "Huduma Centre Nairobi GPO (Teleposta Towers)",
        "Huduma Centre City Square (Haile Selassie Ave)",
        "Huduma Centre Makadara (Jogoo Road, Kenya Power)",
        "Huduma Centre Kibra (DC's Office, Kibera Drive)",
        "Huduma Centre Eastleigh (Eastleigh North Plaza)",
        "Huduma Centre Kayole (Kayole Chief's Camp Grounds)",
        "Huduma Centre Kenyatta National Hospital Annex",
        "Huduma Centre Dagoretti (Kawangware Social Hall)",
        "Huduma Centre Embakasi (Pipeline Stage Offices)",
    ]
    for name in names:
        make_centre(
            county="Nairobi",
            name=name,
            opening_hours=LONG_HOURS,
            opening_hours_sw=LONG_HOURS_SW,
        )
    session = Dial(client, shortcut="3")
    session.start()
    page = session.send("1")
    shown = page
    while "98 More" in page:
        page = session.send("98")
        shown += page

    for name in names:
        assert f"{name}: Mon-Fri 8:00-17:00, Sat 8:00-13:00" in shown
    assert len(session.screens) >= 5  # counties + at least four pages of centres


@pytest.mark.django_db
def test_hours_are_in_swahili_when_the_session_is(client):
    make_centre(county="Nakuru", name="Huduma Centre Nakuru", opening_hours_sw=LONG_HOURS_SW)
    make_centre(county="Nakuru", name="Huduma Centre Naivasha", opening_hours="Mon-Fri 8-5")
    session = Dial(client, shortcut="4")
    session.start()
    session.send("3")
    centres = session.send("1")

    assert "Huduma Centre Nakuru: Jtatu-Ijumaa 8:00-17:00, Jmosi 8:00-13:00" in centres
    # Without Swahili hours, the English ones are better than none.
    assert "Huduma Centre Naivasha: Mon-Fri 8-5" in centres


@pytest.mark.django_db
def test_the_longest_names_and_hours_still_fit_one_screen(client):
    make_centre(county="Tharaka-Nithi", name="N" * 120, opening_hours="H" * 120)
    make_centre(county="Tharaka-Nithi", name="M" * 120, opening_hours="G" * 120)
    session = Dial(client, shortcut="3")
    session.start()
    first = session.send("1")
    second = session.send("98")

    assert "M" * 50 in first and "..." in first
    assert "N" * 50 in second and "..." in second


@pytest.mark.django_db
def test_no_centres_yet_is_said_plainly(client):
    answer = Dial(client, shortcut="3").start()
    assert answer.startswith("END No service centres are listed yet.")


# --- Language ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_language_toggles_and_is_remembered_for_the_phone(client, application):
    session = Dial(client)
    session.start()
    swahili_menu = session.send("4")
    prompt = session.send("1")  # the replay of "4" must not switch back
    status = session.send(application.reference)

    assert swahili_menu.startswith("CON Fuatilia Huduma Yangu\n")
    assert "4. English" in swahili_menu
    assert prompt.startswith("CON ") and "0 " in prompt
    assert status.startswith(f"END {display(application.reference)}: Limepokelewa\n")

    again = Dial(client).start()  # a new session of the same phone
    assert "4. English" in again
    other_phone = Dial(client, phone="0712000002").start()
    assert "4. Kiswahili" in other_phone

    back_to_english = Dial(client, shortcut="4")
    assert "4. Kiswahili" in back_to_english.start()
    assert "4. Kiswahili" in back_to_english.send("0")
    assert "4. Kiswahili" in Dial(client).start()


@pytest.mark.django_db
def test_toggling_twice_in_one_session_returns_to_the_first_language(client):
    session = Dial(client)
    session.start()
    session.send("4")
    assert "4. Kiswahili" in session.send("4")
    assert "4. Kiswahili" in session.send("00")
    assert "4. Kiswahili" in Dial(client).start()


STATUS_CHANGES: dict[Status, list[Callable[..., Application]]] = {
    Status.LODGED: [],
    Status.PROCESSING: [application_start_processing],
    Status.ACTION_REQUIRED: [
        lambda a, actor: application_require_action(
            a, actor=actor, note="Bring two passport photos and a letter from your chief."
        )
    ],
    Status.DISPATCHED: [application_dispatch],
    Status.READY: [application_acknowledge_receipt],
    Status.COLLECTED: [application_acknowledge_receipt, application_hand_over],
    Status.REJECTED: [
        lambda a, actor: application_reject(a, actor=actor, reason="The birth record is missing.")
    ],
    Status.RETURNED: [application_acknowledge_receipt, application_return],
    Status.CANCELLED: [application_cancel],
}


@pytest.mark.django_db
@pytest.mark.parametrize("language_answers", [[], ["4"]], ids=["en", "sw"])
def test_every_screen_fits_with_the_longest_realistic_data(client, settings, language_answers):
    settings.TMS_RATE_CALLBACK_PER_PHONE = "1000/m"
    service = make_service(
        name_en="Certificate of Registration of a Business Name",
        name_sw="Cheti cha Usajili wa Jina la Biashara",
    )
    # A realistically long name, and the longest the database allows.
    centres = [
        make_centre(
            county="Elgeyo-Marakwet",
            name=LONG_CENTRE,
            opening_hours=LONG_HOURS,
            opening_hours_sw=LONG_HOURS_SW,
        ),
        make_centre(
            county="Elgeyo-Marakwet",
            name="Huduma Centre " + "Iten-Tambach " * 8,
            opening_hours="Mon–Fri 8:00–17:00; " * 6,
            opening_hours_sw="Jtatu–Ijumaa 8:00–17:00; " * 4,
        ),
    ]
    for county in KENYAN_COUNTIES:
        make_centre(county=county, name=f"Huduma Centre {county} Town Hall Annex")
    actor = Actor.system("test")
    references = []
    lodged_long_ago = timezone.now() - timedelta(days=60)
    for centre in centres:
        for status, steps in STATUS_CHANGES.items():
            application = lodge(service=service, centre=centre, lodged_at=lodged_long_ago)
            for step in steps:
                application = step(application, actor=actor)
            assert application.status == status
            references.append(application.reference)

    longest = 0
    for reference in [*references, typo_of(references[0]), with_check_digit("100000000000")]:
        session = Dial(client)
        session.start()
        for answer in [*language_answers, "1", reference]:
            session.send(answer)
        longest = max(longest, *map(len, session.screens))
    browse = Dial(client)
    browse.start()
    for answer in [*language_answers, "3"]:
        browse.send(answer)
    while "98 More" in browse.screens[-1]:
        browse.send("98")
    browse.send("00")
    elgeyo_marakwet = str(sorted(KENYAN_COUNTIES).index("Elgeyo-Marakwet") + 1)
    for answer in ["3", elgeyo_marakwet]:  # the language stays what it was
        browse.send(answer)
    assert "Elgeyo-Marakwet" in browse.screens[-1]
    while "98 More" in browse.screens[-1]:
        browse.send("98")
    lost = Dial(client)
    lost.start()
    for answer in [*language_answers, "2"]:
        lost.send(answer)
    longest = max(longest, *map(len, browse.screens), *map(len, lost.screens))
    assert longest < SCREEN_LIMIT


# --- References by SMS --------------------------------------------------------------------------


@pytest.mark.django_db
def test_lost_references_answer_the_same_either_way(client):
    application = lodge(phone="0712000999")
    Message.objects.all().delete()

    known = Dial(client, phone="+254712000999", shortcut="2").start()
    unknown = Dial(client, phone="+254712000111", shortcut="2").start()

    assert known == unknown
    assert known.startswith("END If this phone number has open applications")
    reply = Message.objects.get()
    assert reply.event == Event.REPLY and reply.to == "+254712000999"
    assert display(application.reference) in reply.body


@pytest.mark.django_db
def test_lost_references_share_the_web_limit_per_phone(client, settings):
    settings.TMS_RATE_LOST_PER_PHONE = "1/h"
    lodge(phone="0712000999")
    Message.objects.all().delete()

    first = Dial(client, phone="0712000999", shortcut="2").start()
    second = Dial(client, phone="0712000999", shortcut="2").start()

    assert first.startswith("END If this phone")
    # The limiter's window is offset per key, so the wait left may be minutes or seconds.
    assert re.fullmatch(
        r"END Sorry, too many requests from this phone\. Please wait \d+ "
        r"(minutes?|seconds?) and dial again\.",
        second,
    ), second
    assert Message.objects.count() == 1


# --- Protection and robustness ------------------------------------------------------------


@pytest.mark.django_db
def test_too_many_requests_get_a_polite_end_screen_not_a_429(client, settings):
    settings.TMS_RATE_CALLBACK_PER_PHONE = "3/m"
    session = Dial(client)
    session.start()
    session.send("1")
    session.send("0")
    limited = session.send("1")

    assert limited.startswith("END Sorry, too many requests from this phone. Please wait")
    assert "and dial again." in limited
    assert "CON " in Dial(client, phone="0712000003").start()


@pytest.mark.django_db
def test_the_callback_token_is_required_when_configured(client, settings):
    settings.TMS_AT_CALLBACK_TOKEN = "s3cret-token"
    lodge(phone="0712000999")
    Message.objects.all().delete()
    session = Dial(client, phone="0712000999")

    missing = session.post("2")
    wrong = session.post("2", query="?token=wrong")
    assert missing.status_code == wrong.status_code == 403
    assert Message.objects.count() == 0
    right = session.post("2", query="?token=s3cret-token")
    assert right.status_code == 200 and right.content.startswith(b"END ")
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_malformed_requests_get_a_clear_end_and_never_a_server_error(client):
    no_phone = client.post(URL, {"sessionId": "x", "text": ""})
    bad_phone = client.post(URL, {"sessionId": "x", "phoneNumber": "Safaricom", "text": ""})
    nothing = client.post(URL, {})
    endless = client.post(URL, {"sessionId": "x", "phoneNumber": PHONE, "text": "1*" * 600})
    no_text = client.post(URL, {"sessionId": "x", "phoneNumber": PHONE})

    for response in (no_phone, bad_phone, nothing):
        assert response.status_code == 200
        assert response.content.decode() == "END Sorry, we could not read your phone number."
    assert endless.status_code == 200 and endless.content.startswith(b"END Sorry")
    assert no_text.content.startswith(b"CON Track My Service")
    assert client.get(URL).status_code == 405


@pytest.mark.django_db
def test_screens_need_only_a_few_indexed_queries(
    client, application, django_assert_max_num_queries, monkeypatch
):
    # Keep the lookup tallies' periodic flush (a write every few seconds) out of the count.
    monkeypatch.setattr(tracking_services, "_FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(tracking_services, "_last_flush", time.monotonic())
    session = Dial(client)
    with django_assert_max_num_queries(0):
        session.start()
        session.send("1")
    with django_assert_max_num_queries(3):
        session.send(application.reference)
    browse = Dial(client, shortcut="3")
    with django_assert_max_num_queries(1):
        browse.start()
    with django_assert_max_num_queries(1):
        browse.send("1")


@pytest.mark.django_db
def test_an_unexpected_error_ends_politely_without_personal_data_in_the_log(
    client, monkeypatch, caplog
):
    def broken(request, *, session_id, phone, text):
        raise RuntimeError(f"no session for {phone} after {text}")

    monkeypatch.setattr("tms.tracking.callbacks.ussd_respond", broken)
    answer = Dial(client).send("1")

    assert answer == "END Sorry, something went wrong. Please try again later."
    assert "RuntimeError" in caplog.text and "712345678" not in caplog.text
