"""Signing staff out after a spell of inactivity (TMS_STAFF_IDLE_MINUTES)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SEEN_KEY = "tms_seen"
# Writing the session on every request would cost a write per page; a minute's
# resolution is plenty for a timeout counted in tens of minutes.
RESOLUTION = 60


class IdleSignOutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without a session cookie nobody is signed in: the public pages and APIs (most of
        # the traffic) skip loading a session and a user.
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            now = int(time.time())
            seen = request.session.get(SEEN_KEY)
            if seen is not None and now - seen > settings.TMS_STAFF_IDLE_MINUTES * 60:
                logout(request)
            elif seen is None or now - seen >= RESOLUTION:
                request.session[SEEN_KEY] = now
        return self.get_response(request)
