"""The address a request came from, for the records that changes and searches leave
(audit trail, history events) without passing it through every service call."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_address: ContextVar[str | None] = ContextVar("tms_client_address", default=None)


def client_address(request: HttpRequest) -> str:
    """The caller's address; behind TMS_PROXY_COUNT trusted proxies, taken from the
    X-Forwarded-For entry that the nearest of them added."""
    hops = settings.TMS_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


def current_address() -> str | None:
    """The current request's client address; None outside a request (worker, command)."""
    return _address.get()


class RequestAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _address.set(client_address(request) or None)
        try:
            return self.get_response(request)
        finally:
            _address.reset(token)
