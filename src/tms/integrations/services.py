"""Agency writes: each item of a bulk request is applied on its own (its own savepoint),
so one bad item never undoes or blocks the others."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tms.applications.bulk import Change, ChangeError, applications_change_bulk
from tms.applications.lifecycle import (
    TRANSITIONS,
    Action,
    InvalidTransition,
    Status,
    action_reaching,
)
from tms.applications.models import Application
from tms.applications.services import (
    Actor,
    ApplicationConflict,
    DuplicateAgencyReference,
    application_change,
    application_lodge,
)
from tms.directory.models import Agency, Centre, Service
from tms.integrations.models import AgencyToken
from tms.integrations.selectors import applications_for_items

AGENCY_SETTABLE = (Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED, Status.REJECTED)


@dataclass
class ItemResult:
    index: int
    ok: bool
    reference: str | None = None
    status: str | None = None
    error: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ok": self.ok,
            "reference": self.reference,
            "status": self.status,
            "error": self.error,
        }


def _error(index: int, code: str, detail: str, field: str = "") -> ItemResult:
    return ItemResult(index, False, error={"code": code, "detail": detail, "field": field})


def _validation_error(index: int, exc: ValidationError) -> ItemResult:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return _error(index, "invalid", str(errors[0].messages[0]), _field_name(field))
    return _error(index, "invalid", exc.messages[0])


def _field_name(field: str) -> str:
    return {
        "applicant_name": "applicant.name",
        "applicant_phone": "applicant.phone",
        "applicant_id_number": "applicant.id_number",
        "language": "applicant.language",
    }.get(field, field)


def applications_lodge_bulk(*, token: AgencyToken, items: list[dict[str, Any]]) -> list[ItemResult]:
    agency: Agency = token.agency
    actor = Actor.agency(f"{agency.code}: {token.name}")
    services = {s.code: s for s in Service.objects.filter(agency=agency)}
    centres = {c.code: c for c in Centre.objects.all()}
    existing = dict(
        Application.objects.filter(
            agency=agency, agency_ref__in=[item["agency_ref"] for item in items]
        ).values_list("agency_ref", "reference")
    )
    results = []
    for index, item in enumerate(items):
        if item["agency_ref"] in existing:
            # Re-sending a lodged application answers its reference and changes nothing.
            results.append(ItemResult(index, True, existing[item["agency_ref"]], "existing"))
            continue
        service = services.get(item["service"])
        centre = centres.get(item["centre"])
        if service is None:
            results.append(
                _error(
                    index, "unknown-service", "No service of this agency has this code.", "service"
                )
            )
            continue
        if centre is None:
            results.append(_error(index, "unknown-centre", "No centre has this code.", "centre"))
            continue
        applicant = item["applicant"]
        try:
            with transaction.atomic():
                application = application_lodge(
                    service=service,
                    centre=centre,
                    applicant_name=applicant["name"],
                    applicant_phone=applicant["phone"],
                    applicant_id_number=applicant.get("id_number") or "",
                    language=applicant.get("language") or "en",
                    agency_ref=item["agency_ref"],
                    lodged_at=item.get("lodged_at"),
                    actor=actor,
                )
        except DuplicateAgencyReference:
            # Lodged by a concurrent request a moment ago: answer its reference.
            reference = (
                Application.objects.filter(agency=agency, agency_ref=item["agency_ref"])
                .values_list("reference", flat=True)
                .first()
            )
            results.append(ItemResult(index, True, reference, "existing"))
            continue
        except ValidationError as exc:
            results.append(_validation_error(index, exc))
            continue
        existing[item["agency_ref"]] = application.reference
        results.append(ItemResult(index, True, application.reference, application.status))
    return results


def status_updates_bulk(*, token: AgencyToken, items: list[dict[str, Any]]) -> list[ItemResult]:
    agency: Agency = token.agency
    actor = Actor.agency(f"{agency.code}: {token.name}")
    found = applications_for_items(agency=agency, items=items)
    results: dict[int, ItemResult] = {}
    changes: list[Change] = []
    change_index: list[int] = []
    repeats: list[int] = []  # a later item for the same application sees the earlier one
    seen: set[int] = set()
    for index, item in enumerate(items):
        application = found.get(index)
        if application is None:
            # Another agency's application answers exactly as a missing one.
            results[index] = _error(
                index, "not-found", "No application of this agency matches.", "reference"
            )
        elif application.pk in seen:
            repeats.append(index)
        else:
            seen.add(application.pk)
            change = _change_for(application, item)
            if isinstance(change, ItemResult):
                results[index] = replace(change, index=index)
            else:
                changes.append(change)
                change_index.append(index)
    outcomes = applications_change_bulk(changes, actor=actor)
    for index, change, outcome in zip(change_index, changes, outcomes, strict=True):
        results[index] = _result(index, change, outcome)
    for index in repeats:
        application = found[index]
        change = _change_for(application, items[index])
        if isinstance(change, ItemResult):
            results[index] = replace(change, index=index)
            continue
        try:
            application_change(
                application,
                change.action,
                actor=actor,
                occurred_at=change.occurred_at,
                note=change.note,
            )
        except (InvalidTransition, ValidationError, ApplicationConflict) as error:
            results[index] = _result(index, change, error)
        else:
            results[index] = _result(index, change, None)
    return [results[index] for index in range(len(items))]


def _change_for(application: Application, item: dict[str, Any]) -> Change | ItemResult:
    """The lifecycle action that takes the application to the item's status, or the
    refusal naming the current state and the allowed actions."""
    target = Status(item["status"])
    action = action_reaching(application.status, target)
    if action is None:
        refused = InvalidTransition(
            action=_nominal_action(target), current=Status(application.status)
        )
        return _error(0, "invalid-transition", refused.message, "status")
    if action == Action.REJECT:
        note = item.get("reason") or item.get("note") or ""
    else:
        note = item.get("note") or ""
    return Change(application, action, item.get("occurred_at"), note)


def _result(index: int, change: Change, outcome: ChangeError | None) -> ItemResult:
    if outcome is None:
        target = TRANSITIONS[change.action].target
        return ItemResult(index, True, change.application.reference, target)
    if isinstance(outcome, InvalidTransition):
        return _error(index, "invalid-transition", outcome.message, "status")
    if isinstance(outcome, ApplicationConflict):
        return _error(index, "conflict", str(outcome), "status")
    return _validation_error(index, outcome)


def _nominal_action(target: Status) -> Action:
    return {
        Status.PROCESSING: Action.START_PROCESSING,
        Status.ACTION_REQUIRED: Action.REQUIRE_ACTION,
        Status.DISPATCHED: Action.DISPATCH,
        Status.REJECTED: Action.REJECT,
    }[target]
