"""Whole-database backup and restore (``dxhub backup FILE`` / ``dxhub restore FILE``).

SQLite: SQLite's online backup API (a consistent copy while the app runs and writes; WAL included).
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (the PostgreSQL client tools, same major
version as the server or newer), run as a role that sees every row (the tables' owner).

A restore goes into an empty database only: restoring over data would mix two histories. What a backup
does not hold and must be kept with it: the sealing keys (``DXHUB_SEALING_KEYS`` and
``DXHUB_LOOKUP_KEY``), without which the sealed personal values in it cannot be opened, and
``DXHUB_DATA_DIR`` (files the modules keep, e.g. CCTV snapshots).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from app.core.db import create_db_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """Why a backup or restore was refused or failed; its message is for the operator."""


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq takes it (no SQLAlchemy driver suffix), with the password moved to PGPASSWORD so it
    does not show in the process list."""
    parsed: URL = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
        parsed = parsed.set(password=None)
    return parsed.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH: install the PostgreSQL client tools "
                          f"(e.g. apt-get install postgresql-client) of the server's major version or newer")
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def table_names(url: str) -> list[str]:
    engine = create_db_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def backup(url: str, target: Path) -> None:
    """Write a backup of the database at ``url`` to ``target`` (which must not exist yet)."""
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    try:
        if _is_sqlite(url):
            source_path = _sqlite_path(url)
            if not source_path.is_file():
                raise BackupError(f"the database file {source_path} does not exist")
            with sqlite3.connect(source_path) as src, sqlite3.connect(partial) as dst:
                src.backup(dst)
            dst.close()
            src.close()
        else:
            dsn, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", dsn], env)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(url: str, source: Path) -> None:
    """Load the backup ``source`` into the database at ``url``, which must hold no table."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    head = _head(source)
    sqlite_file = head.startswith(SQLITE_MAGIC)
    if _is_sqlite(url) != sqlite_file:
        kind = "a SQLite file" if sqlite_file else ("a pg_dump archive" if head.startswith(PGDUMP_MAGIC)
                                                     else "not a DX Hub backup")
        target = "SQLite" if _is_sqlite(url) else "PostgreSQL"
        raise BackupError(f"{source} is {kind}; it cannot be restored into a {target} database")
    existing = table_names(url) if not _is_sqlite(url) or _sqlite_path(url).exists() else []
    if existing:
        raise BackupError(f"the target database is not empty ({len(existing)} tables, e.g. {sorted(existing)[0]}); "
                          "restore only into an empty database (create a new one, or drop this one first)")
    if _is_sqlite(url):
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        src.close()
    else:
        dsn, env = _libpq(url)
        _run([_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--dbname", dsn, str(source)], env)


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(16)
