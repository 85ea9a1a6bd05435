"""Rate limits for public endpoints (SPEC §11), through Django's cache framework so
that several processes share the counters (Redis in such deployments)."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from tms.core.request_context import client_address


def retry_after(request: HttpRequest, *, scope: str, value: str, rate: str) -> int | None:
    """Count one use of ``scope`` for ``value``; the seconds to wait when over the limit."""
    return first_limit(request, [(scope, value, rate)])


# Counts one use of each key in order and stops at the first over its limit (so that a
# request refused per address does not use up the allowance of the reference it named):
# the index of that key, or 0. ARGV holds each key's limit and lifetime in turn.
COUNT_IN_ORDER = """
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
  if count > tonumber(ARGV[2 * i - 1]) then return i end
end
return 0
"""
RATE = re.compile(r"(\d+)/(\d*)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# One script object for the process (its SHA is computed once); Django's cache hands out
# a new client a call, so each call passes its own.
_script: Any = None


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/m"`` → (30, 60); ``"100/5m"`` → (100, 300)."""
    match = RATE.fullmatch(rate.strip())
    if match is None:
        raise ImproperlyConfigured(f"not a rate: {rate!r} (count/period, period s, m, h or d)")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * UNIT_SECONDS[unit]


def _window(scope: str, value: str, rate: str, now: float) -> tuple[str, int, int, float]:
    """The counter's key for this fixed window, the limit, the key's lifetime and the
    window's end. The value is hashed: no phone number or address stands in a key."""
    limit, seconds = parse_rate(rate)
    window = int(now // seconds)
    digest = hashlib.sha256(value.encode()).hexdigest()[:24]
    return f"limit:{scope}:{seconds}:{window}:{digest}", limit, seconds + 1, (window + 1) * seconds


def _first_limit_in_cache(backend: BaseCache, checks: list[tuple[str, str, str]]) -> int | None:
    """Any other cache: one increment a check while its window's counter exists (an add
    starts it), in order, stopping at the first over its limit as the Redis script does."""
    now = time.time()
    for scope, value, rate in checks:
        key, limit, lifetime, end = _window(scope, value, rate, now)
        try:
            count = backend.incr(key)
        except ValueError:  # the window's first use, or its counter just expired
            count = 1 if backend.add(key, 1, lifetime) else backend.incr(key)
        if count > limit:
            return max(int(end - now), 1)
    return None


def _first_limit_in_redis(backend: RedisCache, checks: list[tuple[str, str, str]]) -> int | None:
    """All the checks in one round trip (a script run by Redis), where the cache API
    takes one or two a check."""
    now = time.time()
    keys: list[str] = []
    args: list[int] = []
    ends: list[float] = []
    for scope, value, rate in checks:
        key, limit, lifetime, end = _window(scope, value, rate, now)
        keys.append(backend.make_and_validate_key(key))
        args += [limit, lifetime]
        ends.append(end)
    global _script
    client = backend._cache.get_client(keys[0], write=True)
    if _script is None:
        _script = client.register_script(COUNT_IN_ORDER)
    over = int(_script(keys=keys, args=args, client=client))
    if not over:
        return None
    return max(int(ends[over - 1] - now), 1)


def first_limit(request: HttpRequest, checks: list[tuple[str, str, str]]) -> int | None:
    """Apply (scope, value, rate) checks in order; the first one over its limit wins."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _first_limit_in_redis(backend, checks)
    return _first_limit_in_cache(backend, checks)


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
