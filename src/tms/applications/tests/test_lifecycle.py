"""The lifecycle table itself (SPEC §3), without the database."""

from __future__ import annotations

import pytest

from tms.applications import lifecycle
from tms.applications.lifecycle import Action, InvalidTransition, Status, allowed_actions, target_of
from tms.applications.tests.expected_lifecycle import (
    ACTIONS_AFTER_LODGING,
    EXPECTED,
    PATH_TO,
    TERMINAL_STATES,
)

ALL_PAIRS = [(action, status) for action in ACTIONS_AFTER_LODGING for status in Status]


def test_the_table_is_the_one_the_spec_describes() -> None:
    from_table = {
        (action, source): transition.target
        for action, transition in lifecycle.TRANSITIONS.items()
        for source in transition.sources
    }
    assert from_table == EXPECTED
    assert lifecycle.TRANSITIONS[Action.LODGE].sources == frozenset()
    assert lifecycle.TRANSITIONS[Action.LODGE].target == Status.LODGED


def test_every_action_has_exactly_one_row() -> None:
    assert set(lifecycle.TRANSITIONS) == set(Action)
    assert all(action == t.action for action, t in lifecycle.TRANSITIONS.items())


def test_terminal_and_open_states_partition_all_states() -> None:
    assert lifecycle.TERMINAL == TERMINAL_STATES
    open_states = set(Status) - TERMINAL_STATES
    assert open_states == lifecycle.OPEN
    assert not lifecycle.OPEN & lifecycle.TERMINAL


@pytest.mark.parametrize("status", sorted(TERMINAL_STATES))
def test_terminal_states_allow_nothing(status: Status) -> None:
    assert allowed_actions(status) == []
    for action in Action:
        with pytest.raises(InvalidTransition):
            target_of(action, status)


@pytest.mark.parametrize("status", sorted(set(Status) - TERMINAL_STATES))
def test_every_open_state_can_still_reach_an_end(status: Status) -> None:
    seen, frontier = {status}, [status]
    while frontier:
        current = frontier.pop()
        for action in allowed_actions(current):
            nxt = target_of(action, current)
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen & TERMINAL_STATES


def test_every_state_is_reachable_from_lodged() -> None:
    for status, path in PATH_TO.items():
        current = Status.LODGED
        for action in path:
            current = target_of(action, current)
        assert current == status


@pytest.mark.parametrize(("action", "status"), ALL_PAIRS, ids=lambda v: str(v))
def test_target_of_follows_the_table(action: Action, status: Status) -> None:
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            target_of(action, status)
        assert caught.value.current == status
        assert caught.value.action == action
        assert action not in caught.value.allowed
    else:
        assert target_of(action, status) == expected
        assert action in allowed_actions(status)


def test_allowed_actions_keep_the_table_order_and_accept_plain_strings() -> None:
    assert allowed_actions("lodged") == [
        Action.START_PROCESSING,
        Action.REQUIRE_ACTION,
        Action.DISPATCH,
        Action.ACKNOWLEDGE_RECEIPT,
        Action.REJECT,
        Action.CANCEL,
    ]
    assert allowed_actions("ready") == allowed_actions(Status.READY)
    assert allowed_actions(Status.READY) == [Action.HAND_OVER, Action.RETURN, Action.UNDO_RECEIPT]


def test_lodging_needs_no_application_and_other_actions_need_one() -> None:
    assert target_of(Action.LODGE, None) == Status.LODGED
    with pytest.raises(ValueError, match="existing application"):
        target_of(Action.START_PROCESSING, None)
    with pytest.raises(InvalidTransition):
        target_of(Action.LODGE, Status.LODGED)


def test_refusal_names_the_current_state_and_the_allowed_actions() -> None:
    with pytest.raises(InvalidTransition) as caught:
        target_of(Action.START_PROCESSING, Status.READY)
    message = str(caught.value)
    assert message == caught.value.message
    assert str(Action.START_PROCESSING.label) in message
    assert str(Status.READY.label) in message
    assert str(Action.HAND_OVER.label) in message
    assert str(Action.RETURN.label) in message
    assert caught.value.allowed == [Action.HAND_OVER, Action.RETURN, Action.UNDO_RECEIPT]


def test_refusal_from_a_final_state_says_so() -> None:
    with pytest.raises(InvalidTransition) as caught:
        target_of(Action.CANCEL, Status.COLLECTED)
    assert str(Status.COLLECTED.label) in str(caught.value)
    assert "none (final state)" in str(caught.value)
    assert caught.value.allowed == []
