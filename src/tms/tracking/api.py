"""Public tracking over JSON: the same answers as the web page."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import BaseModel

from tms.applications.models import Channel
from tms.applications.references import ReferenceTypingError
from tms.applications.selectors import ApplicationNotFound
from tms.core.api_schema import PUBLIC_ERRORS, Text, problems
from tms.core.phones import InvalidPhoneNumber
from tms.core.problems import Problem
from tms.tracking.limits import lookup_limits, lost_reference_limits
from tms.tracking.selectors import public_status
from tms.tracking.services import lookup_count, lost_reference_request

router = Router(tags=["public tracking"])


# The answer's models are plain pydantic ones: ninja's Schema runs a Python validator on
# every object (to read ORM instances, which these never are), a large share of a
# lookup's time on the busiest public path.
class StepOut(BaseModel):
    status: str
    label: str
    date: date


class EstimateOut(BaseModel):
    ready_by: date
    working_days: int
    basis: str
    from_recent_history: bool
    overdue: bool


class TrackingCentreOut(BaseModel):
    code: str
    name: str
    address: str
    opening_hours: str
    phone: str


class TrackingOut(BaseModel):
    reference: str
    service: str
    agency: str
    status: str
    status_label: str
    meaning: str
    applicant: str
    lodged_on: date
    ready_on: date | None
    what_to_do: str
    timeline: list[StepOut]
    estimate: EstimateOut | None
    centre: TrackingCentreOut
    what_to_bring: str


class LostReferenceIn(Schema):
    phone: Annotated[Text, Field(max_length=32)]


class LostReferenceOut(Schema):
    message: str


def _too_many(wait: int) -> Problem:
    return Problem(
        429,
        "rate-limited",
        "Too many requests.",
        f"Try again in {wait} seconds.",
        headers={"Retry-After": wait},
    )


def _language(lang: str | None) -> str:
    if lang in dict(settings.LANGUAGES):
        return str(lang)
    return translation.get_language() or "en"


@router.post(
    "lost-reference",
    response={202: LostReferenceOut, **problems(*PUBLIC_ERRORS)},
    summary="Send a phone's references to that phone by SMS",
)
def lost_reference(request: HttpRequest, payload: LostReferenceIn, lang: str | None = None):  # type: ignore[no-untyped-def]
    """The answer is the same whether or not the phone has applications."""
    wait = lost_reference_limits(request, payload.phone)
    if wait is not None:
        raise _too_many(wait)
    language = _language(lang)
    with translation.override(language):
        try:
            lost_reference_request(phone=payload.phone, language=language)
        except InvalidPhoneNumber as error:
            raise Problem(422, "invalid-phone", str(error.messages[0])) from None
        return Status(
            202,
            {
                "message": _(
                    "If there are open applications for this phone number, we have sent "
                    "their references to it by SMS."
                )
            },
        )


@router.get(
    "{reference}",
    response={200: TrackingOut, 304: None, **problems(*PUBLIC_ERRORS, 404)},
    summary="The status of one application",
)
def track(request: HttpRequest, response: HttpResponse, reference: str, lang: str | None = None):  # type: ignore[no-untyped-def]
    """Look an application up by its reference (spaces and dashes allowed). A typing
    error (wrong length or check digit) is a 400, an unknown reference a 404.
    Answers carry an ETag; send it back in If-None-Match to get 304 when unchanged."""
    wait = lookup_limits(request, reference)
    if wait is not None:
        raise _too_many(wait)
    language = _language(lang)
    try:
        status = public_status(reference=reference, language=language)
    except ReferenceTypingError as error:
        with translation.override(language):
            raise Problem(400, "reference-typing-error", error.message) from None
    except ApplicationNotFound:
        with translation.override(language):
            raise Problem(
                404, "reference-not-found", _("No application has this reference.")
            ) from None
    lookup_count(Channel.PUBLIC_API)
    etag = (
        '"'
        + hashlib.sha256(
            f"api:{status.reference}:{status.version}:{language}:{timezone.localdate()}:"
            f"{status.estimate}".encode()
        ).hexdigest()[:32]
        + '"'
    )
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=60"
    if etag in request.headers.get("If-None-Match", ""):
        return Status(304, None)
    return Status(
        200,
        {
            "reference": status.reference,
            "service": status.service,
            "agency": status.agency,
            "status": status.status,
            "status_label": status.status_label,
            "meaning": status.meaning,
            "applicant": status.masked_name,
            "lodged_on": status.lodged_on,
            "ready_on": status.ready_on,
            "what_to_do": status.to_do,
            "timeline": [
                {"status": s.status, "label": s.label, "date": s.day} for s in status.timeline
            ],
            "estimate": (
                {
                    "ready_by": status.estimate.ready_by,
                    "working_days": status.estimate.working_days,
                    "basis": status.estimate.basis,
                    "from_recent_history": status.estimate.from_history,
                    "overdue": status.estimate.overdue,
                }
                if status.estimate
                else None
            ),
            "centre": vars(status.centre),
            "what_to_bring": status.what_to_bring,
        },
    )
