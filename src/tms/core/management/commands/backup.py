"""``tms backup PATH``: a consistent copy of the database while web and workers keep running.

SQLite (the default): sqlite3's online backup API, then ``PRAGMA integrity_check`` on
the copy. PostgreSQL: ``pg_dump --format=custom`` (we do not reimplement it).
``tms restore`` (restore.py) reads both kinds back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

SQLITE_HEADER = b"SQLite format 3\x00"
# 256 pages of 4 KiB: 1 MiB per step, a few milliseconds of reading.
STEP_PAGES = 256
STEP_PAUSE_SECONDS = 0.005
# A write by another connection between two steps restarts the copy from the first page;
# under a steady stream of writes the steps would never finish (we measured it), so after
# a few restarts the rest is copied in one step: one read transaction, which in WAL mode
# (the application's mode) never blocks writers; in rollback mode writers wait on their
# busy timeout for at most that step.
MAX_RESTARTS = 3


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    seconds: float
    restarts: int = 0
    one_step: bool = False


class _TooManyRestarts(Exception):
    pass


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def partial_path(target: Path) -> Path:
    """Where a copy is written before it is checked and renamed into place."""
    return target.with_name(f"{target.name}.partial-{os.getpid()}")


def check_target(target: Path, *, force: bool) -> None:
    if target.exists() and not force:
        raise BackupError(f"{target} exists already; choose another name or add --force.")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")


def sqlite_integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a database file: ``["ok"]`` when it is sound."""
    with open(path, "rb") as handle:
        if handle.read(16) != SQLITE_HEADER:
            raise BackupError(f"{path} is not an SQLite database.")
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in reader.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc}).") from exc
    finally:
        reader.close()


def sqlite_copy(
    source: sqlite3.Connection,
    target: sqlite3.Connection,
    *,
    pages: int = STEP_PAGES,
    pause: float = STEP_PAUSE_SECONDS,
) -> tuple[int, bool]:
    """Copy ``source`` into ``target`` with the online backup API: in steps with a short
    pause between them, so writers get their turn; returns (restarts, finished in one step)."""
    restarts = 0
    last_remaining: int | None = None

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last_remaining
        if last_remaining is not None and remaining > last_remaining:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _TooManyRestarts
        last_remaining = remaining
        if remaining:
            time.sleep(pause)

    try:
        source.backup(target, pages=pages, progress=progress)
    except _TooManyRestarts:
        source.backup(target, pages=-1)
        return restarts, True
    return restarts, False


def sqlite_backup(
    source: Path,
    target: Path,
    *,
    force: bool = False,
    pages: int = STEP_PAGES,
    pause: float = STEP_PAUSE_SECONDS,
) -> BackupResult:
    """A consistent copy of the SQLite database ``source`` at ``target``, checked.

    The copy is written beside the target and renamed into place only once it passes
    ``PRAGMA integrity_check``, so ``target`` is never a half-written file."""
    check_target(target, force=force)
    if not source.exists():
        raise BackupError(f"There is no database at {source}.")
    started = time.perf_counter()
    partial = partial_path(target)
    partial.unlink(missing_ok=True)
    reader = sqlite3.connect(source, timeout=30)
    writer = sqlite3.connect(partial)
    try:
        restarts, one_step = sqlite_copy(reader, writer, pages=pages, pause=pause)
        # The copy carries the source's WAL flag; a backup is one self-contained file.
        writer.execute("PRAGMA journal_mode=DELETE")
    finally:
        writer.close()
        reader.close()
    try:
        problems = sqlite_integrity(partial)
        if problems != ["ok"]:
            raise BackupError(f"The copy failed its integrity check: {'; '.join(problems[:5])}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        path=target,
        size=target.stat().st_size,
        seconds=time.perf_counter() - started,
        restarts=restarts,
        one_step=one_step,
    )


# --- PostgreSQL -------------------------------------------------------------------------------

PG_MISSING = (
    "{tool} is not on PATH. Install the PostgreSQL client tools of the server's major "
    "version or newer (Debian: apt-get install postgresql-client), or back up PostgreSQL "
    "with your provider's own backups or with pg_dump --format=custom from a machine that "
    "has it (docs/OPERATIONS.md, 'Backup and restore')."
)


def pg_environment(database: dict[str, Any]) -> dict[str, str]:
    """libpq's variables for a Django database entry: the password never on a command line."""
    env = dict(os.environ)
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        value = database.get(key)
        if value:
            env[variable] = str(value)
    options = database.get("OPTIONS") or {}
    for key, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ):
        if options.get(key):
            env[variable] = str(options[key])
    return env


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(PG_MISSING.format(tool=name))
    return path


def pg_backup(database: dict[str, Any], target: Path, *, force: bool = False) -> BackupResult:
    """``pg_dump --format=custom`` of the database: one consistent snapshot, taken without
    stopping anyone (pg_dump reads in a single repeatable-read transaction)."""
    check_target(target, force=force)
    pg_dump = pg_tool("pg_dump")
    started = time.perf_counter()
    partial = partial_path(target)
    try:
        result = subprocess.run(  # noqa: S603 (a fixed program; the arguments are ours)
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}"],
            env=pg_environment(database),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        path=target, size=target.stat().st_size, seconds=time.perf_counter() - started
    )


class Command(BaseCommand):
    help = (
        "Back up the database to PATH while the web and workers keep running: SQLite with its "
        "online backup API (checked with PRAGMA integrity_check), PostgreSQL with pg_dump."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="The backup file to write.")
        parser.add_argument("--force", action="store_true", help="Overwrite PATH if it exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["path"]).expanduser().resolve()
        connection = connections["default"]
        database = connection.settings_dict
        try:
            if connection.vendor == "sqlite":
                result = sqlite_backup(Path(database["NAME"]), target, force=options["force"])
            elif connection.vendor == "postgresql":
                result = pg_backup(database, target, force=options["force"])
            else:
                raise BackupError(f"tms backup does not know {connection.vendor} databases.")
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        check = ", integrity ok" if connection.vendor == "sqlite" else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {result.path}: {human_size(result.size)} "
                f"in {result.seconds:.1f} s{check}."
            )
        )
