"""Keeping the rollups: incremental runs, rebuild, the command, the task, the SMS window."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tms.applications.models import ApplicationEvent
from tms.core import schedule
from tms.notifications.models import Event, MessageState
from tms.reports import rollups, tasks
from tms.reports.models import DailyDurations, DailyFigures, DailySms, RollupState
from tms.reports.rollups import FIGURES, rollups_rebuild, rollups_update, sms_recompute
from tms.reports.tests.conftest import DataSet, at, d, make_message
from tms.testing.builders import lodge

pytestmark = pytest.mark.django_db
NOW = timedelta(0)


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row, comparable across runs (ids left out)."""
    key = ("day", "agency_id", "service_id", "centre_id")
    return {
        "figures": sorted(DailyFigures.objects.values_list(*key, *FIGURES)),
        "durations": sorted(DailyDurations.objects.values_list(*key, "measure", "days", "count")),
        "sms": sorted(
            (day, network, a or 0, s or 0, c or 0, sent, delivered, failed, cost, segments)
            for day, network, a, s, c, sent, delivered, failed, cost, segments in (
                DailySms.objects.values_list(
                    *("day", "network", "agency_id", "service_id", "centre_id"),
                    *("sent", "delivered", "failed", "cost", "segments"),
                )
            )
        ),
    }


def test_running_twice_changes_nothing(dataset: DataSet) -> None:
    before = snapshot()
    assert before["figures"] and before["durations"]
    summary = rollups_update(settle=NOW)
    assert summary.events == 0
    assert snapshot() == before


def test_rebuild_equals_incremental_runs(build_dataset: Callable[..., DataSet]) -> None:
    # Several runs: one before anything, one half-way (a5's receipt folded in before its
    # undo arrives), one at the end, with chunks smaller than the history.
    rollups_update(settle=NOW)
    build_dataset(checkpoint=lambda: rollups_update(settle=NOW))
    from tms.reports import rollups

    original = rollups.CHUNK, rollups.POSTGRESQL_CHUNK
    rollups.CHUNK = rollups.POSTGRESQL_CHUNK = 7
    try:
        rollups_update(settle=NOW)
        sms_recompute(days=None)  # the incremental runs recompute recent days only
        incremental = snapshot()
        rollups_rebuild(settle=NOW)
        rebuilt = snapshot()
    finally:
        rollups.CHUNK, rollups.POSTGRESQL_CHUNK = original
    assert incremental == rebuilt
    assert len(rebuilt["figures"]) > 10
    # And a rebuild with whole chunks gives the same again.
    rollups_rebuild(settle=NOW)
    assert snapshot() == rebuilt
    # No all-zero rows left behind by the undone receipt.
    assert not [row for row in rebuilt["figures"] if not any(row[4:])]
    assert not [row for row in rebuilt["durations"] if row[-1] == 0]


@pytest.mark.parametrize("chunk", [1, 3])
def test_earlier_events_are_read_only_where_the_events_do_not_carry_them(
    build_dataset: Callable[..., DataSet], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(rollups, "CHUNK", chunk)
    monkeypatch.setattr(rollups, "POSTGRESQL_CHUNK", chunk)
    dataset = build_dataset()
    read: set[int] = set()
    earlier_events = rollups._earlier_events

    def spy(application_ids: set[int], *, before_id: int) -> list[tuple[Any, ...]]:
        read.update(application_ids)
        return earlier_events(application_ids, before_id=before_id)

    monkeypatch.setattr(rollups, "_earlier_events", spy)
    rollups_rebuild(settle=NOW)
    carried = snapshot()
    # Each event says when its stint began; only an undo opening a chunk needs the
    # receipt before it (a chunk of one event: a5's undo always opens one).
    undone = dataset.apps["a5"].pk
    assert read == {undone} if chunk == 1 else read <= {undone}

    # Events recorded before ``entered_at`` was kept: the history is read instead, and
    # gives the same rollups.
    ApplicationEvent.objects.update(entered_at=None)
    read.clear()
    rollups_rebuild(settle=NOW)
    assert len(read) > 5
    assert snapshot() == carried
    monkeypatch.setattr(rollups, "CHUNK", 50_000)
    monkeypatch.setattr(rollups, "POSTGRESQL_CHUNK", 50_000)
    rollups_rebuild(settle=NOW)
    assert snapshot() == carried


def test_postgresql_folds_in_larger_chunks_than_sqlite(
    build_dataset: Callable[..., DataSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's chunk holds the whole database's write lock; PostgreSQL's does not.
    from tms.reports import rollups

    monkeypatch.setattr(rollups, "CHUNK", 4)
    monkeypatch.setattr(rollups, "POSTGRESQL_CHUNK", 8)
    build_dataset()
    done: list[int] = []

    summary = rollups_update(settle=NOW, progress=lambda folded, total: done.append(folded))

    chunk = 8 if connection.vendor == "postgresql" else 4
    assert summary.events > 2 * chunk
    assert done == [*range(chunk, summary.events, chunk), summary.events]


def test_a_run_overtaken_while_folding_drops_its_fold(
    build_dataset: Callable[..., DataSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs fold without the lock: another run may add the same events meanwhile, and
    # adding them twice would double every figure.
    build_dataset()
    from tms.reports import rollups

    fold_chunk = rollups._fold_chunk
    other_runs: list[rollups.RollupSummary] = []

    def fold_then_overtaken(*args: Any) -> Any:
        fold = fold_chunk(*args)
        if not other_runs:
            other_runs.append(rollups.RollupSummary(0, 0, 0))  # guards the nested run
            other_runs[0] = rollups_update(settle=NOW)
        return fold

    monkeypatch.setattr(rollups, "_fold_chunk", fold_then_overtaken)
    summary = rollups_update(settle=NOW)
    monkeypatch.undo()
    assert other_runs[0].events > 0
    assert summary.events == 0  # its fold was dropped: nothing left to add
    assert summary.last_event_id == other_runs[0].last_event_id
    incremental = snapshot()
    rollups_rebuild(settle=NOW)
    assert snapshot() == incremental


def test_settle_leaves_fresh_events_for_the_next_run(db: None) -> None:
    lodge()
    summary = rollups_update(settle=timedelta(minutes=1))
    assert summary.events == 0
    assert not DailyFigures.objects.exists()
    assert rollups_update(settle=NOW).events == 1
    assert DailyFigures.objects.get().lodged == 1
    state = RollupState.objects.get()
    assert state.last_event_id > 0
    assert state.updated_at is not None


def test_the_command_rebuilds_and_prints_progress(dataset: DataSet) -> None:
    expected = snapshot()
    DailyFigures.objects.update(lodged=99)
    out = StringIO()
    with override_settings(TMS_REPORTS_SETTLE_SECONDS=0):
        call_command("rebuild_rollups", stdout=out)
    text = out.getvalue()
    events = RollupState.objects.get().last_event_id  # ids start at 1 in a fresh database
    assert "events" in text and "/" in text
    assert "Rollups rebuilt" in text and " s." in text
    assert events > 0
    assert snapshot() == expected


def test_the_task_brings_rollups_up_to_date_and_is_scheduled(db: None) -> None:
    assert schedule.JOBS["update-rollups"].task is tasks.update_rollups
    assert schedule.JOBS["update-rollups"].every == timedelta(minutes=5)
    lodge()
    with override_settings(TMS_REPORTS_SETTLE_SECONDS=0):
        result = tasks.update_rollups.enqueue()
    assert result.return_value == 1
    assert DailyFigures.objects.get().lodged == 1


def test_sms_recompute_window(dataset: DataSet) -> None:
    today = timezone.localdate()
    application = dataset.apps["a1"]
    now = timezone.now()
    recent = make_message(
        application,
        Event.COLLECTED,
        now - timedelta(days=2),
        MessageState.SENT,
        gateway_id="recent",
        cost="0.50",
        network="63902",
    )
    make_message(
        application,
        Event.COLLECTED,
        now - timedelta(days=30),
        MessageState.DELIVERED,
        gateway_id="old",
        cost="0.50",
        network="63902",
    )

    def sent_on(day: Any) -> int:
        return sum(DailySms.objects.filter(day=day).values_list("sent", flat=True))

    rollups_update(settle=NOW)  # the default window: 7 days
    recent_day = timezone.localdate(recent.created_at)
    old_day = timezone.localdate(now - timedelta(days=30))
    assert sent_on(recent_day) >= 1
    assert sent_on(old_day) == 0  # outside the window: not recomputed
    # A delivery report arriving later changes a message in place; the next run sees it.
    recent.state = MessageState.DELIVERED
    recent.save(update_fields=["state"])
    rollups_update(settle=NOW)
    row = DailySms.objects.get(day=recent_day, network="63902")
    assert (row.sent, row.delivered, row.cost) == (1, 1, Decimal("0.5"))
    with override_settings(TMS_REPORTS_SMS_DAYS=31):
        rollups_update(settle=NOW)
    assert sent_on(old_day) == 1
    # Rows outside the window are left alone; a full recompute (the rebuild) matches.
    assert sms_recompute(days=None, today=today) >= 1
    assert sent_on(old_day) == 1


def sms_rows() -> list[tuple[Any, ...]]:
    return sorted(
        DailySms.objects.values_list(
            "day", "network", "agency_id", "service_id", "centre_id", *rollups.SMS_FIGURES
        ),
        key=repr,
    )


def test_sms_figures_are_the_same_read_in_batches(
    dataset: DataSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sms_rows()
    assert len({row[4] for row in before}) == 2  # both centres
    monkeypatch.setattr(rollups, "READ_BATCH", 1)  # an application a query
    sms_recompute(days=None)
    assert sms_rows() == before
    # A reply to an unknown number is about no application: a row with no place.
    make_message(
        None,
        Event.REPLY,
        at(d(6, 10)),
        MessageState.DELIVERED,
        gateway_id="reply",
        cost="0.80",
        network="63903",
    )
    sms_recompute(days=None)
    assert set(sms_rows()) - set(before) == {
        (d(6, 10), "63903", None, None, None, 1, 1, 0, Decimal("0.8"), 1)
    }


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_leaves_postgresqls_rollups_vacuumed() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("VACUUM and the visibility map are PostgreSQL's")
    for n in range(30):
        lodge(phone=f"07120001{n:02d}")
    rollups_rebuild(settle=NOW)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relallvisible, relpages FROM pg_class WHERE relname = %s",
            [DailyFigures._meta.db_table],
        )
        visible, pages = cursor.fetchone()
    assert pages > 0
    assert visible == pages  # every page marked all-visible: VACUUM ran after the rebuild


@pytest.mark.django_db(transaction=True)
def test_postgresql_recomputes_the_sms_figures_alongside_the_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Committed rows (no test transaction), so another connection sees them.
    application = lodge(phone="0712000199")
    now = timezone.now()
    make_message(
        application,
        Event.COLLECTED,
        now,
        MessageState.DELIVERED,
        gateway_id="alongside",
        cost="0.80",
        network="63902",
    )
    threads: list[int] = []
    recompute = rollups.sms_recompute

    def recording(**kwargs: Any) -> int:
        threads.append(threading.get_ident())
        return recompute(**kwargs)

    monkeypatch.setattr(rollups, "sms_recompute", recording)
    summary = rollups_update(settle=NOW)
    assert summary.sms_days == 1  # the first run: every day with messages (today)
    alongside = connection.vendor == "postgresql"
    assert (threads[0] != threading.get_ident()) is alongside
    assert DailyFigures.objects.get().lodged == 1
    alongside_rows = sms_rows()
    assert (
        timezone.localdate(now),
        "63902",
        application.agency_id,
        application.service_id,
        application.centre_id,
        1,
        1,
        0,
        Decimal("0.8"),
        1,
    ) in alongside_rows
    recompute(days=None)  # here, in this thread: the same rows
    assert sms_rows() == alongside_rows
    # A failure over there reaches the caller.
    monkeypatch.setattr(rollups, "sms_recompute", lambda **kwargs: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        rollups_update(settle=NOW)
