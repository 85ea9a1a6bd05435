import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections

from tms.applications.references import with_check_digit
from tms.core.handlers import TrackMyServiceApplication
from tms.core.outage import SessionMiddleware
from tms.testing.builders import lodge


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def application() -> Iterator[TrackMyServiceApplication]:
    # The WSGI calls run inside the test's transaction, as with Django's test client,
    # which disconnects these too.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield TrackMyServiceApplication()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def environ(method: str, path: str, query: str = "", **headers: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }


def call(handler: Any, request: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    answer: list[Any] = []
    body = handler(dict(request), lambda status, headers: answer.extend([status, headers]))
    try:
        content = b"".join(body)
    finally:
        body.close()
    return answer[0], dict(answer[1]), content


def test_the_lookup_chain_is_the_full_one_less_what_a_lookup_never_uses():
    full = django_settings.MIDDLEWARE
    short = django_settings.PUBLIC_LOOKUP_MIDDLEWARE

    assert short == [name for name in full if name in short]  # same order
    for needed in (
        "tms.core.request_context.RequestIdMiddleware",
        "tms.core.metrics.RequestMetricsMiddleware",
        "tms.core.outage.DatabaseUnavailableMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "tms.core.problems.ApiProblemsMiddleware",
        "tms.core.request_context.RequestAddressMiddleware",
    ):
        assert needed in short
    assert "tms.core.outage.SessionMiddleware" not in short
    assert "django.middleware.csrf.CsrfViewMiddleware" not in short


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/track/123", "lookups"),
        ("HEAD", "/api/v1/track/123", "lookups"),
        ("POST", "/api/v1/track/lost-reference", "full"),
        ("GET", "/track/", "full"),
        ("GET", "/api/v1/agency/applications", "full"),
        ("GET", "/api/v1/openapi.json", "full"),
    ],
)
def test_only_public_lookups_take_the_short_chain(application, method, path, expected):
    assert application.handler_for(environ(method, path)) is getattr(application, expected)


@pytest.mark.django_db
def test_a_lookup_is_answered_without_the_session_middleware(application, monkeypatch):
    reference = lodge().reference
    seen: list[str] = []
    process_request = SessionMiddleware.process_request

    def spy(self: SessionMiddleware, request: Any) -> None:
        seen.append(request.path)
        process_request(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", spy)

    looked_up = call(application, environ("GET", f"/api/v1/track/{reference}"))
    page = call(application, environ("GET", "/track/", f"ref={reference}"))

    assert looked_up[0].startswith("200") and page[0].startswith("200")
    assert seen == ["/track/"]


@pytest.mark.django_db
def test_both_chains_give_a_lookup_the_same_answer(application):
    reference = lodge(name="Wanjiru Kamau").reference
    unknown = with_check_digit("123456789012")
    typo = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)
    first = call(application.full, environ("GET", f"/api/v1/track/{reference}"))
    requests = [
        environ("GET", f"/api/v1/track/{reference}"),
        environ("HEAD", f"/api/v1/track/{reference}"),
        environ("GET", f"/api/v1/track/{reference}", "lang=sw"),
        environ("GET", f"/api/v1/track/{reference}", accept_language="sw,en;q=0.5"),
        environ("GET", f"/api/v1/track/{reference}", cookie="django_language=sw"),
        environ("GET", f"/api/v1/track/{reference}", if_none_match=first[1]["ETag"]),
        environ("GET", f"/api/v1/track/{typo}"),
        environ("GET", f"/api/v1/track/{unknown}", accept_language="sw"),
    ]

    for request in requests:
        status, headers, content = call(application.full, request)
        short_status, short_headers, short_content = call(application.lookups, request)

        assert (short_status, short_content) == (status, content), request
        headers.pop("X-Request-ID"), short_headers.pop("X-Request-ID")
        assert short_headers == headers, request
    assert "Wanjiru" not in first[2].decode()
    assert first[1]["X-Frame-Options"] == "DENY"
    assert first[1]["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Language" in first[1]["Vary"]


@pytest.mark.django_db
def test_the_short_chain_still_limits_lookups(application, settings):
    settings.TMS_RATE_LOOKUP_PER_ADDRESS = "3/m"
    reference = lodge().reference

    statuses = [
        call(application, environ("GET", f"/api/v1/track/{reference}"))[0] for _ in range(4)
    ]
    limited = call(application, environ("GET", f"/api/v1/track/{reference}"))

    assert [status[:3] for status in statuses] == ["200", "200", "200", "429"]
    assert limited[1]["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited[1]["Retry-After"]) <= 60
