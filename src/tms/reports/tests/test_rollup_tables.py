"""The derived rollups (sums over centres, the backlog) against the per-centre tables, and
the selectors giving the same figures whichever tables they read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import astuple, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tms.reports import rollups, selectors
from tms.reports.models import (
    Backlog,
    DailyDurations,
    DailyDurationsByService,
    DailyDurationsNational,
    DailyFigures,
    DailyFiguresByService,
    DailySms,
)
from tms.reports.rollups import FIGURES, rollups_rebuild, rollups_update
from tms.reports.selectors import Filters
from tms.reports.tests.conftest import DataSet, d
from tms.testing.builders import make_centre, make_service

pytestmark = pytest.mark.django_db
NOW = timedelta(0)
TODAY = date(2026, 7, 15)
PERIOD = Filters(start=d(5, 1), end=d(6, 30))
WIDE = Filters(start=d(1, 1), end=d(12, 31))


def summed_over_centres() -> dict[str, list[tuple[Any, ...]]]:
    """What the derived tables must hold, computed from the per-centre tables."""
    figures: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(FIGURES))
    backlog = []
    for day, agency, service, centre, *counts in DailyFigures.objects.values_list(
        "day", "agency_id", "service_id", "centre_id", *FIGURES
    ):
        total = figures[(day, agency, service)]
        for i, n in enumerate(counts):
            total[i] += n
        named = dict(zip(FIGURES, counts, strict=True))
        waiting = named["ready"] - named["cohort_collected"] - named["cohort_returned"]
        if waiting:
            backlog.append((day, agency, service, centre, waiting))
    durations: dict[tuple[Any, ...], int] = defaultdict(int)
    national: dict[tuple[Any, ...], int] = defaultdict(int)
    for day, agency, service, measure, days, count in DailyDurations.objects.values_list(
        "day", "agency_id", "service_id", "measure", "days", "count"
    ):
        durations[(day, agency, service, measure, days)] += count
        national[(day, measure, days)] += count
    return {
        "figures": sorted((*key, *counts) for key, counts in figures.items() if any(counts)),
        "durations": sorted((*key, n) for key, n in durations.items() if n),
        "national durations": sorted((*key, n) for key, n in national.items() if n),
        "backlog": sorted(backlog),
    }


def derived() -> dict[str, list[tuple[Any, ...]]]:
    return {
        "figures": sorted(
            DailyFiguresByService.objects.values_list("day", "agency_id", "service_id", *FIGURES)
        ),
        "durations": sorted(
            DailyDurationsByService.objects.values_list(
                "day", "agency_id", "service_id", "measure", "days", "count"
            )
        ),
        "national durations": sorted(
            DailyDurationsNational.objects.values_list("day", "measure", "days", "count")
        ),
        "backlog": sorted(
            Backlog.objects.values_list(
                "ready_day", "agency_id", "service_id", "centre_id", "waiting"
            )
        ),
    }


def test_derived_tables_follow_incremental_runs_and_rebuild(
    build_dataset: Callable[..., DataSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks, and a run half-way: a5's receipt is folded in before its undo, a4 is
    # waiting before its return, a1 before its hand-over. Earlier events are read for two
    # applications a query.
    monkeypatch.setattr(rollups, "CHUNK", 5)
    monkeypatch.setattr(rollups, "POSTGRESQL_CHUNK", 5)
    monkeypatch.setattr(rollups, "READ_BATCH", 2)
    checks: list[dict[str, list[tuple[Any, ...]]]] = []

    def checkpoint() -> None:
        rollups_update(settle=NOW)
        checks.append(derived())
        assert derived() == summed_over_centres()

    data = build_dataset(checkpoint=checkpoint)
    half_way = checks[0]
    # a5's mistaken receipt of 28 May was waiting half-way; a4 (ready 28 May) too.
    alpha_28 = (d(5, 28), data.id_card.agency_id, data.id_card.pk, data.alpha.pk, 1)
    beta_28 = (d(5, 28), data.id_card.agency_id, data.id_card.pk, data.beta.pk, 1)
    assert alpha_28 in half_way["backlog"] and beta_28 in half_way["backlog"]

    rollups_update(settle=NOW)
    incremental = derived()
    assert incremental == summed_over_centres()
    # The undone receipt and the return took those rows back to zero: they are gone.
    keys = {row[:4] for row in incremental["backlog"]}
    assert alpha_28[:4] not in keys and beta_28[:4] not in keys
    # Waiting at the end: a2 (4 Jun), a9 (10 Jul), a10 (18 Jun), a11 (6 Mar).
    assert sorted((row[0], row[4]) for row in incremental["backlog"]) == [
        (d(3, 6), 1),
        (d(6, 4), 1),
        (d(6, 18), 1),
        (d(7, 10), 1),
    ]
    # Both centres' rows of a day and service sum into one.
    assert len(incremental["figures"]) < DailyFigures.objects.count()
    assert not [row for row in incremental["figures"] if not any(row[3:])]
    assert not [row for row in incremental["durations"] if row[-1] == 0]
    assert incremental["national durations"]
    assert not [row for row in incremental["national durations"] if row[-1] == 0]

    rollups_rebuild(settle=NOW)
    assert derived() == incremental
    monkeypatch.setattr(rollups, "CHUNK", 10000)
    monkeypatch.setattr(rollups, "POSTGRESQL_CHUNK", 10000)
    rollups_rebuild(settle=NOW)
    assert derived() == incremental


def fine_tables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the selectors read the per-centre tables whatever the filters."""
    monkeypatch.setattr(selectors, "_figures", lambda filters, **kw: DailyFigures.objects.all())
    monkeypatch.setattr(selectors, "_durations", lambda filters, **kw: DailyDurations.objects.all())


def backlog_from_figures(filters: Filters) -> list[tuple[int, ...]]:
    """The backlog as the per-centre daily figures give it (the definition)."""
    rows: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    place = selectors._place(DailyFigures.objects.all(), filters)
    for day, centre, service, ready, collected, returned in place.values_list(
        "day", "centre_id", "service_id", "ready", "cohort_collected", "cohort_returned"
    ):
        age = (TODAY - day).days
        bucket = 0 if age <= 7 else 1 if age <= 30 else 2 if age <= 90 else 3
        rows[(centre, service)][bucket] += ready - collected - returned
    return sorted(
        ((centre, service, *buckets) for (centre, service), buckets in rows.items() if any(buckets))
    )


@pytest.mark.parametrize("period", [PERIOD, WIDE])
def test_selectors_agree_whichever_tables_they_read(
    dataset: DataSet, monkeypatch: pytest.MonkeyPatch, period: Filters
) -> None:
    views = [
        period,
        replace(period, agency_id=dataset.id_card.agency_id),
        replace(period, service_id=dataset.birth.pk),
    ]

    def figures() -> list[Any]:
        found: list[Any] = []
        for filters in views:
            found.append(selectors.headline(filters, today=TODAY))
            found.append(selectors.stage_times(filters))
            found.extend(selectors.turnaround(filters, by=by) for by in ("agency", "service"))
        return found

    derived_figures = figures()
    fine_tables_only(monkeypatch)
    assert figures() == derived_figures
    # The backlog table gives what the daily figures give.
    for filters in [*views, replace(period, centre_id=dataset.alpha.pk)]:
        got = [
            (row.centre_id, row.service_id, *astuple(row)[4:8])
            for row in selectors.backlog(filters, today=TODAY)
        ]
        assert sorted(got) == backlog_from_figures(filters)


def test_national_figures_are_the_sum_of_the_centres(dataset: DataSet) -> None:
    national = selectors.headline(WIDE, today=TODAY)
    centres = [
        selectors.headline(replace(WIDE, centre_id=centre.pk), today=TODAY)
        for centre in (dataset.alpha, dataset.beta)
    ]
    for name in (
        "ready",
        "within_promise",
        "collection_ready",
        "collected_within_30",
        "backlog",
        "reprint_cost_at_risk",
        "collected_after_reminder",
        "money_saved",
    ):
        assert getattr(national, name) == sum(
            (getattr(c, name) for c in centres), Decimal(0) if "cost" in name else 0
        ), name
    assert national.backlog == 4  # a2, a9, a10, a11
    assert national.turnaround.cases == sum(c.turnaround.cases for c in centres) == 8
    assert national.ready_to_collected.cases == sum(c.ready_to_collected.cases for c in centres)
    by_centre = selectors.turnaround(WIDE, by="centre")
    assert sum(row.ready for row in by_centre) == national.ready
    assert sum(row.turnaround.cases for row in by_centre) == national.turnaround.cases
    stages = {row.stage: row.duration.cases for row in selectors.stage_times(WIDE)}
    for centre in (dataset.alpha, dataset.beta):
        for row in selectors.stage_times(replace(WIDE, centre_id=centre.pk)):
            stages[row.stage] -= row.duration.cases
    assert set(stages.values()) == {0}


def test_rollup_values_are_checked_before_going_into_sql() -> None:
    keys = rollups.DURATION_KEYS
    good = (d(6, 1), 1, 2, 3, "stage:processing", 4, -1)
    assert list(rollups._values_sql([good], keys)) == [
        "('2026-06-01', 1, 2, 3, 'stage:processing', 4, -1)"
    ]
    with pytest.raises(ValueError, match="not a measure"):
        list(rollups._values_sql([(d(6, 1), 1, 2, 3, "x'); DROP TABLE t; --", 4, 1)], keys))
    with pytest.raises(TypeError):
        list(rollups._values_sql([(d(6, 1), "1 OR 1=1", 2, 3, "turnaround", 4, 1)], keys))
    with pytest.raises(AttributeError):  # a day must be a date
        list(rollups._values_sql([("2026-06-01'", 1, 2, 3, "turnaround", 4, 1)], keys))


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_derives_the_national_histograms_from_the_sums_over_centres() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("reports", "0003_read_indexes")])
    try:
        first, second = make_service(), make_service()
        for service, days, count in ((first, 2, 3), (second, 2, 4), (second, 5, 1)):
            DailyDurationsByService.objects.create(
                day=d(6, 1),
                agency_id=service.agency_id,
                service=service,
                measure=rollups.TURNAROUND,
                days=days,
                count=count,
            )
    finally:
        executor.loader.build_graph()  # the graph as it is now, partly unapplied
        executor.migrate(executor.loader.graph.leaf_nodes("reports"))
    assert sorted(
        DailyDurationsNational.objects.values_list("day", "measure", "days", "count")
    ) == [(d(6, 1), rollups.TURNAROUND, 2, 7), (d(6, 1), rollups.TURNAROUND, 5, 1)]


def test_deleting_a_service_takes_its_rollups_with_it() -> None:
    # The rollups hold no database constraint on their references (see models._place): the
    # cascade is Django's.
    gone, kept = make_service(), make_service()
    centre = make_centre()
    for service in (gone, kept):
        place = {"agency_id": service.agency_id, "service": service, "centre": centre}
        DailyFigures.objects.create(day=d(6, 1), lodged=1, **place)
        DailyDurations.objects.create(day=d(6, 1), measure=rollups.TURNAROUND, days=2, **place)
        Backlog.objects.create(ready_day=d(6, 1), waiting=1, **place)
        DailySms.objects.create(day=d(6, 1), sent=1, **place)
    gone.delete()
    for model in (DailyFigures, DailyDurations, Backlog, DailySms):
        assert list(model.objects.values_list("service_id", flat=True)) == [kept.pk], model
