"""Keeping the report rollups up to date from the append-only history.

The rollups are counters kept by deltas: each run reads the history events recorded
since the last run, in id order, folds them into deltas per (day, agency, service,
centre) in Python, and adds the deltas with ``INSERT ... ON CONFLICT DO UPDATE SET x = x
+ excluded.x`` (on PostgreSQL from a temporary table the deltas are copied into, on
SQLite a row at a time). A day of changes costs one pass over that day's events, and a
late event (a collection today of a document ready last month) is an increment on the
older day's row.

The same deltas, summed over centres, go to the ``...ByService`` tables, the histograms'
summed over every place to ``DailyDurationsNational``, and the backlog's (ready - cohort
collected - cohort returned, on the ready day) to ``Backlog``, in the same transaction:
every table always says the same. Rows a correction brings back to all zeros are deleted
(``Backlog`` rows reach zero every time a day's last waiting document is collected), so a
rebuild and the incremental runs leave the same rows.

Days are Nairobi local dates of ``occurred_at`` (when it happened, not when recorded).

What a later event needs of the earlier history (when the stint it ends began, which for
a hand-over or a return is the ready day) it carries in ``entered_at``, written with it by
the applications service. So a run reads the new events and their applications, not the
applications' earlier events, which lie all over the history table (on PostgreSQL at
5,000,000 applications that read cost 6 of a day's 20 seconds, nearly all in random disk
reads). The earlier events are still read for an undo (it takes back the receipt before
it) and for events recorded before ``entered_at`` was kept (an upgraded installation).

What each event adds (see ``models.DailyFigures``):

- lodge: ``lodged`` on the lodging day.
- acknowledge receipt (ready): ``ready`` on the ready day; ``ready_within_promise`` when
  the ready day is on or before ``due_date``; a "turnaround" sample (working days from
  the lodging day to the ready day).
- hand over: ``collected`` and, when a REMINDER or FINAL_NOTICE message for the
  application was queued before the hand-over, ``collected_after_reminder`` on the
  hand-over day; ``cohort_collected`` (and ``cohort_collected_within_30`` when within 30
  calendar days) on the READY day; a "ready_to_collected" sample (calendar days) on the
  hand-over day.
- return: ``returned`` on its day, ``cohort_returned`` on the ready day.
- reject, cancel: ``rejected`` / ``cancelled`` on their day.
- every event but lodge and undo: a "stage:<from status>" sample, the working days from
  the event that entered that status to this one, on this event's day. An application
  reopened after action required (processing -> action_required -> processing) gives one
  sample per stint in processing. A negative span (a change back-dated before the one it
  follows) counts as 0.
- undo receipt (a correction): takes back everything the undone receipt added, on the
  ORIGINAL ready day (ready, within promise, its turnaround and stage samples). The time
  between the mistaken scan and its undo counts in no stage; when the receipt was scanned
  from "dispatched" (the usual case) the dispatched stint continues as if the scan never
  happened, otherwise the new dispatched stint starts at the undo.

Concurrency. Each chunk of events is read and folded without a lock (the history only
grows, so what was read stays true), then added in one transaction that first updates the
``RollupState`` row: that row lock (PostgreSQL) or write lock (SQLite, whose transactions
here are IMMEDIATE) makes runs take turns, and the position advances with the counters. If
the position moved while the chunk was folded (another run added those events), the fold is
dropped and the run reads on from the new position. So the write lock is held only while
the deltas are added, not while the history is read. On PostgreSQL ids are handed out
before commit, so an event with a lower id may commit after one with a higher id; a run
stops at the first event recorded less than ``settle`` ago (default
``TMS_REPORTS_SETTLE_SECONDS``, 60). Residual risk: an event whose transaction stays open
for longer than ``settle`` after it was recorded, and commits after a run has passed its
id, is missed until ``tms rebuild_rollups``. Changes commit within a second or so, so 60
seconds leaves a wide margin.

SMS figures are not history events (a message's state changes in place), so each run
recomputes the ``DailySms`` rows of the last ``TMS_REPORTS_SMS_DAYS`` (7) days from
``Message`` (on PostgreSQL in another thread while the events are folded in); the first
run ever and a rebuild recompute all of them. A message counts on
the Nairobi day it was queued; "sent" means accepted by the gateway (it has a gateway
message id: states sent, delivered, or failed by a later delivery report; an "unknown"
send counts once the reconciliation finds its gateway id); "failed" is every message
that finally failed, refused at sending or reported failed; "cost" sums the gateway's
charged cost. Messages stay at most ``TMS_REPORTS_SMS_DAYS`` days in flux: a delivery
report later than that changes the figures only at the next rebuild.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DecimalField, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from tms.applications.lifecycle import Action, Status
from tms.applications.models import Application, ApplicationEvent
from tms.core.rows import LOCAL_ZONE, copy_rows, local_day, timestamp
from tms.directory.selectors import working_calendar
from tms.directory.working_days import WorkingCalendar
from tms.notifications.models import Event, Message, MessageState
from tms.reports.models import (
    Backlog,
    DailyDurations,
    DailyDurationsByService,
    DailyDurationsNational,
    DailyFigures,
    DailyFiguresByService,
    DailySms,
    RollupState,
)

# Events read and folded at a time. On SQLite each chunk holds the database's one write
# lock while its deltas are added (about a second), and every other writer waits for it;
# larger chunks add each day's rows fewer times (a day of changes: 14 s in chunks of
# 10,000, 10 s in chunks of 50,000, on SQLite). On PostgreSQL a chunk locks only rollup
# rows, which nothing but these runs writes, so a chunk holds a whole day of changes at
# the design point (140,000 events) and writes each row the day touches once (a day on a
# million applications: 8.1 s and 300 MB at most, against 9.8 s and 185 MB in chunks of
# 50,000).
CHUNK = 50_000
POSTGRESQL_CHUNK = 200_000


def _chunk() -> int:
    return POSTGRESQL_CHUNK if connection.vendor == "postgresql" else CHUNK


COLLECTION_WINDOW_DAYS = 30
FIGURES = (
    "lodged",
    "ready",
    "ready_within_promise",
    "cohort_collected",
    "cohort_collected_within_30",
    "cohort_returned",
    "collected",
    "collected_after_reminder",
    "returned",
    "rejected",
    "cancelled",
)
INDEX = {name: i for i, name in enumerate(FIGURES)}
TURNAROUND = "turnaround"
READY_TO_COLLECTED = "ready_to_collected"
STAGE = "stage:"
REMINDERS = (Event.REMINDER, Event.FINAL_NOTICE)

Place = tuple[int, int, int]  # agency, service, centre
FigureKey = tuple[date, int, int, int]
DurationKey = tuple[date, int, int, int, str, int]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RollupSummary:
    events: int  # history events folded in by this run
    last_event_id: int
    sms_days: int  # days of SMS figures recomputed


# A step of an application's effective history is the event's row as read: (id,
# application id, action, from status, occurred at as text, ...); a later event needs
# its action, its from status and its day. Rows are kept as read (no object a row): a
# rebuild of events recorded before ``entered_at`` reads millions, most never asked.
Step = tuple[Any, ...]
ACTION, FROM_STATUS, OCCURRED = 2, 3, 4


class _Fold:
    """Deltas accumulated over one chunk."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.figures: dict[FigureKey, list[int]] = defaultdict(lambda: [0] * len(FIGURES))
        self.durations: dict[DurationKey, int] = defaultdict(int)
        self._between: dict[tuple[date, date], int] = {}
        self._days: dict[str, date] = {}

    def day(self, occurred: str) -> date:
        """The local day of a timestamp read as text (each worked out once)."""
        found = self._days.get(occurred)
        if found is None:
            found = self._days[occurred] = local_day(occurred)
        return found

    def working_days(self, start: date, end: date) -> int:
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = self._between[key] = max(0, self.calendar.between(start, end))
        return found

    def add(self, day: date, place: Place, figure: str, n: int = 1) -> None:
        self.figures[(day, *place)][INDEX[figure]] += n

    def sample(self, day: date, place: Place, measure: str, days: int, n: int = 1) -> None:
        self.durations[(day, *place, measure, days)] += n


def _push(stack: list[Step], step: Step) -> None:
    """Add ``step`` to an application's effective history, dropping an undone receipt."""
    if step[ACTION] == Action.UNDO_RECEIPT:
        undone = stack.pop()
        if undone[FROM_STATUS] == Status.DISPATCHED:
            return  # back exactly where the mistaken scan found it
    stack.append(step)


def _fold_event(
    fold: _Fold,
    stack: list[Step],
    step: Step,
    *,
    place: Place,
    lodged_at: str,
    due_date: date,
    first_reminder: datetime | None,
) -> None:
    action, day = step[ACTION], fold.day(step[OCCURRED])
    if action == Action.LODGE:
        fold.add(day, place, "lodged")
        return
    entered = stack[-1]
    entered_day = fold.day(entered[OCCURRED])
    if action == Action.UNDO_RECEIPT:
        # Take back what the receipt added, on its own day.
        receipt_day, before_day = entered_day, fold.day(stack[-2][OCCURRED])
        fold.add(receipt_day, place, "ready", -1)
        if receipt_day <= due_date:
            fold.add(receipt_day, place, "ready_within_promise", -1)
        turnaround = fold.working_days(fold.day(lodged_at), receipt_day)
        fold.sample(receipt_day, place, TURNAROUND, turnaround, -1)
        fold.sample(
            receipt_day,
            place,
            STAGE + entered[FROM_STATUS],
            fold.working_days(before_day, receipt_day),
            -1,
        )
        return
    fold.sample(day, place, STAGE + step[FROM_STATUS], fold.working_days(entered_day, day))
    if action == Action.ACKNOWLEDGE_RECEIPT:
        fold.add(day, place, "ready")
        if day <= due_date:
            fold.add(day, place, "ready_within_promise")
        fold.sample(day, place, TURNAROUND, fold.working_days(fold.day(lodged_at), day))
    elif action == Action.HAND_OVER:
        ready_day = entered_day
        waited = (day - ready_day).days
        fold.add(day, place, "collected")
        fold.add(ready_day, place, "cohort_collected")
        if waited <= COLLECTION_WINDOW_DAYS:
            fold.add(ready_day, place, "cohort_collected_within_30")
        fold.sample(day, place, READY_TO_COLLECTED, waited)
        if first_reminder is not None and first_reminder < timestamp(step[OCCURRED]):
            fold.add(day, place, "collected_after_reminder")
    elif action == Action.RETURN:
        fold.add(day, place, "returned")
        fold.add(entered_day, place, "cohort_returned")
    elif action == Action.REJECT:
        fold.add(day, place, "rejected")
    elif action == Action.CANCEL:
        fold.add(day, place, "cancelled")


EVENTS = ApplicationEvent._meta.db_table
APPLICATIONS = Application._meta.db_table


def _timestamp_sql(column: str) -> str:
    """``column`` read as text: the drivers' own conversions cost more than the rest of
    the reading (psycopg loads each timestamp through Django's Python loader: a second for
    50,000 events, against 0.04 s as text; SQLite's converter parses every one), and most
    are never looked at (see ``Step``). ``timestamp`` reads the few that are. PostgreSQL's
    text is ISO 8601 under its default DateStyle; another DateStyle fails loudly there."""
    return f"CAST({column} AS TEXT)"


# Applications whose earlier events are read in one query. Given the 128,000 of a day of
# changes in one list, PostgreSQL's planner expected 6 million events and read the whole
# history (3.9 s at 5,000,000 applications, and growing with the history); in lists of
# this size it uses the application index (2.2 s, growing with the day only).
READ_BATCH = 5_000


def _batches(ids: Iterable[int]) -> Iterator[str]:
    """``ids`` in ascending order, as SQL lists of at most READ_BATCH integers: written
    into the SQL, since binding thousands of parameters through the ORM cost more than the
    query."""
    ordered = sorted(ids)
    for i in range(0, len(ordered), READ_BATCH):
        yield ",".join(str(int(pk)) for pk in ordered[i : i + READ_BATCH])


def _earlier_events(application_ids: set[int], *, before_id: int) -> list[tuple[Any, ...]]:
    """The events of these applications before ``before_id``, in id order. SQLite must
    use the application index: given ``ORDER BY id``, or a list of thousands of ids, its
    planner walks the whole table along the primary key instead (``id < x``), 6 to 20
    times slower at a million applications; ``+id`` keeps the primary key out of the plan,
    and the rows are sorted here."""
    q = connection.ops.quote_name
    before = "+id" if connection.vendor == "sqlite" else "id"
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for ids in _batches(application_ids):
            cursor.execute(
                f"SELECT id, application_id, action, from_status, {_timestamp_sql('occurred_at')} "  # noqa: S608
                f"FROM {q(EVENTS)} WHERE application_id IN ({ids}) AND {before} < %s",
                [before_id],
            )
            rows += cursor.fetchall()
    rows.sort()
    return rows


UNSETTLED, ENTERED = 5, 11  # in a row of ``_events_after``


def _events_after(last_event_id: int, cutoff: datetime) -> list[tuple[Any, ...]]:
    """The next chunk of events: id, application, action, from status, occurred at,
    whether it was recorded after ``cutoff`` (unsettled), agency, service, centre, lodged
    at, due date, entered at. ``due_date`` is read into a date, the timestamps are left as
    text (see ``_timestamp_sql``), and ``recorded_at`` is compared in SQL (parsing 140,000
    of them cost a quarter of a second)."""
    q, ts = connection.ops.quote_name, _timestamp_sql
    sql = (
        f"SELECT e.id, e.application_id, e.action, e.from_status, {ts('e.occurred_at')}, "  # noqa: S608
        f"CASE WHEN e.recorded_at > %s THEN 1 ELSE 0 END, "
        f"a.agency_id, a.service_id, a.centre_id, {ts('a.lodged_at')}, "
        f"CAST(a.due_date AS TEXT), {ts('e.entered_at')} FROM {q(EVENTS)} e "
        f"JOIN {q(APPLICATIONS)} a ON a.id = e.application_id "
        f"WHERE e.id > %s ORDER BY e.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [connection.ops.adapt_datetimefield_value(cutoff), last_event_id, _chunk()]
        )
        rows = cursor.fetchall()
    return [(*row[:10], date.fromisoformat(row[10]), row[11]) for row in rows]


def _fold_chunk(events: Sequence[tuple[Any, ...]], calendar: WorkingCalendar) -> _Fold:
    fold = _Fold(calendar)
    first_id = events[0][0]
    first_of: dict[int, tuple[Any, ...]] = {}
    for event in events:
        first_of.setdefault(event[1], event)
    # An application's first event here says when its from-status was entered, which is
    # all the later events need of the earlier history (a stage's start, a ready day):
    # that moment stands in for the earlier events. Those are read only where the first
    # event is a lodging (none), an undo (it needs the receipt it takes back) or was
    # recorded before events carried it.
    stacks: dict[int, list[Step]] = defaultdict(list)
    earlier_of = set()
    for application_id, event in first_of.items():
        if event[ACTION] == Action.LODGE:
            continue
        if event[ENTERED] is None or event[ACTION] == Action.UNDO_RECEIPT:
            earlier_of.add(application_id)
        else:
            stacks[application_id].append((0, application_id, "", "", event[ENTERED]))
    if earlier_of:
        for row in _earlier_events(earlier_of, before_id=first_id):
            _push(stacks[row[1]], row)
    handed_over = {e[1] for e in events if e[2] == Action.HAND_OVER}
    first_reminder: dict[int, datetime] = {}
    if handed_over:
        first_reminder = dict(
            Message.objects.filter(application_id__in=handed_over, event__in=REMINDERS)
            .values("application_id")
            .annotate(first=Min("created_at"))
            .values_list("application_id", "first")
        )
    for event in events:
        application_id = event[1]
        stack = stacks[application_id]
        _fold_event(
            fold,
            stack,
            event,
            place=(event[6], event[7], event[8]),  # agency, service, centre
            lodged_at=event[9],
            due_date=event[10],
            first_reminder=first_reminder.get(application_id),
        )
        _push(stack, event)
    return fold


BATCH = 1000  # rows a statement
MEASURE = re.compile(r"[a-z_:]{1,32}")


def _measure(value: str, checked: set[str]) -> str:
    if value not in checked:
        if not (isinstance(value, str) and MEASURE.fullmatch(value)):
            raise ValueError(f"not a measure: {value!r}")
        checked.add(value)
    return value


def _values_sql(rows: list[tuple[Any, ...]], keys: Sequence[str]) -> Iterator[str]:
    """Each row as SQL text ``('2026-06-01', 3, ...)``. Binding 15,000 parameters a
    statement cost more than the statement (psycopg rewrites such a query on every call);
    these values are made by this module: the first key is a day (``isoformat`` takes
    nothing else), ``measure`` a name checked against MEASURE, every other value goes
    through ``%d`` (integers only)."""
    at = keys.index("measure") if "measure" in keys else None
    if not rows:
        return
    formats = ["'%s'" if i in (0, at) else "%d" for i in range(len(rows[0]))]
    template = "(" + ", ".join(formats) + ")"
    checked: set[str] = set()
    for row in rows:
        values = [row[0].isoformat(), *row[1:]]
        if at is not None:
            values[at] = _measure(row[at], checked)
        yield template % tuple(values)


def _upsert(
    table: str, keys: Sequence[str], values: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Add the deltas ``rows`` (key columns, then value columns) to ``table`` and delete
    the rows a correction brought back to all zeros, so that a rebuild and the
    incremental runs leave the same rows. The keys are unique within a fold, so one
    statement never touches a row twice."""
    ordered = sorted(rows)  # in key order: neighbouring index pages
    if not ordered:
        return
    add = _add_copied if connection.vendor == "postgresql" else _add_inserted
    emptied = add(table, keys, values, ordered)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for i in range(0, len(emptied), BATCH):
            ids = ",".join(str(int(pk)) for pk in emptied[i : i + BATCH])
            cursor.execute(f"DELETE FROM {q(table)} WHERE id IN ({ids})")  # noqa: S608


def _upsert_sql(table: str, keys: Sequence[str], values: Sequence[str]) -> tuple[str, str]:
    """The column list and the ``ON CONFLICT`` clause that adds ``values`` to a row."""
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in [*keys, *values])
    conflict = ", ".join(q(k) for k in keys)
    add = ", ".join(f"{q(v)} = {q(table)}.{q(v)} + excluded.{q(v)}" for v in values)
    return columns, f"ON CONFLICT ({conflict}) DO UPDATE SET {add}"


def _size_sql(values: Sequence[str]) -> str:
    """A row's size after the update: 0 when a correction brought every value to zero."""
    return " + ".join(f"abs({connection.ops.quote_name(v)})" for v in values)


def _add_copied(
    table: str, keys: Sequence[str], values: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[int]:
    """PostgreSQL: COPY the deltas into a temporary table and add them all with one
    ``INSERT ... SELECT ... ON CONFLICT``; returns the ids of the rows now all zeros.
    The statements' own parsing and the rows' SQL text cost more than the COPY (a day of
    changes at 500,000 applications: 108,000 duration rows in 1.9 s as 1,000-row VALUES
    statements, 0.9 s copied). The temporary table lives only inside this call: it is
    dropped at the end, or with the transaction if anything fails."""
    q = connection.ops.quote_name
    delta = f"{table}_delta"
    columns, conflict = _upsert_sql(table, keys, values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {q(delta)} AS SELECT {columns} FROM {q(table)} WITH NO DATA"  # noqa: S608
        )
        copy_rows(delta, [*keys, *values], rows)
        cursor.execute(
            f"WITH added AS (INSERT INTO {q(table)} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {q(delta)} {conflict} "
            f"RETURNING id, {_size_sql(values)} AS size) SELECT id FROM added WHERE size = 0"
        )
        emptied = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {q(delta)}")
    return emptied


def _add_inserted(
    table: str, keys: Sequence[str], values: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[int]:
    """SQLite: ``INSERT ... ON CONFLICT DO UPDATE``; returns the ids of the rows now all
    zeros. Deltas that only raise are added by one prepared single-row statement a row:
    in-process SQLite runs that faster than it parses multi-row ones (measured: 2.3 s
    against 4.6 s for 150,000 rows); those that may come to zero, 1,000 rows a statement
    with ``RETURNING`` (the row as it is after the update)."""
    raising = [row for row in rows if min(row[len(keys) :]) >= 0]
    lowering = [row for row in rows if min(row[len(keys) :]) < 0]  # may come to zero
    q = connection.ops.quote_name
    # Names come from our models, values are checked literals (see _values_sql).
    columns, conflict = _upsert_sql(table, keys, values)
    upsert = f"INSERT INTO {q(table)} ({columns}) VALUES {{}} {conflict}"  # noqa: S608
    emptied: list[int] = []
    with connection.cursor() as cursor:
        if raising:
            marks = "(" + ", ".join(["%s"] * (len(keys) + len(values))) + ")"
            cursor.executemany(upsert.format(marks), raising)
        texts = list(_values_sql(lowering, keys))
        for i in range(0, len(texts), BATCH):
            cursor.execute(
                upsert.format(", ".join(texts[i : i + BATCH]))
                + f" RETURNING id, {_size_sql(values)}"
            )
            emptied.extend(pk for pk, size in cursor.fetchall() if size == 0)
    return emptied


FIGURE_KEYS = ("day", "agency_id", "service_id", "centre_id")
DURATION_KEYS = (*FIGURE_KEYS, "measure", "days")
SERVICE_FIGURE_KEYS = ("day", "agency_id", "service_id")
SERVICE_DURATION_KEYS = (*SERVICE_FIGURE_KEYS, "measure", "days")
NATIONAL_DURATION_KEYS = ("day", "measure", "days")
BACKLOG_KEYS = ("ready_day", "agency_id", "service_id", "centre_id")
WAITING = (INDEX["ready"], INDEX["cohort_collected"], INDEX["cohort_returned"])


def _apply(fold: _Fold) -> None:
    """Add a chunk's deltas to every rollup: the per-centre tables, their sums over
    centres and over every place (derived here, so all move together) and the backlog."""
    by_service: dict[tuple[date, int, int], list[int]] = defaultdict(lambda: [0] * len(FIGURES))
    figures, backlog = [], []
    for key, counts in fold.figures.items():
        if not any(counts):
            continue
        figures.append((*key, *counts))
        total = by_service[key[:3]]
        for i, n in enumerate(counts):
            total[i] += n
        ready, collected, returned = (counts[i] for i in WAITING)
        if ready - collected - returned:
            backlog.append((*key, ready - collected - returned))
    durations_by_service: dict[tuple[date, int, int, str, int], int] = defaultdict(int)
    durations_national: dict[tuple[date, str, int], int] = defaultdict(int)
    durations = []
    for (day, agency, service, centre, measure, days), n in fold.durations.items():
        if n:
            durations.append((day, agency, service, centre, measure, days, n))
            durations_by_service[(day, agency, service, measure, days)] += n
            durations_national[(day, measure, days)] += n
    _upsert(DailyFigures._meta.db_table, FIGURE_KEYS, FIGURES, figures)
    _upsert(DailyDurations._meta.db_table, DURATION_KEYS, ("count",), durations)
    _upsert(
        DailyFiguresByService._meta.db_table,
        SERVICE_FIGURE_KEYS,
        FIGURES,
        [(*key, *counts) for key, counts in by_service.items() if any(counts)],
    )
    _upsert(
        DailyDurationsByService._meta.db_table,
        SERVICE_DURATION_KEYS,
        ("count",),
        [(*key, n) for key, n in durations_by_service.items() if n],
    )
    _upsert(
        DailyDurationsNational._meta.db_table,
        NATIONAL_DURATION_KEYS,
        ("count",),
        [(*key, n) for key, n in durations_national.items() if n],
    )
    _upsert(Backlog._meta.db_table, BACKLOG_KEYS, ("waiting",), backlog)


def _state_locked(now: datetime) -> RollupState:
    """The state row, locked for this transaction (see the module docstring)."""
    RollupState.objects.get_or_create(pk=1)
    RollupState.objects.filter(pk=1).update(updated_at=now)
    return RollupState.objects.get(pk=1)


def _position() -> int:
    """The id of the last event folded in (0 before the first run)."""
    found = RollupState.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
    return found or 0


def _settle() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "TMS_REPORTS_SETTLE_SECONDS", 60)))


def rollups_update(
    *,
    settle: timedelta | None = None,
    progress: Progress | None = None,
    sms_days: int | None = None,
) -> RollupSummary:
    """Fold the events recorded since the last run into the rollups and recompute the
    recent SMS figures. ``progress(done, total)`` is called after every chunk."""
    settle = _settle() if settle is None else settle
    # The very first run (a fresh installation or an upgrade) computes all SMS days.
    first_run = not RollupState.objects.filter(pk=1, updated_at__isnull=False).exists()
    calendar = working_calendar()
    cutoff = timezone.now() - settle
    total = 0
    if progress is not None:
        total = ApplicationEvent.objects.filter(id__gt=_position(), recorded_at__lte=cutoff).count()
    window: int | None = sms_days  # 0: none (the rebuild recomputes them itself)
    if sms_days is None:
        window = None if first_run else int(getattr(settings, "TMS_REPORTS_SMS_DAYS", 7))
    with ThreadPoolExecutor(max_workers=1) as alongside:
        sms = _sms_alongside(alongside, window)
        done, last_event_id = _fold_in_events(calendar, cutoff, progress, total)
        days = sms()
    return RollupSummary(events=done, last_event_id=last_event_id, sms_days=days)


def _sms_alongside(alongside: ThreadPoolExecutor, window: int | None) -> Callable[[], int]:
    """Start recomputing the SMS figures of ``window`` days; returns the call that gives
    the days recomputed. On PostgreSQL they are recomputed in another thread, on its own
    connection and in its own transaction, while the events are folded in (different
    tables: nothing is shared; a day's SMS figures took a tenth of a run). Not inside a
    caller's transaction (a test's, whose rows another connection cannot see), nor on
    SQLite, whose one write lock would make the two take turns anyway."""
    if window == 0 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return lambda: sms_recompute(days=window)

    def recompute() -> int:
        try:
            return sms_recompute(days=window)
        finally:
            connection.close()  # this thread's own connection

    return alongside.submit(recompute).result


def _fold_in_events(
    calendar: WorkingCalendar, cutoff: datetime, progress: Progress | None, total: int
) -> tuple[int, int]:
    """Fold in the settled events, a chunk a transaction; returns how many were folded
    in and the position reached."""
    done = last_event_id = 0
    while True:
        # Read and fold without the lock (the history only grows, so what was read stays
        # true); take the lock only to add the deltas, if no other run moved on meanwhile.
        position = _position()
        events = _events_after(position, cutoff)
        # Stop at the first unsettled event: a lower id may still commit before it.
        unsettled_at = next((i for i, e in enumerate(events) if e[UNSETTLED]), None)
        settled = events if unsettled_at is None else events[:unsettled_at]
        fold = _fold_chunk(settled, calendar) if settled else None
        with transaction.atomic():
            state = _state_locked(timezone.now())
            if state.last_event_id != position:
                continue  # another run folded these events in: read on from where it got
            if fold is not None:
                _apply(fold)
                state.last_event_id = settled[-1][0]
                RollupState.objects.filter(pk=1).update(last_event_id=state.last_event_id)
            last_event_id = state.last_event_id
        done += len(settled)
        if progress is not None and settled:
            progress(done, max(total, done))
        if len(settled) < _chunk():
            return done, last_event_id


ROLLUPS = (
    DailyFigures,
    DailyDurations,
    DailyFiguresByService,
    DailyDurationsByService,
    DailyDurationsNational,
    Backlog,
)


def rollups_rebuild(
    *, settle: timedelta | None = None, progress: Progress | None = None
) -> RollupSummary:
    """Empty the rollups and replay the whole history through ``rollups_update``.

    Each chunk commits on its own (a rebuild of millions of events must not hold the
    write lock for minutes), so dashboards show partial figures while it runs."""
    with transaction.atomic():
        _state_locked(timezone.now())
        for model in ROLLUPS:
            model.objects.all().delete()
        RollupState.objects.filter(pk=1).update(last_event_id=0)
    summary = rollups_update(settle=settle, progress=progress, sms_days=0)
    days = sms_recompute(days=None)
    _vacuum_rollups()
    return RollupSummary(events=summary.events, last_event_id=summary.last_event_id, sms_days=days)


def _vacuum_rollups() -> None:
    """After a rebuild every rollup row is new and the old ones are dead. On PostgreSQL,
    VACUUM reclaims the dead rows and marks the pages all-visible, so the dashboard's
    covering indexes answer without visiting the table (index-only scans), and ANALYZE
    gives the planner the new sizes; autovacuum would get there too, but only minutes
    later. At 200,000 applications, the stage histogram took 17 instead of 23 ms."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return  # VACUUM cannot run inside a transaction (a caller's, or a test's)
    with connection.cursor() as cursor:
        for model in (*ROLLUPS, DailySms):
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")


SENT = Q(gateway_message_id__isnull=False)
SMS_FIGURES = ("sent", "delivered", "failed", "cost", "segments")


def sms_recompute(*, days: int | None, today: date | None = None) -> int:
    """Recompute the SMS figures of the last ``days`` days (today included; all when
    None) from the outbox; returns the number of days recomputed.

    A day at a time, each a range of the ``created_at`` index, so the work follows the
    days asked for, not the size of the outbox. Grouping by a computed local day instead
    calls a Python function per message on SQLite (a second for a day's 95,000)."""
    if days == 0:
        return 0
    today = today or timezone.localdate()
    if days is None:
        span = Message.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
        first_day = local_day(span["first"]) if span["first"] else today
        last_day = max(today, local_day(span["last"])) if span["last"] else today
        existing = DailySms.objects.all()
    else:
        first_day, last_day = today - timedelta(days=days - 1), today
        existing = DailySms.objects.filter(day__gte=first_day)
    with transaction.atomic():
        existing.delete()
        day = first_day
        while day <= last_day:
            _sms_day(day)
            day += timedelta(days=1)
    return days if days is not None else DailySms.objects.dates("day", "day").count()


def _sms_day(day: date) -> None:
    """Insert the ``DailySms`` rows of one local day. The messages are summed per network
    and application in SQL, their applications' places read by id (see ``_batches``) and
    the sums added up per place here: joined to the applications in SQL, PostgreSQL read
    the whole applications table for every day (1.6 s for a day of 150,000 messages at
    5,000,000 applications, and growing with the applications)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_ZONE)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LOCAL_ZONE)
    per_application = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("network_code", "application_id")
        .annotate(
            sent=Count("id", filter=SENT),
            delivered=Count("id", filter=Q(state=MessageState.DELIVERED)),
            failed=Count("id", filter=Q(state=MessageState.FAILED)),
            cost=Coalesce(
                Sum("cost"),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=14, decimal_places=4),
            ),
            segments=Coalesce(Sum("segments", filter=SENT), 0),
        )
        .order_by()
        .values_list("network_code", "application_id", *SMS_FIGURES)
    )
    select, params = per_application.query.sql_with_params()
    places: dict[int | None, tuple[int | None, ...]] = {None: (None, None, None)}
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Read raw: Django's converters cost more than the sums (100,000 rows a day).
        cursor.execute(select, params)
        found = cursor.fetchall()
        for ids in _batches({row[1] for row in found if row[1] is not None}):
            cursor.execute(
                f"SELECT id, agency_id, service_id, centre_id FROM {q(APPLICATIONS)} "  # noqa: S608
                f"WHERE id IN ({ids})"
            )
            places.update((pk, tuple(place)) for pk, *place in cursor.fetchall())
    totals: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0), 0])
    for network, application_id, sent, delivered, failed, cost, segments in found:
        total = totals[(network, *places[application_id])]
        total[0] += sent
        total[1] += delivered
        total[2] += failed
        total[3] += Decimal(str(cost))  # SQLite sums as a float
        total[4] += segments
    ops = connection.ops
    rows = [
        (
            ops.adapt_datefield_value(day),
            *key,
            sent,
            delivered,
            failed,
            ops.adapt_decimalfield_value(cost, 14, 4),
            segments,
        )
        for key, (sent, delivered, failed, cost, segments) in totals.items()
    ]
    columns = ("day", "network", "agency_id", "service_id", "centre_id", *SMS_FIGURES)
    if connection.vendor == "postgresql":  # a statement a row cost more than the day's sums
        copy_rows(DailySms._meta.db_table, columns, rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {q(DailySms._meta.db_table)} ({', '.join(map(q, columns))}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            rows,
        )
