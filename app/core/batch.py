"""Batch bodies shared by the import endpoints: a JSON array of rows or a CSV file, with a size cap."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from app.core.edge import has_control_characters
from app.core.errors import DomainError, InvalidInput

CSV_ENCODINGS = ("utf-8-sig", "cp949")  # Korean spreadsheets often save CP949


class PayloadTooLarge(DomainError):
    status = 413
    title = "Content too large"


def parse_csv(raw: bytes) -> list[dict[str, Any]]:
    """CSV with a header row (UTF-8 with or without BOM, or CP949); blank cells are left out, so a
    schema's defaults apply and a required column left blank is named missing."""
    for encoding in CSV_ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput.field("body", "The CSV file must be UTF-8 or CP949")
    if has_control_characters(text):  # the edge's rule, for the one body it does not read
        line = next(i for i, row in enumerate(text.split("\n"), start=1) if has_control_characters(row))
        raise InvalidInput.field(["body", line], "Control characters are not allowed")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidInput.field("body", "The CSV file has no header row")
    rows = []
    for row in reader:
        if None in row:
            raise InvalidInput.field(["rows", len(rows)], "The row has more cells than the header")
        rows.append({k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""})
    return rows


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge("The file is larger than {mb} MB; split it into smaller files",
                           mb=max(1, max_bytes // (1024 * 1024)))


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) beyond ``max_bytes`` without reading the rest."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large(max_bytes)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_batch(request: Request, max_bytes: int) -> list[Any]:
    """The rows of a batch: a JSON array (or ``{"rows": [...]}``) or a CSV file (``text/csv``), at most
    ``max_bytes`` long."""
    raw = await read_capped(request, max_bytes)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return parse_csv(raw)
    return parse_json_rows(raw)


def parse_json_rows(raw: bytes) -> list[Any]:
    """A JSON array of rows, or ``{"rows": [...]}``."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("body", "The body is not valid JSON") from None
    if isinstance(body, dict) and isinstance(body.get("rows"), list) and len(body) == 1:
        body = body["rows"]
    if not isinstance(body, list):
        raise InvalidInput.field("body", "Send a JSON array of rows or a CSV file")
    return body


def batch_rows_reader(max_bytes: int) -> Callable[[Request], Awaitable[list[Any]]]:
    """A dependency answering :func:`read_batch` with a fixed cap."""

    async def batch_rows(request: Request) -> list[Any]:
        return await read_batch(request, max_bytes)

    return batch_rows
