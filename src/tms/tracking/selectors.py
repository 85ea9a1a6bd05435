"""What a citizen may see of an application: no personal data beyond a masked name."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.selectors import ApplicationNotFound
from tms.core.rows import local_day, timestamp
from tms.directory.models import Agency, Centre, Service
from tms.directory.selectors import working_calendar
from tms.tracking.models import CitizenQuery, ServiceEstimate

# Below this many recent cases, the agency's promise is a better guide than history.
MIN_CASES_FOR_ESTIMATE = 20
NOT_YET_READY = {Status.LODGED, Status.PROCESSING, Status.ACTION_REQUIRED, Status.DISPATCHED}


# Translated when shown (lazy), in the language of the request.
MEANINGS = {
    Status.LODGED: gettext_lazy("We have your application. It goes to the agency for processing."),
    Status.PROCESSING: gettext_lazy("The agency is working on your application."),
    Status.ACTION_REQUIRED: gettext_lazy(
        "The agency needs something from you. See what to do below."
    ),
    Status.DISPATCHED: gettext_lazy("Your document is made and on its way to the service centre."),
    Status.READY: gettext_lazy("Your document is ready. Collect it at the service centre."),
    Status.COLLECTED: gettext_lazy("The document has been collected."),
    Status.REJECTED: gettext_lazy("The application was rejected. The reason is below."),
    Status.RETURNED: gettext_lazy(
        "The document was not collected in time and was returned to the agency."
    ),
    Status.CANCELLED: gettext_lazy("The application was cancelled."),
}


def status_meaning(status: str) -> str:
    return str(MEANINGS[Status(status)])


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
    summary = ServiceEstimate.objects.filter(
        service_id=application.service_id, centre_id=application.centre_id
    ).first()
    return _estimate(
        lodged_at=application.lodged_at,
        due_date=application.due_date,
        turnaround_days=application.service.turnaround_days,
        p80_working_days=summary.p80_working_days if summary else None,
        cases=summary.cases if summary else 0,
        today=today or timezone.localdate(),
    )


def _estimate(
    *,
    lodged_at: datetime,
    due_date: date,
    turnaround_days: int,
    p80_working_days: int | None,
    cases: int,
    today: date,
) -> Estimate:
    lodged_day = local_day(lodged_at)
    if p80_working_days is not None and cases >= MIN_CASES_FOR_ESTIMATE:
        days = p80_working_days
        ready_by = working_calendar(start=lodged_day).add(lodged_day, days)
        basis = _("Most applications like yours are ready within %(days)d working days.") % {
            "days": days
        }
        from_history = True
    else:
        days = turnaround_days
        ready_by = due_date
        basis = _("The agency promises this service within %(days)d working days.") % {"days": days}
        from_history = False
    return Estimate(ready_by, days, from_history, basis, overdue=ready_by < today)


def _timeline(application_id: int, language: str) -> list[Step]:
    with connection.cursor() as cursor:
        cursor.execute(TIMELINE, [application_id])
        rows = cursor.fetchall()
    steps = []
    for to_status, occurred_at, note in rows:
        # Notes reach the citizen only where they are addressed to the citizen.
        shown = note if to_status in {Status.ACTION_REQUIRED, Status.REJECTED} else ""
        day = local_day(occurred_at)
        steps.append(Step(to_status, _label(to_status, language), day, shown))
    return steps


def _day(value: date | str) -> date:
    """A date as the driver returned it (SQLite gives text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


@functools.cache
def _label(status: str, language: str) -> str:
    """A status's label in ``language`` (the active one when called): the catalogues do
    not change while the process runs, and each lookup shows several labels."""
    return str(Status(status).label)


def query_allowed(application_id: int, estimate: Estimate | None) -> bool:
    if estimate is None or not estimate.overdue:
        return False
    week = week_of(timezone.localdate())
    return not CitizenQuery.objects.filter(application_id=application_id, week=week).exists()


def week_of(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


APPLICATIONS = Application._meta.db_table
EVENTS = ApplicationEvent._meta.db_table
# The public lookup is the hottest path (bursts of 1,000 a second): one hand-written
# query with every join, because compiling the ORM's queries cost more than running them.
PUBLIC_LOOKUP = f"""
SELECT a.*, s.name_en AS s_name_en, s.name_sw AS s_name_sw, s.bring_en AS s_bring_en,
       s.bring_sw AS s_bring_sw, s.turnaround_days AS s_turnaround_days,
       g.name AS g_name, c.code AS c_code, c.name AS c_name, c.address AS c_address,
       c.opening_hours AS c_hours, c.opening_hours_sw AS c_hours_sw, c.phone AS c_phone,
       e.p80_working_days AS e_p80, e.cases AS e_cases
FROM {APPLICATIONS} a
JOIN {Service._meta.db_table} s ON s.id = a.service_id
JOIN {Agency._meta.db_table} g ON g.id = a.agency_id
JOIN {Centre._meta.db_table} c ON c.id = a.centre_id
LEFT JOIN {ServiceEstimate._meta.db_table} e
       ON e.service_id = a.service_id AND e.centre_id = a.centre_id
WHERE a.reference = %s
"""  # noqa: S608
TIMELINE = (
    f"SELECT to_status, occurred_at, note FROM {EVENTS} "  # noqa: S608
    "WHERE application_id = %s ORDER BY version"
)


def public_status(*, reference: str, language: str | None = None) -> PublicStatus:
    """The public view of one application. Raises ReferenceTypingError for input that
    cannot be a reference, ApplicationNotFound for a well-formed unknown one."""
    digits = references.parse(reference)
    # A plain cursor: building a model instance from the row cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(PUBLIC_LOOKUP, [digits])
        found = cursor.fetchone()
        columns = [column[0] for column in cursor.description]
    if found is None:
        raise ApplicationNotFound(digits)
    row = dict(zip(columns, found, strict=True))
    status = row["status"]
    lodged_at = timestamp(row["lodged_at"])
    language = language or translation.get_language() or "en"
    swahili = language.startswith("sw")
    with translation.override(language):
        estimate = None
        if status in NOT_YET_READY:
            estimate = _estimate(
                lodged_at=lodged_at,
                due_date=_day(row["due_date"]),
                turnaround_days=row["s_turnaround_days"],
                p80_working_days=row["e_p80"],
                cases=row["e_cases"] or 0,
                today=timezone.localdate(),
            )
        timeline = _timeline(row["id"], language)
        to_do = ""
        if status in {Status.ACTION_REQUIRED, Status.REJECTED} and timeline:
            to_do = timeline[-1].note
        return PublicStatus(
            reference=row["reference"],
            grouped_reference=references.display(row["reference"]),
            service=row["s_name_sw"] if swahili else row["s_name_en"],
            agency=row["g_name"],
            status=status,
            status_label=_label(status, language),
            meaning=status_meaning(status),
            masked_name=mask_name(row["applicant_name"]),
            lodged_on=local_day(lodged_at),
            ready_on=local_day(row["ready_at"]) if row["ready_at"] else None,
            timeline=timeline,
            estimate=estimate,
            centre=CentreInfo(
                row["c_code"],
                row["c_name"],
                row["c_address"],
                row["c_hours_sw"] if swahili and row["c_hours_sw"] else row["c_hours"],
                row["c_phone"],
            ),
            what_to_bring=row["s_bring_sw"] if swahili else row["s_bring_en"],
            to_do=to_do,
            can_raise_query=query_allowed(row["id"], estimate),
            version=row["version"],
        )


def open_references_for_phone(*, phone: str) -> list[str]:
    """The references of a phone's open applications (for the lost-reference SMS)."""
    return list(
        Application.objects.filter(applicant_phone=phone, status__in=NOT_YET_READY | {Status.READY})
        .order_by("-lodged_at")
        .values_list("reference", flat=True)[:10]
    )
