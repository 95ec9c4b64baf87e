"""The one "get or 404" of the services: a row by its id, through the caller's tenant scope."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import NotFound

T = TypeVar("T")


def one_or_404(db: Session, model: type[T], object_id: int, message: str) -> T:
    """The ``model`` row with ``object_id``, else ``NotFound(message)`` (``{id}`` in it is the id).

    A ``select`` rather than ``Session.get``: the statement passes through the tenant filter (another
    municipality's row is not found), where ``get`` could answer an object already in the session."""
    found = db.scalar(select(model).where(model.id == object_id))  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(message, id=object_id)
    return found
