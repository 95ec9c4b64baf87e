"""Pydantic bases: unknown fields are refused, strings are trimmed, numbers are finite, ids fit their
columns, and a PATCH cannot empty a column that may not be empty.

Schema to table: an input schema names the table its fields are stored in with ``db_table`` (``None``
when it is not one table's row: a command, a filter, a nested part). Fields named like a column of that
table are that column: ``tests/test_schema_columns.py`` holds each string's ``max_length`` equal to the
column's length and each integer's bounds within the column's type, and :class:`UpdateModel` refuses an
explicit ``null`` for a column declared NOT NULL.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, ClassVar

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.core.i18n import SEOUL

INT32_MAX = 2**31 - 1  # INTEGER columns (every primary key)
INT64_MAX = 2**63 - 1  # BIGINT columns
# An id in a path, a query or a body: a positive INTEGER. Past its range PostgreSQL fails the statement
# (SQLite does not), so the bound is part of the type; ``BigId`` for BIGINT columns.
Id = Annotated[int, Interval(ge=1, le=INT32_MAX)]
BigId = Annotated[int, Interval(ge=1, le=INT64_MAX)]


class InputModel(BaseModel):
    """Every request body: unknown fields are an error, surrounding spaces are dropped, and a number is
    finite (``NaN``, ``Infinity`` and ``1e400`` are refused: no column stores them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)
    # The table these fields are stored in (see the module docstring); each schema declares it.
    db_table: ClassVar[str | None]


@cache
def _not_null_columns(table_name: str) -> frozenset[str]:
    from app.core.db import Base

    table = Base.metadata.tables[table_name]
    return frozenset(c.name for c in table.columns if not c.nullable)


class UpdateModel(InputModel):
    """A PATCH body: a field left out stays as it is; an explicit ``null`` empties a field only where its
    column may be empty. Elsewhere it is refused (422 naming the field) rather than failing the write;
    ``kept`` names the fields that are no column of the table (a code standing for a reference) and may not
    be emptied either."""

    kept: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        table = getattr(cls, "db_table", None)
        if value is None and (info.field_name in cls.kept
                              or (table and info.field_name in _not_null_columns(table))):
            # "missing": a form shows "This field is required." (core.forms); the API this message.
            raise PydanticCustomError("missing", "This field cannot be emptied; leave it out to keep it")
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class JobOut(OutputModel):
    """A job of the shared job table (``app.core.jobs.job_out``): queued, running, succeeded or failed."""

    id: int
    kind: str
    status: str
    fraction: float
    done: int
    total: int
    attempts: int
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None


MunicipalityCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]


def Chars(max_length: int, *, min_length: int = 1) -> Any:  # noqa: N802 - used as a type
    """Text of at most ``max_length`` characters: the length of the column it is stored in."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length)]

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
# Times leave the API in UTC with an explicit offset (ISO 8601).
UtcDateTime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]


def seoul_iso(value: datetime) -> str:
    return value.astimezone(SEOUL).isoformat()
