"""The agency integration API under /api/v1/agency/ (SPEC §7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.security import HttpBearer
from pydantic import AfterValidator, BaseModel, StringConstraints

from tms.core.api_schema import AGENCY_ERRORS, Moment, Text, printable, problems
from tms.core.problems import Problem
from tms.directory.selectors import centre_list, service_list
from tms.integrations.idempotency import request_fingerprint, run_once
from tms.integrations.models import AgencyToken
from tms.integrations.selectors import (
    application_for_agency,
    changes,
    decode_cursor,
)
from tms.integrations.services import applications_lodge_bulk, status_updates_bulk
from tms.tracking.limits import retry_after

MAX_ITEMS = 1000


class AgencyBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AgencyToken | None:
        from tms.integrations.tokens import token_authenticate

        found = token_authenticate(token)
        if found is not None:
            wait = retry_after(
                request,
                scope="agency.token",
                value=str(found.pk),
                rate=settings.TMS_RATE_AGENCY_TOKEN,
            )
            if wait is not None:
                raise Problem(
                    429,
                    "rate-limited",
                    "Too many requests for this token.",
                    f"Try again in {wait} seconds.",
                    headers={"Retry-After": wait},
                )
        return found


router = Router(auth=AgencyBearer(), tags=["agency integration"])


def _token(request: HttpRequest) -> AgencyToken:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, AgencyToken)
    return token


class ServiceOut(Schema):
    code: str
    name_en: str
    name_sw: str
    turnaround_days: int
    retention_days: int
    requires_id_number: bool


class CentreOut(Schema):
    code: str
    name: str
    county: str
    address: str
    opening_hours: str
    phone: str


# The bulk bodies and answers (1,000 items each way) are plain pydantic models: ninja's
# Schema runs a Python validator on every item (to read ORM objects, which these never
# are): validating 1,000 status updates took 27 ms as Schema items and 7 ms as plain
# models, and 1,000 results 24 ms and 1.5 ms (the same process, one after the other).
class ApplicantIn(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    phone: Annotated[Text, Field(min_length=1, max_length=32)]
    id_number: Annotated[Text, Field(max_length=32)] = ""
    language: Literal["en", "sw"] = "en"


class LodgeItemIn(BaseModel):
    # Text: no control characters (PostgreSQL refuses NUL even in a lookup).
    agency_ref: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        AfterValidator(printable),
    ]
    service: Annotated[Text, Field(min_length=1, max_length=20)]
    centre: Annotated[Text, Field(min_length=1, max_length=20)]
    applicant: ApplicantIn
    lodged_at: datetime | None = None


class LodgeIn(BaseModel):
    items: Annotated[list[LodgeItemIn], Field(min_length=1, max_length=MAX_ITEMS)]


class ItemErrorOut(BaseModel):
    code: str
    detail: str
    field: str


class ItemResultOut(BaseModel):
    index: int
    ok: bool
    reference: str | None
    status: str | None
    error: ItemErrorOut | None


class ResultsOut(BaseModel):
    results: list[ItemResultOut]


class StatusUpdateIn(BaseModel):
    reference: Annotated[Text, Field(max_length=40)] | None = None
    agency_ref: Annotated[Text, Field(max_length=64)] | None = None
    status: Literal["processing", "action_required", "dispatched", "rejected"]
    occurred_at: Moment | None = None
    note: Annotated[Text, Field(max_length=1000)] = ""
    reason: Annotated[Text, Field(max_length=1000)] = ""


class StatusUpdatesIn(BaseModel):
    items: Annotated[list[StatusUpdateIn], Field(min_length=1, max_length=MAX_ITEMS)]


class EventOut(Schema):
    version: int
    from_status: str
    to_status: str
    occurred_at: datetime
    recorded_at: datetime
    channel: str
    note: str


class ApplicationOut(Schema):
    reference: str
    agency_ref: str | None
    service: str
    centre: str
    status: str
    version: int
    lodged_at: datetime
    due_date: date
    ready_at: datetime | None
    closed_at: datetime | None
    history: list[EventOut]


class ChangeOut(Schema):
    reference: str
    agency_ref: str | None
    version: int
    from_status: str
    to_status: str
    occurred_at: datetime
    recorded_at: datetime
    channel: str


class ChangesOut(Schema):
    items: list[ChangeOut]
    next_cursor: str | None
    more: bool


@router.get(
    "services",
    response={200: list[ServiceOut], **problems(*AGENCY_ERRORS)},
    summary="The agency's services",
)
def services(request: HttpRequest) -> Any:
    return list(service_list(agency=_token(request).agency))


@router.get(
    "centres",
    response={200: list[CentreOut], **problems(*AGENCY_ERRORS)},
    summary="All service centres",
)
def centres(request: HttpRequest) -> Any:
    return list(centre_list())


def _bulk(request: HttpRequest, key: str | None, service: Any, items: list[Any]) -> Any:
    """Run a bulk service over the items, once per Idempotency-Key when one is given."""
    token = _token(request)
    plain_items = [item.model_dump() for item in items]

    def handler() -> tuple[int, Any]:
        results = service(token=token, items=plain_items)
        return 200, {"results": [result.as_dict() for result in results]}

    if key is None:
        status, body = handler()
    else:
        fingerprint = request_fingerprint(request.method or "POST", request.path, request.body)
        status, body = run_once(
            agency=token.agency, key=key, fingerprint=fingerprint, handler=handler
        )
    return Status(status, body)


@router.post(
    "applications",
    response={200: ResultsOut, **problems(*AGENCY_ERRORS, 409)},
    summary="Lodge up to 1,000 applications",
)
def lodge(
    request: HttpRequest,
    payload: LodgeIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Each item is answered on its own. An `agency_ref` already lodged answers its
    existing reference (status `existing`) and changes nothing."""
    return _bulk(request, idempotency_key, applications_lodge_bulk, payload.items)


@router.post(
    "status-updates",
    response={200: ResultsOut, **problems(*AGENCY_ERRORS, 409)},
    summary="Update the status of up to 1,000 applications",
)
def update_statuses(
    request: HttpRequest,
    payload: StatusUpdatesIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Name each application by `reference` or `agency_ref`. Agencies may set
    processing, action_required (with a `note` for the citizen), dispatched and
    rejected (with a `reason`). A refused change names the current state and the
    allowed ones."""
    return _bulk(request, idempotency_key, status_updates_bulk, payload.items)


@router.get(
    "applications/{path:identifier}",
    response={200: ApplicationOut, **problems(*AGENCY_ERRORS, 404)},
    summary="One application, by our reference or agency_ref:<yours>",
)
def application(request: HttpRequest, identifier: str) -> Any:
    found = application_for_agency(agency=_token(request).agency, identifier=identifier)
    if found is None:
        raise Problem(404, "not-found", "No application of this agency matches.")
    return {
        "reference": found.reference,
        "agency_ref": found.agency_ref,
        "service": found.service.code,
        "centre": found.centre.code,
        "status": found.status,
        "version": found.version,
        "lodged_at": found.lodged_at,
        "due_date": found.due_date,
        "ready_at": found.ready_at,
        "closed_at": found.closed_at,
        "history": list(found.events.order_by("version")),
    }


class ChangesQuery(Schema):
    since: Moment
    cursor: Annotated[Text, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


@router.get(
    "changes",
    response={200: ChangesOut, **problems(*AGENCY_ERRORS)},
    summary="Every change to the agency's applications since a time",
)
def change_feed(request: HttpRequest, query: Query[ChangesQuery]) -> Any:
    """Oldest first. Call again with `next_cursor` while `more` is true; when it is
    false you are up to date: keep `next_cursor` and start from it next time.
    Events appear once they are 30 seconds old
    (TMS_CHANGE_FEED_SETTLE_SECONDS), so a page never skips one committing late."""
    after = None
    if query.cursor:
        after = decode_cursor(query.cursor)
        if after is None:
            raise Problem(400, "invalid-cursor", "The cursor is not one this API gave.")
    page = changes(agency=_token(request).agency, since=query.since, after=after, limit=query.limit)
    return {
        "items": [
            {
                "reference": event.application.reference,
                "agency_ref": event.application.agency_ref,
                "version": event.version,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "occurred_at": event.occurred_at,
                "recorded_at": event.recorded_at,
                "channel": event.channel,
            }
            for event in page.events
        ],
        "next_cursor": page.next_cursor,
        "more": page.more,
    }
