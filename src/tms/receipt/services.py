"""Receipt of documents by scanning (SPEC §9): each scan at the counter answered at once.

An officer scans lodging slips (or the agency's document barcodes) one after another.
Every scan ends in one ``ScanOutcome``; only ``acknowledged`` changes anything, through
the lifecycle's own service, which writes the history event and queues the ready SMS in
the same transaction. A second scan of the same slip is harmless (``already_ready``).

The common path is kept short because officers scan thousands of documents from one
delivery: one indexed SELECT by reference (with the centre and service the answer and
the SMS need), then the lifecycle's UPDATE, event INSERT and message INSERT.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tms.accounts.roles import Capability
from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.lifecycle import Action, Status
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.applications.references import ReferenceTypingError
from tms.applications.services import (
    ApplicationConflict,
    application_acknowledge_receipt,
    application_undo_receipt,
)
from tms.directory.models import Agency
from tms.notifications.models import Event, Message, MessageState

logger = logging.getLogger(__name__)

# An acknowledgement can be taken back by its officer for this long: long enough to
# notice the wrong slip in the pile, short enough that the citizen has not set out.
UNDO_WINDOW = timedelta(minutes=10)
# Scanners type at most a few dozen characters; anything longer is not a barcode.
MAX_SCAN_LENGTH = 200
# Shown back to the officer when a scan cannot be read as a reference.
ECHO_LENGTH = 40
# States from which a document in the officer's hand is received (the lifecycle's own
# sources of acknowledge_receipt); any other state is answered with wrong_state.
RECEIVABLE = frozenset({Status.LODGED, Status.PROCESSING, Status.DISPATCHED})
# Digits possibly grouped by single spaces, dashes or dots, as slips print references.
_DIGIT_GROUPS = re.compile(r"\d(?:[ \-.]?\d)*")
_DIGIT_RUNS = re.compile(r"\d+")
# Only digits and the separators people type: meant as a tracking reference.
_SEPARATORS_AND_DIGITS = re.compile(r"[\d\s\-‐-―.]+")


class ScanKind(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", gettext_lazy("Received: now ready")
    ALREADY_READY = "already_ready", gettext_lazy("Already ready")
    OTHER_CENTRE = "other_centre", gettext_lazy("Another centre's")
    WRONG_STATE = "wrong_state", gettext_lazy("Cannot be received")
    UNKNOWN = "unknown", gettext_lazy("Unknown")
    TYPING_ERROR = "typing_error", gettext_lazy("Typing error")
    CONFLICT = "conflict", gettext_lazy("Changed meanwhile")


class Tone(models.TextChoices):
    """What the officer hears and sees: success, look twice, or put it aside."""

    SUCCESS = "success", gettext_lazy("success")
    WARNING = "warning", gettext_lazy("warning")
    ERROR = "error", gettext_lazy("error")


TONES: dict[str, Tone] = {
    ScanKind.ACKNOWLEDGED: Tone.SUCCESS,
    ScanKind.ALREADY_READY: Tone.WARNING,
    ScanKind.OTHER_CENTRE: Tone.WARNING,
    ScanKind.WRONG_STATE: Tone.ERROR,
    ScanKind.UNKNOWN: Tone.ERROR,
    ScanKind.TYPING_ERROR: Tone.ERROR,
    ScanKind.CONFLICT: Tone.ERROR,
}


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to one scan. ``reference`` is for display (grouped digits, or what was
    read when it is not a reference); ``version`` is the application's version after an
    acknowledgement, which names the history event an undo takes back."""

    kind: ScanKind
    reference: str
    message: str
    application_id: int | None = None
    version: int | None = None

    @property
    def tone(self) -> Tone:
        return TONES[self.kind]

    @property
    def label(self) -> str:
        return str(self.kind.label)


def _select() -> models.QuerySet[Application]:
    # The centre and service are what the answer shows and what the ready SMS says.
    return Application.objects.select_related("centre", "service")


def scan_acknowledge(*, staff: Staff, raw: str) -> ScanOutcome:
    """Receive the document whose slip or barcode was scanned as ``raw``.

    Never raises for anything the scanner may type; refuses (NotAllowed) a staff
    member who may not acknowledge receipt."""
    centre_id = staff.centre_for(Capability.ACKNOWLEDGE)
    text = (raw or "").strip()[:MAX_SCAN_LENGTH]
    if not text:
        return ScanOutcome(ScanKind.TYPING_ERROR, "", _("Nothing was scanned. Scan again."))
    try:
        reference = references.parse(text)
    except ReferenceTypingError as error:
        return _scan_barcode(staff, centre_id, text, error)
    try:
        application = _select().get(reference=reference)
    except Application.DoesNotExist:
        # Some agencies' own references are thirteen digits too.
        return _scan_agency_ref(staff, centre_id, text) or _unknown(reference)
    return _receive(staff, centre_id, application)


def _unknown(reference: str) -> ScanOutcome:
    return ScanOutcome(
        ScanKind.UNKNOWN,
        references.display(reference),
        _(
            "No application has this reference. Check the slip; if it is right, set the "
            "document aside for the agency."
        ),
    )


def _scan_barcode(
    staff: Staff, centre_id: int, text: str, error: ReferenceTypingError
) -> ScanOutcome:
    """A scan that is not a bare reference: an agency's document barcode that carries
    our reference among other data, or the agency's own reference; else a typing error."""
    candidates = _embedded_references(text)
    if candidates:
        found = list(_select().filter(reference__in=candidates)[:2])
        if len(found) == 1:
            return _receive(staff, centre_id, found[0])
    by_agency_ref = _scan_agency_ref(staff, centre_id, text)
    if by_agency_ref is not None:
        return by_agency_ref
    echo = text[:ECHO_LENGTH]
    if _SEPARATORS_AND_DIGITS.fullmatch(text):
        # Meant as a reference: say what is wrong with it, never "not found".
        return ScanOutcome(ScanKind.TYPING_ERROR, echo, _typing_error_message(error))
    return ScanOutcome(
        ScanKind.UNKNOWN,
        echo,
        _(
            "This barcode carries no tracking reference, and no application at this centre "
            "has it as the agency's reference. Scan the lodging slip instead."
        ),
    )


def _typing_error_message(error: ReferenceTypingError) -> str:
    detail = {
        "length": _("A tracking reference has 13 digits."),
        "check digit": _("The digits do not add up (check digit): one was misread or mistyped."),
    }.get(error.reason, "")
    return f"{error.message} {detail}".strip()


def _embedded_references(text: str) -> list[str]:
    """Well-formed references inside a longer barcode, e.g. ``NRB/2024/77|4821773091552``."""
    found: dict[str, None] = {}
    for pattern in (_DIGIT_GROUPS, _DIGIT_RUNS):
        for match in pattern.finditer(text):
            digits = re.sub(r"\D", "", match.group())
            if len(digits) == references.LENGTH and references.is_well_formed(digits):
                found[digits] = None
    return list(found)


def _scan_agency_ref(staff: Staff, centre_id: int, text: str) -> ScanOutcome | None:
    """The application at this centre whose agency reference is ``text``, received; an
    ``unknown`` with a hint when several agencies use it here; None when none does."""
    # agency_ref is unique per agency: probing the (agency, agency_ref) index once per
    # agency is cheaper than reading the centre's applications.
    found = list(
        _select().filter(
            agency_id__in=Agency.objects.values("id"),
            agency_ref=text[:64],
            centre_id=centre_id,
        )[:2]
    )
    if not found:
        return None
    if len(found) > 1:
        return ScanOutcome(
            ScanKind.UNKNOWN,
            text[:ECHO_LENGTH],
            _(
                "Several agencies use this reference for applications at this centre. Scan "
                "the tracking reference on the lodging slip instead."
            ),
        )
    return _receive(staff, centre_id, found[0])


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return formats.date_format(timezone.localtime(moment), "j M Y, H:i")


def _receive(
    staff: Staff, centre_id: int, application: Application, *, retried: bool = False
) -> ScanOutcome:
    shown = references.display(application.reference)
    if application.centre_id != centre_id:
        # Name the centre, so the officer can send the document on; nothing personal.
        return ScanOutcome(
            ScanKind.OTHER_CENTRE,
            shown,
            _("This document belongs to %(centre)s. Do not hand it over here; send it on.")
            % {"centre": application.centre.name},
        )
    status = Status(application.status)
    if status == Status.READY:
        return ScanOutcome(
            ScanKind.ALREADY_READY,
            shown,
            _("Already ready for collection since %(when)s. Nothing was changed.")
            % {"when": _local(application.ready_at)},
            application.pk,
        )
    if status not in RECEIVABLE:
        return ScanOutcome(
            ScanKind.WRONG_STATE,
            shown,
            _("This application is %(status)s: it cannot be received. Set it aside.")
            % {"status": status.label},
            application.pk,
        )
    try:
        application_acknowledge_receipt(application, actor=staff.actor(Channel.COUNTER))
    except ApplicationConflict:
        # Someone changed it between our read and our write (often a colleague scanning
        # the same delivery): read it again and answer from what it is now, once.
        if retried:
            logger.info("scan conflict twice on application %s", application.pk)
            return ScanOutcome(
                ScanKind.CONFLICT,
                shown,
                _("Someone else changed this application at the same moment. Scan it again."),
                application.pk,
            )
        fresh = _select().get(pk=application.pk)
        return _receive(staff, centre_id, fresh, retried=True)
    return ScanOutcome(
        ScanKind.ACKNOWLEDGED,
        shown,
        _("%(service)s: ready for collection. The citizen is sent an SMS.")
        % {"service": application.service.name()},
        application.pk,
        application.version,
    )


# --- Undo -----------------------------------------------------------------------------------


class UndoRefused(Exception):
    """The acknowledgement cannot be taken back; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UndoOutcome:
    reference: str
    message: str
    sms_withdrawn: bool


def scan_undo(
    *, staff: Staff, application_id: int, version: int, now: datetime | None = None
) -> UndoOutcome:
    """Take back ``staff``'s own acknowledgement (the event that brought the application
    to ``version``): only within UNDO_WINDOW, and only if nothing happened since.

    The application goes back to dispatched (lifecycle ``undo_receipt``; the history keeps
    both events), its ready time is cleared, and the ready SMS is withdrawn if it has not
    left yet. Raises UndoRefused with the reason otherwise."""
    staff.centre_for(Capability.ACKNOWLEDGE)
    now = now or timezone.now()
    application = staff.applications(_select()).filter(pk=application_id).first()
    if application is None:
        raise UndoRefused(_("There is no acknowledgement of yours to undo."))
    event = (
        ApplicationEvent.objects.filter(application_id=application.pk, version=version)
        .only("action", "actor_user_id", "recorded_at")
        .first()
    )
    if event is None or event.action != Action.ACKNOWLEDGE_RECEIPT:
        raise UndoRefused(_("There is no acknowledgement of yours to undo."))
    if event.actor_user_id != staff.pk:
        raise UndoRefused(_("Only the officer who scanned a document can undo its receipt."))
    if application.version != version or application.status != Status.READY:
        raise UndoRefused(
            _(
                "Something else has happened to this application since it was scanned, so "
                "the receipt cannot be undone here. Ask a centre manager."
            )
        )
    if now - event.recorded_at > UNDO_WINDOW:
        raise UndoRefused(
            _("A receipt can be undone only within %(minutes)d minutes of the scan.")
            % {"minutes": UNDO_WINDOW.total_seconds() // 60}
        )
    shown = references.display(application.reference)
    with transaction.atomic():
        try:
            application_undo_receipt(application, actor=staff.actor(Channel.COUNTER))
        except ApplicationConflict as conflict:
            raise UndoRefused(str(conflict)) from None
        withdrawn = _withdraw_ready_sms(application)
    if withdrawn:
        message = _("Receipt undone: the application is on its way again. The SMS was not sent.")
    else:
        message = _(
            "Receipt undone: the application is on its way again. The ready SMS had already "
            "been sent; if the citizen comes, explain that the document is not here yet."
        )
    return UndoOutcome(shown, message, withdrawn)


def _withdraw_ready_sms(application: Application) -> bool:
    """Remove the application's ready SMS if it is still queued, in the caller's
    transaction. The row is locked first (PostgreSQL; SQLite's write lock is already
    held), so a dispatcher claiming it at the same moment either wins and sends it, or
    finds nothing: a message is never half sent and half withdrawn.

    The outbox has no "withdrawn" state, so the unsent row is deleted rather than marked
    failed (a failed message could be sent again by staff, and would count as a delivery
    failure in reports); the history events say what happened."""
    queued = list(
        Message.objects.select_for_update()
        .filter(application_id=application.pk, event=Event.READY, state=MessageState.QUEUED)
        .values_list("id", flat=True)
    )
    if queued:
        Message.objects.filter(id__in=queued, state=MessageState.QUEUED).delete()
    return bool(queued)
