from sqlalchemy import func, select

from app.cli import main as dxhub
from app.core.config import get_settings
from app.core.tenancy import SYSTEM
from app.platform import demo
from app.platform.models import Municipality, Program, User
from tests.conftest import web_login


def test_demo_data_makes_a_meaningful_dashboard(client, demo_loaded):
    with demo_loaded.session(principal=SYSTEM) as s:
        provinces = select(func.count()).select_from(Municipality).where(Municipality.level == "metropolitan")
        assert s.scalar(provinces) == 17
        assert s.scalar(select(func.count()).select_from(Program)) >= 10
        codes = set(s.scalars(select(Municipality.code)))
        roles = set(s.scalars(select(User.role)))
        bound = s.execute(select(User.role, func.count(func.distinct(User.municipality_id)))
                          .where(User.municipality_id.is_not(None)).group_by(User.role)).all()
    # The article's municipalities: 창원, 경상북도, 거제, 충청북도/청주, 울산, 여주, 이천, 광주 서구, 화순.
    assert {"4812000000", "4700000000", "4831000000", "4300000000", "4311000000", "3100000000", "4167000000",
            "4150000000", "2914000000", "4679000000"} <= codes
    assert roles == {"platform_admin", "municipal_admin", "staff", "viewer"}
    assert {role for role, n in bound if n >= 2} == {"municipal_admin", "staff", "viewer"}
    assert not demo.is_empty(demo_loaded)

    web_login(client, "changwon.staff", demo.DEMO_PASSWORD)
    home = client.get("/")
    assert home.status_code == 200 and "어르신 정보격차·고립 분석" in home.text
    for heading in ("협력 기관별 사업", "진행 중 사업의 KPI 달성도", "다가오는 마일스톤", "최근 활동"):
        assert heading in home.text, heading
    assert "정보교육 수강 어르신" in home.text  # a KPI of 창원's active program
    assert "정보교육 프로그램 개편" in home.text  # its milestone due in 20 days
    assert "울산 CCTV AI 영상분석 관제" not in home.text  # 울산's program is not 창원's
    assert "울산 CCTV" not in client.get("/programs").text  # 창원 staff see only 창원

    web_login(client, "gyeongbuk.admin", demo.DEMO_PASSWORD)
    assert "경북세일페스타" in client.get("/programs").text


def test_create_user_command(database, monkeypatch, capsys, world):
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        assert dxhub(["create-user", "--username", "cli.user", "--password", "a-long-password",
                      "--role", "staff", "--municipality", "4812000000"]) == 0
        assert dxhub(["create-user", "--username", "cli.user", "--password", "a-long-password",
                      "--role", "staff", "--municipality", "4812000000"]) == 2
        assert dxhub(["create-user", "--username", "x2", "--password", "short", "--role", "staff"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "taken" in err and "password" in err
    with database.session(principal=SYSTEM) as s:
        user = s.scalar(select(User).where(User.username == "cli.user"))
        assert user.role == "staff" and user.municipality.code == "4812000000"
