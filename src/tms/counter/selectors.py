"""Reads for the counter. Every read takes the acting Staff and is narrowed to their scope."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.models import Application
from tms.core.phones import normalise_phone

MAX_RESULTS = 50


class SearchKind(models.TextChoices):
    REFERENCE = "reference", _("tracking reference")
    AGENCY_REF = "agency_ref", _("agency reference")
    PHONE = "phone", _("phone number")
    ID_NUMBER = "id_number", _("ID or birth certificate number")


def normalise_term(kind: SearchKind, term: str) -> str:
    """The term as stored, or ValidationError (keyed ``q``) for one that cannot match."""
    text = (term or "").strip()
    if not text:
        raise ValidationError({"q": [_("Enter something to search for.")]})
    if kind == SearchKind.REFERENCE:
        try:
            return references.parse(text)
        except references.ReferenceTypingError as error:
            raise ValidationError({"q": [error.message]}) from None
    if kind == SearchKind.PHONE:
        try:
            return normalise_phone(text)
        except ValidationError as error:
            raise ValidationError({"q": error.messages}) from None
    if kind == SearchKind.ID_NUMBER:
        return "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()
    return text[:64]


def applications_matching(staff: Staff, *, kind: SearchKind, term: str) -> QuerySet[Application]:
    """Applications in ``staff``'s scope whose ``kind`` equals the normalised ``term``,
    newest first, at most MAX_RESULTS."""
    lookup = {
        SearchKind.REFERENCE: "reference",
        SearchKind.AGENCY_REF: "agency_ref",
        SearchKind.PHONE: "applicant_phone",
        SearchKind.ID_NUMBER: "applicant_id_number__iexact",
    }[kind]
    return (
        staff.applications()
        .filter(**{lookup: term})
        .select_related("service", "centre")
        .order_by("-lodged_at", "-id")[:MAX_RESULTS]
    )


def application_for(staff: Staff, reference: str) -> Application:
    """The application with this reference, if it is in ``staff``'s scope: Http404 for
    a malformed or unknown reference, NotAllowed (403) for another centre's or agency's."""
    try:
        digits = references.parse(reference)
    except references.ReferenceTypingError:
        raise Http404("no such application") from None
    application = (
        Application.objects.select_related("service", "agency", "centre")
        .filter(reference=digits)
        .first()
    )
    if application is None:
        raise Http404("no such application")
    staff.check(application)
    return application
