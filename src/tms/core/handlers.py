"""The web application as the WSGI server calls it: Django's handler, and beside it a
second with a shorter middleware chain for the public status lookup.

Django builds one middleware chain for every request. The public lookup, by far the
busiest request, needs none of the session, sign-in, CSRF, message, static-file or
lockout middleware, yet passing through them was a tenth of its CPU. The second handler
is Django's own, loaded from ``settings.PUBLIC_LOOKUP_MIDDLEWARE`` (a subset of
MIDDLEWARE, in the same order) instead of MIDDLEWARE; everything else about the request,
from the URLconf to the signals, is shared.
"""

from __future__ import annotations

import threading
from wsgiref.types import StartResponse, WSGIEnvironment

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponseBase

LOOKUP_METHODS = frozenset({"GET", "HEAD"})

# Loading swaps settings.MIDDLEWARE for a moment: it happens once a process, at import,
# but two loads must not interleave.
_loading = threading.Lock()


class ShortChainHandler(WSGIHandler):
    """Django's WSGI handler with its middleware loaded from another list."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = list(middleware)
        super().__init__()  # loads the middleware

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE and nothing else; reusing it keeps
        # every rule (factories, MiddlewareNotUsed, view hooks) Django's own.
        with _loading:
            everything = settings.MIDDLEWARE
            settings.MIDDLEWARE = self.middleware
            try:
                super().load_middleware(is_async)
            finally:
                settings.MIDDLEWARE = everything


class TrackMyServiceApplication:
    """Sends GET and HEAD under PUBLIC_LOOKUP_PATH to the short chain, all else to the
    full one."""

    def __init__(self) -> None:
        self.full = WSGIHandler()
        self.lookups = ShortChainHandler(settings.PUBLIC_LOOKUP_MIDDLEWARE)
        self.lookup_path: str = settings.PUBLIC_LOOKUP_PATH

    def handler_for(self, environ: WSGIEnvironment) -> WSGIHandler:
        path: str = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in LOOKUP_METHODS and path.startswith(self.lookup_path):
            return self.lookups
        return self.full

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> HttpResponseBase:
        return self.handler_for(environ)(environ, start_response)
