"""Incoming SMS (SPEC §5, §6): a reference gets its status back, STOP and START switch
reminders, anything else gets a short help text. Every answer is a reply SMS queued in
the outbox, in the sender's language."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import pgettext

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.applications.references import ReferenceTypingError
from tms.applications.selectors import ApplicationNotFound, application_get
from tms.notifications import segments
from tms.notifications.rendering import MAX_SEGMENTS
from tms.notifications.segments import plain
from tms.notifications.services import opt_in, opt_out, reply_queue
from tms.tracking.services import lookup_count
from tms.tracking.ussd import (
    centre_hours,
    remembered_language,
    short_meaning,
    shorten,
    when_line,
)

TRACK_WORDS = {"TRACK": None, "HALI": "sw"}
STOP_WORDS = {"STOP": None, "SIMAMA": "sw"}
START_WORDS = {"START": None, "ANZA": "sw"}
# The keywords a reply tells the citizen to send, in the citizen's language.
KEYWORDS = {
    "en": {"track": "TRACK", "stop": "STOP", "start": "START"},
    "sw": {"track": "HALI", "stop": "SIMAMA", "start": "ANZA"},
}
# Only digits and the separators people copy from a slip: an attempt at a reference.
_REFERENCE_LIKE = re.compile(r"[\d\s\-‐-―.]*\d[\d\s\-‐-―.]*")
# "TRACK 4821 7730 9155 2", "hali:4821773091552", "Track4821-7730-9155-2".
_TRACK = re.compile(r"(?P<word>track|hali)(?![a-z])[\s:.,#-]*(?P<reference>\d.*)", re.I | re.S)
_EDGE_PUNCTUATION = ".,!?:;\"'"


@dataclass(frozen=True)
class Reply:
    text: str
    language: str


def sender_language(phone: str) -> str:
    """The language chosen on USSD, else that of the sender's latest application."""
    remembered = remembered_language(phone)
    if remembered:
        return remembered
    latest = (
        Application.objects.filter(applicant_phone=phone)
        .order_by("-lodged_at")
        .values_list("language", flat=True)
        .first()
    )
    return latest if latest in {"en", "sw"} else "en"


def _answer(phone: str, text: str) -> Reply:
    text = text.strip()
    words = text.split(None, 1)
    keyword = words[0].strip(_EDGE_PUNCTUATION).upper() if words else ""
    if keyword in STOP_WORDS:
        language = STOP_WORDS[keyword] or sender_language(phone)
        opt_out(phone=phone)
        return Reply(_stopped(language), language)
    if keyword in START_WORDS:
        language = START_WORDS[keyword] or sender_language(phone)
        opt_in(phone=phone)
        return Reply(_started(language), language)
    tracked = _TRACK.fullmatch(text)
    if tracked:
        language = TRACK_WORDS[tracked["word"].upper()] or sender_language(phone)
        return Reply(_status(tracked["reference"], language), language)
    if _REFERENCE_LIKE.fullmatch(text):
        language = sender_language(phone)
        return Reply(_status(text, language), language)
    # HALI alone still says the citizen reads Swahili.
    language = TRACK_WORDS.get(keyword) or sender_language(phone)
    return Reply(_help(language), language)


@transaction.atomic
def inbound_sms_handle(*, phone: str, text: str) -> Reply:
    """Act on one SMS from ``phone`` (E.164) and queue the reply; returns it."""
    reply = _answer(phone, text)
    reply_queue(to=phone, text=reply.text, language=reply.language)
    return reply


# --- Replies ---------------------------------------------------------------------------------


def _stopped(language: str) -> str:
    with translation.override(language):
        return pgettext(
            "sms reply",
            "You will get no more reminders. We will still tell you when a document is "
            "ready. Send %(start)s to get reminders again.",
        ) % {"start": KEYWORDS[language]["start"]}


def _started(language: str) -> str:
    with translation.override(language):
        return pgettext("sms reply", "Reminders are on again. Send %(stop)s to stop them.") % {
            "stop": KEYWORDS[language]["stop"]
        }


def _help(language: str) -> str:
    with translation.override(language):
        return pgettext(
            "sms reply",
            "Track My Service: send your reference number, e.g. %(example)s, to get its "
            "status. Send %(stop)s to stop reminders. Or dial %(ussd)s.",
        ) % {
            "example": "4821 7730 9155 2",
            "stop": KEYWORDS[language]["stop"],
            "ussd": settings.TMS_USSD_CODE,
        }


def _status(typed: str, language: str) -> str:
    with translation.override(language):
        try:
            application = application_get(reference=typed)
        except ReferenceTypingError as error:
            return error.message
        except ApplicationNotFound as missing:
            return pgettext(
                "sms reply",
                "We found no application with reference %(reference)s. Check it against "
                "your slip; if it is right, the centre may not have recorded it yet.",
            ) % {"reference": references.display(str(missing))}
        lookup_count(Channel.SMS)
        return status_text(application, language)


def status_text(application: Application, language: str) -> str:
    """The status as an SMS of at most two segments, in the active language."""
    values = {
        "service": plain(application.service.name(language)),
        "centre": plain(application.centre.name),
        "note": _citizen_note(application),
    }
    head = f"{references.display(application.reference)} (%s): {Status(application.status).label}."
    # The note addressed to the citizen says more than the general meaning.
    meaning = "" if values["note"] else short_meaning(application.status)
    centre_line = pgettext("sms reply", "Centre: %(centre)s, %(hours)s.")
    hours = centre_hours(application.centre, language)
    when = when_line(application, language)

    def compose() -> str:
        parts = [
            head % values["service"],
            meaning,
            centre_line % {"centre": values["centre"], "hours": hours},
            when,
            values["note"],
        ]
        return " ".join(part for part in parts if part)

    # Free text gives way: the service's name first (the reference says which), then the
    # centre's, then the note; the outbox still cuts the end of anything longer.
    text = compose()
    for name, floor in (("service", 24), ("centre", 24), ("note", 40)):
        while _over(text) and len(values[name]) > floor:
            values[name] = shorten(values[name], max(len(values[name]) - 10, floor))
            text = compose()
    return text


def _over(text: str) -> bool:
    return segments.count(text).segments > MAX_SEGMENTS


def _citizen_note(application: Application) -> str:
    """What the citizen must do, or why it was rejected: the note addressed to them."""
    if application.status not in {Status.ACTION_REQUIRED, Status.REJECTED}:
        return ""
    note = (
        ApplicationEvent.objects.filter(application=application, to_status=application.status)
        .order_by("-version")
        .values_list("note", flat=True)
        .first()
    )
    if not note:
        return ""
    label = (
        pgettext("sms reply", "To do: %(note)s")
        if application.status == Status.ACTION_REQUIRED
        else pgettext("sms reply", "Reason: %(note)s")
    )
    return label % {"note": plain(" ".join(note.split()))}
