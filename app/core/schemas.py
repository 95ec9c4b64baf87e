"""Pydantic bases: unknown fields are refused, strings are trimmed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints

from app.core.i18n import SEOUL


class InputModel(BaseModel):
    """Every request body: unknown fields are an error, surrounding spaces are dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


MunicipalityCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
# Times leave the API in UTC with an explicit offset (ISO 8601).
UtcDateTime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]


def seoul_iso(value: datetime) -> str:
    return value.astimezone(SEOUL).isoformat()
