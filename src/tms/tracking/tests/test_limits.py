import os
import random

import pytest
import redis
from django.core.cache import cache, caches
from django.core.exceptions import ImproperlyConfigured

from tms.applications.references import generate
from tms.testing.builders import lodge
from tms.tracking.limits import parse_rate

REDIS_TEST_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_a_family_checking_a_few_applications_is_never_limited(client):
    applications = [lodge(phone=f"07120001{n:02d}") for n in range(4)]
    for _ in range(5):
        for application in applications:
            assert client.get("/track/", {"ref": application.reference}).status_code == 200


@pytest.mark.django_db
def test_too_many_lookups_from_one_address_get_429_with_retry_after(client, settings):
    settings.TMS_RATE_LOOKUP_PER_ADDRESS = "5/m"
    statuses = [client.get("/track/", {"ref": generate()}).status_code for _ in range(7)]

    assert statuses[:5] == [404] * 5
    limited = client.get("/track/", {"ref": generate()})
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Please wait a moment" in limited.content.decode()


@pytest.mark.django_db
def test_the_api_limit_answers_a_problem_document(client, settings):
    settings.TMS_RATE_LOOKUP_PER_ADDRESS = "2/m"
    for _ in range(2):
        client.get(f"/api/v1/track/{generate()}")

    limited = client.get(f"/api/v1/track/{generate()}")

    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/problem+json"
    assert int(limited["Retry-After"]) >= 1


@pytest.mark.django_db
def test_an_enumeration_run_is_cut_off_early(client):
    """10,000 random references from one address: the limit stops the run within the
    first minute's allowance, so at most that many lookups ever reach the database."""
    answered = 0
    for _ in range(10_000):
        if client.get("/track/", {"ref": generate()}).status_code == 429:
            break
        answered += 1
    assert answered <= 60
    # Had all 10,000 got through: how many would hit one of 1,000,000 applications?
    existing_rng, guess_rng = random.Random(1), random.Random(2)
    existing = {generate(existing_rng) for _ in range(1_000_000)}
    guesses = [generate(guess_rng) for _ in range(10_000)]
    hits = sum(guess in existing for guess in guesses)
    expected = 10_000 * len(existing) / 9e11
    print(
        f"\nenumeration: cut off after {answered} lookups; of 10,000 random well-formed "
        f"references, {hits} hit one of 1,000,000 applications (expected {expected:.3f})"
    )
    assert hits == 0


@pytest.fixture
def redis_cache(settings):
    """The shared cache of a several-process deployment: the limits run in Redis."""
    url = REDIS_TEST_URL
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"tms-limits-test-{os.getpid()}",
        }
    }
    caches["default"].clear()
    yield
    caches["default"].clear()


def _both_limits_count_and_the_first_over_wins(client, settings) -> str:
    # Hourly windows: a test run does not straddle one's end.
    settings.TMS_RATE_LOOKUP_PER_ADDRESS = "4/h"
    settings.TMS_RATE_LOOKUP_PER_REFERENCE = "2/h"
    reference = generate()

    statuses = [client.get(f"/api/v1/track/{reference}").status_code for _ in range(3)]
    other = [client.get(f"/api/v1/track/{generate()}").status_code for _ in range(3)]

    assert statuses == [404, 404, 429]  # the reference's 2 an hour
    limited = client.get(f"/api/v1/track/{reference}")
    assert other == [404, 429, 429]  # the address's 4 an hour, the refused third included
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 3600
    return reference


@pytest.mark.django_db
def test_both_limits_count_and_the_first_over_wins(client, settings):
    _both_limits_count_and_the_first_over_wins(client, settings)  # the local-memory cache


@pytest.mark.django_db
def test_in_redis_both_limits_count_and_the_first_over_wins(client, settings, redis_cache):
    reference = _both_limits_count_and_the_first_over_wins(client, settings)
    # No phone number, address or reference in the cache's keys.
    found: list[bytes] = redis.Redis.from_url(REDIS_TEST_URL).keys("*limit*")  # type: ignore[assignment]
    keys = [key.decode() for key in found]
    assert keys and not any(reference in key or "127.0.0.1" in key for key in keys)


def test_rates_are_read_as_count_and_period():
    assert parse_rate("30/m") == (30, 60)
    assert parse_rate("100/5m") == (100, 300)
    assert parse_rate("3/h") == (3, 3600)
    with pytest.raises(ImproperlyConfigured):
        parse_rate("often")
