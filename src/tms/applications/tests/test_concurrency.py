"""Two (or eight) people acting on one application at once (SPEC §3), with real threads.

Each thread has its own database connection and closes it at the end. Runs on
SQLite (file database, WAL, IMMEDIATE transactions) and PostgreSQL.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from tms.applications import references
from tms.applications.lifecycle import Action, InvalidTransition, Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import Actor, ApplicationConflict
from tms.applications.tests.expected_lifecycle import EXPECTED, assert_history_consistent, perform
from tms.testing.builders import lodge
from tms.testing.threads import run_in_threads

THREADS = 8
TIMEOUT = 60


@dataclass
class Outcome:
    loaded_version: int | None = None
    won: bool = False
    error: Any = None  # ApplicationConflict or InvalidTransition when it lost


def race(pk: int, actions: list[Action], *, load_before_barrier: bool) -> list[Outcome]:
    barrier = threading.Barrier(len(actions))

    def work(index: int) -> Outcome:
        outcome = Outcome()
        if load_before_barrier:
            mine = Application.objects.get(pk=pk)
            barrier.wait(TIMEOUT)
        else:
            barrier.wait(TIMEOUT)
            mine = Application.objects.get(pk=pk)
        outcome.loaded_version = mine.version
        try:
            perform(mine, actions[index], actor=Actor.agency(f"worker-{index}"))
        except (ApplicationConflict, InvalidTransition) as exc:
            outcome.error = exc
        else:
            outcome.won = True
        return outcome

    outcomes = run_in_threads(len(actions), work)
    unexpected = [o for o in outcomes if not isinstance(o, Outcome)]
    assert not unexpected, f"threads failed: {unexpected!r}"
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_of_eight_people_acting_at_once_exactly_one_wins(service, centre):
    application = lodge(service=service, centre=centre)

    outcomes = race(application.pk, [Action.START_PROCESSING] * THREADS, load_before_barrier=True)

    winners = [i for i, o in enumerate(outcomes) if o.won]
    assert len(winners) == 1
    assert all(o.loaded_version == 1 for o in outcomes)
    # Everyone read version 1 before anyone acted, so every loser is a conflict.
    losers = [o.error for o in outcomes if not o.won]
    assert len(losers) == THREADS - 1
    assert all(isinstance(e, ApplicationConflict) for e in losers), losers
    assert all(e.current == Status.PROCESSING for e in losers)
    assert all(references.display(application.reference) in str(e) for e in losers)

    stored = Application.objects.get(pk=application.pk)
    assert (stored.status, stored.version) == (Status.PROCESSING, 2)
    events = assert_history_consistent(stored)
    assert len(events) == 2
    assert events[-1].actor_label == f"worker-{winners[0]}"


@pytest.mark.django_db(transaction=True)
def test_different_simultaneous_actions_leave_exactly_the_winners_change(service, centre):
    application = lodge(service=service, centre=centre)
    contenders = [
        Action.START_PROCESSING,
        Action.DISPATCH,
        Action.ACKNOWLEDGE_RECEIPT,
        Action.REJECT,
        Action.CANCEL,
        Action.REQUIRE_ACTION,
        Action.START_PROCESSING,
        Action.CANCEL,
    ]

    outcomes = race(application.pk, contenders, load_before_barrier=True)

    winners = [i for i, o in enumerate(outcomes) if o.won]
    assert len(winners) == 1
    winning_action = contenders[winners[0]]
    expected = EXPECTED[winning_action, Status.LODGED]
    losers = [o.error for o in outcomes if not o.won]
    assert all(isinstance(e, ApplicationConflict) for e in losers), losers
    assert all(e.current == expected for e in losers)
    stored = Application.objects.get(pk=application.pk)
    assert stored.status == expected
    events = assert_history_consistent(stored)
    assert len(events) == 2
    assert events[-1].action == winning_action
    assert events[-1].actor_label == f"worker-{winners[0]}"


@pytest.mark.django_db(transaction=True)
def test_people_who_load_after_the_winner_committed_are_refused_by_the_table(service, centre):
    application = lodge(service=service, centre=centre)

    outcomes = race(application.pk, [Action.START_PROCESSING] * THREADS, load_before_barrier=False)

    winners = [o for o in outcomes if o.won]
    assert len(winners) == 1
    assert winners[0].loaded_version == 1
    stale = [o for o in outcomes if not o.won and o.loaded_version == 1]
    late = [o for o in outcomes if not o.won and o.loaded_version == 2]
    assert len(stale) + len(late) == THREADS - 1
    # Read before the winner committed: conflict. Read after: the table refuses.
    assert all(isinstance(o.error, ApplicationConflict) for o in stale)
    assert all(isinstance(o.error, InvalidTransition) for o in late)
    assert all(o.error.current == Status.PROCESSING for o in stale + late)
    stored = Application.objects.get(pk=application.pk)
    assert (stored.status, stored.version) == (Status.PROCESSING, 2)
    assert len(assert_history_consistent(stored)) == 2


@pytest.mark.django_db(transaction=True)
def test_many_applications_raced_at_once_each_keep_a_consistent_history(service, centre):
    lodged = [lodge(service=service, centre=centre) for _ in range(4)]
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> list[str]:
        copies = [Application.objects.get(pk=a.pk) for a in lodged]
        barrier.wait(TIMEOUT)
        results = []
        for mine in copies:
            action = Action.DISPATCH if index % 2 else Action.START_PROCESSING
            try:
                perform(mine, action)
            except ApplicationConflict:
                results.append("conflict")
            else:
                results.append("won")
        return results

    results = run_in_threads(THREADS, work)
    assert all(isinstance(r, list) for r in results), results
    for column in range(len(lodged)):
        assert [r[column] for r in results].count("won") == 1
    for application in lodged:
        assert len(assert_history_consistent(application)) == 2


@pytest.mark.django_db(transaction=True)
def test_lodging_from_several_threads_gives_unique_references(service, centre):
    per_thread = 12
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> list[str]:
        barrier.wait(TIMEOUT)
        return [
            lodge(service=service, centre=centre, actor=Actor.agency(f"worker-{index}")).reference
            for _ in range(per_thread)
        ]

    results = run_in_threads(THREADS, work)
    assert all(isinstance(r, list) for r in results), results
    refs = [ref for batch in results for ref in batch]
    assert len(refs) == THREADS * per_thread
    assert len(set(refs)) == len(refs)
    assert Application.objects.count() == len(refs)
    assert ApplicationEvent.objects.count() == len(refs)
    assert all(references.is_well_formed(ref) for ref in refs)
