"""Municipalities are named with their parent wherever they are shown: "경남 창원시", "광주 서구"."""

from __future__ import annotations

from app.platform.models import Municipality
from app.platform.service import place_name, short_place
from tests.conftest import web_login


def _place(name_ko: str, name_en: str, parent: Municipality | None = None) -> Municipality:
    return Municipality(code="0000000000", name_ko=name_ko, name_en=name_en, level="basic" if parent else
                        "metropolitan", parent=parent)


def test_a_district_is_named_after_its_city_or_province():
    gwangju = _place("광주광역시", "Gwangju Metropolitan City")
    assert place_name(_place("서구", "Seo-gu", gwangju), "ko") == "광주 서구"
    assert place_name(_place("서구", "Seo-gu", gwangju), "en") == "Seo-gu, Gwangju"
    assert place_name(_place("이천시", "Icheon", _place("경기도", "Gyeonggi-do")), "ko") == "경기 이천시"
    assert place_name(_place("이천시", "Icheon", _place("경기도", "Gyeonggi-do")), "en") == "Icheon, Gyeonggi"
    assert place_name(_place("거제시", "Geoje", _place("경상남도", "Gyeongsangnam-do")), "ko") == "경남 거제시"
    assert place_name(gwangju, "ko") == "광주광역시"  # a metropolitan government stands alone
    names = ("서울특별시", "세종특별자치시", "제주특별자치도", "강원특별자치도", "전북특별자치도", "충청북도", "강원도")
    assert [short_place(n) for n in names] == ["서울", "세종", "제주", "강원", "전북", "충북", "강원"]


def test_pages_show_the_parent_not_the_code(client, world):
    web_login(client, "root")
    page = client.get("/kt/voicebot/fees").text  # the municipality select of the add form
    assert "경남 창원시" in page and "창원시 (4812000000)" not in page
    assert "경남 창원시" in client.get("/kt/voicebot/services").text
    users = client.get("/admin/users").text
    assert "경남 창원시" in users
    assert "Changwon, Gyeongnam" in client.get("/kt/voicebot/services?lang=en").text
