"""Core statements on tenant tables go through the core's scoped helpers, outside ``app/core``.

On PostgreSQL row-level security holds for any statement; SQLite has none, so there a Core statement on
a tenant table (``Model.__table__``) or raw SQL (``exec_driver_sql``) is kept to the caller's
municipalities only by going through ``app.core.bulk`` (``insert_rows``/``update_rows_by_id`` check the
rows against the session's principal) or ``app.core.tenancy.within_reach``/``scoped`` (a WHERE) and
``check_rows`` (the rows of an INSERT). This test reads the
source: a direct use fails. A tenant model's ``__table__`` may appear only as an argument of one of those
helpers, or bound to a name (``table = Model.__table__``) that the same function hands to one of them
(``self.<name>``: the same class; a class attribute: the same module). Raw SQL and raw engine
connections are refused outright.
"""

from __future__ import annotations

import ast
from pathlib import Path

from app.core.db import Base
from app.core.tenancy import is_tenant_table
from app.modules import load_manifests

ROOT = Path(__file__).resolve().parents[1]
# app.core.bulk checks the rows' municipalities; app.core.tenancy gives the WHERE of the principal's reach.
HELPERS = {"insert_rows", "insert_tuples", "update_rows_by_id", "within_reach", "scoped", "check_rows"}
SCOPES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _tenant_models() -> set[str]:
    load_manifests()
    return {m.class_.__name__ for m in Base.registry.mappers if is_tenant_table(m.local_table)}


def _target_key(node: ast.AST) -> str | None:
    """``table`` or ``self.table``: a name a ``__table__`` can be bound to and handed on by."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _helped(scope: ast.AST) -> set[str]:
    """The names handed to a scoped helper anywhere within ``scope`` (an attribute ``x.table`` also as
    ``.table``: a class attribute handed on through an instance)."""
    names: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Call) and _call_name(node) in HELPERS:
            names.update(k for k in map(_target_key, node.args) if k)
            names.update(f".{a.attr}" for a in node.args if isinstance(a, ast.Attribute))
    return names


def _assigned(node: ast.AST) -> ast.AST | None:
    """The one target of ``x = ...`` or ``x: T = ...``."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return node.targets[0]
    return node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None


def _call_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def _exempt(tree: ast.AST) -> set[int]:
    """The ``__table__`` nodes that reach a scoped helper: as its argument, through a name bound in the
    same function (``self.<name>`` in the same class), or as a value of a registry ``NAME = {key: table}``
    from which a function takes ``table = NAME[key]`` and hands it to a helper."""
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def enclosing(node: ast.AST, kinds: tuple[type, ...]) -> ast.AST:
        while not isinstance(node, kinds):
            node = parents[id(node)]
        return node

    exempt: set[int] = set()
    registries: set[str] = set()  # NAME of ``table = NAME[key]`` handed to a helper: a registry of tables
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Subscript) and isinstance(node.value.value, ast.Name)
                and node.targets[0].id in _helped(enclosing(parents[id(node)], SCOPES))):
            registries.add(node.value.value.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if _call_name(node) in HELPERS:
                exempt.update(id(a) for a in node.args)
            if _call_name(node) == "with_for_update":  # a lock clause, not a statement of its own
                exempt.update(id(k.value) for k in node.keywords if k.arg == "of")
        elif (target := _assigned(node)) is not None and (key := _target_key(target)):
            if isinstance(parents[id(node)], ast.ClassDef):  # a class attribute, handed on as ``x.<name>``
                key, kinds = f".{key}", (ast.Module,)
            else:
                kinds = (ast.Module, ast.ClassDef) if key.startswith("self.") else SCOPES
            if key in _helped(enclosing(parents[id(node)], kinds)):
                exempt.add(id(node.value))
            elif key in registries and isinstance(node.value, ast.Dict):
                exempt.update(id(v) for v in node.value.values)
    return exempt


def _direct_uses(tree: ast.AST, models: set[str]) -> list[int]:
    """The line of every Core statement or raw SQL on a tenant table that bypasses the helpers."""
    exempt = _exempt(tree)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "__table__" and isinstance(node.value, ast.Name)
                and node.value.id in models and id(node) not in exempt):
            found.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            raw_connection = attr in ("begin", "connect") and getattr(owner, "attr", None) == "engine"
            if attr == "exec_driver_sql" or raw_connection:
                found.append(node.lineno)
    return sorted(found)


def test_core_statements_on_tenant_tables_go_through_the_scoped_helpers():
    models = _tenant_models()
    assert {"CctvEvent", "Municipality", "User"} <= models
    found = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("app/core/"):
            continue
        if lines := _direct_uses(ast.parse(path.read_text(encoding="utf-8")), models):
            found[rel] = lines
    assert not found, (f"Core statements or raw SQL on tenant tables outside app/core (file: lines): {found}. "
                       "Use app.core.bulk (insert_rows, update_rows_by_id) or add "
                       ".where(tenancy.within_reach(db, table)).")


def _uses(source: str, models: frozenset[str] = frozenset({"CctvEvent"})) -> int:
    return len(_direct_uses(ast.parse(source), set(models)))


def test_the_scan_sees_a_direct_use():
    assert _uses("select(CctvEvent.__table__.c.id)") == 1
    assert _uses("conn.exec_driver_sql('DELETE FROM kt_cctv_event')") == 1
    assert _uses("with db.engine.begin() as c: pass") == 1
    assert _uses("insert_rows(db, CctvEvent.__table__, rows)") == 0
    assert _uses("select(Router.__table__.c.id)") == 0  # not a tenant model here


def test_a_registry_of_tables_counts_as_scoped_when_what_is_taken_from_it_is():
    registry = "CHAINS = {'e': CctvEvent.__table__}\ndef f(db, k):\n    t = CHAINS[k]\n    db.execute(delete(t)%s)\n"
    assert _uses(registry % ".where(within_reach(db, t))") == 0
    assert _uses(registry % "") == 1


def test_a_bound_table_counts_as_scoped_only_where_it_is_handed_to_a_helper():
    scoped = "def f(db):\n    t = CctvEvent.__table__\n    db.execute(delete(t).where(within_reach(db, t)))\n"
    assert _uses(scoped) == 0
    unscoped = "def f(db):\n    t = CctvEvent.__table__\n    db.execute(delete(t))\n"
    assert _uses(unscoped) == 1
    elsewhere = ("def f(db):\n    t = CctvEvent.__table__\n    db.execute(delete(t))\n"
                 "def g(db, t):\n    db.execute(delete(t).where(within_reach(db, t)))\n")
    assert _uses(elsewhere) == 1
