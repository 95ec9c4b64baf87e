"""The dialogue's named steps and extractors, each alone (no database), and the reported cases."""

from datetime import date

from app.kt.voicebot import dialogue
from app.kt.voicebot.cli import fee_table
from app.kt.voicebot.numerals import sino_value, to_digits
from app.kt.voicebot.slots import area_of, find_address, find_plate, find_size

TODAY = date(2026, 12, 2)  # a Wednesday


def _ctx() -> dialogue.Context:
    return dialogue.Context(today=TODAY, fee_table=fee_table(), find_refunds=lambda birth: [])


def _talk(intent_model, *lines: str) -> list[dialogue.StepResult]:
    call, out = dialogue.CallState(municipality_name="이천시"), []
    for text in lines:
        res = dialogue.step(call, text, intent_model.predict(text), _ctx())
        out.append(res)
        call = dialogue.CallState(municipality_name="이천시", intent=res.intent, state=res.state, slots=res.slots,
                                  failures=res.failures)
    return out


def test_the_mattress_and_the_bed_read_back_are_both_filed(intent_model):
    *_, back, done = _talk(intent_model, "매트리스 하나랑 침대 하나 버리려고요",
                           "부발읍 아미리 123번지 현대아파트 101동 202호", "내일이요", "네")
    assert "매트리스 1개, 침대 1개" in back.reply and "20,000원" in back.reply
    assert [(i["name"], i["qty"], i["fee_krw"]) for i in done.outcome.attributes["items"]] == [
        ("매트리스", 1, 8000), ("침대", 1, 12000)]
    assert done.outcome.fee_krw == 20000 and done.outcome.address == "부발읍 아미리 123번지 현대아파트 101동 202호"
    assert done.outcome.department == "부발읍 행정복지센터"  # the 읍 kept routes it to its office


def test_a_correction_at_the_read_back_is_read_back_again_then_filed(intent_model):
    *_, first, again, done = _talk(intent_model, "장롱 큰 거 버리려고요", "창전동 12번지 모레요",
                                   "아니요, 침대도요", "네")
    assert first.state == "confirm" and "장롱 120cm 이상 1개" in first.reply
    assert again.state == "confirm" and "침대 1개" in again.reply and "32,000원" in again.reply
    assert {i["name"] for i in done.outcome.attributes["items"]} == {"장롱", "침대"}


def test_slots_out_of_order_are_taken_and_120_neomeoyo_is_a_size(intent_model):
    asked, out_of_order, size = _talk(intent_model, "장롱 버리려는데요", "부발읍 아미리 55 내일이요", "120 넘어요")
    assert asked.state == "collect:size"
    assert out_of_order.understood and out_of_order.slots["address"] == "부발읍 아미리 55"
    assert out_of_order.slots["pickup_date"] == "2026-12-03" and out_of_order.state == "collect:size"
    assert size.state == "confirm" and size.slots["items"][0]["size"] == "120cm 이상"


def test_after_two_misses_on_a_slot_the_choices_are_offered_by_name(intent_model):
    _asked, miss, offer, chosen = _talk(intent_model, "장롱 버리려는데요", "잘 모르겠어요", "음", "두 번째요")
    assert miss.state == "collect:size" and not miss.ended
    assert "첫 번째 120cm 미만, 두 번째 120cm 이상" in offer.reply and not offer.ended
    assert chosen.slots["items"][0]["size"] == "120cm 이상"


def test_korean_numerals():
    assert sino_value("백이십") == 120 and sino_value("십이") == 12 and sino_value("삼사오육") == 3456
    assert find_plate("십이가 삼사오육") == ("12가3456", True)
    assert find_plate("삼백이십오가 일오육공이요") == ("325가1560", True)
    assert to_digits("일공일동 이공이호") == "101동 202호" and to_digits("이동 사동 오전") == "이동 사동 오전"
    assert find_size("백이십 센치요") == "120cm" and find_size("이인용") == "2인용"
    items, pending = dialogue.find_items("3인용 쇼파 하나하고 매트리스 둘, 장롱 백오십 센치 두 개", fee_table())
    assert [(i["name"], i["size"], i["qty"]) for i in items] == [
        ("소파", "3인용 이상", 1), ("매트리스", "", 2), ("장롱", "120cm 이상", 2)] and pending == []


def test_addresses_are_kept_whole():
    for said in ("부발읍 아미리 123번지 현대아파트 101동 202호", "중리동 중리천로 43 현대아파트 112동 202호",
                 "이천시 부발읍 아미리 123번지"):
        assert find_address(said) == said
    assert find_address("부발읍 아미리 백이십삼번지요") == "부발읍 아미리 123번지"
    assert area_of("부발읍아미리 경충대로 24") == "부발읍"


def test_waste_day_questions_without_an_faq_table_go_to_a_person_not_to_bulky_waste(intent_model):
    res, = _talk(intent_model, "쓰레기 버리는 날이 언제예요")
    assert res.intent == "faq" and res.state == "handoff" and res.handoff_reason == "faq_unanswered"
    assert res.outcome is None


def test_each_extractor_alone():
    slots: dict = {}
    assert dialogue._take_plate("illegal_parking", "십이가 삼사오육", slots, _ctx(), "plate") == {}
    assert slots["plate"] == "12가3456"
    assert dialogue._take_pickup_date("bulky_waste", "일요일", {}, _ctx(), "pickup_date") == {"pickup_date": "invalid"}
    slots = {"pending_item": {"name": "장롱", "qty": 2, "sizes": ["120cm 미만", "120cm 이상"]}}
    assert dialogue._take_size_answer("bulky_waste", "작은 거요", slots, _ctx(), "size") == {}
    assert slots["items"] == [{"name": "장롱", "size": "120cm 미만", "qty": 2, "unit_fee_krw": 10000,
                               "fee_krw": 20000}] and "pending_item" not in slots


def test_the_refund_claim_books_a_call_back_and_takes_no_account(intent_model):
    ctx = dialogue.Context(today=TODAY, fee_table=[], find_refunds=lambda birth: [
        {"id": 1, "tax_type": "자동차세", "amount_krw": 35400, "reason": "x"}])
    call = dialogue.CallState(municipality_name="이천시", intent="local_tax_refund", state="collect:birth")
    offer = dialogue.step(call, "850312", None, ctx)
    assert offer.state == "offer_claim" and "계좌번호는 전화로 말씀하지 마세요" in offer.reply
    call = dialogue.CallState(municipality_name="이천시", intent="local_tax_refund", state=offer.state,
                              slots=offer.slots)
    done = dialogue.step(call, "네 농협 302-1234-5678-91이요", None, ctx)
    assert done.outcome.attributes["callback"] is True and "account" not in done.outcome.attributes
    assert "account" not in done.slots
