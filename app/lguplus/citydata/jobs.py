"""Import jobs: small files and JSON batches run in the request; large files run in ``dxhub worker`` as a
job of the shared job table (kind ``lguplus.citydata.import``), so the app keeps answering, any web
process shows the progress, and a worker restart resumes the import. The outcome and error report are
stored on the import job.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.core.db import utcnow
from app.core.jobs import Job, JobContext, JobKind, JobRefused, Queue, latest_for, submit
from app.core.jobs import fraction as job_fraction
from app.core.lookup import one_or_404
from app.core.tenancy import bind_principal, principal_of
from app.lguplus.citydata import importers, ledger
from app.lguplus.citydata.models import CitydataImportJob
from app.platform.models import Municipality

log = logging.getLogger("dxhub.citydata")


def get_job(db: Session, *, job_id: int) -> CitydataImportJob:
    return one_or_404(db, CitydataImportJob, job_id, "Import job {id} not found")


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
            bytes_total: int = 0, digest: str | None = None) -> CitydataImportJob:
    """A queued import; an import of the same bytes already stored (or under way) answers 409."""
    if digest is not None:
        ledger.check_digest(db, municipality_id=municipality_id, kind=kind, digest=digest)
    principal = principal_of(db)
    job = CitydataImportJob(municipality_id=municipality_id, kind=kind, filename=filename[:200],
                            client_id=client_id, bytes_total=bytes_total, status="queued", digest=digest,
                            created_by=(principal.label if principal else "")[:120], errors=[], coverage={})
    db.add(job)
    db.flush()
    return job


def _finish(job: CitydataImportJob, rows: int, conv: importers.Converter) -> None:
    job.status, job.rows_total, job.rows_done = "done", rows, rows
    job.coverage = conv.summary
    job.finished_at = utcnow()
    job.message = ""


def _fail(job: CitydataImportJob, exc: importers.ImportRefused) -> None:
    job.status = "failed"
    job.client_id = None  # a corrected file may be sent again under the same id
    job.digest = None  # and the same file, once the earlier import is out of the way
    job.error_count = exc.report.count
    job.errors = exc.report.items
    job.message = exc.detail[:500]  # English, as the API speaks; pages translate the report
    job.finished_at = utcnow()


def _converter(db: Session, job: CitydataImportJob, mode: str) -> importers.Converter:
    return importers.make_converter(db, kind=job.kind, municipality_id=job.municipality_id,
                                    municipality_code=municipality_code(db, job.municipality_id), job_id=job.id,
                                    mode=mode)


def run_json(db: Session, *, job: CitydataImportJob, rows: list[Any], mode: str = "refuse") -> CitydataImportJob:
    """Import a JSON batch in the caller's transaction; raises ImportRefused (caller records the failure)."""
    job.status, job.started_at = "running", utcnow()
    conv = _converter(db, job, mode)
    _finish(job, importers.store_json(db, conv, rows, claim=lambda c: ledger.claim(db, c)), conv)
    return job


def run_file(db: Session, *, job: CitydataImportJob, path: Path, mode: str = "refuse",
             on_bytes: Any = None) -> CitydataImportJob:
    """Import a CSV file in the caller's transaction (small files, the CLI, the worker)."""
    job.status, job.started_at = "running", utcnow()
    job.encoding = importers.detect_encoding(path)
    conv = _converter(db, job, mode)
    _finish(job, importers.store_file(db, conv, path, encoding=job.encoding, on_bytes=on_bytes,
                                      claim=lambda c: ledger.claim(db, c)), conv)
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
                                         "created_by", "digest")}


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


IMPORT = "lguplus.citydata.import"


def _ref(import_job_id: int) -> str:
    return f"{IMPORT}:{import_job_id}"


def enqueue(db: Session, *, queue: Queue, job: CitydataImportJob, path: Path, mode: str = "refuse") -> Job:
    """Hand a queued import to the worker once the caller commits. The file moves into the data
    directory, so the import survives a restart of the worker (or of the whole host) until it is done."""
    keep = Path(queue.settings.data_dir) / "citydata-uploads"
    keep.mkdir(parents=True, exist_ok=True)
    kept = keep / f"{job.id}-{uuid.uuid4().hex}.csv"
    shutil.move(str(path), kept)
    return submit(db, queue=queue, kind=IMPORT, municipality_id=job.municipality_id, ref=_ref(job.id),
                  payload={"import_job_id": job.id, "path": str(kept), "mode": mode})


def progress(job: CitydataImportJob) -> dict[str, Any]:
    """What the progress bar shows: the stored outcome, or the fraction of bytes read that the worker
    stores in the shared job table (so any web process shows it)."""
    rows = job.rows_done
    if job.status in ("done", "failed"):
        fraction = 1.0
    else:
        db = object_session(job)
        core_job = latest_for(db, ref=_ref(job.id)) if db is not None else None
        fraction = job_fraction(db, core_job) if core_job is not None and core_job.status == "running" else 0.0
    return {"id": job.id, "kind": job.kind, "status": job.status, "fraction": round(fraction, 3),
            "rows_done": rows, "rows_total": job.rows_total, "error_count": job.error_count,
            "message": job.message}


def run_queued(ctx: JobContext) -> dict[str, Any]:
    """The worker's side of a large import: the rows and rollups in one transaction, progress by bytes
    read in the job table. A refused file fails the job at once (retrying cannot mend it); an
    unexpected error is retried, the file kept until the last attempt."""
    job_id, path = int(ctx.payload["import_job_id"]), Path(ctx.payload["path"])
    with ctx.database.unit_of_work() as s:
        bind_principal(s, ctx.principal)
        job = s.get(CitydataImportJob, job_id)
        if job.status in ("done", "failed"):  # an earlier attempt committed its outcome, then its worker died
            path.unlink(missing_ok=True)
            return {"rows": job.rows_done, "status": job.status}
        job.status, job.started_at = "running", utcnow()
        total = job.bytes_total
    ctx.progress(0, total, force=True)
    try:
        with ctx.database.unit_of_work() as s:
            bind_principal(s, ctx.principal)
            job = s.get(CitydataImportJob, job_id)
            run_file(s, job=job, path=path, mode=str(ctx.payload.get("mode", "refuse")),
                     on_bytes=lambda b: ctx.progress(b, total))
            rows = job.rows_done
    except importers.ImportRefused as exc:
        with ctx.database.unit_of_work() as s:
            bind_principal(s, ctx.principal)
            _fail(s.get(CitydataImportJob, job_id), exc)
        path.unlink(missing_ok=True)
        raise JobRefused(exc.detail) from exc
    path.unlink(missing_ok=True)
    return {"rows": rows}


def give_up(db: Session, core_job: Job) -> None:
    """The worker gave the import up (errors on every attempt): the page shows it failed."""
    job = db.get(CitydataImportJob, int(core_job.payload["import_job_id"]))
    if job is not None and job.status not in ("done", "failed"):
        job.status, job.message, job.finished_at = "failed", "unexpected error; see the worker log", utcnow()
    Path(core_job.payload["path"]).unlink(missing_ok=True)


JOBS = (JobKind(IMPORT, run_queued, max_attempts=3, on_give_up=give_up, title="City data import"),)
