"""Making the test database really unreachable for a while (an outage or a restart), by
pointing the connection where nothing answers: a closed port for PostgreSQL, a missing
directory for SQLite."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any


def url(connection: Any) -> str:
    """``connection``'s database as a TMS_DATABASE_URL, for the processes a test starts."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] or "postgres"
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        return f"postgres://{user}@{host}:{port}/{settings['NAME']}"
    return f"sqlite:///{settings['NAME']}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def take_away(connection: Any) -> Callable[[], None]:
    """Close ``connection`` and point it nowhere; returns the function that brings the
    database back (its next query reconnects)."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT=closed_port())
    else:
        connection.settings_dict["NAME"] = "/nonexistent-directory/tms.sqlite3"

    def bring_back() -> None:
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

    return bring_back


@contextlib.contextmanager
def unreachable(connection: Any) -> Iterator[None]:
    bring_back = take_away(connection)
    try:
        yield
    finally:
        connection.close()
        bring_back()
