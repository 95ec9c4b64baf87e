"""Limit/offset pagination shared by every list endpoint and page."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.schemas import INT32_MAX

T = TypeVar("T")
MAX_LIMIT = 200
# Bounded so the OFFSET fits PostgreSQL's BIGINT (a larger one fails the statement); no list is that long.
MAX_OFFSET = INT32_MAX


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def count_rows(db: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` answers (a list's total, a card's figure), without loading them."""
    return db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def paginate(db: Session, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page and count all its rows; returns ``(rows, total)``."""
    total = count_rows(db, stmt)
    rows = list(db.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, total
