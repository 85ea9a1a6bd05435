"""Random sequences of lodging and actions, valid and invalid, checked against a pure model.

The model is ``EXPECTED`` in expected_lifecycle.py (written from SPEC §3, not from the code): it
predicts every application's status; the database must agree, and each history must
stay a contiguous, chained record.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tms.applications.lifecycle import InvalidTransition, Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import ApplicationConflict
from tms.applications.tests.expected_lifecycle import (
    ACTIONS_AFTER_LODGING,
    EXPECTED,
    PATH_TO,
    assert_entered_at,
    perform,
)
from tms.directory.models import Centre, Service
from tms.testing.builders import lodge, make_centre, make_service

actions = st.sampled_from(ACTIONS_AFTER_LODGING)


class LifecycleMachine(RuleBasedStateMachine):
    service: Service
    centre: Centre

    applications = Bundle("applications")
    # Across all runs: proof that the machine explored, so the invariants were not idle.
    reached: set[Status]
    outcomes: dict[str, int]

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, list[Status]] = {}  # pk -> statuses it went through

    def predicted(self, pk: int) -> Status:
        return self.model[pk][-1]

    def _lodge(self) -> int:
        application = lodge(service=self.service, centre=self.centre)
        self.model[application.pk] = [Status.LODGED]
        return application.pk

    @initialize(target=applications)
    def one_application_in_every_state(self):
        """Start each run with every state present, so rare ends (collected, returned) are
        always exercised, whatever the random rules choose afterwards."""
        pks = []
        for status, path in PATH_TO.items():
            pk = self._lodge()
            for action in path:
                self._apply(pk, action)
            assert self.predicted(pk) == status
            pks.append(pk)
        return multiple(*pks)

    @rule(target=applications)
    def lodge_one(self) -> int:
        return self._lodge()

    @rule(pk=applications, action=actions)
    def act(self, pk: int, action) -> None:
        """Any action, allowed or not."""
        self._apply(pk, action)

    @rule(pk=applications, data=st.data())
    def act_as_the_model_allows(self, pk: int, data) -> None:
        """An allowed action (so that long journeys happen), or any one from a final state."""
        allowed = sorted(a for (a, source) in EXPECTED if source == self.predicted(pk))
        self._apply(pk, data.draw(st.sampled_from(allowed or ACTIONS_AFTER_LODGING)))

    def _apply(self, pk: int, action) -> None:
        application = Application.objects.get(pk=pk)
        expected = EXPECTED.get((action, self.predicted(pk)))
        if expected is None:
            with pytest.raises(InvalidTransition) as caught:
                perform(application, action)
            assert caught.value.current == self.predicted(pk)
            self.outcomes["refused"] += 1
        else:
            result = perform(application, action)
            assert result.status == expected
            self.model[pk].append(expected)
            self.reached.add(expected)
            self.outcomes["done"] += 1

    @rule(pk=applications, first=actions, second=actions)
    def two_people_on_one_copy_each(self, pk: int, first, second) -> None:
        """Both read the application; the first acts; the second acts on what it read."""
        mine = Application.objects.get(pk=pk)
        theirs = Application.objects.get(pk=pk)
        seen = self.predicted(pk)
        expected = EXPECTED.get((first, seen))
        if expected is None:
            with pytest.raises(InvalidTransition):
                perform(theirs, first)
            return
        perform(theirs, first)
        self.model[pk].append(expected)
        self.reached.add(expected)
        if (second, seen) in EXPECTED:
            with pytest.raises(ApplicationConflict) as caught:
                perform(mine, second)
            assert caught.value.current == expected
            self.outcomes["conflict"] += 1
        else:
            with pytest.raises(InvalidTransition):
                perform(mine, second)

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        if not self.model:
            return
        stored = dict(Application.objects.filter(pk__in=self.model).values_list("pk", "status"))
        assert stored == {pk: statuses[-1] for pk, statuses in self.model.items()}

    @invariant()
    def every_history_is_a_chain(self) -> None:
        if not self.model:
            return
        events: dict[int, list[ApplicationEvent]] = {pk: [] for pk in self.model}
        for event in ApplicationEvent.objects.filter(application_id__in=self.model).order_by(
            "application_id", "version"
        ):
            events[event.application_id].append(event)
        stored = {
            pk: (version, entered)
            for pk, version, entered in Application.objects.filter(pk__in=self.model).values_list(
                "pk", "version", "status_entered_at"
            )
        }
        for pk, statuses in self.model.items():
            history = events[pk]
            assert [e.version for e in history] == list(range(1, len(history) + 1))
            assert stored[pk][0] == len(history)
            assert_entered_at(history, stored[pk][1])
            assert [e.to_status for e in history] == statuses
            assert history[0].from_status == ""
            for before, after in itertools.pairwise(history):
                assert after.from_status == before.to_status


@pytest.mark.django_db
def test_random_action_sequences_keep_status_and_history_consistent() -> None:
    LifecycleMachine.service = make_service()
    LifecycleMachine.centre = make_centre()
    LifecycleMachine.reached = set()
    LifecycleMachine.outcomes = {"done": 0, "refused": 0, "conflict": 0}
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert LifecycleMachine.reached == set(Status) - {Status.LODGED}
    assert all(count > 0 for count in LifecycleMachine.outcomes.values())
