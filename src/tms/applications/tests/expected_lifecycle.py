"""The lifecycle of SPEC §3 written out again, and shared test steps (not a test module).

``EXPECTED`` is the lifecycle of SPEC §3 written out independently of
``lifecycle.TRANSITIONS``, so the tests compare the code against a second,
hand-written statement of the rules rather than against itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from tms.applications import services
from tms.applications.lifecycle import Action, Status
from tms.applications.models import Application, ApplicationEvent

A = Action
S = Status

# (action, from) -> to, for every allowed change after lodging.
EXPECTED: dict[tuple[Action, Status], Status] = {
    (A.START_PROCESSING, S.LODGED): S.PROCESSING,
    (A.REQUIRE_ACTION, S.LODGED): S.ACTION_REQUIRED,
    (A.REQUIRE_ACTION, S.PROCESSING): S.ACTION_REQUIRED,
    (A.RESOLVE_ACTION, S.ACTION_REQUIRED): S.PROCESSING,
    (A.DISPATCH, S.LODGED): S.DISPATCHED,
    (A.DISPATCH, S.PROCESSING): S.DISPATCHED,
    (A.ACKNOWLEDGE_RECEIPT, S.LODGED): S.READY,
    (A.ACKNOWLEDGE_RECEIPT, S.PROCESSING): S.READY,
    (A.ACKNOWLEDGE_RECEIPT, S.DISPATCHED): S.READY,
    (A.HAND_OVER, S.READY): S.COLLECTED,
    (A.REJECT, S.LODGED): S.REJECTED,
    (A.REJECT, S.PROCESSING): S.REJECTED,
    (A.REJECT, S.ACTION_REQUIRED): S.REJECTED,
    (A.RETURN, S.READY): S.RETURNED,
    (A.CANCEL, S.LODGED): S.CANCELLED,
    (A.CANCEL, S.PROCESSING): S.CANCELLED,
    (A.CANCEL, S.ACTION_REQUIRED): S.CANCELLED,
    (A.UNDO_RECEIPT, S.READY): S.DISPATCHED,
}
TERMINAL_STATES = {S.COLLECTED, S.REJECTED, S.RETURNED, S.CANCELLED}
# Every action a service performs on an existing application.
ACTIONS_AFTER_LODGING = [a for a in Action if a is not A.LODGE]

# The shortest way to bring a freshly lodged application into each state.
PATH_TO: dict[Status, list[Action]] = {
    S.LODGED: [],
    S.PROCESSING: [A.START_PROCESSING],
    S.ACTION_REQUIRED: [A.REQUIRE_ACTION],
    S.DISPATCHED: [A.DISPATCH],
    S.READY: [A.ACKNOWLEDGE_RECEIPT],
    S.COLLECTED: [A.ACKNOWLEDGE_RECEIPT, A.HAND_OVER],
    S.REJECTED: [A.REJECT],
    S.RETURNED: [A.ACKNOWLEDGE_RECEIPT, A.RETURN],
    S.CANCELLED: [A.CANCEL],
}


def perform(
    application: Application,
    action: Action,
    *,
    actor: services.Actor | None = None,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Application:
    """Carry out ``action`` through its real service, supplying what each one requires."""
    actor = actor or services.Actor.system("test")
    kwargs: dict[str, Any] = {"actor": actor, "occurred_at": occurred_at}
    if action is A.REQUIRE_ACTION:
        kwargs["note"] = note or "Bring your birth certificate"
    elif action is A.REJECT:
        kwargs["reason"] = note or "Duplicate application"
    else:
        kwargs["note"] = note
    performer = cast(Callable[..., Application], services.PERFORMERS[action])
    return performer(application, **kwargs)


def bring_to(application: Application, status: Status) -> Application:
    for action in PATH_TO[status]:
        application = perform(application, action)
    assert application.status == status
    return application


def assert_history_consistent(application: Application) -> list[ApplicationEvent]:
    """The stored application and its events tell one story; returns the events."""
    application = Application.objects.get(pk=application.pk)
    events = list(ApplicationEvent.objects.filter(application=application).order_by("version"))
    assert events, "an application always has its lodging event"
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert events[0].action == A.LODGE
    assert events[0].from_status == ""
    assert events[0].to_status == S.LODGED
    for before, after in itertools.pairwise(events):
        assert after.from_status == before.to_status, (before, after)
        assert (Action(after.action), Status(after.from_status)) in EXPECTED
        assert EXPECTED[Action(after.action), Status(after.from_status)] == after.to_status
    assert application.status == events[-1].to_status
    assert application.version == len(events)
    assert_entered_at(events, application.status_entered_at)
    return events


def assert_entered_at(events: list[ApplicationEvent], status_entered_at: datetime | None) -> None:
    """Each event carries when its from-status was entered: the previous step's time, where
    an undone receipt scanned from "dispatched" leaves the dispatch as the previous step;
    the application, when its status was."""
    steps: list[tuple[str, datetime]] = []  # (from status, occurred at)
    for event in events:
        assert event.entered_at == (steps[-1][1] if steps else None), event
        if event.action == A.UNDO_RECEIPT and steps.pop()[0] == S.DISPATCHED:
            continue
        steps.append((event.from_status, event.occurred_at))
    assert status_entered_at == steps[-1][1]
