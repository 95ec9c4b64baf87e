from sqlalchemy import func, select

from app.cli import main
from app.core.config import get_settings
from app.core.tenancy import SYSTEM
from app.lguplus.merchants.models import MerchantStore, Outcome


def test_report_and_outcomes_import_from_the_command_line(database, program, monkeypatch, capsys, tmp_path):
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        brn = s.scalar(select(MerchantStore.brn).where(MerchantStore.id == program["cw"]["merchant_ids"][0]))
        before = s.scalar(select(func.count()).select_from(Outcome))
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        assert main(["merchants", "report", "--municipality", "4812000000"]) == 0
        out = capsys.readouterr().out
        assert "14 of 40 merchants installed a solution" in out and "sales_krw" in out and "funnel:" in out
        bad = tmp_path / "bad.csv"
        bad.write_text(f"brn,month,sales_krw,orders\n{brn},2027-01,100,1\n{brn},2027-13,100,1\n")
        assert main(["merchants", "import-outcomes", str(bad), "--municipality", "4812000000"]) == 2
        # The bad row is named by its line in the file (line 1 is the header), as the operator sees it in an editor.
        assert capsys.readouterr().err.splitlines()[1:] == [
            "  line 3 month: The month must be YYYY-MM with a month from 01 to 12"]
        bad.write_text(f"brn,month,sales_krw,orders\n{brn},2027-01,100,1,extra\n")  # the file itself: by line too
        assert main(["merchants", "import-outcomes", str(bad), "--municipality", "4812000000"]) == 2
        assert "  line 2: The row has more cells than the header" in capsys.readouterr().err
        good = tmp_path / "good.csv"
        good.write_text(f"brn,month,sales_krw,orders\n{brn},2027-01,100,1\n{brn},2027-02,100,1\n")
        assert main(["merchants", "import-outcomes", str(good), "--municipality", "4812000000"]) == 0
        assert "2 new" in capsys.readouterr().out
        # 울산's scope does not reach 창원's merchant: refused, nothing stored
        assert main(["merchants", "import-outcomes", str(good), "--municipality", "3100000000"]) == 2
    finally:
        get_settings.cache_clear()
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Outcome)) == before + 2
