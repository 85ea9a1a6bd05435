"""Bulk writes of synthetic applications and events through Django's connection.

The ORM would build a model instance per row; at millions of rows that is most of
the time. Here rows go straight to the driver: ``executemany`` on SQLite, COPY on
PostgreSQL. The callers own the transactions (one per batch).

Rows skip the ``status_changed`` signal on purpose: synthetic histories happened
"in the past" and must not queue SMS or webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

from tms.applications.models import Application, ApplicationEvent
from tms.demo.histories import APPLICATION_FIELDS, EVENT_FIELDS, Batch

# A bigger page cache for the bulk session (per connection, 256 MiB): random
# reference and phone keys touch index pages all over the file.
SQLITE_BULK_PRAGMAS = ("PRAGMA cache_size = -262144",)
REFERENCE_LOOKUP_CHUNK = 500


def _column(model: Any, name: str) -> str:
    column = model._meta.get_field(name).column
    assert isinstance(column, str), f"{name} is not a concrete column"
    return column


def _columns(model: Any, fields: Sequence[str], quote: Any) -> str:
    return ", ".join(quote(_column(model, name)) for name in fields)


class BulkWriter:
    """Writes Batches to the applications tables of one database connection."""

    def __init__(self, connection: BaseDatabaseWrapper = default_connection) -> None:
        if connection.vendor not in {"sqlite", "postgresql"}:
            raise NotImplementedError(f"bulk loading is not written for {connection.vendor}")
        self.connection = connection
        quote = connection.ops.quote_name
        self.application_table = quote(Application._meta.db_table)
        self.event_table = quote(ApplicationEvent._meta.db_table)
        self.application_columns = _columns(Application, APPLICATION_FIELDS, quote)
        self.event_columns = _columns(ApplicationEvent, EVENT_FIELDS, quote)
        self.reference_column = quote(_column(Application, "reference"))

    @property
    def timestamp_suffix(self) -> str:
        """SQLite stores Django's UTC text without an offset; PostgreSQL gets it explicit."""
        return "+00:00" if self.connection.vendor == "postgresql" else ""

    def prepare_session(self) -> None:
        if self.connection.vendor == "sqlite":
            with self.connection.cursor() as cursor:
                for pragma in SQLITE_BULK_PRAGMAS:
                    cursor.execute(pragma)

    def reserve_ids(self, count: int) -> int:
        """Reserve ``count`` consecutive application ids; return the first.

        Moving the table's sequence past the range up front means applications
        lodged meanwhile take ids after it, so batches never collide with them.
        Call inside a transaction."""
        table = Application._meta.db_table
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.application_table}")  # noqa: S608
            highest = int(cursor.fetchone()[0])
            if self.connection.vendor == "sqlite":
                # AUTOINCREMENT keeps its high-water mark in sqlite_sequence (documented
                # as editable with ordinary statements).
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                first = max(highest, int(row[0]) if row else 0) + 1
                if row:
                    cursor.execute(
                        "UPDATE sqlite_sequence SET seq = %s WHERE name = %s",
                        [first + count - 1, table],
                    )
                else:
                    cursor.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                        [table, first + count - 1],
                    )
                return first
            cursor.execute(f"LOCK TABLE {self.application_table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s)", [sequence])
            first = max(highest + 1, int(cursor.fetchone()[0]))
            cursor.execute("SELECT setval(%s, %s, true)", [sequence, first + count - 1])
            return first

    def existing_references(self, candidates: Sequence[str]) -> set[str]:
        """Those of ``candidates`` already in the database (one indexed lookup each)."""
        found: set[str] = set()
        with self.connection.cursor() as cursor:
            for start in range(0, len(candidates), REFERENCE_LOOKUP_CHUNK):
                chunk = candidates[start : start + REFERENCE_LOOKUP_CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT {self.reference_column} FROM {self.application_table} "  # noqa: S608
                    f"WHERE {self.reference_column} IN ({marks})",
                    list(chunk),
                )
                found.update(row[0] for row in cursor.fetchall())
        return found

    def write(self, batch: Batch) -> None:
        """Insert the batch's applications, then its events. Call inside a transaction."""
        self._insert(self.application_table, self.application_columns, batch.applications)
        self._insert(self.event_table, self.event_columns, batch.events)

    def _insert(self, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                _copy(cursor.cursor, f"COPY {table} ({columns}) FROM STDIN", rows)
            else:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def _copy(raw_cursor: Any, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY through psycopg 3, much faster than INSERT for millions of rows."""
    with raw_cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
