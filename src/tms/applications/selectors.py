"""Reads of applications. Scope checks join here as staff roles arrive."""

from __future__ import annotations

from django.db.models import QuerySet

from tms.applications import references
from tms.applications.models import Application, ApplicationEvent


class ApplicationNotFound(LookupError):
    pass


def application_get(*, reference: str) -> Application:
    """The application with this typed reference.

    Raises ReferenceTypingError for input that cannot be a reference (told apart
    from an unknown one), ApplicationNotFound for a well-formed unknown one.
    """
    digits = references.parse(reference)
    try:
        return Application.objects.select_related("service", "agency", "centre").get(
            reference=digits
        )
    except Application.DoesNotExist:
        raise ApplicationNotFound(digits) from None


def application_history(*, application: Application) -> QuerySet[ApplicationEvent]:
    return ApplicationEvent.objects.filter(application=application).order_by("version")
