"""`dxhub isolation import` and `ranking`: a file imported in batches in one transaction; a refused batch is
reported once, each bad row named by its line in the file, and nothing of the file is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from app.cli import main
from app.core.config import get_settings
from app.core.tenancy import SYSTEM
from app.skt.isolation.models import IsoCell
from tests.skt.isolation.conftest import cell


def _csv(rows: list[dict]) -> str:
    header = list(rows[0])
    return "\n".join([",".join(header), *(",".join(str(r[k]) for k in header) for r in rows)]) + "\n"


def _cells(database) -> int:
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(IsoCell))


def test_import_in_batches_names_a_bad_row_by_its_line(iso, database, monkeypatch, capsys, tmp_path):
    good = [cell("4812151000", age=a) for a in ("65-69", "70-74", "75-79")]
    file = tmp_path / "cells.csv"
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        # the second batch (lines 4 and 5) holds the bad row; the first batch, accepted, is not kept either
        file.write_text(_csv([*good, cell("4812999000")]))
        assert main(["isolation", "import", str(file), "--batch", "2", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: 1 row is invalid; nothing was saved\n")
        assert "  line 5 dong_code: Unknown dong 4812999000" in err and "Traceback" not in err
        assert _cells(database) == 0
        file.write_text(_csv(good))
        assert main(["isolation", "import", str(file), "--batch", "2"]) == 0
        out = capsys.readouterr()
        assert "Imported 3 cells: 3 new, 0 replaced." in out.out and "100.0%" in out.err  # the bar ran to its end
        assert main(["isolation", "ranking"]) == 0
        assert "Isolation ranking 2026-10" in capsys.readouterr().out
        assert main(["isolation", "import", str(tmp_path / "missing.csv")]) == 2
        assert capsys.readouterr().err.startswith("error: [Errno 2]")
    finally:
        get_settings.cache_clear()
    assert _cells(database) == 3
