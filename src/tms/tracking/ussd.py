"""The USSD menu (SPEC §6, AFRICASTALKING.md): track, references by SMS, centres, language.

The gateway calls once per answer and sends every answer of the session so far joined
by ``*``; we keep no session store, so each request replays that path from the main
menu (``0`` = back one screen, ``00`` = main menu) and answers the screen it ends on.
Side effects (a lookup, an SMS) happen only for the last answer, so replaying an
earlier one never repeats them.

The status wording here is shared with the incoming SMS channel (``inbound_sms``).
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import npgettext, pgettext

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, Channel
from tms.applications.references import ReferenceTypingError
from tms.applications.selectors import ApplicationNotFound, application_get
from tms.directory.models import Centre
from tms.notifications.rendering import format_date
from tms.notifications.segments import plain
from tms.tracking.limits import retry_after
from tms.tracking.selectors import NOT_YET_READY, estimate_for
from tms.tracking.services import lookup_count, lost_reference_request

# AT: "keep each screen under 182 characters". Counted with the CON/END prefix, so a
# gateway or handset that counts it too still shows the whole screen.
SCREEN_LIMIT = 181
BACK = "0"
HOME = "00"
MORE = "98"
# A session lasts at most about 180 s; a longer path is not a real one.
MAX_PATH_CHARACTERS = 1000
LANGUAGE_TTL = int(timedelta(days=30).total_seconds())
ELLIPSIS = "..."
_NUMBER = re.compile(r"[0-9]{1,3}")  # not str.isdigit(), which takes "²" too


def shorten(text: str, length: int) -> str:
    """``text`` cut to at most ``length`` characters, marked with an ellipsis."""
    if len(text) <= length:
        return text
    cut = text[: max(length - len(ELLIPSIS), 1)]
    # End on a whole word where that keeps most of the room.
    space = cut.rfind(" ")
    if space > len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:-(") + ELLIPSIS


# --- Language remembered per phone ----------------------------------------------------------
# Stored under a hash of the number: the cache (Redis in larger deployments) holds no
# phone numbers. The value also records the session that last changed it and the
# language before that session, so replaying that session's toggles gives the same
# result on every request.


def _language_key(phone: str) -> str:
    return "tms.language." + hashlib.sha256(phone.encode()).hexdigest()[:32]


def remembered_language(phone: str) -> str | None:
    value = cache.get(_language_key(phone))
    if isinstance(value, dict) and value.get("language") in {"en", "sw"}:
        return str(value["language"])
    return None


def _session_start_language(phone: str, session_id: str) -> str:
    value = cache.get(_language_key(phone))
    if not isinstance(value, dict):
        return "en"
    if session_id and value.get("session") == session_id:
        return str(value.get("before") or "en")
    return str(value.get("language") or "en")


def _remember_language(phone: str, session_id: str, *, before: str, language: str) -> None:
    value = {"language": language, "session": session_id, "before": before}
    key = _language_key(phone)
    if cache.get(key) != value:
        cache.set(key, value, timeout=LANGUAGE_TTL)


def language_name(language: str) -> str:
    # Each language is offered in its own name, as a speaker looks for it.
    return "English" if language == "sw" else "Kiswahili"


# --- Status in a few words (USSD and SMS) -------------------------------------------------


def short_meaning(status: str) -> str:
    meanings = {
        Status.LODGED: pgettext("short status", "Received; it goes to the agency next."),
        Status.PROCESSING: pgettext("short status", "The agency is working on it."),
        Status.ACTION_REQUIRED: pgettext("short status", "Ask the centre what the agency needs."),
        Status.DISPATCHED: pgettext("short status", "Your document is made."),
        Status.READY: pgettext("short status", "Collect it at the centre."),
        Status.COLLECTED: pgettext("short status", "If it was not you, call the centre at once."),
        Status.REJECTED: pgettext("short status", "Not approved. Ask the centre why."),
        Status.RETURNED: pgettext("short status", "Ask the centre what to do now."),
        Status.CANCELLED: pgettext("short status", "If this is a mistake, contact the centre."),
    }
    return meanings[Status(status)]


def when_line(application: Application, language: str) -> str:
    """The estimated or actual ready date, where one means something."""
    if application.status == Status.ACTION_REQUIRED:
        return ""  # the date waits on the citizen, whom the screen asks to act
    if application.status in NOT_YET_READY:
        estimate = estimate_for(application)
        if estimate is None:
            return ""
        day = format_date(estimate.ready_by, language)
        if estimate.overdue:
            return pgettext("short status", "Delayed; it was expected by %(date)s.") % {"date": day}
        return pgettext("short status", "Expected by %(date)s.") % {"date": day}
    if application.status == Status.READY and application.ready_at:
        day = format_date(timezone.localdate(application.ready_at), language)
        return pgettext("short status", "Ready since %(date)s.") % {"date": day}
    return ""


def centre_hours(centre: Centre, language: str) -> str:
    hours = centre.opening_hours_sw if language == "sw" and centre.opening_hours_sw else ""
    return plain(hours or centre.opening_hours)


def wait_message(seconds: int) -> str:
    if seconds >= 120:  # the hourly limit on references by SMS: minutes read better
        minutes = math.ceil(seconds / 60)
        return npgettext(
            "ussd",
            "Sorry, too many requests from this phone. Please wait %(minutes)d minute and "
            "dial again.",
            "Sorry, too many requests from this phone. Please wait %(minutes)d minutes and "
            "dial again.",
            minutes,
        ) % {"minutes": minutes}
    return npgettext(
        "ussd",
        "Sorry, too many requests from this phone. Please wait %(seconds)d second and dial again.",
        "Sorry, too many requests from this phone. Please wait %(seconds)d seconds and dial again.",
        seconds,
    ) % {"seconds": seconds}


def cannot_serve_message() -> str:
    return pgettext("ussd", "Sorry, we could not read your phone number.")


def failure_message() -> str:
    return pgettext("ussd", "Sorry, something went wrong. Please try again later.")


# --- Screens ---------------------------------------------------------------------------------


class Kind(enum.Enum):
    MENU = "menu"
    REFERENCE = "reference"
    COUNTIES = "counties"
    CENTRES = "centres"


@dataclass(frozen=True)
class Screen:
    kind: Kind
    page: int = 0
    county: str = ""
    typing_error: bool = False


@dataclass
class Directory:
    """The centres the menu lists: read once a request, and only if the path needs them."""

    _centres: list[tuple[str, str, str, str]] | None = None

    def centres(self) -> list[tuple[str, str, str, str]]:
        if self._centres is None:
            self._centres = list(
                Centre.objects.filter(is_active=True)
                .order_by("county", "name")
                .values_list("county", "name", "opening_hours", "opening_hours_sw")
            )
        return self._centres

    def counties(self) -> list[str]:
        return sorted({county for county, *_ in self.centres()})

    def centres_in(self, county: str) -> list[tuple[str, str, str]]:
        return [(name, en, sw) for c, name, en, sw in self.centres() if c == county]


@dataclass
class Session:
    request: HttpRequest
    phone: str
    language: str
    language_changed: bool = False
    directory: Directory = field(default_factory=Directory)
    stack: list[Screen] = field(default_factory=lambda: [Screen(Kind.MENU)])


# What a final answer does; run only when it is the session's last answer.
Finish = Callable[[Session], str]


def _con(lines: list[str]) -> str:
    return "CON " + "\n".join(line for line in lines if line)


def end_screen(text: str) -> str:
    return "END " + text


def _footer(*, more: bool, deep: bool) -> str:
    # Outside f-strings, where makemessages finds them; the digits are not translatable.
    more_label = pgettext("ussd", "More")
    back_label = pgettext("ussd", "Back")
    menu_label = pgettext("ussd", "Menu")
    lines = [f"{MORE} {more_label}"] if more else []
    back = f"{BACK} {back_label}"
    lines.append(f"{back} {HOME} {menu_label}" if deep else back)
    return "\n".join(lines)


def _pages(items: list[str], *, header: str, footer: str) -> list[list[str]]:
    """Items packed greedily into screens that fit with their header and footer."""
    budget = SCREEN_LIMIT - len("CON ") - len(header) - len(footer) - 2
    pages: list[list[str]] = []
    current: list[str] = []
    used = 0
    for item in items:
        item = shorten(item, budget - 1)
        cost = len(item) + 1
        if current and used + cost > budget:
            pages.append(current)
            current, used = [], 0
        current.append(item)
        used += cost
    if current:
        pages.append(current)
    return pages


def _county_pages(session: Session) -> tuple[str, list[list[str]]]:
    header = pgettext("ussd", "Choose a county:")
    counties = session.directory.counties()
    items = [f"{number}. {county}" for number, county in enumerate(counties, start=1)]
    return header, _pages(items, header=header, footer=_footer(more=True, deep=False))


def _centre_pages(session: Session, county: str) -> tuple[str, list[list[str]]]:
    header = pgettext("ussd", "Centres in %(county)s:") % {"county": county}
    items = []
    for name, hours_en, hours_sw in session.directory.centres_in(county):
        hours = hours_sw if session.language == "sw" and hours_sw else hours_en
        # Either may be long (120 characters each): keep both parts readable.
        items.append(f"{shorten(plain(name), 60)}: {shorten(plain(hours), 70)}")
    return header, _pages(items, header=header, footer=_footer(more=True, deep=True))


def _render(session: Session, screen: Screen) -> str:
    if screen.kind == Kind.MENU:
        return _con(
            [
                _("Track My Service"),
                "1. " + pgettext("ussd", "Track an application"),
                "2. " + pgettext("ussd", "My references by SMS"),
                "3. " + pgettext("ussd", "Centres and opening hours"),
                "4. " + language_name(session.language),
            ]
        )
    if screen.kind == Kind.REFERENCE:
        prompt = (
            ReferenceTypingError("").message
            if screen.typing_error
            else pgettext("ussd", "Enter the reference number on your slip (13 digits):")
        )
        return _con([prompt, _footer(more=False, deep=False)])
    deep = screen.kind == Kind.CENTRES
    if deep:
        header, pages = _centre_pages(session, screen.county)
    else:
        header, pages = _county_pages(session)
    if screen.page >= len(pages):  # the centres changed during the session
        return _no_centres(session)
    more = screen.page + 1 < len(pages)
    return _con([header, *pages[screen.page], _footer(more=more, deep=deep)])


# --- Final answers -------------------------------------------------------------------------


def _invalid(session: Session) -> str:
    return end_screen(
        pgettext("ussd", "Sorry, that is not one of the choices. Please dial %(code)s again.")
        % {"code": settings.TMS_USSD_CODE}
    )


def _no_centres(session: Session) -> str:
    return end_screen(
        pgettext("ussd", "No service centres are listed yet. Please try again later.")
    )


def _status(session: Session, *, digits: str) -> str:
    try:
        application = application_get(reference=digits)
    except ApplicationNotFound:
        return end_screen(
            pgettext(
                "ussd",
                "We found no application with reference %(reference)s. Check it against "
                "your slip; if it is right, the centre may not have recorded it yet.",
            )
            % {"reference": references.display(digits)}
        )
    lookup_count(Channel.USSD)
    return end_screen(status_screen(application, session.language))


# Marks where the centre's name goes until we know how much room it has.
_CENTRE = "\x00"
# Shorter than this, a centre's name stops being recognisable: drop optional lines first.
CENTRE_NAME_FLOOR = 30


def status_screen(application: Application, language: str) -> str:
    """Reference and status, what it means, the centre and the date, in one screen."""
    status = application.status
    centre = plain(application.centre.name)
    open_line = pgettext("ussd", "Open %(hours)s") % {
        "hours": centre_hours(application.centre, language)
    }
    lines = [f"{references.display(application.reference)}: {Status(status).label}"]
    optional = ""
    if status == Status.READY:
        # The citizen must go there: where and when replace the general meaning.
        lines += [pgettext("ussd", "Collect at %(centre)s") % {"centre": _CENTRE}, open_line]
    else:
        lines += [
            short_meaning(status),
            pgettext("ussd", "Centre: %(centre)s") % {"centre": _CENTRE},
        ]
        if status == Status.ACTION_REQUIRED:
            optional = open_line
    lines.append(when_line(application, language))
    lines = [line for line in lines if line]
    if optional and _centre_room([*lines, optional]) >= min(len(centre), CENTRE_NAME_FLOOR):
        lines.append(optional)
    name = shorten(centre, max(_centre_room(lines), CENTRE_NAME_FLOOR))
    return _fit([line.replace(_CENTRE, name) for line in lines], SCREEN_LIMIT - len("END "))


def _centre_room(lines: list[str]) -> int:
    return SCREEN_LIMIT - len("END ") - len("\n".join(lines)) + len(_CENTRE)


def _fit(lines: list[str], limit: int) -> str:
    """Join ``lines``, shortening the longest until the text fits ``limit`` (only very
    long reference data, such as 120-character opening hours, needs this)."""
    text = "\n".join(lines)
    while len(text) > limit:
        longest = max(range(len(lines)), key=lambda index: len(lines[index]))
        shortened = shorten(lines[longest], len(lines[longest]) - (len(text) - limit))
        if shortened == lines[longest]:  # nothing left to take (never with five lines)
            break
        lines[longest] = shortened
        text = "\n".join(lines)
    return text


def _lost_references(session: Session) -> str:
    digits = session.phone[-9:]
    # The same counter as the web form: a USSD menu must not be a way to send a phone
    # more SMS than the web would.
    wait = retry_after(
        session.request, scope="lost.phone", value=digits, rate=settings.TMS_RATE_LOST_PER_PHONE
    )
    if wait is not None:
        return end_screen(wait_message(wait))
    lost_reference_request(phone=session.phone, language=session.language)
    return end_screen(
        pgettext(
            "ussd",
            "If this phone number has open applications, we will send their references "
            "to it by SMS shortly.",
        )
    )


# --- Replaying the path --------------------------------------------------------------------


def _step(session: Session, answer: str) -> Finish | None:
    """Apply one answer to the session; a Finish when the answer ends the session."""
    stack = session.stack
    if answer == HOME:
        session.stack = [Screen(Kind.MENU)]
        return None
    if answer == BACK:
        if len(stack) > 1:
            stack.pop()
        return None
    screen = stack[-1]
    if screen.kind == Kind.MENU:
        if answer == "1":
            stack.append(Screen(Kind.REFERENCE))
        elif answer == "2":
            return _lost_references
        elif answer == "3":
            if not session.directory.counties():
                return _no_centres
            stack.append(Screen(Kind.COUNTIES))
        elif answer == "4":
            session.language = "en" if session.language == "sw" else "sw"
            session.language_changed = True
        else:
            return _invalid
        return None
    if screen.kind == Kind.REFERENCE:
        try:
            digits = references.parse(answer)
        except ReferenceTypingError:
            stack[-1] = replace(screen, typing_error=True)
            return None
        return partial(_status, digits=digits)
    if screen.kind == Kind.COUNTIES:
        _, pages = _county_pages(session)
        counties = session.directory.counties()
        if answer == MORE and screen.page + 1 < len(pages):
            stack.append(replace(screen, page=screen.page + 1))
        elif _NUMBER.fullmatch(answer) and 1 <= int(answer) <= len(counties):
            stack.append(Screen(Kind.CENTRES, county=counties[int(answer) - 1]))
        else:
            return _invalid
        return None
    _, pages = _centre_pages(session, screen.county)
    if answer == MORE and screen.page + 1 < len(pages):
        stack.append(replace(screen, page=screen.page + 1))
        return None
    return _invalid


def ussd_respond(request: HttpRequest, *, session_id: str, phone: str, text: str) -> str:
    """The answer (``CON ...`` or ``END ...``) to one USSD request. ``phone`` is E.164."""
    start_language = _session_start_language(phone, session_id)
    session = Session(request=request, phone=phone, language=start_language)
    if len(text) > MAX_PATH_CHARACTERS:
        with translation.override(start_language):
            return _invalid(session)
    answers = [answer.strip() for answer in text.split("*")] if text else []
    finish: Finish | None = None
    for position, answer in enumerate(answers):
        with translation.override(session.language):
            finish = _step(session, answer)
        if finish is not None and position < len(answers) - 1:
            # An answer after a final screen: the gateway should never send one.
            finish = _invalid
            break
    if session.language_changed:
        _remember_language(phone, session_id, before=start_language, language=session.language)
    with translation.override(session.language):
        body = finish(session) if finish is not None else _render(session, session.stack[-1])
    return plain(body)
