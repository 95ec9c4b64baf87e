"""Import jobs: small files and JSON batches run in the request; large files run in a background thread
with their own session, so the app keeps answering. Progress of a running job lives in memory (this
process) and is read by the job-status endpoint; the outcome and error report are stored on the job.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import Database, utcnow
from app.core.errors import NotFound
from app.core.tenancy import SYSTEM, bind_principal, principal_of
from app.lguplus.citydata import importers
from app.lguplus.citydata.models import CitydataImportJob
from app.platform.models import Municipality

log = logging.getLogger("dxhub.citydata")
_progress: dict[int, dict[str, int]] = {}
_threads: dict[int, threading.Thread] = {}


def get_job(db: Session, *, job_id: int) -> CitydataImportJob:
    found = db.scalar(select(CitydataImportJob).where(CitydataImportJob.id == job_id))
    if found is None:
        raise NotFound("Import job {id} not found", id=job_id)
    return found


def find_by_client_id(db: Session, *, municipality_id: int, client_id: str | None) -> CitydataImportJob | None:
    if not client_id:
        return None
    return db.scalar(select(CitydataImportJob).where(CitydataImportJob.municipality_id == municipality_id,
                                                     CitydataImportJob.client_id == client_id))


def list_jobs(db: Session, *, limit: int = 20) -> list[CitydataImportJob]:
    return list(db.scalars(select(CitydataImportJob).order_by(CitydataImportJob.id.desc()).limit(limit)))


def municipality_code(db: Session, municipality_id: int) -> str:
    return db.scalar(select(Municipality.code).where(Municipality.id == municipality_id)
                     .execution_options(skip_tenant_scope=True)) or ""


def new_job(db: Session, *, municipality_id: int, kind: str, filename: str = "", client_id: str | None = None,
            bytes_total: int = 0) -> CitydataImportJob:
    principal = principal_of(db)
    job = CitydataImportJob(municipality_id=municipality_id, kind=kind, filename=filename[:200],
                            client_id=client_id, bytes_total=bytes_total, status="queued",
                            created_by=(principal.label if principal else "")[:120], errors=[])
    db.add(job)
    db.flush()
    return job


def _finish(job: CitydataImportJob, rows: int) -> None:
    job.status, job.rows_total, job.rows_done = "done", rows, rows
    job.finished_at = utcnow()
    job.message = ""


def _fail(job: CitydataImportJob, exc: importers.ImportRefused) -> None:
    job.status = "failed"
    job.client_id = None  # a corrected file may be sent again under the same id
    job.error_count = exc.report.count
    job.errors = exc.report.items
    job.message = exc.detail[:500]  # English, as the API speaks; pages translate the report
    job.finished_at = utcnow()


def run_json(db: Session, *, job: CitydataImportJob, rows: list[Any]) -> CitydataImportJob:
    """Import a JSON batch in the caller's transaction; raises ImportRefused (caller records the failure)."""
    job.status, job.started_at = "running", utcnow()
    conv = importers.make_converter(db, kind=job.kind, municipality_id=job.municipality_id,
                                    municipality_code=municipality_code(db, job.municipality_id), job_id=job.id)
    _finish(job, importers.store_json(db, conv, rows))
    return job


def run_file(db: Session, *, job: CitydataImportJob, path: Path) -> CitydataImportJob:
    """Import a CSV file in the caller's transaction (small files)."""
    job.status, job.started_at = "running", utcnow()
    job.encoding = importers.detect_encoding(path)
    conv = importers.make_converter(db, kind=job.kind, municipality_id=job.municipality_id,
                                    municipality_code=municipality_code(db, job.municipality_id), job_id=job.id)
    _finish(job, importers.store_file(db, conv, path, encoding=job.encoding))
    return job


def record_failure(db: Session, *, job_values: dict[str, Any], exc: importers.ImportRefused) -> CitydataImportJob:
    """After a rollback: keep a failed job with its error report, and nothing of its rows."""
    job = CitydataImportJob(**job_values)
    _fail(job, exc)
    db.add(job)
    db.flush()
    return job


def job_values(job: CitydataImportJob) -> dict[str, Any]:
    return {k: getattr(job, k) for k in ("municipality_id", "kind", "filename", "client_id", "bytes_total",
                                         "created_by")}


# --- background ---------------------------------------------------------------------------------

def save_upload(chunks: Any, *, limit: int) -> tuple[Path, int]:
    """Write an upload to a temporary file; refuse it past ``limit`` bytes (the file is removed)."""
    fd, name = tempfile.mkstemp(prefix="citydata-", suffix=".csv")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), size


def too_large(limit: int) -> importers.ImportRefused:
    report = importers.ErrorReport()
    report.add(0, "", "The file is larger than the limit of {limit} MB; split it and send the parts",
               limit=max(1, round(limit / 1_000_000)))
    return importers.FileTooLarge(report)


def start(database: Database, *, job_id: int, path: Path) -> threading.Thread:
    """Run a committed, queued job in a thread; the file is removed when it ends."""
    _progress[job_id] = {"bytes": 0, "rows": 0}
    thread = threading.Thread(target=_run, args=(database, job_id, path), name=f"citydata-import-{job_id}",
                              daemon=True)
    _threads[job_id] = thread
    thread.start()
    return thread


def wait(job_id: int, timeout: float | None = None) -> None:
    thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)


def progress(job: CitydataImportJob) -> dict[str, Any]:
    """What the progress bar shows: a fraction from bytes read (running) or the stored outcome."""
    live = _progress.get(job.id)
    if job.status in ("done", "failed") or live is None:
        fraction = 1.0 if job.status in ("done", "failed") else 0.0
        rows = job.rows_done
    else:
        fraction = min(0.99, live["bytes"] / job.bytes_total) if job.bytes_total else 0.0
        rows = live["rows"]
    return {"id": job.id, "kind": job.kind, "status": job.status, "fraction": round(fraction, 3),
            "rows_done": rows, "rows_total": job.rows_total, "error_count": job.error_count,
            "message": job.message}


def _run(database: Database, job_id: int, path: Path) -> None:
    live = _progress[job_id]
    try:
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            job = s.get(CitydataImportJob, job_id)
            job.status, job.started_at = "running", utcnow()
        try:
            with database.unit_of_work() as s:
                bind_principal(s, SYSTEM)
                job = s.get(CitydataImportJob, job_id)
                job.encoding = importers.detect_encoding(path)
                conv = importers.make_converter(s, kind=job.kind, municipality_id=job.municipality_id,
                                                municipality_code=municipality_code(s, job.municipality_id),
                                                job_id=job.id)
                rows = importers.store_file(s, conv, path, encoding=job.encoding,
                                            on_bytes=lambda b: live.__setitem__("bytes", b),
                                            on_rows=lambda n: live.__setitem__("rows", n))
                _finish(job, rows)
        except importers.ImportRefused as exc:
            with database.unit_of_work() as s:
                bind_principal(s, SYSTEM)
                job = s.get(CitydataImportJob, job_id)
                _fail(job, exc)
    except Exception:  # pragma: no cover - logged and shown as a failed job
        log.exception("citydata import job %s failed", job_id)
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            job = s.get(CitydataImportJob, job_id)
            if job is not None:
                job.status, job.message, job.finished_at = "failed", "unexpected error; see the server log", utcnow()
    finally:
        _progress.pop(job_id, None)
        _threads.pop(job_id, None)
        path.unlink(missing_ok=True)
