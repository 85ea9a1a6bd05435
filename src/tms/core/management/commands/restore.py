"""``tms restore PATH``: put a backup taken by ``tms backup`` back in place.

Restoring replaces every row, so it is done with the web and workers stopped: the
command refuses while any other process has the database open (there is no override;
docs/OPERATIONS.md: stop, restore, migrate if told, start). The current database is
kept first, so a restore can itself be undone.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from argparse import ArgumentParser
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend

from tms.core.management.commands.backup import (
    BackupError,
    human_size,
    pg_backup,
    pg_environment,
    pg_tool,
    sqlite_integrity,
)

# An app every Track My Service database has migrated: tells ours from other Django sites.
OUR_APP = "applications"
IN_USE = (
    "The database is in use by {users}. Stop the web and worker processes first "
    "(systemctl stop tms-web 'tms-worker@*'), then restore, then start them again."
)


@dataclass(frozen=True)
class RestoreResult:
    kept: Path | None
    size: int
    seconds: float
    pending_migrations: list[str] = field(default_factory=list)
    unknown_migrations: list[str] = field(default_factory=list)


def kept_path(directory: Path, name: str, suffix: str = "") -> Path:
    """``<name>.before-restore-<UTC time><suffix>`` in ``directory``, not yet taken."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{name}.before-restore-{stamp}{suffix}"
    count = 1
    while path.exists():  # two restores within a second
        count += 1
        path = directory / f"{name}.before-restore-{stamp}-{count}{suffix}"
    return path


# --- SQLite ------------------------------------------------------------------------------------


def sqlite_check_backup(path: Path) -> None:
    """A sound SQLite file with this application's migrations, or BackupError saying what not."""
    if not path.is_file():
        raise BackupError(f"There is no file at {path}.")
    problems = sqlite_integrity(path)
    if problems != ["ok"]:
        raise BackupError(f"{path} failed its integrity check: {'; '.join(problems[:5])}")
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        has_table = reader.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
        ).fetchone()
        ours = (
            has_table
            and reader.execute(
                "SELECT 1 FROM django_migrations WHERE app = ?", [OUR_APP]
            ).fetchone()
        )
    finally:
        reader.close()
    if not ours:
        raise BackupError(
            f"{path} is an SQLite database but not one of Track My Service "
            "(it has no django_migrations table with this application's migrations)."
        )


def sqlite_take(live: Path) -> sqlite3.Connection:
    """An exclusive hold on the live database, or BackupError when anyone else has it open.

    In WAL mode every open connection keeps a shared lock on the file, so an exclusive
    lock is granted only when no other connection (in any process) is open."""
    holder = sqlite3.connect(live, timeout=1, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("COMMIT")  # the lock stays: locking_mode=EXCLUSIVE keeps it until close
    except sqlite3.OperationalError as exc:
        holder.close()
        raise BackupError(IN_USE.format(users="another process")) from exc
    return holder


def sqlite_restore(backup: Path, live: Path, *, checked: bool = False) -> RestoreResult:
    """Copy ``backup`` over the database at ``live`` with the backup API; the current
    database is kept beside it as ``<name>.before-restore-<UTC time>``."""
    started = time.perf_counter()
    if not checked:
        sqlite_check_backup(backup)
    live.parent.mkdir(parents=True, exist_ok=True)
    kept: Path | None = None
    holder = sqlite_take(live) if live.exists() else sqlite3.connect(live, isolation_level=None)
    try:
        # Out of WAL mode while we hold it: the log is folded into the file and removed,
        # and a copy of any page size may be written over it.
        holder.execute("PRAGMA journal_mode=DELETE")
        shm = live.with_name(f"{live.name}-shm")
        shm.unlink(missing_ok=True)  # stale: nobody else has the database open
        if live.stat().st_size:
            kept = kept_path(live.parent, live.name)
            keeper = sqlite3.connect(kept)
            try:
                holder.backup(keeper)
                keeper.execute("PRAGMA journal_mode=DELETE")
            finally:
                keeper.close()
        source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            source.backup(holder)
        finally:
            source.close()
        holder.execute("PRAGMA journal_mode=DELETE")  # the backup may carry the WAL flag
    finally:
        holder.close()
    pending, unknown = migrations_status({**_sqlite_settings(), "NAME": str(live)})
    return RestoreResult(
        kept=kept,
        size=live.stat().st_size,
        seconds=time.perf_counter() - started,
        pending_migrations=pending,
        unknown_migrations=unknown,
    )


def _sqlite_settings() -> dict[str, Any]:
    """The configured SQLite settings (options, time zone), for a connection to another file."""
    settings_dict = dict(connections["default"].settings_dict)
    if settings_dict["ENGINE"] != "django.db.backends.sqlite3":
        settings_dict = {
            **settings_dict,
            "ENGINE": "django.db.backends.sqlite3",
            "OPTIONS": {},
            "TEST": {},
        }
    return settings_dict


def migrations_status(settings_dict: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Migrations the restored database still needs, and those it has that this code
    does not know (a backup from a newer release)."""
    alias = "restore-check"
    wrapper: BaseDatabaseWrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        settings_dict, alias=alias
    )
    connections[alias] = wrapper  # the migration recorder queries through the alias
    try:
        executor = MigrationExecutor(wrapper)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        pending = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
        known = set(executor.loader.graph.nodes)
        unknown = sorted(
            f"{app}.{name}"
            for app, name in executor.loader.applied_migrations
            if (app, name) not in known and app in executor.loader.migrated_apps
        )
    finally:
        wrapper.close()
        del connections[alias]
    return pending, unknown


# --- PostgreSQL ----------------------------------------------------------------------------------


def pg_check_archive(path: Path) -> None:
    if not path.is_file():
        raise BackupError(f"There is no file at {path}.")
    listing = subprocess.run(  # noqa: S603 (a fixed program; the arguments are ours)
        [pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(
            f"{path} is not a pg_dump archive (custom format): {listing.stderr.strip()}"
        )
    # A table of contents line: "215; 1259 16385 TABLE public django_migrations owner".
    if not re.search(r"\bTABLE \S+ django_migrations\b", listing.stdout):
        raise BackupError(f"{path} is a pg_dump archive but not one of Track My Service.")


def pg_other_sessions(database: dict[str, Any]) -> int:
    """Connections to the database other than ours."""
    env = pg_environment(database)
    params = {
        "host": env.get("PGHOST"),
        "port": env.get("PGPORT"),
        "user": env.get("PGUSER"),
        "password": env.get("PGPASSWORD"),
        "dbname": env.get("PGDATABASE"),
        "sslmode": env.get("PGSSLMODE"),
    }
    conninfo = psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


# pg_restore --clean drops only what the archive has: a table added after the backup (by a
# failed upgrade, say) would survive and break the next `tms migrate`. So the schema is
# emptied first, in the same transaction as the restore: all of it happens, or none.
# COMMIT is sent only once pg_restore has written the whole script without error; psql
# leaving with the transaction open (an error, or a script cut short) rolls it all back.
PG_PROLOGUE = b"BEGIN;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"


def pg_restore(
    database: dict[str, Any], backup: Path, *, keep_dir: Path | None = None, checked: bool = False
) -> RestoreResult:
    """Replace the database's public schema with the archive's, in one transaction
    (pg_restore's script run by psql); the current database is first dumped to
    ``<keep_dir>/<name>.before-restore-<UTC time>.dump`` (default: beside the backup)."""
    started = time.perf_counter()
    if not checked:
        pg_check_archive(backup)
    restore_tool, psql = pg_tool("pg_restore"), pg_tool("psql")
    others = pg_other_sessions(database)
    if others:
        raise BackupError(IN_USE.format(users=f"{others} other connection(s)"))
    kept = kept_path(keep_dir or backup.parent, database["NAME"], ".dump")
    pg_backup(database, kept)
    env = pg_environment(database)
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as load_errors:
        script = subprocess.Popen(  # noqa: S603 (a fixed program; the arguments are ours)
            # Objects belong to the user of TMS_DATABASE_URL, whoever owned them before.
            [
                *(restore_tool, "--clean", "--if-exists", "--no-owner", "--no-privileges"),
                *("--file=-", str(backup)),
            ],
            stdout=subprocess.PIPE,
            stderr=script_errors,
            env=env,
        )
        load = subprocess.Popen(  # noqa: S603
            [
                *(psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1"),
                *("--file=-", f"--dbname={database['NAME']}"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=load_errors,
            env=env,
        )
        assert script.stdout is not None and load.stdin is not None
        try:
            load.stdin.write(PG_PROLOGUE)
            shutil.copyfileobj(script.stdout, load.stdin, 1 << 20)
            script_ok = script.wait() == 0
            if script_ok:
                load.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:
            script_ok = False  # psql stopped at an error; its message says which
        finally:
            load.stdin.close()
            script.stdout.close()
        load_ok = load.wait() == 0
        if script.wait() != 0 or not script_ok or not load_ok:
            script_errors.seek(0)
            load_errors.seek(0)
            detail = (script_errors.read() + load_errors.read()).decode(errors="replace")
            raise BackupError(
                f"The restore failed and was rolled back (the database is unchanged): "
                f"{detail.strip()}"
            )
    pending, unknown = migrations_status(database)
    return RestoreResult(
        kept=kept,
        size=backup.stat().st_size,
        seconds=time.perf_counter() - started,
        pending_migrations=pending,
        unknown_migrations=unknown,
    )


class Command(BaseCommand):
    help = (
        "Restore a backup taken by tms backup. Stop the web and worker processes first: "
        "the command refuses while the database is in use. The current database is kept."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="The backup file to restore.")

    def handle(self, *args: Any, **options: Any) -> None:
        backup = Path(options["path"]).expanduser().resolve()
        connection = connections["default"]
        database = dict(connection.settings_dict)
        try:
            if connection.vendor == "sqlite":
                sqlite_check_backup(backup)
                connections.close_all()  # ours must not count as "in use"
                result = sqlite_restore(backup, Path(database["NAME"]), checked=True)
            elif connection.vendor == "postgresql":
                pg_check_archive(backup)
                connections.close_all()
                result = pg_restore(database, backup, checked=True)
            else:
                raise BackupError(f"tms restore does not know {connection.vendor} databases.")
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {backup} ({human_size(result.size)}) in {result.seconds:.1f} s."
            )
        )
        if result.kept:
            self.stdout.write(f"The previous database is kept at {result.kept}.")
        if result.unknown_migrations:
            self.stdout.write(
                self.style.WARNING(
                    "The backup comes from a newer release (migrations this code does not "
                    f"know: {', '.join(result.unknown_migrations)}): install that release."
                )
            )
        if result.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(result.pending_migrations)} migration(s) not applied yet: "
                    "run `tms migrate` before starting the web and workers."
                )
            )
        else:
            self.stdout.write("Migrations: up to date.")
