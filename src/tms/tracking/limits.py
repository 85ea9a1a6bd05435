"""Rate limits for public endpoints (SPEC §11), through Django's cache framework so
that several processes share the counters (Redis in such deployments)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from tms.core.request_context import client_address


def retry_after(request: HttpRequest, *, scope: str, value: str, rate: str) -> int | None:
    """Count one use of ``scope`` for ``value``; the seconds to wait when over the limit."""
    usage = get_usage(
        request, group=f"tms.{scope}", key=lambda group, req: value, rate=rate, increment=True
    )
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)


def first_limit(request: HttpRequest, checks: list[tuple[str, str, str]]) -> int | None:
    """Apply (scope, value, rate) checks in order; the first one over its limit wins."""
    for scope, value, rate in checks:
        wait = retry_after(request, scope=scope, value=value, rate=rate)
        if wait is not None:
            return wait
    return None


def lookup_limits(request: HttpRequest, typed_reference: str) -> int | None:
    """A status lookup: per client address, then per reference (its digits)."""
    digits = "".join(ch for ch in typed_reference if ch.isdigit())
    return first_limit(
        request,
        [
            ("lookup.address", client_address(request), settings.TMS_RATE_LOOKUP_PER_ADDRESS),
            ("lookup.reference", digits, settings.TMS_RATE_LOOKUP_PER_REFERENCE),
        ],
    )


def lost_reference_limits(request: HttpRequest, typed_phone: str) -> int | None:
    """A lost-reference request: per client address, then per phone (its last 9 digits,
    so every way of writing one number shares a counter)."""
    digits = "".join(ch for ch in typed_phone if ch.isdigit())[-9:]
    return first_limit(
        request,
        [
            ("lost.address", client_address(request), settings.TMS_RATE_LOST_PER_ADDRESS),
            ("lost.phone", digits, settings.TMS_RATE_LOST_PER_PHONE),
        ],
    )
