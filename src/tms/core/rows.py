"""Rows without the ORM on hot paths: a timestamp as the driver returns it, and
inserting many rows of one model, a thousand to a statement, without Django's
per-value compilation.

``QuerySet.bulk_create`` prepares every value of every row through its field and
compiles the statement value by value: in the profile of a 20,000-row manifest that was
13 of the 15 seconds its inserts took, the database itself the rest. The hot bulk paths
(the history events of bulk changes, outbox rows) insert here instead. Each column's
adapter is chosen once from the field's type and is the backend's own, so what lands in
the database is what ``bulk_create`` would write (a test compares the two). Objects get
no primary key back, and ``auto_now`` fields must be set by the caller.

On PostgreSQL the rows go through ``COPY … FROM STDIN`` (psycopg's copy, the values
dumped by the connection's own adapters). Django 5.2's ``bulk_create`` there inserts
with ``UNNEST``, and COPY took a quarter of its time: 25 against 110 ms a bulk change
of 1,000 history events (the median of 20, runs one after the other).
COPY cannot skip a conflicting row, so ``ignore_conflicts`` takes ``bulk_create``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models
from django.db.models.constants import OnConflict

Adapter = Callable[[Any], Any] | None
# One zone object: ``timezone.localdate()`` looks the zone up on every call, which cost a
# third of a rollup run.
LOCAL_ZONE = ZoneInfo(settings.TIME_ZONE)  # Africa/Nairobi
PASSED_AS_IS = (
    models.IntegerField,  # and its small, big and positive kinds
    models.BooleanField,
    models.FloatField,
    models.ForeignKey,  # the attname holds the id
)


def timestamp(value: datetime | str) -> datetime:
    """A timestamp as the database driver returned it (SQLite gives naive UTC text), as
    an aware datetime; Django's converters do the same at a higher cost per value."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_day(value: datetime | str) -> date:
    """The local day (``TIME_ZONE``, Nairobi) of a timestamp as the driver returned it,
    whatever zone a request has activated: citizens and reports count the service's days."""
    return timestamp(value).astimezone(LOCAL_ZONE).date()


def _values(obj: models.Model, attnames: list[str], adapters: list[Adapter]) -> list[Any]:
    """One row's values, each through its column's adapter (None passes as is)."""
    values = []
    for attname, adapt in zip(attnames, adapters, strict=True):
        value = getattr(obj, attname)
        values.append(value if adapt is None or value is None else adapt(value))
    return values


def _text(value: Any) -> str:
    # A TextChoices member is written as its value, as Django's own preparation does.
    return str(value) if isinstance(value, Enum) else value


def _adapter(field: models.Field[Any, Any]) -> Adapter:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.GenericIPAddressField):
        # The rows of one insert mostly share one address (the request's): parsed once.
        return functools.cache(ops.adapt_ipaddressfield_value)
    if isinstance(field, models.DecimalField):
        digits, places = field.max_digits, field.decimal_places
        return lambda value: ops.adapt_decimalfield_value(value, digits, places)
    if isinstance(field, models.CharField | models.TextField):
        return _text
    if isinstance(field, PASSED_AS_IS):
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def insert_rows(
    objs: Sequence[models.Model], *, ignore_conflicts: bool = False, batch_size: int = 1000
) -> None:
    """INSERT ``objs`` (all of one model, primary keys left to the database); with
    ``ignore_conflicts``, a row that breaks a unique constraint is skipped."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    for field in fields:
        automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if automatic and any(getattr(obj, field.attname) is None for obj in objs):
            raise ValueError(f"{meta.label}.{field.name} must be set before insert_rows")
    if connection.vendor == "postgresql":
        if ignore_conflicts:
            model._default_manager.bulk_create(objs, batch_size=batch_size, ignore_conflicts=True)
        else:
            _copy_rows(objs, fields)
        return
    adapters = [_adapter(field) for field in fields]
    ops = connection.ops
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    columns = ", ".join(ops.quote_name(str(field.column)) for field in fields)
    head = (
        f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(meta.db_table)} "
        f"({columns}) VALUES "
    )
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    attnames = [field.attname for field in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            params: list[Any] = []
            for obj in chunk:
                params += _values(obj, attnames, adapters)
            sql = head + ", ".join([row_marks] * len(chunk)) + (f" {suffix}" if suffix else "")
            cursor.execute(sql, params)


def _copy_rows(objs: Sequence[models.Model], fields: list[models.Field[Any, Any]]) -> None:
    adapters = [_adapter(field) for field in fields]
    attnames = [field.attname for field in fields]
    copy_rows(
        objs[0]._meta.db_table,
        [str(field.column) for field in fields],
        (_values(obj, attnames, adapters) for obj in objs),
    )


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` the ``rows``, values as the
    connection's adapters dump them."""
    ops = connection.ops
    names = ", ".join(ops.quote_name(column) for column in columns)
    sql = f"COPY {ops.quote_name(table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor:
        # Logged as the statement it is where Django logs queries (DEBUG, tests), and
        # its errors are Django's, as for any statement (an outage included).
        debug_sql = getattr(cursor, "debug_sql", None)
        logged = debug_sql(sql) if debug_sql is not None else nullcontext()
        with logged, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
