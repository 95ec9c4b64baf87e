"""The audit trail as a hash chain: where each entry came from, verification that names the tampered
entry, appends that never fork the chain, purge past the retention that keeps it verifiable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import event, func, select, text

from app.cli import main
from app.core.config import get_settings
from app.core.origin import origin_scope
from app.core.tenancy import SYSTEM, bind_principal
from app.platform import audit
from app.platform.auditchain import RetentionSettings, purge_expired, verify
from app.platform.models import AccessLog, AuditChain, AuditLog
from tests.conftest import api_headers
from tests.platform.test_programs_api import PROGRAM


def _record(database, n: int, *, access: bool = False) -> None:
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        for i in range(n):
            if access:
                audit.record_access(s, action="view", subject_type="vb_call", subject_id=str(i), municipality_id=None,
                                    data_subject="010-****-0000")
            else:
                audit.record(s, action="test", object_type="thing", object_id=str(i), municipality_id=None,
                             after={"n": i, "when": datetime(2026, 12, 5, tzinfo=UTC), "ratio": 0.1, "ko": "창원"})


def _verify(database, chain: str = "audit_log"):
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        return verify(s, chain)


def _sql(database, sql: str, **params) -> None:
    with database.scoped_connection(SYSTEM) as conn:  # tampering by someone who sees every row
        conn.execute(text(sql), params)


@pytest.fixture
def cli_db(database, monkeypatch):
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield database
    monkeypatch.undo()
    get_settings.cache_clear()


def test_each_entry_says_where_it_came_from_and_is_chained(client, world, database):
    h = api_headers(client, "cw.admin")
    r = client.post("/api/v1/programs", json=PROGRAM, headers={**h, "User-Agent": "integrator/1.0"})
    assert r.status_code == 201, r.text
    with database.unit_of_work(principal=SYSTEM) as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.object_type == "program", AuditLog.action == "create"))
        assert (entry.source, entry.origin, entry.ip, entry.user_agent) == (
            "api", "POST /api/v1/programs", "testclient", "integrator/1.0")
        assert entry.seq and len(entry.entry_hash) == 64 and entry.actor == "user:cw.admin"
        seqs = s.scalars(select(AuditLog.seq).order_by(AuditLog.seq)).all()
        assert seqs == list(range(1, len(seqs) + 1))  # no gap, no entry left unchained
    with origin_scope("job", "cctv.escalate"):
        _record(database, 1)
    with database.unit_of_work(principal=SYSTEM) as s:
        last = s.scalar(select(AuditLog).order_by(AuditLog.id.desc()).limit(1))
        assert (last.source, last.origin, last.ip) == ("job", "cctv.escalate", None)
    assert _verify(database).ok


def test_verify_names_the_entry_altered_inserted_or_removed(world, database, cli_db, capsys):
    _record(database, 6)
    _record(database, 2, access=True)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit_log: ok" in out and "access_log: ok, 2 entries verified" in out
    with database.unit_of_work(principal=SYSTEM) as s:
        ids = s.scalars(select(AuditLog.id).where(AuditLog.object_type == "thing").order_by(AuditLog.seq)).all()

    _sql(database, "UPDATE audit_log SET actor = 'user:nobody' WHERE id = :id", id=ids[2])
    assert main(["audit", "verify"]) == 1
    assert f"entry #{ids[2]} was altered" in capsys.readouterr().err
    _sql(database, "UPDATE audit_log SET actor = 'system:system' WHERE id = :id", id=ids[2])
    assert _verify(database).ok  # put back as it was: verifies again

    _sql(database, "UPDATE audit_log SET after = :after WHERE id = :id", id=ids[3], after='{"n": 99}')
    assert _verify(database).entry_id == ids[3]
    _sql(database, "UPDATE audit_log SET after = NULL WHERE id = :id", id=ids[3])
    assert "altered" in _verify(database).problem

    _sql(database, "DELETE FROM audit_log WHERE id = :id", id=ids[3])  # the altered entry, removed
    v = _verify(database)
    assert v.entry_id == ids[4] and "1 entries before" in v.problem and "removed" in v.problem
    _sql(database, "DELETE FROM audit_log WHERE id = :id", id=ids[2])
    assert "2 entries before" in _verify(database).problem

    _sql(database, "INSERT INTO audit_log (occurred_at, actor, action, object_type, object_id, source, origin) "
                   "VALUES (:t, 'user:x', 'create', 'thing', '0', 'web', '')", t=datetime(2026, 12, 5, tzinfo=UTC))
    v = _verify(database)
    assert "inserted outside the chain" in v.problem


def test_removing_the_newest_entries_shows(world, database):
    _record(database, 3, access=True)
    with database.unit_of_work(principal=SYSTEM) as s:
        last = s.scalar(select(func.max(AccessLog.id)))
    _sql(database, "DELETE FROM access_log WHERE id = :id", id=last)
    v = _verify(database, "access_log")
    assert not v.ok and "the last 1 entries" in v.problem


def test_a_rolled_back_savepoint_leaves_no_hole(world, database):
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        audit.record(s, action="kept", object_type="thing", object_id="1", municipality_id=None)
        nested = s.begin_nested()
        audit.record(s, action="gone", object_type="thing", object_id="2", municipality_id=None)
        nested.rollback()
        audit.record(s, action="kept", object_type="thing", object_id="3", municipality_id=None)
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.scalars(select(AuditLog.object_id).where(AuditLog.object_type == "thing")
                         .order_by(AuditLog.seq)).all() == ["1", "3"]
    assert _verify(database).ok


def test_interleaved_transactions_do_not_fork_the_chain(world, database):
    if database.is_sqlite:
        pytest.skip("SQLite lets one writer at a time: the second transaction would wait for the first")
    first, second = database.session(principal=SYSTEM), database.session(principal=SYSTEM)
    try:
        for s, n in ((first, "a"), (second, "b")):
            bind_principal(s, SYSTEM)
            audit.record(s, action="test", object_type="thing", object_id=n, municipality_id=None)
        second.commit()  # began later, commits first: chained first
        audit.record(first, action="test", object_type="thing", object_id="a2", municipality_id=None)
        first.commit()
    finally:
        first.close()
        second.close()
    with database.unit_of_work(principal=SYSTEM) as s:
        order = s.scalars(select(AuditLog.object_id).where(AuditLog.object_type == "thing").order_by(AuditLog.seq))
        assert list(order) == ["b", "a", "a2"]
    assert _verify(database).ok


def test_concurrent_writers_queue_for_the_head_and_the_chain_verifies(world, database):
    threads, per_thread = 4, 10
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(per_thread):
                _record(database, 2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    v = _verify(database)
    with database.unit_of_work(principal=SYSTEM) as s:
        things = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.object_type == "thing"))
        total = s.scalar(select(func.count()).select_from(AuditLog))
    assert things == threads * per_thread * 2
    assert v.ok and v.checked == total and v.head_seq == total


def test_purge_keeps_the_retention_and_what_is_left_still_verifies(database, cli_db, capsys):
    with time_machine.travel(datetime(2025, 1, 10, tzinfo=UTC), tick=False):
        _record(database, 4)
        _record(database, 3, access=True)
    with time_machine.travel(datetime(2025, 6, 1, tzinfo=UTC), tick=False):
        _record(database, 2)
        _record(database, 2, access=True)
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        # 2025-01-10 is past one year; 2025-06-01 is not. Large processors keep access records two years.
        with database.session(principal=SYSTEM) as s:
            bind_principal(s, SYSTEM)
            counts = purge_expired(s, settings=RetentionSettings(large_processor=True))
        assert counts == {"audit_log": 4, "access_log": 0}
        assert main(["audit", "purge"]) == 0
        assert "access_log: 3 entries older than 365 days purged" in capsys.readouterr().out
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(AccessLog)) == 2
        chain = s.get(AuditChain, "audit_log")
        assert chain.genesis_seq == 4 and chain.purged_at is not None
        purges = s.scalars(select(AuditLog.after).where(AuditLog.action == "purge")).all()
        assert purges[0]["audit_log"] == 4 and purges[0]["retention_days"]["access_log"] == 730
    assert _verify(database).ok and _verify(database, "access_log").ok
    assert main(["audit", "verify"]) == 0


def test_retention_below_the_standard_is_refused():
    with pytest.raises(ValueError, match="at least 365"):
        RetentionSettings(audit_retention_days=90)
    with pytest.raises(ValueError, match="at least 730 for a large processor"):
        RetentionSettings(access_retention_days=400, large_processor=True)
    assert RetentionSettings().days("access_log") == 365
    assert RetentionSettings(large_processor=True).days("access_log") == 730


def test_export_writes_the_months_access_records_by_the_seoul_calendar(database, cli_db, tmp_path, capsys):
    for when in (datetime(2026, 10, 31, 14, 59, tzinfo=UTC),  # 2026-10-31 23:59 KST
                 datetime(2026, 10, 31, 15, 0, tzinfo=UTC),  # 2026-11-01 00:00 KST
                 datetime(2026, 11, 30, 14, 59, tzinfo=UTC),  # 2026-11-30 23:59 KST
                 datetime(2026, 11, 30, 15, 0, tzinfo=UTC)):  # 2026-12-01 00:00 KST
        with time_machine.travel(when, tick=False), origin_scope("web", "GET /kt/voicebot/calls/1", ip="10.1.2.3"):
            _record(database, 1, access=True)
    out = tmp_path / "nov.csv"
    assert main(["audit", "export", "--month", "2026-11", "--output", str(out)]) == 0
    assert "2 access records of 2026-11" in capsys.readouterr().out
    body = out.read_text(encoding="utf-8")
    lines = body.splitlines()
    assert body.startswith("\ufeffid,occurred_at_kst,actor") and len(lines) == 3
    assert "2026-11-01 00:00:00" in lines[1] and "2026-11-30 23:59:00" in lines[2] and "10.1.2.3" in lines[1]
    assert main(["audit", "export", "--month", "2026-13"]) == 2
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.scalar(select(AuditLog.after).where(AuditLog.action == "export"))["rows"] == 2


def test_chain_overhead_is_one_locked_step_per_transaction(world, database):
    """Every transaction with entries adds one head read and one update: counted, not timed."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        _record(database, 5)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    chain_work = [s for s in statements if "audit_chain" in s or "SET seq" in s]
    assert len(chain_work) == 3  # read (and lock) the head, number the entries, move the head


def test_a_get_records_its_access_even_after_another_process_wrote(world, database):
    """On SQLite a GET's deferred read transaction could not turn writer once another connection has
    committed since its snapshot; the access record is written by a transaction of its own there."""
    reader = database.session(principal=SYSTEM)  # a GET's unit of work: a plain (deferred) transaction
    try:
        bind_principal(reader, SYSTEM)
        assert reader.scalar(select(func.count()).select_from(AuditLog)) > 0  # the snapshot is taken
        _record(database, 1)  # another request writes and commits meanwhile
        audit.record_access(reader, action="view", subject_type="vb_call", subject_id="7", municipality_id=None)
        reader.commit()
    finally:
        reader.close()
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.scalars(select(AccessLog.subject_id)).all() == ["7"]
    assert _verify(database, "access_log").ok
