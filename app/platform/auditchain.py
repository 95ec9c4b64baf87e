"""The audit trail and the access records as hash chains: append, verify, purge.

Each entry carries its position (``seq``), the hash of the entry before it and its own hash
(:func:`app.core.hashchain.entry_hash` over every other column). Entries are inserted as the work
happens (so the transaction sees them), and chained when the transaction commits: a ``before_commit``
hook locks the chain's head row in ``audit_chain`` (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
the transaction already holds the database's write lock), reads the entries this transaction wrote
back from the database, numbers and hashes them after the head, and moves the head. Two transactions
appending at once therefore queue only for that short step and never fork the chain; an entry rolled
back with its savepoint is simply not there to chain.

:func:`verify` walks a chain from its genesis and names the first entry that was altered, inserted or
removed. :func:`purge` deletes the entries older than the retention, oldest first, and makes the last
purged entry's hash the chain's new genesis (recorded before anything is deleted), so what remains
still verifies. The head hash that :func:`verify` prints is worth keeping outside the database: with
it, even a rewrite of the whole chain shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Table, bindparam, delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from app.core.bulk import dialect_insert
from app.core.db import utcnow
from app.core.hashchain import GENESIS, entry_hash
from app.core.tenancy import check_rows, within_reach
from app.platform.models import AccessLog, AuditChain, AuditLog

CHAINS: dict[str, Table] = {"audit_log": AuditLog.__table__, "access_log": AccessLog.__table__}
CHAIN_COLUMNS = ("seq", "prev_hash", "entry_hash")
BATCH = 2000
MIN_RETENTION_DAYS = 365  # 개인정보의 안전성 확보조치 기준: 접속기록 at least one year
LARGE_PROCESSOR_DAYS = 730  # two years for large processors (5만 명 이상 등)
_PENDING = "audit_chain_pending"


class RetentionSettings(BaseSettings):
    """How long entries are kept (``DXHUB_AUDIT_RETENTION_DAYS``, ``DXHUB_ACCESS_RETENTION_DAYS``,
    ``DXHUB_LARGE_PROCESSOR``); never less than the standard asks."""

    model_config = SettingsConfigDict(env_prefix="DXHUB_", extra="ignore")

    audit_retention_days: int = MIN_RETENTION_DAYS
    access_retention_days: int | None = None
    large_processor: bool = False

    @model_validator(mode="after")
    def _at_least_the_standard(self) -> RetentionSettings:
        if self.audit_retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"DXHUB_AUDIT_RETENTION_DAYS must be at least {MIN_RETENTION_DAYS}")
        if self.access_retention_days is not None and self.access_retention_days < self.access_minimum:
            raise ValueError(f"DXHUB_ACCESS_RETENTION_DAYS must be at least {self.access_minimum}"
                             + (" for a large processor" if self.large_processor else ""))
        return self

    @property
    def access_minimum(self) -> int:
        return LARGE_PROCESSOR_DAYS if self.large_processor else MIN_RETENTION_DAYS

    def days(self, chain: str) -> int:
        if chain == "access_log":
            return self.access_retention_days or self.access_minimum
        return self.audit_retention_days


# --- append ------------------------------------------------------------------------------------

def append(db: Session, chain: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into the table of ``chain``; they are chained when ``db``'s transaction commits."""
    table = CHAINS[chain]
    ids = db.connection().execute(_statements(chain)["insert"], check_rows(db, table, rows)).scalars().all()
    db.info.setdefault(_PENDING, {}).setdefault(chain, []).extend(ids)


@cache
def _statements(chain: str) -> dict[str, Any]:
    """The chain's statements, built once (each commit runs them: building them anew cost more than running
    them)."""
    table, head = CHAINS[chain], AuditChain.__table__
    hashed = [c for c in table.c if c.name not in CHAIN_COLUMNS]
    return {
        "insert": insert(table).returning(table.c.id),
        "head": select(head).where(head.c.name == chain),
        "head_locked": select(head).where(head.c.name == chain).with_for_update(),
        "entries": select(*hashed).where(table.c.id.in_(bindparam("ids", expanding=True)), table.c.seq.is_(None))
                                  .order_by(table.c.id),
        "number": update(table).where(table.c.id == bindparam("b_id")).values(
            seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), entry_hash=bindparam("b_hash")),
        "move": update(head).where(head.c.name == chain).values(head_seq=bindparam("b_seq"),
                                                                 head_hash=bindparam("b_hash")),
    }


def _head(db: Session, chain: str, *, lock: bool) -> dict[str, Any]:
    """The chain's head row (made at its genesis if missing: a database built without the migration)."""
    stmt = _statements(chain)["head_locked" if lock else "head"]
    row = db.execute(stmt).mappings().one_or_none()
    if row is None:
        db.execute(dialect_insert(db, AuditChain.__table__).values(
            name=chain, head_seq=0, head_hash=GENESIS, genesis_seq=0, genesis_hash=GENESIS).on_conflict_do_nothing())
        row = db.execute(stmt).mappings().one()
    return dict(row)


def chain_entries(db: Session, chain: str, ids: list[int]) -> int:
    """Number and hash the entries ``ids`` of ``chain`` after its head, under the head row's lock."""
    statements, table = _statements(chain), CHAINS[chain]
    within = within_reach(db, table)
    conn = db.connection()
    entries = [dict(row) for start in range(0, len(ids), BATCH)  # read before the lock: they are ours alone
               for row in conn.execute(statements["entries"].where(within),
                                       {"ids": ids[start:start + BATCH]}).mappings()]
    if not entries:
        return 0
    state = _head(db, chain, lock=True)  # held until the commit: the next transaction waits here
    seq, prev = state["head_seq"], state["head_hash"]
    updates: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        digest = entry_hash(prev, seq, entry)
        updates.append({"b_id": entry["id"], "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    if updates:
        conn.execute(statements["number"].where(within), updates)
        conn.execute(statements["move"], {"b_seq": seq, "b_hash": prev})
    return len(updates)


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.flush()  # the commit's own flush comes after this hook: its audit entries must be chained too
    pending: dict[str, list[int]] = session.info.pop(_PENDING, {})
    for chain in sorted(pending):  # one lock order for every transaction
        if pending[chain]:
            chain_entries(session, chain, pending[chain])


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:
    # Only the outermost transaction's end: a savepoint rolled back keeps the entries written before it
    # (its own are simply absent when the chain reads them back).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# --- verify ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    chain: str
    checked: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    entry_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _walk(db: Session, table: Table, after_seq: int, until_seq: int) -> Iterator[dict[str, Any]]:
    last, within = after_seq, within_reach(db, table)
    while True:
        rows = db.execute(select(*table.c).where(table.c.seq > last, table.c.seq <= until_seq, within)
                            .order_by(table.c.seq).limit(BATCH)).mappings().all()
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


def verify(db: Session, chain: str) -> Verdict:
    """Walk ``chain`` from its genesis; the first entry altered, inserted or removed, or ok."""
    table = CHAINS[chain]
    within = within_reach(db, table)  # the whole chain for the system; a tenant's own entries look broken
    state = _head(db, chain, lock=False)
    verdict = lambda checked, problem=None, entry_id=None: Verdict(  # noqa: E731
        chain, checked, state["head_seq"], state["head_hash"], problem, entry_id)
    stray = db.execute(select(func.min(table.c.id)).where(table.c.seq.is_(None), within)).scalar()
    if stray is not None:
        return verdict(0, f"entry #{stray} was inserted outside the chain (it has no place in it)", stray)
    expected, prev, checked, last_id = state["genesis_seq"] + 1, state["genesis_hash"], 0, None
    for row in _walk(db, table, state["genesis_seq"], state["head_seq"]):
        if row["seq"] != expected:
            return verdict(checked, f"{row['seq'] - expected} entries before #{row['id']} were removed "
                                    f"(position {expected} is missing)", row["id"])
        if row["prev_hash"] != prev:
            return verdict(checked, f"entry #{row['id']} does not follow the entry before it: an entry "
                                    "was inserted or removed there", row["id"])
        hashed = {k: v for k, v in row.items() if k not in CHAIN_COLUMNS}
        if entry_hash(prev, row["seq"], hashed) != row["entry_hash"]:
            return verdict(checked, f"entry #{row['id']} was altered", row["id"])
        prev, expected, checked, last_id = row["entry_hash"], expected + 1, checked + 1, row["id"]
    if expected - 1 != state["head_seq"] or prev != state["head_hash"]:
        after = f"after #{last_id}" if last_id else "from the start"
        return verdict(checked, f"the last {state['head_seq'] - expected + 1} entries ({after}) were removed",
                       last_id)
    beyond = db.execute(select(func.min(table.c.id)).where(table.c.seq > state["head_seq"], within)).scalar()
    if beyond is not None:
        return verdict(checked, f"entry #{beyond} was inserted beyond the chain's head", beyond)
    return verdict(checked)


# --- purge -------------------------------------------------------------------------------------

def purge(db: Session, chain: str, *, before: datetime,
          progress: Callable[[str], None] | None = None) -> int:
    """Delete the entries of ``chain`` that occurred before ``before``, oldest first, keeping it verifiable.

    Only a prefix of the chain goes (up to the first entry still within the retention), and the new
    genesis is committed before the first delete, so an interrupted purge resumes and what is left
    verifies at every step. Returns the number of entries deleted."""
    table, head = CHAINS[chain], AuditChain.__table__
    within = within_reach(db, table)
    if not db.in_transaction():
        db.connection(execution_options={"sqlite_immediate": True})
    state = _head(db, chain, lock=True)
    keep_from = db.execute(select(func.min(table.c.seq)).where(table.c.occurred_at >= before, within)).scalar()
    last = (keep_from - 1) if keep_from is not None else state["head_seq"]
    if last > state["genesis_seq"]:
        last_hash = db.execute(select(table.c.entry_hash).where(table.c.seq == last, within)).scalar()
        if last_hash is None:  # the entry is gone already: a chain this damaged is not purged blindly
            raise ValueError(f"{chain}: entry at position {last} is missing; run `dxhub audit verify`")
        db.execute(update(head).where(head.c.name == chain).values(genesis_seq=last, genesis_hash=last_hash,
                                                                   purged_at=utcnow()))
    genesis = max(last, state["genesis_seq"])
    db.commit()
    deleted = 0
    while True:
        db.connection(execution_options={"sqlite_immediate": True})  # SQLite: the write lock up front
        ids = db.execute(select(table.c.id).where(table.c.seq <= genesis, within).limit(BATCH)).scalars().all()
        if not ids:
            return deleted
        db.execute(delete(table).where(table.c.id.in_(ids), within))
        db.commit()
        deleted += len(ids)
        if progress:
            progress(f"{chain}: {deleted} entries purged")


def purge_expired(db: Session, *, now: datetime | None = None, settings: RetentionSettings | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """The retention duty: purge each chain past its retention, then audit that it was done.

    Plain function for ``dxhub audit purge`` and for the worker's daily duty; commits as it goes."""
    settings = settings or RetentionSettings()
    now = now or utcnow()
    counts = {chain: purge(db, chain, before=now - timedelta(days=settings.days(chain)), progress=progress)
              for chain in CHAINS}
    from app.platform import audit

    audit.record(db, action="purge", object_type="audit_log", object_id=f"before:{now.date()}",
                 municipality_id=None, after={**counts, "retention_days": {c: settings.days(c) for c in CHAINS}})
    db.commit()
    return counts
