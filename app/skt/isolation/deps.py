"""Request helpers of the isolation analytics: batch bodies (JSON array or CSV) and dong lookups."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from app.core.deps import SessionDep, SettingsDep
from app.core.errors import InvalidInput
from app.platform.auth import OptionalPrincipal
from app.skt.isolation import service
from app.skt.isolation.models import IsoDong

CodePath = Annotated[str, Path(pattern=r"^\d{10}$")]
PeriodQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; latest if absent")]
MinAgeQuery = Annotated[int, Query(ge=20, le=80, description="Lowest age included (bands starting at or above it)")]


def dong_or_404(code: CodePath, db: SessionDep, _: OptionalPrincipal) -> IsoDong:
    return service.get_dong(db, code=code)


DongDep = Annotated[IsoDong, Depends(dong_or_404)]


def k_threshold(settings: SettingsDep) -> int:
    return max(1, int(settings.k_threshold))


KDep = Annotated[int, Depends(k_threshold)]


def parse_csv(raw: bytes) -> list[dict[str, Any]]:
    """CSV with a header row (UTF-8, BOM allowed); blank cells are left out so the row names them missing."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.field("body", "The CSV file must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        if None in row:
            raise InvalidInput.field(["rows", len(rows)], "The row has more cells than the header")
        rows.append({k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""})
    return rows


async def batch_rows(request: Request) -> list[Any]:
    """The rows of a batch: a JSON array (or ``{"rows": [...]}``) or a CSV file (``text/csv``)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return parse_csv(raw)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("body", "The body is not valid JSON") from None
    if isinstance(body, dict) and isinstance(body.get("rows"), list) and len(body) == 1:
        body = body["rows"]
    if not isinstance(body, list):
        raise InvalidInput.field("body", "Send a JSON array of rows or a CSV file")
    return body


BatchRows = Annotated[list[Any], Depends(batch_rows)]

def batch_doc(item_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a batch body: a JSON array of ``item_schema`` objects, or a CSV file with a header row."""
    items = item_schema or {"type": "object"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": items}},
        "text/csv": {"schema": {"type": "string", "description": "a header row, then one row per item"}}}}}


BATCH_DOC = batch_doc()
