"""`dxhub backup` and `dxhub restore`: the demo database round-trips on each backend (every table's row
count, sampled rows, the migration head, sealed values still open with the same keys); a restore refuses a
database that holds data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, func, make_url, select, text

from app.cli import alembic_config
from app.cli import main as dxhub
from app.core.backup import BackupError, restore
from app.core.config import get_settings
from app.core.db import Database
from app.core.tenancy import SYSTEM
from app.kt.worknet import sealing as worknet_sealing
from app.kt.worknet.models import Router
from tests.conftest import _drop_database

SAMPLE = 5


def _snapshot(url: str) -> dict[str, tuple[int, list[tuple]]]:
    """Every table's row count and its first and last rows (by primary key), alembic_version included."""
    db = Database(url)
    try:
        meta = MetaData()
        meta.reflect(db.engine)
        out = {}
        with db.engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                count = conn.execute(select(func.count()).select_from(table)).scalar_one()
                first = conn.execute(select(table).order_by(*order).limit(SAMPLE)).all()
                last = conn.execute(select(table).order_by(*(c.desc() for c in order)).limit(SAMPLE)).all()
                out[name] = (count, [tuple(r) for r in first + last])
        return out
    finally:
        db.dispose()


@pytest.fixture
def empty_target(database_url: str, tmp_path) -> Iterator[str]:
    """A database URL of the same backend that holds nothing yet."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (apt-get install postgresql-client)")
    parsed = make_url(database_url)
    name = f"{parsed.database}_restored"
    admin = Database(database_url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield parsed.set(database=name).render_as_string(hide_password=False)
    _drop_database(database_url, name)


def _dxhub(monkeypatch, url: str, *args: str) -> int:
    monkeypatch.setenv("DXHUB_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        return dxhub(list(args))
    finally:
        get_settings.cache_clear()


def test_backup_and_restore_round_trip_the_demo(demo_loaded, empty_target, tmp_path, monkeypatch, capsys):
    source = demo_loaded.migration_url  # backups are made and restored by the schema's owner
    file = tmp_path / "dxhub.backup"
    assert _dxhub(monkeypatch, source, "backup", str(file)) == 0, capsys.readouterr().err
    assert "DXHUB_SEALING_KEYS" in capsys.readouterr().out  # the command says what to keep with the file
    assert _dxhub(monkeypatch, empty_target, "restore", str(file)) == 0, capsys.readouterr().err

    before, after = _snapshot(source), _snapshot(empty_target)
    assert sorted(after) == sorted(before)
    assert {n: c for n, (c, _) in after.items()} == {n: c for n, (c, _) in before.items()}
    assert before["worknet_router"][0] > 0 and before["partner"][0] > 0, "the demo was not loaded"
    for name in before:
        assert after[name][1] == before[name][1], f"sampled rows of {name} differ"

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    restored = Database(empty_target)
    try:
        with restored.scoped_connection(SYSTEM) as conn:
            assert sorted(conn.scalars(text("SELECT version_num FROM alembic_version"))) == sorted(heads)
            routers = conn.execute(select(Router.iccid_sealed, Router.iccid_masked, Router.iccid_digest,
                                             Router.municipality_id, Router.serial)).all()
        # the sealed ICCIDs open with the same keys, and are the numbers their masks and digests were made of
        assert routers
        for sealed, masked, digest, municipality_id, serial in routers:
            iccid = worknet_sealing.unseal(sealed, municipality_id=municipality_id, serial=serial)
            assert worknet_sealing.mask_iccid(iccid) == masked and worknet_sealing.digest(iccid) == digest
        # a restored database is a working one: new rows get fresh ids after the restored ones
        with restored.engine.begin() as conn:
            table = Table("partner", MetaData(), autoload_with=conn)
            top = conn.execute(select(func.max(table.c.id))).scalar_one()
            new_id = conn.execute(table.insert().values(code="restored", name_ko="복원", name_en="Restored",
                                                        kind="vendor", created_at=datetime.now(UTC))
                                  .returning(table.c.id)).scalar_one()
            assert new_id > top
    finally:
        restored.dispose()


def test_restore_refuses_a_database_that_holds_data(demo_loaded, tmp_path, monkeypatch, capsys):
    file = tmp_path / "dxhub.backup"
    assert _dxhub(monkeypatch, demo_loaded.migration_url, "backup", str(file)) == 0
    capsys.readouterr()
    assert _dxhub(monkeypatch, demo_loaded.migration_url, "restore", str(file)) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "Traceback" not in err
    # and a backup never overwrites a file
    assert _dxhub(monkeypatch, demo_loaded.migration_url, "backup", str(file)) == 2
    assert "already exists" in capsys.readouterr().err


def test_restore_refuses_a_file_of_the_other_kind(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    with pytest.raises(BackupError, match="cannot be restored"):
        restore(f"sqlite:///{tmp_path / 'x.db'}", junk)
    with pytest.raises(BackupError, match="does not exist"):
        restore(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "absent.backup")
