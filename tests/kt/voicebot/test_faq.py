"""The FAQ table: staff keep it (service, API, web form), callers hear it (the dialogue, through the API):
a question is answered from the caller's municipality's table, the 동 asked when the answer depends on it,
and what the table does not answer goes to a person."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams
from app.core.tenancy import SYSTEM, Principal, bind_principal
from app.kt.voicebot import dialogue, service
from app.kt.voicebot.cli import fee_table
from app.kt.voicebot.demo import faq_lines
from app.kt.voicebot.schemas import FaqEntryIn, FaqEntryUpdate
from app.platform.models import AuditLog
from tests.conftest import api_headers, web_login
from tests.kt.voicebot.test_calls_api import say, start

BASE = "/api/v1/kt/voicebot"
WEB = "/kt/voicebot"
TODAY = date(2026, 12, 2)


# --- the dialogue alone --------------------------------------------------------------------------

def _talk(intent_model, code: str, *lines: str, faq=None) -> list[dialogue.StepResult]:
    ctx = dialogue.Context(today=TODAY, fee_table=fee_table(), find_refunds=lambda birth: [],
                           faq=faq_lines(code) if faq is None else faq)
    call, out = dialogue.CallState(municipality_name="이천시"), []
    for text in lines:
        res = dialogue.step(call, text, intent_model.predict(text), ctx)
        out.append(res)
        call = dialogue.CallState(municipality_name="이천시", intent=res.intent, state=res.state, slots=res.slots,
                                  failures=res.failures)
    return out


def test_the_dong_is_asked_then_the_tables_answer_for_it_is_spoken(intent_model):
    asked, answered = _talk(intent_model, "4150000000", "쓰레기 버리는 날이 언제예요", "창전동이요")
    assert asked.intent == "faq" and asked.state == "collect:faq_area" and "동 이름" in asked.reply
    assert answered.state == "done" and answered.ended and answered.handoff_reason is None
    assert "창전동은 일·화·목요일" in answered.reply and answered.outcome is None


def test_a_dong_said_in_the_question_or_in_korean_numerals_is_understood(intent_model):
    res, = _talk(intent_model, "4150000000", "중리동 분리수거 하는 날이 언제예요")
    assert res.state == "done" and "중리동 재활용품은" in res.reply
    _asked, res = _talk(intent_model, "4831000000", "재활용 버리는 날 언제여", "옥포 일동 살아요")
    assert res.state == "done" and "옥포1동 재활용품은" in res.reply
    _asked, res = _talk(intent_model, "4831000000", "쓰레기 버리는 날이 언제예요", "장평이요")  # without 동
    assert res.state == "done" and "장평동은" in res.reply


def test_an_answer_for_the_whole_municipality_needs_no_dong(intent_model):
    res, = _talk(intent_model, "4150000000", "음식물 쓰레기 언제 버려요")
    assert res.state == "done" and "전용 용기" in res.reply
    res, = _talk(intent_model, "4150000000", "종량제 봉투 어디서 사요")
    assert res.state == "done" and "편의점" in res.reply


def test_what_the_table_does_not_answer_goes_to_a_person(intent_model):
    _asked, res = _talk(intent_model, "4150000000", "쓰레기 버리는 날이 언제예요", "신둔면이요")
    assert res.state == "handoff" and res.handoff_reason == "faq_unanswered" and "신둔면" in res.reply
    res, = _talk(intent_model, "4150000000", "형광등 버리는 데가 어디예요")
    assert res.state == "handoff" and res.handoff_reason == "faq_unanswered"
    res, = _talk(intent_model, "4150000000", "쓰레기 버리는 날이 언제예요", faq=[])
    assert res.state == "handoff" and res.handoff_reason == "faq_unanswered"


def test_a_dong_not_understood_twice_is_offered_by_name(intent_model):
    _asked, miss, offer, chosen = _talk(intent_model, "4831000000", "쓰레기 버리는 날이 언제예요", "음",
                                        "모르겠어요", "세 번째요")
    assert miss.state == "collect:faq_area" and not miss.ended
    assert "첫 번째 고현동" in offer.reply and not offer.ended
    assert chosen.state == "done" and "아주동은" in chosen.reply


def test_bulky_waste_phrases_stay_bulky_waste(intent_model):
    for said in ("장롱 버리려고요", "냉장고 버리는 날이 언제예요", "대형 쓰레기 내놓는 날 알려 주세요"):
        res, = _talk(intent_model, "4150000000", said)
        assert res.intent == "bulky_waste" and res.state.startswith("collect:"), said


def test_a_topic_staff_added_is_answered_though_the_classifier_does_not_know_it(intent_model):
    faq = [dialogue.FaqLine(id=1, topic="office_hours", title="민원실 운영 시간", area=None,
                            keywords=("민원실",), answer="민원실은 평일 오전 9시부터 오후 6시까지 열어요.")]
    res, = _talk(intent_model, "4150000000", "민원실 몇 시에 문 열어요", faq=faq)
    assert res.intent == "faq" and res.state == "done" and "오전 9시" in res.reply


def test_the_topic_is_the_one_whose_keywords_the_caller_said_most_of():
    faq = faq_lines("4150000000")
    assert dialogue.faq_topic("음식물 쓰레기 수거 요일이 궁금해요", faq) == "food_waste"
    assert dialogue.faq_topic("재활용 쓰레기 무슨 요일에 버려요", faq) == "recycling_day"
    assert dialogue.faq_topic("쓰레기봉투 파는 데", faq) == "waste_bags"
    assert dialogue.faq_topic("여권 발급", faq) is None
    assert dialogue.find_faq_area("옥포이동이요", ["옥포1동", "옥포2동"]) == "옥포2동"
    assert dialogue.find_faq_area("옥포동이요", ["옥포1동", "옥포2동"]) is None  # which one: asked again


# --- service ---------------------------------------------------------------------------------------

def test_service_keeps_one_answer_per_topic_and_area_and_lists_a_page(database, vb_world):
    with database.unit_of_work() as s:
        bind_principal(s, Principal(kind="user", id=None, name="cw.staff", role="staff",
                                    municipality_id=vb_world.changwon.id,
                                    municipality_ids=frozenset({vb_world.changwon.id})))
        items, total = service.list_faq_entries(s, page=PageParams(limit=5, offset=0))
        assert total == 14 and len(items) == 5  # 창원시's own 14 answers only (울산's are another tenant's)
        assert {e.municipality_id for e in items} == {vb_world.changwon.id}
        entry = service.create_faq_entry(s, data=FaqEntryIn(topic="office_hours", title="민원실 운영 시간",
                                                            keywords="민원실", answer="평일 9시부터 6시까지"))
        with pytest.raises(Conflict):
            service.create_faq_entry(s, data=FaqEntryIn(topic="office_hours", title="x", keywords="x", answer="x"))
        with pytest.raises(Conflict):  # the 동 answer already exists
            service.create_faq_entry(s, data=FaqEntryIn(topic="waste_day", title="x", area="창전동", keywords="x",
                                                        answer="x"))
        service.update_faq_entry(s, entry=entry, data=FaqEntryUpdate(area="중리동"))
        assert entry.area == "중리동"
        service.update_faq_entry(s, entry=entry, data=FaqEntryUpdate.model_validate({"area": None}))
        assert entry.area is None
        lines = service.faq_lines(s, municipality_id=vb_world.changwon.id)
        assert any(line.topic == "office_hours" and line.keywords == ("민원실",) for line in lines)
        entry.active = False
        s.flush()
        assert all(line.topic != "office_hours" for line in service.faq_lines(s, municipality_id=vb_world.changwon.id))
        service.delete_faq_entry(s, entry=entry)
        with pytest.raises(NotFound):
            service.get_faq_entry(s, entry_id=entry.id)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.object_type == "vb_faq_entry")))
        assert {"create", "update", "delete"} <= set(actions)


# --- API ---------------------------------------------------------------------------------------------

def test_api_lists_pages_writes_and_answers_problems(client, vb_world):
    h = api_headers(client, "cw.staff")
    page = client.get(f"{BASE}/faq?limit=4&offset=4", headers=h).json()
    assert page["total"] == 14 and len(page["items"]) == 4 and page["offset"] == 4
    waste = client.get(f"{BASE}/faq?topic=waste_day", headers=h).json()
    assert waste["total"] == 6 and {e["area"] for e in waste["items"]} >= {"창전동", "부발읍"}
    r = client.post(f"{BASE}/faq", headers=h, json={"topic": "office_hours", "title": "민원실 운영 시간",
                                                     "keywords": "민원실,운영 시간", "answer": "평일 9시부터 6시까지"})
    assert r.status_code == 201 and r.json()["area"] is None
    entry = r.json()
    assert client.get(r.headers["location"], headers=h).json()["id"] == entry["id"]
    r = client.post(f"{BASE}/faq", headers=h, json={"topic": "office_hours", "title": "x", "keywords": "x",
                                                     "answer": "x"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post(f"{BASE}/faq", headers=h, json={"topic": "Bad Topic", "title": "", "keywords": "x",
                                                     "answer": "x", "bogus": 1})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"{BASE}/faq/{entry['id']}", headers=h, json={"answer": "평일 9시부터 6시, 점심시간 없음"})
    assert r.status_code == 200 and "점심시간" in r.json()["answer"]
    r = client.patch(f"{BASE}/faq/{entry['id']}", headers=h, json={"answer": None})
    assert r.status_code == 422
    other = api_headers(client, "us.staff")
    assert client.get(f"{BASE}/faq/{entry['id']}", headers=other).status_code == 404  # another tenant's
    assert client.delete(f"{BASE}/faq/{entry['id']}", headers=other).status_code == 404
    viewer = api_headers(client, "cw.viewer")
    assert client.get(f"{BASE}/faq", headers=viewer).status_code == 200
    assert client.delete(f"{BASE}/faq/{entry['id']}", headers=viewer).status_code == 403
    assert client.delete(f"{BASE}/faq/{entry['id']}", headers=h).status_code == 204
    assert client.get(f"{BASE}/faq/{entry['id']}", headers=h).status_code == 404


def test_a_call_is_answered_from_the_callers_own_municipalitys_table(client, vb_world):
    """창원시's table has 창전동; 울산's has 옥포1동: each caller hears their own municipality's answer."""
    h = api_headers(client, "cw.staff")
    call = start(client, h)
    t = say(client, h, call["id"], "쓰레기 버리는 날이 언제예요")
    assert t["intent"] == "faq" and t["state"] == "collect:faq_area" and not t["ended"]
    t = say(client, h, call["id"], "창전동이요")
    assert t["ended"] and t["state"] == "done" and not t["handoff"]["needed"] and t["request_id"] is None
    assert "창전동은 일·화·목요일" in t["reply"]
    detail = client.get(f"{BASE}/calls/{call['id']}", headers=h).json()
    assert detail["status"] == "completed" and detail["intent"] == "faq"

    call = start(client, h)
    t = say(client, h, call["id"], "쓰레기 버리는 날이 언제예요")
    t = say(client, h, call["id"], "옥포 일동이요")  # 울산's 동, not in 창원시's table: asked again
    assert t["state"] == "collect:faq_area" and not t["ended"]

    u = api_headers(client, "us.staff")
    call = start(client, u, code="3100000000")
    say(client, u, call["id"], "쓰레기 버리는 날이 언제예요")
    t = say(client, u, call["id"], "옥포 일동이요")
    assert t["state"] == "done" and "옥포1동은" in t["reply"]


# --- the staff page ------------------------------------------------------------------------------------

def test_staff_page_lists_adds_edits_and_removes_and_viewers_only_read(client, vb_world):
    csrf = web_login(client, "cw.staff")
    r = client.get(f"{WEB}/faq")
    assert r.status_code == 200 and "생활쓰레기 배출 요일" in r.text and "창전동" in r.text
    r = client.post(f"{WEB}/faq", data={"csrf_token": csrf, "topic": "Bad", "title": "", "keywords": "",
                                        "answer": "", "active": "on"})
    assert r.status_code == 400 and "field-error" in r.text and 'value="Bad"' in r.text  # values kept
    r = client.post(f"{WEB}/faq", data={"csrf_token": csrf, "topic": "waste_day", "title": "중복", "area": "창전동",
                                        "keywords": "쓰레기", "answer": "중복", "active": "on"})
    assert r.status_code == 400 and "이미" in r.text  # one answer per topic and 동
    r = client.post(f"{WEB}/faq", data={"csrf_token": csrf, "topic": "office_hours", "title": "민원실 운영 시간",
                                        "keywords": "민원실", "answer": "평일 9시부터 6시까지", "active": "on"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"{WEB}/faq?topic=office_hours").text
    entry_id = re.search(r'/kt/voicebot/faq/(\d+)"', page).group(1)
    r = client.get(f"{WEB}/faq/{entry_id}")
    assert r.status_code == 200 and "평일 9시부터 6시까지" in r.text
    r = client.post(f"{WEB}/faq/{entry_id}", data={"csrf_token": csrf, "action": "save", "topic": "office_hours",
                                                   "title": "민원실 운영 시간", "area": "창전동", "keywords": "민원실",
                                                   "answer": "창전동 행정복지센터는 평일 9시부터 6시까지"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "창전동 행정복지센터는" in client.get(f"{WEB}/faq?topic=office_hours").text
    r = client.post(f"{WEB}/faq/{entry_id}", data={"csrf_token": csrf, "action": "save", "topic": "office_hours",
                                                   "title": "", "keywords": "민원실", "answer": "x"})
    assert r.status_code == 400 and "field-error" in r.text
    client.post("/logout", data={"csrf_token": csrf})

    csrf = web_login(client, "cw.viewer")
    page = client.get(f"{WEB}/faq").text
    assert "생활쓰레기 배출 요일" in page and f'action="{WEB}/faq"' not in page  # no write form
    r = client.post(f"{WEB}/faq/{entry_id}", data={"csrf_token": csrf, "action": "delete"})
    assert r.status_code == 403
    client.post("/logout", data={"csrf_token": csrf})

    csrf = web_login(client, "us.staff")
    assert client.post(f"{WEB}/faq/{entry_id}", data={"csrf_token": csrf, "action": "delete"}).status_code == 404
    client.post("/logout", data={"csrf_token": csrf})
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/faq/{entry_id}", data={"csrf_token": csrf, "action": "delete"}, follow_redirects=True)
    assert r.status_code == 200 and "창전동 행정복지센터는" not in r.text


def test_the_empty_table_says_the_bot_hands_questions_to_a_person(client, world):
    web_login(client, "cw.staff")
    r = client.get(f"{WEB}/faq")
    assert r.status_code == 200 and "상담원에게 연결" in r.text and "답변 추가" in r.text
