"""Schemathesis fuzzes every operation of the served OpenAPI (/api/v1/openapi.json):
the public tracking endpoints and, with a real bearer token, the agency endpoints.

No answer may be a server error or break the description: status codes, content
types, bodies and headers must all be the ones the OpenAPI declares. The run is
derandomized (fixed Hypothesis seed) so CI is reproducible, and bounded per
operation so the whole file takes well under 90 seconds on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tms.applications.references import display
from tms.applications.services import (
    Actor,
    application_dispatch,
    application_start_processing,
)
from tms.integrations.tokens import token_create
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.wsgi import application as wsgi_application

MAX_EXAMPLES = 50  # per operation, on top of schemathesis' explicit and coverage cases
UNLIMITED = "1000000/m"
RATE_SETTINGS = (
    "TMS_RATE_LOOKUP_PER_ADDRESS",
    "TMS_RATE_LOOKUP_PER_REFERENCE",
    "TMS_RATE_LOST_PER_ADDRESS",
    "TMS_RATE_LOST_PER_PHONE",
    "TMS_RATE_CALLBACK_PER_PHONE",
    "TMS_RATE_AGENCY_TOKEN",
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# Besides schemathesis' own date-times, the extremes a client can send: out-of-range
# once converted to UTC or to Nairobi time, without a time zone, or not a date at all.
EDGE_DATETIMES = [
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "0001-01-01T02:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59Z",
    "2026-01-01T00:00:00",
    "2026-02-30T00:00:00Z",
]
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(EDGE_DATETIMES),
        st.datetimes(
            timezones=st.sampled_from(
                [UTC, timezone(timedelta(hours=3)), timezone(-timedelta(hours=12))]
            )
        ).map(lambda moment: moment.isoformat()),
    ),
)

# Loaded at collection from the application itself, as a client would read it; the
# request touches no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_application)
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


@dataclass
class Seeded:
    """A live token, and what names the seeded data."""

    token: str
    references: list[str]
    agency_refs: list[str]
    identifiers: list[str]
    service: str = "FZPASS"
    centre: str = "FZNRB"
    phone: str = "0712345678"


# The data of the running test, for the hooks below (they draw while the test runs).
CURRENT: list[Seeded] = []


@schema.hook("flatmap_path_parameters")
def real_identifiers(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Random strings almost never name a real application: mix seeded ones in."""
    if not path_parameters or not CURRENT:
        return st.just(path_parameters)
    name = next(iter(path_parameters))
    return st.one_of(
        st.just(path_parameters),
        st.sampled_from(CURRENT[0].identifiers).map(lambda value: {**path_parameters, name: value}),
    )


# Text fields that reach the database; a NUL there is legal JSON that PostgreSQL refuses.
TEXT_FIELDS = ("agency_ref", "reference", "name", "id_number", "note", "reason")


@schema.hook("flatmap_body")
def real_codes(context: Any, body: Any) -> Any:
    """Random codes never get past lookups into lodging or the lifecycle: put seeded ones
    in, sometimes, and sometimes a NUL into the text fields."""
    if not CURRENT or not isinstance(body, dict):
        return st.just(body)
    data = CURRENT[0]
    lodging = context.operation.path.endswith("/applications")

    def with_codes(item: Any, reference: str, agency_ref: str, nul: bool) -> Any:
        if not isinstance(item, dict):
            return item
        replaced = dict(item)
        for key, value in (("service", data.service), ("centre", data.centre)):
            if isinstance(item.get(key), str):
                replaced[key] = value
        applicant = item.get("applicant")
        if isinstance(applicant, dict):
            replaced["applicant"] = applicant = dict(applicant)
            if isinstance(applicant.get("phone"), str):
                applicant["phone"] = data.phone
        if not lodging and isinstance(item.get("reference"), str):
            replaced["reference"] = reference
        if not lodging and isinstance(item.get("agency_ref"), str):
            replaced["agency_ref"] = agency_ref
        if nul:
            for target in (replaced, replaced.get("applicant")):
                if isinstance(target, dict):
                    for key in TEXT_FIELDS:
                        if isinstance(target.get(key), str):
                            target[key] += "\x00"
        return replaced

    def replace(reference: str, agency_ref: str, nul: bool) -> Any:
        if isinstance(body.get("phone"), str):
            return {**body, "phone": data.phone + ("\x00" if nul else "")}
        items = body.get("items")
        if not isinstance(items, list):
            return body
        return {
            **body,
            "items": [with_codes(item, reference, agency_ref, nul) for item in items],
        }

    return st.one_of(
        st.just(body),
        st.builds(
            replace,
            st.sampled_from(data.references),
            st.sampled_from(data.agency_refs),
            st.booleans(),
        ),
    )


@pytest.fixture
def seeded(db: None, settings: Any) -> Iterator[Seeded]:
    for name in RATE_SETTINGS:
        setattr(settings, name, UNLIMITED)
    cache.clear()
    agency = make_agency("FUZZ")
    service = make_service(Seeded.service, agency=agency)
    centre = make_centre(Seeded.centre)
    actor = Actor.system("fuzz")
    lodged_at = django_timezone.now() - timedelta(days=3)
    references, agency_refs = [], []
    for number in range(4):
        application = lodge(
            service=service,
            centre=centre,
            phone=Seeded.phone,
            agency_ref=f"FZ-{number}",
            lodged_at=lodged_at,
        )
        if number >= 1:
            application_start_processing(application, actor=actor)
        if number >= 2:
            application_dispatch(application, actor=actor)
        references.append(application.reference)
        agency_refs.append(f"FZ-{number}")
    # Another agency's application: the token must never reach it.
    foreign = lodge(agency_ref="FZ-0").reference
    _, token = token_create(agency=agency, name="fuzz")
    spelled = [display(reference) for reference in references]
    data = Seeded(
        token=token,
        references=references,
        agency_refs=agency_refs,
        identifiers=[
            *references,
            *spelled,
            *(text.replace(" ", "-") for text in spelled),
            foreign,
            *(f"agency_ref:{ref}" for ref in agency_refs),
            "agency_ref:",
            "agency_ref:unknown",
            "agency_ref:FZ-1\x00",
        ],
    )
    CURRENT[:] = [data]
    # The in-process WSGI calls run inside the test's transaction, as with Django's test
    # client: closing "old" connections at each request would end it.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield data
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        CURRENT.clear()
        cache.clear()


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_openapi_says(case: schemathesis.Case, seeded: Seeded) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {seeded.token}"}, checks=CHECKS)


def test_every_operation_is_fuzzed() -> None:
    """A route added without reaching the OpenAPI would escape the fuzzing."""
    labels = {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}
    assert labels >= {
        "GET /api/v1/track/{reference}",
        "POST /api/v1/track/lost-reference",
        "GET /api/v1/agency/services",
        "GET /api/v1/agency/centres",
        "POST /api/v1/agency/applications",
        "POST /api/v1/agency/status-updates",
        "GET /api/v1/agency/applications/{identifier}",
        "GET /api/v1/agency/changes",
    }
