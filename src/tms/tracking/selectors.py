"""What a citizen may see of an application: no personal data beyond a masked name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.selectors import application_get
from tms.directory.selectors import working_calendar
from tms.tracking.models import CitizenQuery, ServiceEstimate

# Below this many recent cases, the agency's promise is a better guide than history.
MIN_CASES_FOR_ESTIMATE = 20
NOT_YET_READY = {Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED}


def status_meaning(status: str) -> str:
    meanings = {
        Status.LODGED: _("We have your application. It goes to the agency for processing."),
        Status.PROCESSING: _("The agency is working on your application."),
        Status.ACTION_REQUIRED: _("The agency needs something from you. See what to do below."),
        Status.DISPATCHED: _("Your document is made and on its way to the service centre."),
        Status.READY: _("Your document is ready. Collect it at the service centre."),
        Status.COLLECTED: _("The document has been collected."),
        Status.REJECTED: _("The application was rejected. The reason is below."),
        Status.RETURNED: _(
            "The document was not collected in time and was returned to the agency."
        ),
        Status.CANCELLED: _("The application was cancelled."),
    }
    return str(meanings[Status(status)])


def mask_name(name: str) -> str:
    """``Jane Wanjiku Kamau`` → ``J*** W*** K***``."""
    return " ".join(part[0] + "***" for part in name.split() if part) or "***"


@dataclass(frozen=True)
class Step:
    status: str
    label: str
    day: date
    note: str


@dataclass(frozen=True)
class Estimate:
    ready_by: date
    working_days: int
    from_history: bool
    basis: str
    overdue: bool


@dataclass(frozen=True)
class CentreInfo:
    code: str
    name: str
    address: str
    opening_hours: str
    phone: str


@dataclass(frozen=True)
class PublicStatus:
    reference: str
    grouped_reference: str
    service: str
    agency: str
    status: str
    status_label: str
    meaning: str
    masked_name: str
    lodged_on: date
    ready_on: date | None
    timeline: list[Step]
    estimate: Estimate | None
    centre: CentreInfo
    what_to_bring: str
    to_do: str
    can_raise_query: bool
    version: int


def estimate_for(application: Application, *, today: date | None = None) -> Estimate | None:
    """The estimated ready date of an application not yet ready, with its basis."""
    if application.status not in NOT_YET_READY:
        return None
    today = today or timezone.localdate()
    lodged_day = timezone.localdate(application.lodged_at)
    summary = ServiceEstimate.objects.filter(
        service_id=application.service_id, centre_id=application.centre_id
    ).first()
    if summary is not None and summary.cases >= MIN_CASES_FOR_ESTIMATE:
        days = summary.p80_working_days
        ready_by = working_calendar(start=lodged_day).add(lodged_day, days)
        basis = _("Most applications like yours are ready within %(days)d working days.") % {
            "days": days
        }
        from_history = True
    else:
        days = application.service.turnaround_days
        ready_by = application.due_date
        basis = _("The agency promises this service within %(days)d working days.") % {"days": days}
        from_history = False
    return Estimate(ready_by, days, from_history, basis, overdue=ready_by < today)


def _timeline(application: Application) -> list[Step]:
    events = ApplicationEvent.objects.filter(application=application).order_by("version")
    steps = []
    for to_status, occurred_at, note in events.values_list("to_status", "occurred_at", "note"):
        # Notes reach the citizen only where they are addressed to the citizen.
        shown = note if to_status in {Status.ACTION_REQUIRED, Status.REJECTED} else ""
        steps.append(Step(to_status, str(Status(to_status).label), _local_day(occurred_at), shown))
    return steps


def _local_day(moment: datetime) -> date:
    return timezone.localdate(moment)


def query_allowed(application: Application, estimate: Estimate | None) -> bool:
    if estimate is None or not estimate.overdue:
        return False
    week = week_of(timezone.localdate())
    return not CitizenQuery.objects.filter(application=application, week=week).exists()


def week_of(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


def public_status(*, reference: str, language: str | None = None) -> PublicStatus:
    """The public view of one application. Raises ReferenceTypingError or
    ApplicationNotFound (from applications.selectors) for bad input."""
    application = application_get(reference=reference)
    language = language or translation.get_language() or "en"
    with translation.override(language):
        estimate = estimate_for(application)
        timeline = _timeline(application)
        centre = application.centre
        hours = (
            centre.opening_hours_sw
            if language.startswith("sw") and centre.opening_hours_sw
            else centre.opening_hours
        )
        to_do = ""
        if application.status in {Status.ACTION_REQUIRED, Status.REJECTED} and timeline:
            to_do = timeline[-1].note
        return PublicStatus(
            reference=application.reference,
            grouped_reference=references.display(application.reference),
            service=application.service.name(language),
            agency=application.agency.name,
            status=application.status,
            status_label=str(Status(application.status).label),
            meaning=status_meaning(application.status),
            masked_name=mask_name(application.applicant_name),
            lodged_on=_local_day(application.lodged_at),
            ready_on=_local_day(application.ready_at) if application.ready_at else None,
            timeline=timeline,
            estimate=estimate,
            centre=CentreInfo(centre.code, centre.name, centre.address, hours, centre.phone),
            what_to_bring=application.service.what_to_bring(language),
            to_do=to_do,
            can_raise_query=query_allowed(application, estimate),
            version=application.version,
        )


def open_references_for_phone(*, phone: str) -> list[str]:
    """The references of a phone's open applications (for the lost-reference SMS)."""
    return list(
        Application.objects.filter(applicant_phone=phone, status__in=NOT_YET_READY | {Status.READY})
        .order_by("-lodged_at")
        .values_list("reference", flat=True)[:10]
    )
