"""`dxhub citydata import` and `windows`: a refused file is reported once, each bad row by its line and
column, nothing stored; an unknown zone is an error line, not a traceback."""

from __future__ import annotations

from app.cli import main
from app.core.config import get_settings
from app.lguplus.citydata.models import CitydataLivingPopulation
from tests.lguplus.citydata.conftest import HWASUN, HWASUN_EUP, count_rows
from tests.lguplus.citydata.test_imports import GOOD_LIVING, living_csv


def test_import_and_windows_from_the_command_line(county, database, monkeypatch, capsys, tmp_path):
    file = tmp_path / "living.csv"
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        file.write_text(living_csv([GOOD_LIVING[0], f"2025-10-06,11,{HWASUN_EUP},all,all,visitor,,-3"]))
        assert main(["citydata", "import", "living-population", str(file), "--municipality", HWASUN]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "\n  line 3 count: " in err and "Traceback" not in err
        assert count_rows(database, CitydataLivingPopulation) == 0
        file.write_text(living_csv(GOOD_LIVING))
        assert main(["citydata", "import", "living-population", str(file), "--municipality", HWASUN]) == 0
        assert f"Imported {len(GOOD_LIVING)} rows (utf-8-sig) for 화순군." in capsys.readouterr().out
        assert main(["citydata", "windows", "--zone", "4679099999"]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    finally:
        get_settings.cache_clear()
    assert count_rows(database, CitydataLivingPopulation) == len(GOOD_LIVING)
