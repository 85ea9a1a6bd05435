"""Counter work (SPEC §9): lodging with a one-time form token, searching personal data
(audited), one-time hand-over codes, and the verified hand-over.

Every function takes the acting ``Staff`` and checks role and scope itself, so a view
that forgets a check, or a hand-typed URL, cannot act on another centre's application."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from tms.accounts.roles import Capability
from tms.accounts.scope import NotAllowed, Staff
from tms.applications.lifecycle import Action, InvalidTransition, Status
from tms.applications.models import Application, Channel
from tms.applications.services import ApplicationConflict, application_hand_over, application_lodge
from tms.audit.models import AuditAction
from tms.audit.services import audit_record
from tms.core.phones import mask_phone
from tms.counter import selectors
from tms.counter.models import CollectorKind, Handover, HandoverCode, LodgeToken
from tms.counter.selectors import SearchKind
from tms.directory.models import Centre, Service
from tms.notifications.services import handover_code_queue

CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_WRONG_TRIES = 5
CODE_RESEND_AFTER = timedelta(seconds=60)
CODE_DIGITS = 6


# --- Lodging -------------------------------------------------------------------------------


def counter_lodge(
    *,
    staff: Staff,
    token: str,
    service: Service,
    applicant_name: str,
    applicant_phone: str,
    applicant_id_number: str = "",
    language: str = "en",
    representative_name: str = "",
    representative_phone: str = "",
) -> tuple[Application, bool]:
    """Lodge at the officer's own centre. ``token`` is the form's one-time token: the
    same form submitted twice (a double click, a resent POST) lodges once, and the second
    submission gets the first one's application. Returns (application, newly lodged)."""
    centre_id = staff.centre_for(Capability.LODGE)
    spent = LodgeToken.objects.filter(token=token).select_related("application").first()
    if spent is not None:
        return spent.application, False
    centre = Centre.objects.get(pk=centre_id)
    try:
        with transaction.atomic():
            application = application_lodge(
                service=service,
                centre=centre,
                applicant_name=applicant_name,
                applicant_phone=applicant_phone,
                applicant_id_number=applicant_id_number,
                language=language,
                representative_name=representative_name,
                representative_phone=representative_phone,
                actor=staff.actor(Channel.COUNTER),
            )
            # Unique: of two submissions racing with one token, the second waits for the
            # first to commit, fails here, and rolls its own application (and SMS) back.
            LodgeToken.objects.create(
                token=token, application=application, created_at=timezone.now()
            )
    except IntegrityError:
        spent = LodgeToken.objects.filter(token=token).select_related("application").first()
        if spent is None:
            raise
        return spent.application, False
    return application, True


# --- Search --------------------------------------------------------------------------------


def mask_term(kind: SearchKind, term: str) -> str:
    """What the audit trail keeps of a search term: enough to recognise, not to reuse."""
    if kind == SearchKind.PHONE:
        return term[:5] + "*" * max(len(term) - 7, 0) + term[-2:] if len(term) > 7 else "***"
    if kind == SearchKind.ID_NUMBER:
        return "****" + term[-4:] if len(term) > 4 else "****"
    return term


def counter_search(*, staff: Staff, kind: SearchKind, term: str) -> list[Application]:
    """Applications in ``staff``'s scope matching ``term``; the search is recorded (kind,
    masked term, rows found). ValidationError (keyed ``q``) for a term that cannot match."""
    staff.require(Capability.FIND)
    normalised = selectors.normalise_term(kind, term)
    rows = list(selectors.applications_matching(staff, kind=kind, term=normalised))
    audit_record(
        staff,
        AuditAction.SEARCH,
        detail=f"{kind.value}: {mask_term(kind, normalised)}",
        rows=len(rows),
    )
    return rows


def application_view_record(*, staff: Staff, application: Application) -> None:
    """Record that ``staff`` opened an application's personal details."""
    staff.check(application)
    audit_record(staff, AuditAction.VIEW, application=application)


def slip_print_record(*, staff: Staff, application: Application) -> None:
    """Record that ``staff`` showed (to print) an application's slip."""
    staff.check(application)
    audit_record(staff, AuditAction.PRINT, detail="lodging slip", application=application)


# --- Hand-over codes -----------------------------------------------------------------------


def _may_hand_over(staff: Staff, application: Application) -> None:
    """Hand-over happens at the counter of the centre that holds the document."""
    staff.require(Capability.HAND_OVER)
    if staff.centre_id is None or application.centre_id != staff.centre_id:
        raise NotAllowed(_("This application belongs to another centre."))


def _code_hash(application: Application, code: str) -> str:
    return salted_hmac(
        "tms.counter.handover-code", f"{application.pk}:{code}", algorithm="sha256"
    ).hexdigest()


class CodeWait(Exception):
    """A new code was sent moments ago; the citizen should wait for it first."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        super().__init__(
            _("A code was sent less than a minute ago. Wait %(seconds)d seconds to send another.")
            % {"seconds": seconds}
        )


def handover_code_send(*, staff: Staff, application: Application) -> HandoverCode:
    """Send a new one-time code to the citizen's phone (the previous one stops counting).
    Refused with CodeWait within a minute of the last one, so that a hasty resend does not
    leave the citizen holding two codes."""
    _may_hand_over(staff, application)
    if application.status != Status.READY:
        raise InvalidTransition(action=Action.HAND_OVER, current=Status(application.status))
    if not application.service.handover_code_required:
        raise ValidationError({"code": [_("This service hands documents over without a code.")]})
    now = timezone.now()
    with transaction.atomic():
        # Serialise sends for this application (a no-op on SQLite, which writes one at a time).
        Application.objects.select_for_update().filter(pk=application.pk).first()
        last = (
            HandoverCode.objects.filter(application=application).order_by("-sent_at", "-id").first()
        )
        if last is not None and now - last.sent_at < CODE_RESEND_AFTER:
            raise CodeWait(int((CODE_RESEND_AFTER - (now - last.sent_at)).total_seconds()) + 1)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        record = HandoverCode.objects.create(
            application=application,
            code_hash=_code_hash(application, code),
            sent_by=staff.user,
            sent_at=now,
            expires_at=now + CODE_LIFETIME,
        )
        handover_code_queue(application=application, code=code)
        audit_record(
            staff,
            AuditAction.HANDOVER_CODE,
            detail=f"to {mask_phone(application.applicant_phone)}",
            application=application,
        )
    return record


def handover_code_check(*, application: Application, code: str) -> HandoverCode:
    """The latest code, if ``code`` matches it; otherwise ValidationError keyed ``code``.
    A wrong try is counted (and committed) before the error is raised; the code is spent
    only by the hand-over itself."""
    typed = "".join(code.split())
    now = timezone.now()
    problem: str | None = None
    with transaction.atomic():
        latest = (
            HandoverCode.objects.select_for_update()
            .filter(application=application)
            .order_by("-sent_at", "-id")
            .first()
        )
        if latest is None:
            problem = _("No code has been sent yet. Send a code to the citizen's phone first.")
        elif latest.used_at is not None:
            problem = _("This code was used already. Send a new code.")
        elif latest.expires_at <= now:
            problem = _("The code has expired (codes last 10 minutes). Send a new code.")
        elif latest.wrong_tries >= CODE_MAX_WRONG_TRIES:
            problem = _("Too many wrong tries for this code. Send a new code.")
        elif not typed:
            problem = _("Enter the code the citizen received by SMS.")
        elif not constant_time_compare(latest.code_hash, _code_hash(application, typed)):
            latest.wrong_tries += 1
            HandoverCode.objects.filter(pk=latest.pk).update(wrong_tries=latest.wrong_tries)
            left = CODE_MAX_WRONG_TRIES - latest.wrong_tries
            if left:
                problem = _("The code is not right. %(left)d tries left.") % {"left": left}
            else:
                problem = _("The code is not right, and that was the last try. Send a new code.")
    if problem is not None:
        raise ValidationError({"code": [problem]})
    assert latest is not None
    return latest


# --- Hand-over -----------------------------------------------------------------------------


def normalise_id_number(text: str) -> str:
    """ID and birth certificate numbers as compared: no spaces or dashes, upper case."""
    return "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()


@dataclass(frozen=True)
class Collector:
    """Who stands at the counter, as the officer recorded them."""

    kind: CollectorKind
    # The citizen's ID or birth certificate number, read from the document the collector
    # shows (the citizen's own, or the copy a delegate carries).
    citizen_id_number: str = ""
    delegate_name: str = ""
    delegate_id_number: str = ""
    relationship: str = ""


def _collector_errors(application: Application, collector: Collector) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if collector.kind not in CollectorKind.values:
        errors["collector"] = [_("Say who is collecting: the citizen or a delegate.")]
        return errors
    on_file = normalise_id_number(application.applicant_id_number)
    if on_file:
        typed = normalise_id_number(collector.citizen_id_number)
        if not typed:
            errors["citizen_id_number"] = [
                _("Enter the citizen's ID or birth certificate number from the document shown.")
                if collector.kind == CollectorKind.CITIZEN
                else _(
                    "Enter the citizen's ID or birth certificate number from the copy "
                    "the delegate brings."
                )
            ]
        elif not constant_time_compare(typed, on_file):
            errors["citizen_id_number"] = [
                _(
                    "This does not match the ID or birth certificate number on the "
                    "application. Do not hand the document over."
                )
            ]
    if collector.kind == CollectorKind.DELEGATE:
        if not " ".join(collector.delegate_name.split()):
            errors["delegate_name"] = [_("Enter the delegate's full name.")]
        if not normalise_id_number(collector.delegate_id_number):
            errors["delegate_id_number"] = [_("Enter the delegate's ID number.")]
        if not collector.relationship.strip():
            errors["relationship"] = [_("Enter the delegate's relationship to the citizen.")]
    return errors


def handover_record(
    *,
    staff: Staff,
    application: Application,
    collector: Collector,
    code: str = "",
    seen_version: int | None = None,
) -> Handover:
    """Hand a ready document over and record who collected it, in one transaction.

    The collector is verified first:
    - the citizen: the ID or birth certificate number they show must match the one on the
      application (when it has one);
    - a delegate: their name, ID number and relationship are recorded, and they must carry
      the citizen's ID (or a copy of it), whose number must match as above. Without that,
      a delegate is just someone who found the slip;
    - when the service asks for it, the one-time code sent to the citizen's phone.
    ``seen_version`` is the version the officer was looking at: if someone acted since,
    ApplicationConflict, so nobody hands over on the strength of a stale screen."""
    _may_hand_over(staff, application)
    if seen_version is not None and seen_version != application.version:
        raise ApplicationConflict(
            reference=application.reference, current=Status(application.status)
        )
    if application.status != Status.READY:
        raise InvalidTransition(action=Action.HAND_OVER, current=Status(application.status))
    errors = _collector_errors(application, collector)
    code_record: HandoverCode | None = None
    if application.service.handover_code_required:
        try:
            code_record = handover_code_check(application=application, code=code)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    is_delegate = collector.kind == CollectorKind.DELEGATE
    relationship = " ".join(collector.relationship.split())[:60] if is_delegate else ""
    note = (
        _("Collected by a delegate (%(relationship)s).") % {"relationship": relationship}
        if is_delegate
        else _("Collected by the citizen.")
    )
    now = timezone.now()
    with transaction.atomic():
        if code_record is not None:
            spent = HandoverCode.objects.filter(pk=code_record.pk, used_at__isnull=True).update(
                used_at=now
            )
            if not spent:
                raise ValidationError({"code": [_("This code was used already. Send a new code.")]})
        application_hand_over(
            application, actor=staff.actor(Channel.COUNTER), occurred_at=now, note=note
        )
        return Handover.objects.create(
            application=application,
            collector_kind=collector.kind,
            delegate_name=" ".join(collector.delegate_name.split())[:200] if is_delegate else "",
            delegate_id_number=normalise_id_number(collector.delegate_id_number)[:32]
            if is_delegate
            else "",
            relationship=relationship,
            code_verified=code_record is not None,
            handed_over_by=staff.user,
            handed_over_at=now,
        )


def collector_from(data: dict[str, Any]) -> Collector:
    """A Collector from a form's cleaned data."""
    return Collector(
        kind=CollectorKind(data.get("collector") or CollectorKind.CITIZEN),
        citizen_id_number=data.get("citizen_id_number") or "",
        delegate_name=data.get("delegate_name") or "",
        delegate_id_number=data.get("delegate_id_number") or "",
        relationship=data.get("relationship") or "",
    )
