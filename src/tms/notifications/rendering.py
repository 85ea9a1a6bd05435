"""Turn an event and an application into the words a citizen receives."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.utils import formats, translation

from tms.applications import references
from tms.applications.models import Application
from tms.directory.models import Centre, Service
from tms.notifications import segments
from tms.notifications.models import Event, MessageTemplate
from tms.notifications.texts import DEFAULTS, PLACEHOLDERS

MAX_SEGMENTS = 2
# Free text that may be shortened, longest-lived first, so a message never runs
# into a third segment (a third part costs money and may arrive out of order).
SHORTENABLE = ("note", "bring", "text", "service", "centre")
ELLIPSIS = "..."


@dataclass(frozen=True)
class Rendered:
    body: str
    segments: int
    encoding: str


class UnknownPlaceholder(ValueError):
    pass


def placeholders_in(body: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(body) if name}


def check_template(event: str, body: str) -> None:
    """Raise UnknownPlaceholder naming any placeholder the event does not provide."""
    try:
        unknown = placeholders_in(body) - PLACEHOLDERS[event]
    except ValueError as exc:  # unbalanced braces
        raise UnknownPlaceholder(str(exc)) from exc
    if unknown:
        raise UnknownPlaceholder(", ".join("{" + name + "}" for name in sorted(unknown)))


TEMPLATES_CACHE_KEY = "sms-template-overrides"


def template_overrides() -> dict[tuple[str, str], str]:
    """Administrators' wordings, shared through the cache so a campaign of 500,000
    messages does not read the table 500,000 times; saving a template clears it."""
    overrides = cache.get(TEMPLATES_CACHE_KEY)
    if overrides is None:
        overrides = {
            (event, language): body
            for event, language, body in MessageTemplate.objects.values_list(
                "event", "language", "body"
            )
        }
        cache.set(TEMPLATES_CACHE_KEY, overrides, timeout=60)
    return overrides


def template_for(event: str, language: str) -> str:
    return template_overrides().get((event, language)) or DEFAULTS[(event, language)]


@lru_cache(maxsize=4096)
def format_date(day: date, language: str) -> str:
    with translation.override(language):
        return formats.date_format(day, "j M Y")


def shared_values(service: Service, centre: Centre, language: str) -> dict[str, str]:
    """What every message about this service at this centre says, whoever it is for
    (a campaign computes it once per service, centre and language)."""
    hours = (
        centre.opening_hours_sw
        if language == "sw" and centre.opening_hours_sw
        else centre.opening_hours
    )
    return {
        "service": service.name(language),
        "centre": centre.name,
        "hours": hours,
        "centre_phone": centre.phone,
        "bring": service.what_to_bring(language),
        "track_url": settings.TMS_TRACK_URL,
        "ussd_code": settings.TMS_USSD_CODE,
    }


def application_values(application: Application, language: str) -> dict[str, str]:
    return {
        **shared_values(application.service, application.centre, language),
        "reference": references.display(application.reference),
    }


def render_text(body: str, values: Mapping[str, str]) -> Rendered:
    """Fill ``body`` and shorten free-text values until it fits MAX_SEGMENTS."""
    values = {name: segments.plain(value) for name, value in values.items()}
    body = segments.plain(body)
    text = body.format_map(values)
    count = segments.count(text)
    for name in SHORTENABLE:
        if count.segments <= MAX_SEGMENTS:
            break
        if name not in values or "{" + name + "}" not in body:
            continue
        value = values[name]
        # Cut the value by what is over, then step down until it fits.
        while count.segments > MAX_SEGMENTS and len(value) > 8:
            value = value[
                : max(8, len(value) - max(count.units - MAX_SEGMENTS * count.per_segment, 4))
            ]
            values[name] = value.rstrip() + ELLIPSIS
            text = body.format_map(values)
            count = segments.count(text)
    return Rendered(body=text, segments=count.segments, encoding=count.encoding)


def render(
    event: str, application: Application, *, language: str | None = None, **extra: str
) -> Rendered:
    language = language or application.language
    values = {**application_values(application, language), **extra}
    return render_text(template_for(event, language), values)


def render_reply(text: str, *, language: str) -> Rendered:
    return render_text(template_for(Event.REPLY, language), {"text": text})


def example_values(event: str, language: str) -> dict[str, str]:
    """The longest realistic values, for the editor's preview and the fit test."""
    values = {
        "service": "Kibali cha Kuishi na Kufanya Kazi (Daraja G)"
        if language == "sw"
        else "Certificate of Registration of a Business Name",
        "centre": "Huduma Centre Nairobi GPO (Teleposta Towers)",
        "reference": "4821 7730 9155 2",
        "hours": "Jtatu-Ijumaa 8:00-17:00, Jmosi 8:00-13:00"
        if language == "sw"
        else "Mon-Fri 8:00-17:00, Sat 8:00-13:00",
        "centre_phone": "+254 20 222 2222",
        "bring": "Stakabadhi ya maombi na kitambulisho chako halisi"
        if language == "sw"
        else "Your lodging slip and your original ID card",
        "track_url": settings.TMS_TRACK_URL,
        "ussd_code": settings.TMS_USSD_CODE,
        "note": "Leta picha mbili za pasipoti na barua ya chifu wa eneo lako."
        if language == "sw"
        else "Bring two passport photos and a letter from your area chief.",
        "ready_date": format_date(date(2026, 9, 30), language),
        "return_date": format_date(date(2026, 12, 30), language),
        "date": format_date(date(2026, 11, 27), language),
        "estimate": format_date(date(2026, 12, 15), language),
        "text": "Ref 4821 7730 9155 2 (Passport): Ready for collection at Huduma Centre GPO.",
        "code": "048213",
    }
    return {name: values[name] for name in PLACEHOLDERS[event]}
