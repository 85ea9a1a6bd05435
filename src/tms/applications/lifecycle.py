"""The application lifecycle (SPEC §3): every state, every action, one table.

This module is the only place that says which change is allowed. Services in
``services.py`` carry the changes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    LODGED = "lodged", pgettext_lazy("status", "Lodged")
    PROCESSING = "processing", pgettext_lazy("status", "Processing")
    ACTION_REQUIRED = "action_required", pgettext_lazy("status", "Action required")
    DISPATCHED = "dispatched", pgettext_lazy("status", "On its way to the centre")
    READY = "ready", pgettext_lazy("status", "Ready for collection")
    COLLECTED = "collected", pgettext_lazy("status", "Collected")
    REJECTED = "rejected", pgettext_lazy("status", "Rejected")
    RETURNED = "returned", pgettext_lazy("status", "Returned (not collected)")
    CANCELLED = "cancelled", pgettext_lazy("status", "Cancelled")


class Action(models.TextChoices):
    LODGE = "lodge", _("lodge")
    START_PROCESSING = "start_processing", _("start processing")
    REQUIRE_ACTION = "require_action", _("require action from the citizen")
    RESOLVE_ACTION = "resolve_action", _("resolve the required action")
    DISPATCH = "dispatch", _("dispatch to the centre")
    ACKNOWLEDGE_RECEIPT = "acknowledge_receipt", _("acknowledge receipt")
    HAND_OVER = "hand_over", _("hand over")
    REJECT = "reject", _("reject")
    RETURN = "return", _("return uncollected")
    CANCEL = "cancel", _("cancel")
    UNDO_RECEIPT = "undo_receipt", _("undo a receipt scanned by mistake")


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status


def _t(action: Action, sources: set[Status], target: Status) -> Transition:
    return Transition(action, frozenset(sources), target)


S = Status
# The whole lifecycle. Receipt is accepted from any state before the document
# reaches the centre: the document in the officer's hand is proof that it was
# processed, even when the agency's own updates lag behind.
TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in [
        _t(Action.LODGE, set(), S.LODGED),
        _t(Action.START_PROCESSING, {S.LODGED}, S.PROCESSING),
        _t(Action.REQUIRE_ACTION, {S.LODGED, S.PROCESSING}, S.ACTION_REQUIRED),
        _t(Action.RESOLVE_ACTION, {S.ACTION_REQUIRED}, S.PROCESSING),
        _t(Action.DISPATCH, {S.LODGED, S.PROCESSING}, S.DISPATCHED),
        _t(Action.ACKNOWLEDGE_RECEIPT, {S.LODGED, S.PROCESSING, S.DISPATCHED}, S.READY),
        _t(Action.HAND_OVER, {S.READY}, S.COLLECTED),
        _t(Action.REJECT, {S.LODGED, S.PROCESSING, S.ACTION_REQUIRED}, S.REJECTED),
        _t(Action.RETURN, {S.READY}, S.RETURNED),
        _t(Action.CANCEL, {S.LODGED, S.PROCESSING, S.ACTION_REQUIRED}, S.CANCELLED),
        # A slip scanned by mistake (the wrong one of a pile, or twice by two officers
        # where one meant another document) must be put right at once, before the
        # citizen travels: the officer who scanned it takes it back to "on its way".
        # The history keeps both events; the receipt scanner allows it only for the
        # officer's own scan, minutes old, with nothing else happened since.
        _t(Action.UNDO_RECEIPT, {S.READY}, S.DISPATCHED),
    ]
}
# Corrections are performed only by name, never inferred from a wanted status
# (``action_reaching``): an agency reporting "dispatched" for a ready application is
# still refused, and only the receipt scanner's undo takes one back.
CORRECTIONS = frozenset({Action.UNDO_RECEIPT})

TERMINAL = frozenset({S.COLLECTED, S.REJECTED, S.RETURNED, S.CANCELLED})
OPEN = frozenset(set(Status) - TERMINAL)


def allowed_actions(status: Status | str) -> list[Action]:
    """The actions allowed from ``status``, in the table's order."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


class InvalidTransition(Exception):
    """The action is not allowed from the application's current state."""

    def __init__(self, *, action: Action, current: Status) -> None:
        self.action = action
        self.current = current
        self.allowed = allowed_actions(current)
        super().__init__(str(self.message))

    @property
    def message(self) -> str:
        allowed = ", ".join(str(a.label) for a in self.allowed) or str(_("none (final state)"))
        return str(
            _(
                "Cannot %(action)s: the application is %(current)s. "
                "Allowed from %(current)s: %(allowed)s."
            )
            % {"action": self.action.label, "current": self.current.label, "allowed": allowed}
        )


def action_reaching(current: Status | str, target: Status | str) -> Action | None:
    """The action that takes an application from ``current`` to ``target``, if any
    (e.g. processing is reached by start processing, or by resolving an action)."""
    for transition in TRANSITIONS.values():
        if transition.action in CORRECTIONS:
            continue
        if current in transition.sources and transition.target == target:
            return transition.action
    return None


def target_of(action: Action, current: Status | None) -> Status:
    """The state ``action`` leads to from ``current``, or raise InvalidTransition."""
    transition = TRANSITIONS[action]
    if current is None:
        if transition.sources:
            raise ValueError(f"{action} needs an existing application")
        return transition.target
    if current not in transition.sources:
        raise InvalidTransition(action=action, current=Status(current))
    return transition.target
