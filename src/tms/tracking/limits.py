"""Rate limits for public endpoints (SPEC §11), through Django's cache framework so
that several processes share the counters (Redis in such deployments)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage


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
