import json

from app.cli import main
from app.core.config import get_settings
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet.demo import sample_data


def test_export_and_ingest_from_the_command_line(database, world, monkeypatch, capsys, tmp_path):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        sample_data(s, world.changwon.id)
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        assert main(["worknet", "export", "--municipality", "4812000000", "--pool", "샘플 4812"]) == 0
        out = capsys.readouterr().out
        assert '"450084812000900" Auth-Type := Accept, Calling-Station-Id == "821012000900"' in out
        assert "Framed-IP-Address = 10.99.0.2," in out
        assert main(["worknet", "export", "--municipality", "4812000000", "--pool", "샘플 4812",
                     "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines()[1].startswith("10.99.0.2,255.255.255.240,S4812-000")
        assert main(["worknet", "export", "--municipality", "4812000000", "--pool", "없음"]) == 2
        events = tmp_path / "events.json"
        events.write_text(json.dumps([{"client_id": "cli-1", "occurred_at": "2026-11-02T10:00:00+09:00",
                                       "username": "sample.user", "router_serial": "S4812-000",
                                       "result": "success"}]))
        assert main(["worknet", "ingest", str(events), "--municipality", "4812000000"]) == 0
        assert json.loads(capsys.readouterr().out)["accepted"] == 1
        assert main(["worknet", "ingest", str(events), "--municipality", "4812000000"]) == 0
        assert json.loads(capsys.readouterr().out) == {"received": 1, "accepted": 0, "duplicates": 1, "alerts": 0}
        events.write_text("[{\"client_id\": 1}]")
        assert main(["worknet", "ingest", str(events), "--municipality", "4812000000"]) == 2
    finally:
        get_settings.cache_clear()
