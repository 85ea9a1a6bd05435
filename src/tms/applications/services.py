"""Every change to an application (SPEC §3). Each service:

- checks the change against the lifecycle table (``lifecycle.py``);
- applies it only if the application is still at the version the caller saw,
  so of two people acting at once one wins and the other gets ApplicationConflict;
- writes the history event and sends ``status_changed`` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tms.applications import references
from tms.applications.lifecycle import Action, Status, target_of
from tms.applications.models import ActorKind, Application, ApplicationEvent, Channel, Language
from tms.applications.signals import status_changed
from tms.core.phones import normalise_phone
from tms.core.request_context import current_address
from tms.directory.models import Centre, Service
from tms.directory.selectors import working_calendar

# Agency clocks drift; a report a few minutes "in the future" is not an error.
CLOCK_SKEW = timedelta(minutes=5)
# Nothing in this service happened before it existed; older times are typing errors.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
REFERENCE_ATTEMPTS = 8


@dataclass(frozen=True)
class Actor:
    """Who made a change, and through which channel."""

    kind: ActorKind
    channel: Channel
    user_id: int | None = None
    label: str = ""

    @classmethod
    def staff(cls, user: Any, channel: Channel = Channel.COUNTER) -> Actor:
        return cls(ActorKind.STAFF, channel, user_id=user.pk, label=user.get_username())

    @classmethod
    def agency(cls, label: str) -> Actor:
        return cls(ActorKind.AGENCY, Channel.AGENCY_API, label=label)

    @classmethod
    def citizen(cls, channel: Channel) -> Actor:
        return cls(ActorKind.CITIZEN, channel)

    @classmethod
    def system(cls, label: str = "") -> Actor:
        return cls(ActorKind.SYSTEM, Channel.SYSTEM, label=label)


class ApplicationConflict(Exception):
    """Someone else changed the application since the caller read it."""

    def __init__(self, *, reference: str, current: Status) -> None:
        self.reference = reference
        self.current = current
        super().__init__(
            _(
                "Application %(reference)s was changed by someone else a moment ago; "
                "it is now %(current)s. Reload it and try again."
            )
            % {"reference": references.display(reference), "current": current.label}
        )


class DuplicateAgencyReference(ValidationError):
    pass


def _occurred(
    occurred_at: datetime | None,
    *,
    not_before: datetime | None,
    now: datetime | None = None,
    field: str = "occurred_at",
) -> datetime:
    now = now or timezone.now()
    if occurred_at is None:
        return now
    if timezone.is_naive(occurred_at):
        problem = _("The time of the change must include a time zone.")
    elif occurred_at < EARLIEST:
        problem = _("The time of the change is too far in the past.")
    elif occurred_at > now + CLOCK_SKEW:
        problem = _("The time of the change cannot be in the future.")
    elif not_before is not None and occurred_at < not_before:
        problem = _("The time of the change cannot be before the application was lodged.")
    else:
        return occurred_at
    raise ValidationError({field: [problem]})


def _record(
    application: Application,
    *,
    action: Action,
    from_status: str,
    actor: Actor,
    occurred_at: datetime,
    recorded_at: datetime,
    note: str,
    entered_at: datetime | None = None,
) -> ApplicationEvent:
    event = ApplicationEvent.objects.create(
        application=application,
        action=action.value,
        from_status=from_status,
        to_status=application.status,
        occurred_at=occurred_at,
        entered_at=entered_at,
        recorded_at=recorded_at,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:120],
        channel=actor.channel,
        note=note,
        address=current_address(),
        version=application.version,
    )
    status_changed.send(sender=Application, application=application, event=event)
    return event


def application_lodge(
    *,
    service: Service,
    centre: Centre,
    applicant_name: str,
    applicant_phone: str,
    actor: Actor,
    applicant_id_number: str = "",
    language: str = Language.ENGLISH,
    agency_ref: str | None = None,
    lodged_at: datetime | None = None,
    note: str = "",
    representative_name: str = "",
    representative_phone: str = "",
) -> Application:
    """Lodge a new application and give it a tracking reference.

    ``representative_name`` and ``representative_phone`` name someone applying on the
    citizen's behalf (a parent, a carer), who gets the same SMS: both or neither, so that
    every message we send to a second number is to a person we can name."""
    errors: dict[str, list[str]] = {}
    name = " ".join(applicant_name.split())
    if not name:
        errors.setdefault("applicant_name", []).append(_("Enter the applicant's name."))
    try:
        phone = normalise_phone(applicant_phone)
    except ValidationError as exc:
        errors.setdefault("applicant_phone", []).extend(exc.messages)
    id_number = applicant_id_number.strip()
    if service.requires_id_number and not id_number:
        errors.setdefault("applicant_id_number", []).append(
            _("This service needs the applicant's ID or birth certificate number.")
        )
    if not service.is_active:
        errors.setdefault("service", []).append(_("This service is not offered any more."))
    if not centre.is_active:
        errors.setdefault("centre", []).append(_("This centre is closed."))
    if language not in Language.values:
        errors.setdefault("language", []).append(_("Choose English or Kiswahili."))
    representative = " ".join(representative_name.split())
    representative_number = ""
    if representative_phone.strip():
        try:
            representative_number = normalise_phone(representative_phone)
        except ValidationError as exc:
            errors.setdefault("representative_phone", []).extend(exc.messages)
        if not representative:
            errors.setdefault("representative_name", []).append(
                _("Enter the name of the person applying on the citizen's behalf.")
            )
    elif representative:
        errors.setdefault("representative_phone", []).append(
            _("Enter the phone number of the person applying on the citizen's behalf.")
        )
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    lodged = _occurred(lodged_at, not_before=None, now=now, field="lodged_at")
    lodged_day = timezone.localdate(lodged)
    due_date = working_calendar(start=lodged_day).add(lodged_day, service.turnaround_days)
    agency_ref = (agency_ref or "").strip() or None

    with transaction.atomic():
        application = _insert_with_fresh_reference(
            Application(
                service=service,
                agency_id=service.agency_id,
                centre=centre,
                agency_ref=agency_ref,
                status=Status.LODGED,
                applicant_name=name,
                applicant_phone=phone,
                applicant_id_number=id_number,
                language=language,
                representative_name=representative,
                representative_phone=representative_number,
                lodged_at=lodged,
                due_date=due_date,
                status_changed_at=now,
                status_entered_at=lodged,
            )
        )
        _record(
            application,
            action=Action.LODGE,
            from_status="",
            actor=actor,
            occurred_at=lodged,
            recorded_at=now,
            note=note,
        )
    return application


def _insert_with_fresh_reference(application: Application) -> Application:
    """Insert with a new random reference, drawing again on the (rare) collision."""
    for _attempt in range(REFERENCE_ATTEMPTS):
        application.reference = references.generate()
        try:
            with transaction.atomic():
                application.save(force_insert=True)
            return application
        except IntegrityError:
            application.pk = None
            if (
                application.agency_ref
                and Application.objects.filter(
                    agency_id=application.agency_id, agency_ref=application.agency_ref
                ).exists()
            ):
                raise DuplicateAgencyReference(
                    {"agency_ref": [_("This agency reference is already lodged.")]}
                ) from None
            # Otherwise the random reference collided: draw another.
    raise RuntimeError("could not draw an unused reference")  # pragma: no cover


# What each change stamps besides its status, and what it must be told.
STAMPED_AT = {
    Action.ACKNOWLEDGE_RECEIPT: "ready_at",
    Action.HAND_OVER: "closed_at",
    Action.REJECT: "closed_at",
    Action.RETURN: "closed_at",
    Action.CANCEL: "closed_at",
}
# A correction takes back what the change it corrects stamped.
CLEARED = {Action.UNDO_RECEIPT: "ready_at"}
NOTE_REQUIRED = {
    Action.REQUIRE_ACTION: ("note", gettext_lazy("Say what the citizen must do.")),
    Action.REJECT: ("reason", gettext_lazy("Give the reason for the rejection.")),
}


@dataclass(frozen=True)
class PreparedChange:
    target: Status
    occurred_at: datetime
    note: str
    fields: dict[str, Any]


def prepare_change(
    application: Application,
    action: Action,
    *,
    occurred_at: datetime | None,
    note: str,
    now: datetime,
) -> PreparedChange:
    """Check a change against the lifecycle and its own rules, without applying it."""
    if action in NOTE_REQUIRED and not note.strip():
        field, message = NOTE_REQUIRED[action]
        raise ValidationError({field: [str(message)]})
    target = target_of(action, Status(application.status))
    occurred = _occurred(occurred_at, not_before=application.lodged_at, now=now)
    fields: dict[str, Any] = {STAMPED_AT[action]: occurred} if action in STAMPED_AT else {}
    if action in CLEARED:
        fields[CLEARED[action]] = None
    fields["status_entered_at"] = _status_entered(application, action, occurred)
    return PreparedChange(target, occurred, note.strip(), fields)


def _status_entered(
    application: Application, action: Action, occurred: datetime
) -> datetime | None:
    """When the status ``action`` leads to counts as entered. An undone receipt scanned
    from "dispatched" puts the document back on its way as if the scan never happened,
    so the dispatched stint goes on from when the receipt's own from-status was entered;
    any other undone receipt starts a new stint at the undo (the report rollups'
    reading of the history, ``tms.reports.rollups``)."""
    if action != Action.UNDO_RECEIPT:
        return occurred
    # Only a receipt enters "ready", and an undo leaves only "ready": the last event is it.
    receipt = (
        ApplicationEvent.objects.filter(application_id=application.pk, version=application.version)
        .values("from_status", "entered_at")
        .first()
    )
    if receipt is not None and receipt["from_status"] == Status.DISPATCHED:
        return receipt["entered_at"]  # None when recorded before it was kept
    return occurred


def application_change(
    application: Application,
    action: Action,
    *,
    actor: Actor,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Application:
    now = timezone.now()
    change = prepare_change(application, action, occurred_at=occurred_at, note=note, now=now)
    seen_version = application.version
    with transaction.atomic():
        changed = Application.objects.filter(pk=application.pk, version=seen_version).update(
            status=change.target, version=F("version") + 1, status_changed_at=now, **change.fields
        )
        if not changed:
            current = (
                Application.objects.filter(pk=application.pk)
                .values_list("status", flat=True)
                .first()
            )
            raise ApplicationConflict(
                reference=application.reference, current=Status(current or application.status)
            )
        from_status = application.status
        changed_fields = {
            "status": change.target,
            "version": seen_version + 1,
            "status_changed_at": now,
            **change.fields,
        }
        before = {name: getattr(application, name) for name in changed_fields}
        for name, value in changed_fields.items():
            setattr(application, name, value)
        try:
            _record(
                application,
                action=action,
                from_status=from_status,
                actor=actor,
                occurred_at=change.occurred_at,
                recorded_at=now,
                note=change.note,
                entered_at=before["status_entered_at"],
            )
        except BaseException:
            # The transaction rolls back; so does the caller's copy.
            for name, value in before.items():
                setattr(application, name, value)
            raise
    return application


def application_start_processing(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.START_PROCESSING, actor=actor, occurred_at=occurred_at, note=note
    )


def application_require_action(
    application: Application, *, actor: Actor, note: str, occurred_at: datetime | None = None
) -> Application:
    """The agency needs something from the citizen; ``note`` says what, and is sent to them."""
    return application_change(
        application, Action.REQUIRE_ACTION, actor=actor, occurred_at=occurred_at, note=note
    )


def application_resolve_action(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.RESOLVE_ACTION, actor=actor, occurred_at=occurred_at, note=note
    )


def application_dispatch(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.DISPATCH, actor=actor, occurred_at=occurred_at, note=note
    )


def application_acknowledge_receipt(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    """The document has reached the centre: it is ready for collection."""
    return application_change(
        application, Action.ACKNOWLEDGE_RECEIPT, actor=actor, occurred_at=occurred_at, note=note
    )


def application_hand_over(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.HAND_OVER, actor=actor, occurred_at=occurred_at, note=note
    )


def application_reject(
    application: Application, *, actor: Actor, reason: str, occurred_at: datetime | None = None
) -> Application:
    return application_change(
        application, Action.REJECT, actor=actor, occurred_at=occurred_at, note=reason
    )


def application_return(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.RETURN, actor=actor, occurred_at=occurred_at, note=note
    )


def application_cancel(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    return application_change(
        application, Action.CANCEL, actor=actor, occurred_at=occurred_at, note=note
    )


def application_undo_receipt(
    application: Application, *, actor: Actor, occurred_at: datetime | None = None, note: str = ""
) -> Application:
    """A receipt scanned by mistake: back to dispatched (a correction, lifecycle.CORRECTIONS)."""
    return application_change(
        application, Action.UNDO_RECEIPT, actor=actor, occurred_at=occurred_at, note=note
    )


# One entry per action, for callers that hold an action name and want its own
# service (the lifecycle tests drive every one through it).
PERFORMERS = {
    Action.START_PROCESSING: application_start_processing,
    Action.REQUIRE_ACTION: application_require_action,
    Action.RESOLVE_ACTION: application_resolve_action,
    Action.DISPATCH: application_dispatch,
    Action.ACKNOWLEDGE_RECEIPT: application_acknowledge_receipt,
    Action.HAND_OVER: application_hand_over,
    Action.REJECT: application_reject,
    Action.RETURN: application_return,
    Action.CANCEL: application_cancel,
    Action.UNDO_RECEIPT: application_undo_receipt,
}
