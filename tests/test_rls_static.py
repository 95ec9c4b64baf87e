"""Core statements on tenant tables go through the core's scoped helpers, outside ``app/core``.

On PostgreSQL row-level security holds for any statement; SQLite has none, so there a Core statement on
a tenant table (``Model.__table__``) or raw SQL (``exec_driver_sql``) is kept to the caller's
municipalities only by going through ``app.core.bulk`` (``insert_rows``/``update_rows_by_id`` check the
rows against the session's principal) or ``app.core.tenancy.within_reach``/``scoped``. This test reads the
source: a new direct use fails. The uses that predate the helpers are listed with their count per file;
the list only shrinks (a file with fewer uses than listed fails too, so the list is kept exact).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from app.core.db import Base
from app.core.tenancy import is_tenant_table
from app.modules import load_manifests

ROOT = Path(__file__).resolve().parents[1]
HELPERS = {"insert_rows", "update_rows_by_id"}  # app.core.bulk: they check the rows' municipalities

# Direct uses written before the helpers, to be converted (per file: `.__table__` of a tenant model,
# `exec_driver_sql`, `engine.begin`/`engine.connect`). Do not add to it: use the helpers.
LEGACY = {
    "app/kt/cctv/demo.py": 2,
    "app/kt/cctv/rollup.py": 2,
    "app/kt/cctv/service.py": 7,
    "app/kt/robots/demo.py": 4,
    "app/kt/robots/service.py": 1,
    "app/kt/voicebot/demo.py": 8,
    "app/kt/worknet/access.py": 2,
    "app/lguplus/citydata/demo.py": 3,
    "app/lguplus/citydata/importers.py": 3,
    "app/lguplus/citydata/service.py": 2,
    "app/lguplus/merchants/demo.py": 6,
    "app/lguplus/merchants/service.py": 1,
    "app/platform/audit.py": 2,
    "app/skt/isolation/service.py": 6,
    "app/skt/tdeal/demo.py": 6,
    "app/skt/tdeal/service.py": 3,
}


def _tenant_models() -> set[str]:
    load_manifests()
    return {m.class_.__name__ for m in Base.registry.mappers if is_tenant_table(m.local_table)}


def _direct_uses(tree: ast.AST, models: set[str]) -> int:
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in HELPERS:
                exempt.update(id(a) for a in node.args)
            if name == "with_for_update":  # a lock clause, not a statement of its own
                exempt.update(id(k.value) for k in node.keywords if k.arg == "of")
    found = 0
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "__table__" and isinstance(node.value, ast.Name)
                and node.value.id in models and id(node) not in exempt):
            found += 1
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            raw_connection = attr in ("begin", "connect") and getattr(owner, "attr", None) == "engine"
            if attr == "exec_driver_sql" or raw_connection:
                found += 1
    return found


def test_core_statements_on_tenant_tables_go_through_the_scoped_helpers():
    models = _tenant_models()
    assert {"CctvEvent", "Municipality", "User"} <= models
    found = Counter()
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("app/core/"):
            continue
        if n := _direct_uses(ast.parse(path.read_text(encoding="utf-8")), models):
            found[rel] = n
    new = {f: n for f, n in found.items() if n > LEGACY.get(f, 0)}
    assert not new, (f"Core statements or raw SQL on tenant tables outside app/core: {new}. Use app.core.bulk "
                     "(insert_rows, update_rows_by_id) or add .where(tenancy.within_reach(db, table)).")
    assert dict(found) == LEGACY, f"fewer direct uses than listed: make LEGACY {dict(found)}"


def test_the_scan_sees_a_direct_use():
    models = {"CctvEvent"}
    assert _direct_uses(ast.parse("select(CctvEvent.__table__.c.id)"), models) == 1
    assert _direct_uses(ast.parse("conn.exec_driver_sql('DELETE FROM kt_cctv_event')"), models) == 1
    assert _direct_uses(ast.parse("insert_rows(db, CctvEvent.__table__, rows)"), models) == 0
    assert _direct_uses(ast.parse("with db.engine.begin() as c: pass"), models) == 1
