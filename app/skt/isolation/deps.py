"""Request helpers of the isolation analytics: batch bodies (JSON array or CSV) and dong lookups."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from app.core.batch import batch_rows_reader
from app.core.deps import SessionDep, SettingsDep
from app.platform.auth import OptionalPrincipal
from app.skt.isolation import service
from app.skt.isolation.models import IsoDong

CodePath = Annotated[str, Path(pattern=r"^\d{10}$")]
DongCodeQuery = Annotated[str | None, Query(pattern=r"^\d{10}$", description="10-digit 행정동 code")]
PeriodQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; latest if absent")]
MinAgeQuery = Annotated[int, Query(ge=20, le=80, description="Lowest age included (bands starting at or above it)")]


def dong_or_404(code: CodePath, db: SessionDep, _: OptionalPrincipal) -> IsoDong:
    return service.get_dong(db, code=code)


DongDep = Annotated[IsoDong, Depends(dong_or_404)]


def k_threshold(settings: SettingsDep) -> int:
    return max(1, int(settings.k_threshold))


KDep = Annotated[int, Depends(k_threshold)]


# 100,000 cells (the most one request may carry) are about 20 MB of CSV.
MAX_BODY_BYTES = 64 * 1024 * 1024
BatchRows = Annotated[list[Any], Depends(batch_rows_reader(MAX_BODY_BYTES))]

def batch_doc(item_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a batch body: a JSON array of ``item_schema`` objects, or a CSV file with a header row."""
    items = item_schema or {"type": "object"}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": items}},
        "text/csv": {"schema": {"type": "string", "description": "a header row, then one row per item"}}}}}


BATCH_DOC = batch_doc()
