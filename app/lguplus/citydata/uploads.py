"""Receiving import files and batches over HTTP, shared by the API and the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.core import batch
from app.core.errors import InvalidInput
from app.core.jobs import queue_for
from app.lguplus.citydata import importers, jobs, ledger
from app.lguplus.citydata.config import settings_of
from app.lguplus.citydata.models import CitydataImportJob

KINDS = {"living-population": "living_population", "card-spending": "card_spending"}


def check_length(request: Request) -> None:
    limit = settings_of(request).max_upload_bytes
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if declared > limit + 64_000:  # multipart framing and form fields on top of the file
        raise jobs.too_large(limit)


async def read_body(request: Request) -> bytes:
    """The request body in memory (JSON batches, survey responses, zones), refused (413) past the size
    limit: from ``Content-Length`` before anything is read, or as soon as a chunked body crosses it."""
    check_length(request)
    limit = settings_of(request).max_upload_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise jobs.too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def body_to_file(request: Request) -> tuple[Path, int]:
    """The raw request body (a CSV) into a temporary file, refused past the size limit."""
    check_length(request)
    limit = settings_of(request).max_upload_bytes
    import os
    import tempfile

    fd, name = tempfile.mkstemp(prefix="citydata-", suffix=".csv")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise jobs.too_large(limit)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), size


def upload_to_file(request: Request, upload: Any) -> tuple[Path, int]:
    limit = settings_of(request).max_upload_bytes
    upload.file.seek(0)
    return jobs.save_upload(iter(lambda: upload.file.read(1 << 20), b""), limit=limit)


def run_upload(request: Request, db: Session, *, kind: str, municipality_id: int, path: Path, size: int,
               filename: str, client_id: str | None, mode: str = "refuse") -> tuple[CitydataImportJob, bool]:
    """Import a saved file: in the request if small, else as a background job. Returns (job, background).

    A refused small file raises :class:`importers.ImportRefused` after a failed job has been committed
    with its report; nothing of its rows is kept. A file already imported answers 409 at once.
    """
    try:
        job = jobs.new_job(db, municipality_id=municipality_id, kind=kind, filename=filename, client_id=client_id,
                           bytes_total=size, digest=ledger.digest_of_file(path))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size > settings_of(request).sync_max_bytes:
        jobs.enqueue(db, queue=queue_for(request.app.state.settings), job=job, path=path, mode=mode)
        db.commit()
        return job, True
    values = jobs.job_values(job)
    try:
        jobs.run_file(db, job=job, path=path, mode=mode)
        return job, False
    except importers.ImportRefused as exc:
        db.rollback()
        failed = jobs.record_failure(db, job_values=values, exc=exc)
        db.commit()
        exc.job_id = failed.id  # type: ignore[attr-defined]
        raise
    finally:
        path.unlink(missing_ok=True)


def run_batch(db: Session, *, kind: str, municipality_id: int, rows: list[Any], client_id: str | None,
              digest: str | None = None, mode: str = "refuse") -> CitydataImportJob:
    if len(rows) > 100_000:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=100_000)
    job = jobs.new_job(db, municipality_id=municipality_id, kind=kind, filename="(JSON)", client_id=client_id,
                       digest=digest)
    values = jobs.job_values(job)
    try:
        return jobs.run_json(db, job=job, rows=rows, mode=mode)
    except importers.ImportRefused as exc:
        db.rollback()
        jobs.record_failure(db, job_values=values, exc=exc)
        db.commit()
        raise


def parse_json_rows(raw: bytes) -> list[Any]:
    """A non-empty batch of JSON rows."""
    body = batch.parse_json_rows(raw)
    if not body:
        raise InvalidInput.field("rows", "The batch is empty")
    return body


def job_out(job: CitydataImportJob, *, with_errors: bool = True) -> dict[str, Any]:
    p = jobs.progress(job)
    return {"id": job.id, "kind": job.kind, "status": job.status, "filename": job.filename, "encoding": job.encoding,
            "client_id": job.client_id, "rows_done": p["rows_done"], "rows_total": job.rows_total,
            "fraction": p["fraction"], "error_count": job.error_count, "digest": job.digest,
            "coverage": job.coverage or {},
            "errors": [{"loc": e["loc"], "msg": e["msg"]} for e in (job.errors or [])] if with_errors else [],
            "message": job.message}


def decode_text(raw: bytes) -> str:
    """Text of a small upload: UTF-8 (BOM allowed), else CP949."""
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise importers.refuse("The file is neither UTF-8 nor CP949 text; save it as CSV UTF-8 and try again")
