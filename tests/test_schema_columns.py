"""Every input schema against its table: a string field may not be longer than its column (its
``max_length`` equals the column's length), and an integer field's bounds fit the column's type.
SQLite ignores both limits; PostgreSQL fails the statement, a 500 for the caller.

The mapping (see ``app.core.schemas``): each ``InputModel`` names its table with ``db_table`` (``None``
when it is not one table's row), and a field named like one of that table's columns is that column.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import BigInteger, Integer, SmallInteger, String, Text

import app.platform.api  # noqa: F401 - the platform's schemas
from app.core.db import Base
from app.core.schemas import InputModel
from app.modules import load_manifests

INT_RANGES = {SmallInteger: 2**15, BigInteger: 2**63, Integer: 2**31}
# Fields whose validator stores a shorter form than the pattern admits: the stored length.
NORMALISED = {"brn": 10}  # 123-45-67890 is stored as its 10 digits (app.core.brn.normalise_brn)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def input_models() -> list[type[InputModel]]:
    load_manifests()  # imports every module's routers, hence their schemas
    models = {m for m in _subclasses(InputModel)
              if m.__module__.startswith("app.") and m.__module__ != "app.core.schemas"}
    return sorted(models, key=lambda m: (m.__module__, m.__name__))


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    branches = prop.get("anyOf") or prop.get("oneOf") or [prop]
    return [b for b in branches if b.get("type") != "null"]


def _pattern_width(pattern: str) -> int | None:
    """The longest text a pattern matches (``None`` when unbounded)."""
    width = re._parser.parse(pattern).getwidth()[1]  # type: ignore[attr-defined]
    return None if width >= 2**31 - 1 else width


def _int_range(column_type: Any) -> int | None:
    for kind, bound in INT_RANGES.items():
        if isinstance(column_type, kind):
            return bound
    return None


def problems_of(model: type[InputModel]) -> list[str]:
    table = Base.metadata.tables[model.db_table]
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    problems = []
    for name, prop in schema.get("properties", {}).items():
        if name not in table.c:
            continue
        column = table.c[name]
        col_type = column.type
        for branch in _branches(prop):
            if "$ref" in branch:
                branch = defs.get(branch["$ref"].split("/")[-1], {})
            where = f"{model.__module__}.{model.__name__}.{name} -> {table.name}.{name}"
            if branch.get("type") == "string" or "enum" in branch or "const" in branch:
                problems += _string_problems(where, branch, col_type)
            elif branch.get("type") == "integer":
                problems += _integer_problems(where, branch, col_type)
    return problems


def _string_problems(where: str, branch: dict[str, Any], col_type: Any) -> list[str]:
    if not isinstance(col_type, String):
        return []
    length = col_type.length
    values = branch.get("enum") or ([branch["const"]] if "const" in branch else None)
    if values is not None:
        longest = max(len(str(v)) for v in values)
        return [f"{where}: a value of {longest} characters, column {length}"] if length and longest > length else []
    if branch.get("format") in ("date", "date-time", "time", "uuid", "email", "ipvanyaddress", "ipvanyinterface"):
        return [] if not length or length >= 32 else [f"{where}: formatted text, column of {length}"]
    max_length = branch.get("maxLength")
    if max_length is None and "pattern" in branch:
        width = _pattern_width(branch["pattern"])
        width = NORMALISED.get(where.rsplit(".", 1)[-1], width)
        if width is not None and (not length or width <= length):
            return []
        return [f"{where}: pattern {branch['pattern']!r} allows {width or 'unbounded'} characters, column {length}"]
    if isinstance(col_type, Text) or not length:
        return [] if max_length is not None else [f"{where}: no max_length on a text column"]
    if max_length != length:
        return [f"{where}: max_length {max_length}, column {length}"]
    return []


def _integer_problems(where: str, branch: dict[str, Any], col_type: Any) -> list[str]:
    bound = _int_range(col_type)
    if bound is None:
        return []
    low = branch.get("minimum", branch.get("exclusiveMinimum"))
    high = branch.get("maximum", branch.get("exclusiveMaximum"))
    if low is None or high is None or low < -bound or high > bound - 1:
        return [f"{where}: bounds [{low}, {high}] exceed the column's [{-bound}, {bound - 1}]"]
    return []


def test_every_input_schema_names_its_table() -> None:
    missing = [f"{m.__module__}.{m.__name__}" for m in input_models()
               if not any("db_table" in vars(k) for k in m.__mro__ if k is not InputModel)]
    assert not missing, "declare db_table (a table name, or None) on:\n" + "\n".join(missing)
    unknown = [f"{m.__name__}: {m.db_table}" for m in input_models()
               if getattr(m, "db_table", None) and m.db_table not in Base.metadata.tables]
    assert not unknown, unknown


@pytest.mark.parametrize("model", [m for m in input_models() if getattr(m, "db_table", None)],
                         ids=lambda m: f"{m.__module__.removeprefix('app.')}.{m.__name__}")
def test_fields_fit_their_columns(model: type[InputModel]) -> None:
    assert not problems_of(model), "\n".join(problems_of(model))


def test_the_walk_sees_every_module() -> None:
    """The walk is not vacuous: it finds schemas of every package, and checks fields of most."""
    models = input_models()
    packages = {m.__module__.rsplit(".", 1)[0] for m in models}
    assert {"app.platform", "app.kt.cctv", "app.skt.tdeal", "app.lguplus.merchants"} <= packages
    checked = [m for m in models if getattr(m, "db_table", None)]
    assert len(checked) >= 30, len(checked)
