"""The built-in wording of every SMS, in English and Swahili (SPEC §5).

These are data rather than gettext messages because administrators edit each
language's wording on its own (MessageTemplate) and the message language is the
citizen's, not the request's. Administrators may override any of them. Placeholders are
``{name}``; ``PLACEHOLDERS`` lists which each event may use. Every text must fit
two segments with the longest realistic values (tests/test_texts.py proves it).
"""

from __future__ import annotations

from tms.notifications.models import Event

DEFAULTS: dict[tuple[str, str], str] = {
    (Event.LODGED, "en"): (
        "Your {service} application is lodged at {centre}. Ref: {reference}. "
        "Track it at {track_url} or dial {ussd_code}. We will SMS you when it is ready."
    ),
    (Event.LODGED, "sw"): (
        "Ombi lako la {service} limepokelewa {centre}. Nambari: {reference}. "
        "Fuatilia {track_url} au piga {ussd_code}. Tutakutumia SMS likiwa tayari."
    ),
    (Event.ACTION_REQUIRED, "en"): (
        "Your {service} application {reference} needs action: {note} "
        "Please visit {centre}, {hours}."
    ),
    (Event.ACTION_REQUIRED, "sw"): (
        "Ombi lako la {service} {reference} linahitaji hatua yako: {note} "
        "Tafadhali fika {centre}, {hours}."
    ),
    (Event.READY, "en"): (
        "Your {service} is READY for collection at {centre}. Ref: {reference}. "
        "Bring: {bring}. Open {hours}."
    ),
    (Event.READY, "sw"): (
        "{service} yako iko TAYARI kuchukuliwa {centre}. Nambari: {reference}. "
        "Leta: {bring}. Saa za kazi: {hours}."
    ),
    (Event.REMINDER, "en"): (
        "Reminder: your {service} has been waiting at {centre} since {ready_date}. "
        "Ref: {reference}. Bring: {bring}. Reply STOP to stop reminders."
    ),
    (Event.REMINDER, "sw"): (
        "Kumbusho: {service} yako inakusubiri {centre} tangu {ready_date}. "
        "Nambari: {reference}. Leta: {bring}. Jibu SIMAMA kusitisha vikumbusho."
    ),
    (Event.FINAL_NOTICE, "en"): (
        "Final notice: your {service} at {centre} will be returned on {return_date} "
        "unless you collect it. Ref: {reference}. Open {hours}."
    ),
    (Event.FINAL_NOTICE, "sw"): (
        "Ilani ya mwisho: {service} yako iliyoko {centre} itarudishwa tarehe {return_date} "
        "usipoichukua. Nambari: {reference}. Saa za kazi: {hours}."
    ),
    (Event.DELAYED, "en"): (
        "Sorry: your {service} application {reference} is taking longer than we promised. "
        "New estimate: {estimate}. We will SMS you when it is ready."
    ),
    (Event.DELAYED, "sw"): (
        "Samahani: ombi lako la {service} {reference} limechelewa kuliko tulivyoahidi. "
        "Makadirio mapya: {estimate}. Tutakutumia SMS likiwa tayari."
    ),
    (Event.COLLECTED, "en"): (
        "Your {service} (ref {reference}) was collected at {centre} on {date}. "
        "If this was not you, call {centre_phone} at once."
    ),
    (Event.COLLECTED, "sw"): (
        "{service} yako (nambari {reference}) imechukuliwa {centre} tarehe {date}. "
        "Kama si wewe, piga {centre_phone} mara moja."
    ),
    (Event.REPLY, "en"): "{text}",
    (Event.REPLY, "sw"): "{text}",
    (Event.HANDOVER_CODE, "en"): (
        "Your collection code for {reference} is {code}. "
        "Give it only to the officer handing over your document."
    ),
    (Event.HANDOVER_CODE, "sw"): (
        "Nambari yako ya kuchukua {reference} ni {code}. Mpe tu afisa anayekukabidhi hati yako."
    ),
}

_COMMON = {"service", "centre", "reference", "hours", "centre_phone", "track_url", "ussd_code"}
PLACEHOLDERS: dict[str, set[str]] = {
    Event.LODGED: _COMMON,
    Event.ACTION_REQUIRED: _COMMON | {"note"},
    Event.READY: _COMMON | {"bring"},
    Event.REMINDER: _COMMON | {"bring", "ready_date"},
    Event.FINAL_NOTICE: _COMMON | {"return_date"},
    Event.DELAYED: _COMMON | {"estimate"},
    Event.COLLECTED: _COMMON | {"date"},
    Event.REPLY: {"text"},
    Event.HANDOVER_CODE: _COMMON | {"code"},
}
