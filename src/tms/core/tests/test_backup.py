"""tms backup and tms restore on real files, with real threads and processes, and on a real
PostgreSQL server when one answers."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tms.core.management.commands.backup import BackupError, pg_backup, sqlite_backup
from tms.core.management.commands.restore import pg_restore, sqlite_restore

TXN_ROWS = 10


def rows(path: Path, table: str = "drill") -> list[int]:
    reader = sqlite3.connect(path)
    try:
        return [n for (n,) in reader.execute(f"SELECT n FROM {table} ORDER BY n")]  # noqa: S608
    finally:
        reader.close()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Track My Service SQLite database made by `tms migrate` in its own process."""
    data_dir = tmp_path_factory.mktemp("migrated")
    env = {
        **os.environ,
        "TMS_MODE": "production",
        "TMS_SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-django-1234567890",
        "TMS_DATA_DIR": str(data_dir),
    }
    env.pop("TMS_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "tms.cli", "migrate", "-v0"], env=env, check=True)
    return data_dir / "tms.sqlite3"


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Iterator[None]:
    """Restore opens its own connection to the restored file to read its migrations; that
    is not the test database, so pytest-django's guard is lifted for it."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def live(migrated: Path, tmp_path: Path, unblocked: None) -> Path:
    """A copy of the migrated database in WAL mode, as the application keeps it, with a
    drill table of five rows."""
    path = tmp_path / "live" / "tms.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(migrated, path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE drill (n INTEGER NOT NULL)")
    writer.executemany("INSERT INTO drill VALUES (?)", [(n,) for n in range(1, 6)])
    writer.close()
    return path


def test_a_backup_taken_while_a_writer_commits_is_a_consistent_moment(tmp_path: Path):
    source = tmp_path / "busy.sqlite3"
    setup = sqlite3.connect(source, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE drill (n INTEGER NOT NULL, pad BLOB NOT NULL)")
    # ~8 MB, so the copy takes many steps while the writer keeps committing.
    setup.execute("BEGIN")
    setup.executemany(
        "INSERT INTO drill VALUES (?, randomblob(400))", [(n,) for n in range(20_000)]
    )
    setup.execute("COMMIT")
    setup.close()

    committed = 0  # transactions of TXN_ROWS rows committed by the writer so far
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        nonlocal committed
        writer = sqlite3.connect(source, isolation_level=None, timeout=30)
        try:
            while not stop.is_set():
                writer.execute("BEGIN IMMEDIATE")
                writer.executemany(
                    "INSERT INTO drill VALUES (?, randomblob(400))", [(-1,)] * TXN_ROWS
                )
                writer.execute("COMMIT")
                committed += 1
                time.sleep(0.001)
        except BaseException as exc:
            failures.append(exc)
        finally:
            writer.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    while committed < 5:
        time.sleep(0.01)
    before = committed
    result = sqlite_backup(source, tmp_path / "copy.sqlite3", pages=64)
    after = committed
    time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert not failures

    # Writers were not starved: they kept committing while the copy was taken.
    assert after > before
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    count = copy.execute("SELECT count(*) FROM drill").fetchone()[0]
    copy.close()
    # Only whole transactions, and a count the database really had at some moment.
    assert (count - 20_000) % TXN_ROWS == 0
    assert 20_000 + before * TXN_ROWS <= count <= 20_000 + after * TXN_ROWS
    assert result.size == (tmp_path / "copy.sqlite3").stat().st_size
    assert not list(tmp_path.glob("copy.sqlite3.partial-*"))


def test_a_quiet_database_is_copied_in_steps(live: Path, tmp_path: Path):
    result = sqlite_backup(live, tmp_path / "b.sqlite3", pages=16)
    assert (result.restarts, result.one_step) == (0, False)
    assert rows(tmp_path / "b.sqlite3") == [1, 2, 3, 4, 5]


def test_backup_refuses_to_overwrite_a_file_unless_forced(live: Path, tmp_path: Path):
    target = tmp_path / "b.sqlite3"
    target.write_bytes(b"an earlier backup")
    with pytest.raises(BackupError, match="exists already; choose another name or add --force"):
        sqlite_backup(live, target)
    assert target.read_bytes() == b"an earlier backup"
    sqlite_backup(live, target, force=True)
    assert rows(target) == [1, 2, 3, 4, 5]


def test_restore_brings_back_exactly_the_backup_and_keeps_the_previous_database(
    live: Path, tmp_path: Path
):
    backup = tmp_path / "b.sqlite3"
    sqlite_backup(live, backup)
    later = sqlite3.connect(live, isolation_level=None)
    later.executemany("INSERT INTO drill VALUES (?)", [(n,) for n in range(6, 11)])
    later.execute("CREATE TABLE after_backup (x)")
    later.close()

    result = sqlite_restore(backup, live)

    assert rows(live) == [1, 2, 3, 4, 5]
    restored = sqlite3.connect(live)
    tables = {name for (name,) in restored.execute("SELECT name FROM sqlite_master")}
    assert restored.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    restored.close()
    assert "after_backup" not in tables
    assert result.kept is not None
    assert result.kept.name.startswith("tms.sqlite3.before-restore-")
    assert rows(result.kept) == list(range(1, 11))
    # No stale write-ahead log or shared memory left to be replayed over the restored file.
    assert not live.with_name("tms.sqlite3-wal").exists()
    assert not live.with_name("tms.sqlite3-shm").exists()
    assert result.pending_migrations == []
    assert result.unknown_migrations == []


def test_restore_reports_migrations_still_to_apply(live: Path, tmp_path: Path):
    older = sqlite3.connect(live, isolation_level=None)
    older.execute(
        "DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations)"
    )
    older.execute(
        "INSERT INTO django_migrations (app, name, applied) VALUES "
        "('applications', '9999_from_the_future', '2030-01-01')"
    )
    older.close()
    backup = tmp_path / "older.sqlite3"
    sqlite_backup(live, backup)
    result = sqlite_restore(backup, tmp_path / "elsewhere" / "tms.sqlite3")
    assert len(result.pending_migrations) == 1
    assert result.unknown_migrations == ["applications.9999_from_the_future"]
    assert result.kept is None  # nothing was there before


def test_restore_refuses_while_another_process_has_the_database_open(live: Path, tmp_path: Path):
    backup = tmp_path / "b.sqlite3"
    sqlite_backup(live, backup)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"  # noqa: S608 (our own path, quoted by repr)
            f"c = sqlite3.connect({str(live)!r})\n"
            "c.execute('SELECT count(*) FROM drill').fetchall()\n"
            "print('open', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        later = sqlite3.connect(live, isolation_level=None)
        later.execute("INSERT INTO drill VALUES (6)")
        later.close()
        with pytest.raises(BackupError, match=r"in use.*Stop the web and worker processes"):
            sqlite_restore(backup, live)
    finally:
        holder.communicate("")
    assert rows(live) == [1, 2, 3, 4, 5, 6]
    assert not list(live.parent.glob("*.before-restore-*"))


def test_restore_refuses_files_that_are_not_a_backup_of_this_application(
    live: Path, tmp_path: Path
):
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 10)
    with pytest.raises(BackupError, match=r"notes.txt is not an SQLite database\."):
        sqlite_restore(text, live)
    other = tmp_path / "other.sqlite3"
    stranger = sqlite3.connect(other)
    stranger.execute("CREATE TABLE things (x)")
    stranger.close()
    with pytest.raises(BackupError, match="not one of Track My Service"):
        sqlite_restore(other, live)
    with pytest.raises(BackupError, match="There is no file at"):
        sqlite_restore(tmp_path / "missing.sqlite3", live)
    assert rows(live) == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_the_backup_command_copies_the_configured_database(tmp_path: Path, capsys):
    if connection.vendor == "postgresql" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    target = tmp_path / "tms.backup"
    call_command("backup", str(target))
    assert "Backup written to" in capsys.readouterr().out
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(target))
    call_command("backup", str(target), "--force")
    assert target.stat().st_size > 0


def test_the_restore_command_names_what_is_wrong_with_a_file(tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("not a backup\n")
    if connection.vendor == "postgresql":
        if shutil.which("pg_restore") is None:
            pytest.skip("pg_restore is not installed")
        expected = "is not a pg_dump archive"
    else:
        expected = "is not an SQLite database"
    with pytest.raises(CommandError, match=expected):
        call_command("restore", str(text))


# --- PostgreSQL ----------------------------------------------------------------------------------


def postgres_server() -> dict[str, Any]:
    """Where to make a scratch database: the test run's PostgreSQL, else the local one."""
    if connection.vendor == "postgresql":
        base = dict(connection.settings_dict)
    else:
        base = {"HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres", "PASSWORD": ""}
    # A whole settings entry: restore reads the migrations through a Django connection.
    return {
        **connection.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "OPTIONS": {},
        "TEST": {},
    } | {key: base.get(key) for key in ("HOST", "PORT", "USER", "PASSWORD")}


def admin_connect(server: dict[str, Any]) -> psycopg.Connection:
    params = {
        "host": server["HOST"],
        "port": server["PORT"],
        "user": server["USER"],
        "password": server["PASSWORD"],
    }
    return psycopg.connect(
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
        **{k: v for k, v in params.items() if v},
    )


@pytest.fixture
def scratch_pg(unblocked: None) -> Iterator[dict[str, Any]]:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    server = postgres_server()
    try:
        admin = admin_connect(server)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server answers")
    name = f"tms_backup_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    database = {**server, "NAME": name}
    try:
        with psycopg.connect(**_params(database), autocommit=True) as conn:
            # What pg_check_archive looks for, and a table to count.
            conn.execute(
                "CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, "
                "applied timestamptz)"
            )
            conn.execute(
                "INSERT INTO django_migrations (app, name, applied) "
                "VALUES ('applications', '0001_initial', now())"
            )
            conn.execute("CREATE TABLE drill (n integer NOT NULL)")
            conn.execute("INSERT INTO drill SELECT generate_series(1, 5)")
        yield database
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _params(database: dict[str, Any]) -> dict[str, Any]:
    params = {
        "host": database["HOST"],
        "port": database["PORT"],
        "user": database["USER"],
        "password": database["PASSWORD"],
        "dbname": database["NAME"],
    }
    return {k: v for k, v in params.items() if v}


def pg_rows(database: dict[str, Any]) -> list[int]:
    with psycopg.connect(**_params(database)) as conn:
        return [n for (n,) in conn.execute("SELECT n FROM drill ORDER BY n")]


def test_postgresql_backup_and_restore_round_trip(scratch_pg: dict[str, Any], tmp_path: Path):
    backup = tmp_path / "tms.dump"
    result = pg_backup(scratch_pg, backup)
    assert result.size == backup.stat().st_size > 0
    with pytest.raises(BackupError, match="exists already"):
        pg_backup(scratch_pg, backup)
    with psycopg.connect(**_params(scratch_pg), autocommit=True) as conn:
        conn.execute("INSERT INTO drill SELECT generate_series(6, 10)")
        conn.execute("CREATE TABLE after_backup (x int)")

    restored = pg_restore(scratch_pg, backup, keep_dir=tmp_path)

    assert pg_rows(scratch_pg) == [1, 2, 3, 4, 5]
    with psycopg.connect(**_params(scratch_pg)) as conn:
        assert conn.execute("SELECT to_regclass('public.after_backup')").fetchone() == (None,)
    assert restored.kept is not None and restored.kept.name.startswith(
        f"{scratch_pg['NAME']}.before-restore-"
    )
    # The kept dump is the database as it was just before: ten rows.
    pg_restore(scratch_pg, restored.kept, keep_dir=tmp_path)
    assert pg_rows(scratch_pg) == list(range(1, 11))
    # The fake django_migrations lists none of ours: everything is reported as to apply.
    assert restored.pending_migrations


def test_a_postgresql_restore_that_fails_midway_changes_nothing(
    scratch_pg: dict[str, Any], tmp_path: Path
):
    with psycopg.connect(**_params(scratch_pg), autocommit=True) as conn:
        conn.execute("INSERT INTO drill SELECT generate_series(6, 200000)")
    backup = tmp_path / "tms.dump"
    pg_backup(scratch_pg, backup)
    # Cut short: its table of contents is whole, its data is not.
    cut = tmp_path / "cut.dump"
    cut.write_bytes(backup.read_bytes()[: backup.stat().st_size * 3 // 4])
    with psycopg.connect(**_params(scratch_pg), autocommit=True) as conn:
        conn.execute("DELETE FROM drill WHERE n > 7")

    with pytest.raises(BackupError, match="rolled back"):
        pg_restore(scratch_pg, cut, keep_dir=tmp_path)

    assert pg_rows(scratch_pg) == [1, 2, 3, 4, 5, 6, 7]


def test_postgresql_restore_refuses_while_connected_and_refuses_strangers(
    scratch_pg: dict[str, Any], tmp_path: Path
):
    backup = tmp_path / "tms.dump"
    pg_backup(scratch_pg, backup)
    with (
        psycopg.connect(**_params(scratch_pg)),
        pytest.raises(BackupError, match=r"in use by 1 other connection"),
    ):
        pg_restore(scratch_pg, backup, keep_dir=tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not a dump\n")
    with pytest.raises(BackupError, match="is not a pg_dump archive"):
        pg_restore(scratch_pg, text, keep_dir=tmp_path)
    with psycopg.connect(**_params(scratch_pg), autocommit=True) as conn:
        conn.execute("DROP TABLE django_migrations")
    stranger = tmp_path / "stranger.dump"
    pg_backup(scratch_pg, stranger)
    with pytest.raises(BackupError, match="not one of Track My Service"):
        pg_restore(scratch_pg, stranger, keep_dir=tmp_path)
    assert not list(tmp_path.glob("*.before-restore-*"))
