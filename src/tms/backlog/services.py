"""Writes of the backlog pages: confirming returns in batches, answering citizen queries.

Both re-check everything they are given (scope, state, retention) instead of trusting
the form that sent it: a page may be minutes old, and a form can be hand-made."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tms.accounts.roles import Capability
from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.bulk import Change, applications_change_bulk
from tms.applications.lifecycle import Action, InvalidTransition, Status
from tms.applications.models import Application, Channel
from tms.audit.models import AuditAction
from tms.audit.services import audit_record
from tms.backlog.selectors import is_past_retention, return_day, today_local
from tms.notifications.models import Event
from tms.notifications.rendering import render_reply
from tms.notifications.services import message_queue
from tms.tracking.models import CitizenQuery, QueryState

logger = logging.getLogger(__name__)

# One confirmation covers at most this many documents (a page of the return list is
# far smaller); a larger form is refused rather than half-processed.
MAX_RETURN_BATCH = 1000
# Fits two GSM-7 SMS segments (306 characters) with the "About <reference>: " prefix.
ANSWER_MAX_LENGTH = 280


# --- Returns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reference: str  # display form; "" when the id is not one the staff member may see
    reason: str


@dataclass
class ReturnOutcome:
    returned: list[str] = field(default_factory=list)  # references, display form
    refused: list[Refusal] = field(default_factory=list)


def _reason(error: Exception) -> str:
    if isinstance(error, InvalidTransition):
        return error.message
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def returns_confirm(
    *,
    staff: Staff,
    application_ids: Sequence[int],
    note: str = "",
    today: date | None = None,
) -> ReturnOutcome:
    """Return the selected uncollected documents to their agencies, in one batch.

    Only documents in ``staff``'s scope, still ready and past their retention on
    ``today`` (Nairobi) are returned; each other one is refused with its reason. The
    returns are lifecycle changes (history events, agency webhooks) made together by
    ``applications_change_bulk``; one that someone else changed meanwhile is refused as
    a conflict while the rest go through."""
    staff.require(Capability.RETURN)
    ids = list(dict.fromkeys(application_ids))
    if not ids:
        raise ValidationError(_("Select at least one document to return."))
    if len(ids) > MAX_RETURN_BATCH:
        raise ValidationError(
            _("Confirm at most %(limit)d documents at a time.") % {"limit": MAX_RETURN_BATCH}
        )
    today = today or today_local()
    note = note.strip() or _("Not collected within the retention period; returned to the agency.")
    found = {
        application.pk: application
        for application in staff.applications(Application.objects.filter(pk__in=ids))
        .select_related("service")
        .order_by()
    }
    outcome = ReturnOutcome()
    changes: list[Change] = []
    for pk in ids:
        application = found.get(pk)
        if application is None:
            outcome.refused.append(
                Refusal("", _("Not an application of your centre (or it does not exist)."))
            )
            continue
        shown = references.display(application.reference)
        if application.status != Status.READY:
            outcome.refused.append(
                Refusal(
                    shown,
                    _("It is no longer waiting for collection: it is now %(status)s.")
                    % {"status": Status(application.status).label},
                )
            )
        elif not is_past_retention(application, today):
            outcome.refused.append(
                Refusal(
                    shown,
                    _("Its retention period has not run out: it can be returned after %(day)s.")
                    % {"day": return_day(application).isoformat()},
                )
            )
        else:
            changes.append(Change(application=application, action=Action.RETURN, note=note))

    if changes:
        errors = applications_change_bulk(changes, actor=staff.actor(Channel.STAFF_WEB))
        for change, error in zip(changes, errors, strict=True):
            shown = references.display(change.application.reference)
            if error is None:
                outcome.returned.append(shown)
            else:
                outcome.refused.append(Refusal(shown, _reason(error)))
    logger.info(
        "returns confirmed by staff user %s: %d returned, %d refused",
        staff.pk,
        len(outcome.returned),
        len(outcome.refused),
    )
    return outcome


# --- Citizen queries ------------------------------------------------------------------------------


class QueryAlreadyAnswered(Exception):
    def __init__(self) -> None:
        self.message = _("This query has already been answered; the citizen has the answer.")
        super().__init__(self.message)


def query_answer(*, staff: Staff, query: CitizenQuery, answer: str) -> CitizenQuery:
    """Answer a citizen's query: the answer goes to the applicant's phone by SMS, in
    the same transaction that marks the query answered (so neither happens alone), and
    the audit trail records who answered. A query is answered once; a second answer
    (two officers at once, or a resubmitted form) is refused."""
    staff.require(Capability.QUERIES)
    application = query.application
    staff.check(application)
    text = " ".join(answer.split())  # one SMS paragraph: no stray line breaks or spaces
    if not text:
        raise ValidationError({"answer": [_("Write the answer to send to the citizen.")]})
    if len(text) > ANSWER_MAX_LENGTH:
        raise ValidationError(
            {
                "answer": [
                    _("Keep the answer to %(limit)d characters (it has %(length)d).")
                    % {"limit": ANSWER_MAX_LENGTH, "length": len(text)}
                ]
            }
        )
    now = timezone.now()
    with transaction.atomic():
        # The state guard makes the database decide between two simultaneous answers.
        answered = CitizenQuery.objects.filter(pk=query.pk, state=QueryState.OPEN).update(
            state=QueryState.ANSWERED, answer=text, answered_at=now
        )
        if not answered:
            raise QueryAlreadyAnswered()
        with translation.override(application.language):
            body = _("About %(reference)s: %(answer)s") % {
                "reference": references.display(application.reference),
                "answer": text,
            }
        # A reply (sent first, even in quiet hours), tied to the application so it shows
        # in its SMS history; the key makes a second SMS for one query impossible.
        message_queue(
            event=Event.REPLY,
            to=application.applicant_phone,
            rendered=render_reply(body, language=application.language),
            language=application.language,
            application=application,
            dedupe_key=f"query-answer:{query.pk}",
            now=now,
        )
        audit_record(
            staff,
            AuditAction.QUERY_ANSWER,
            application=application,
            detail=f"citizen query {query.pk}",
        )
    query.state = QueryState.ANSWERED
    query.answer = text
    query.answered_at = now
    return query
