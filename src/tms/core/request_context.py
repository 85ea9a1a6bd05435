"""What the code needs to know about the current request without passing it through
every call: the address it came from, for the records that changes and searches leave
(audit trail, history events), and its id, for log lines (tms.core.logs)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from django.conf import settings
from django.core.cache import cache
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


# --- Request ids: one per request, carried into log lines and the tasks it enqueues -----

_request_id: ContextVar[str | None] = ContextVar("tms_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's (load balancer's) id is kept only when it is short and plain, so that it
# cannot smuggle anything into log lines.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# How long a queued task remembers the request that enqueued it.
TASK_REQUEST_ID_SECONDS = 24 * 3600


def current_request_id() -> str | None:
    """The current request's id, or the id of the request that enqueued the running task."""
    return _request_id.get()


def request_id_from(value: str | None) -> str:
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID when sane), for every log line
    written while it runs and in the response, so a report can be matched to the logs.

    The id stays set until the request is finished (``request_finished``): Django logs
    4xx and 5xx answers after the middleware has returned."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        _request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def forget_request_id(**kwargs: Any) -> None:
    """``request_finished``: lines written between requests carry no request's id."""
    _request_id.set(None)


def _task_key(task_result: Any) -> str:
    return f"tms:task-request:{task_result.id}"


def remember_request_of_task(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """django-tasks ``task_enqueued``: note which request enqueued this task."""
    request_id = _request_id.get()
    if request_id is None:
        return
    # A log correlation id must never fail an enqueue.
    with contextlib.suppress(Exception):
        cache.set(_task_key(task_result), request_id, TASK_REQUEST_ID_SECONDS)


def enter_request_of_task(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """django-tasks ``task_started``: log lines of the task carry the request's id."""
    try:
        request_id = cache.get(_task_key(task_result))
    except Exception:
        request_id = None
    if request_id is None:
        # The immediate backend runs the task inside the request: keep the request's id.
        request_id = _request_id.get()
    _running_task_tokens[task_result.id] = _request_id.set(request_id)


def leave_request_of_task(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """django-tasks ``task_finished``: back to the id from before the task started."""
    token = _running_task_tokens.pop(task_result.id, None)
    if token is None:
        return
    try:
        _request_id.reset(token)
    except ValueError:
        # Started in another context (cannot happen with the current backends).
        _request_id.set(None)


_running_task_tokens: dict[str, Token[str | None]] = {}
