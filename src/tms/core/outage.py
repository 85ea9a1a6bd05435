"""While the database is unreachable (a restart, a failover), answer 503 with
Retry-After at once, as a problem document under /api/v1/ and a short page elsewhere,
instead of a 500 and a traceback per request. The next request after the database is
back opens a new connection and is served as usual."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults

from tms.core.problems import problem_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
# OperationalError: refused, dropped or timed-out connections, a locked SQLite file.
# InterfaceError: a connection already closed under us.
UNAVAILABLE = (OperationalError, InterfaceError)


def forget_connection() -> None:
    """Drop this thread's database connection after an outage; the next query opens a new
    one. Closing a broken connection can fail too, which changes nothing."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached (rather than a bug)."""
    return isinstance(error, UNAVAILABLE)


def already_logged(response: HttpResponse) -> HttpResponse:
    """Django logs every 5xx answer as an error (mailed to administrators); an answer whose
    cause was logged already, as a warning, is marked so it is not logged twice."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def unavailable_response(request: HttpRequest) -> HttpResponse:
    # Logged once here, as a warning: an outage must not send a traceback per request.
    logger.warning("database unavailable: %s %s answered 503", request.method, request.path)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        response = problem_response(
            request,
            status=503,
            kind="unavailable",
            title=_("The service is briefly unavailable."),
            detail=_("Please try again in a moment. Nothing you sent before was lost."),
            headers=headers,
        )
    else:
        response = render(request, "core/unavailable.html", status=503)
        response["Retry-After"] = headers["Retry-After"]
    return already_logged(response)


def _caused_by_outage(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if database_unavailable(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class SessionMiddleware(DjangoSessionMiddleware):
    """Django turns any database error while saving a session into "the session was
    deleted" (400). During an outage that is a 503 like any other request's."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as error:
            if _caused_by_outage(error):
                return unavailable_response(request)
            raise


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        return unavailable_response(request)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: a database outage met outside a view (a middleware reading the
    session) is still a 503; anything else is Django's own 500 page."""
    error = sys.exc_info()[1]
    if isinstance(error, UNAVAILABLE):
        return unavailable_response(request)
    return defaults.server_error(request, template_name)
