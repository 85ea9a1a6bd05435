"""Django's PostgreSQL backend with one change: timestamps are read by psycopg's own
loader, written in C, instead of Django's.

Django registers a timestamptz loader built on psycopg's pure-Python one (so it can
attach a time zone), and every timestamp read from PostgreSQL then goes through
Python: for 1,000 applications of 22 columns, 33 ms against 10 ms with the C loader.
The connection's time zone is always UTC here (USE_TZ, no database TIME_ZONE), and the
C loader then gives exactly what Django's does: an aware datetime in datetime.UTC.
Registered on each cursor, after Django has set up its own, because Django's check
reads an attribute that the C class does not have; it costs about 3 µs a cursor.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.pq import Format

TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid
# The loader psycopg registers by default: the C one when psycopg's binary package is
# installed (it is a dependency), else the pure-Python one, which is still correct.
DEFAULT_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> Any:
        cursor = super().create_cursor(name)
        if settings.USE_TZ and self.timezone_name == "UTC" and DEFAULT_LOADER is not None:
            cursor.adapters.register_loader(TIMESTAMPTZ, DEFAULT_LOADER)
        return cursor
