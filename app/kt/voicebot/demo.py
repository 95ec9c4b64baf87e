"""Demo data for 이천시 and 거제시: fee tables, refunds due, and a few hundred calls of each kind played
through the real dialogue engine (pure, no database), then bulk-inserted with their service requests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.i18n import SEOUL, today_seoul
from app.core.privacy import mask_phone, mask_pii
from app.core.tenancy import check_rows, within_reach
from app.kt.voicebot import classifier, dialogue, publication, service
from app.kt.voicebot.models import (
    VoicebotCall,
    VoicebotFaqEntry,
    VoicebotFeeItem,
    VoicebotNote,
    VoicebotRequest,
    VoicebotServiceSetting,
    VoicebotTaxRefund,
    VoicebotTurn,
)
from app.platform import audit
from app.platform import service as platform_service

# name, size, aliases, fee (이천시); 거제시 uses its own prices (see FEE_FACTOR).
FEE_TABLE = [
    ("소파", "1인용", "쇼파,소파", 5000), ("소파", "2인용", "쇼파,소파", 8000),
    ("소파", "3인용 이상", "쇼파,소파", 12000), ("장롱", "120cm 미만", "장농,옷장", 10000),
    ("장롱", "120cm 이상", "장농,옷장", 20000), ("침대", "", "돌침대,침대틀", 12000),
    ("매트리스", "", "메트리스,매트", 8000), ("냉장고", "300리터 미만", "냉장고", 5000),
    ("냉장고", "300리터 이상", "냉장고", 10000), ("김치냉장고", "", "김치 냉장고", 7000),
    ("세탁기", "", "통돌이,드럼세탁기", 5000), ("에어컨", "", "에어콘", 8000), ("책상", "", "컴퓨터책상", 5000),
    ("의자", "", "", 2000), ("식탁", "", "테이블", 6000), ("책장", "", "책꽂이", 5000),
    ("화장대", "", "", 5000), ("서랍장", "", "이불장", 5000), ("텔레비전", "", "티비,TV,테레비", 5000),
    ("피아노", "", "", 30000), ("자전거", "", "", 3000), ("안마의자", "", "", 15000),
    ("러닝머신", "", "런닝머신", 10000), ("전자레인지", "", "전자렌지", 2000), ("거실장", "", "티비장", 7000),
    ("싱크대", "", "", 10000), ("문짝", "", "문", 3000), ("행거", "", "옷걸이", 3000),
]
FEE_FACTOR = {"4150000000": 1.0, "4831000000": 1.2}
AREAS = {
    "4150000000": ["창전동", "중리동", "관고동", "증포동", "부발읍", "장호원읍", "신둔면", "백사면", "호법면", "마장면",
                   "대월면", "모가면", "설성면", "율면"],
    "4831000000": ["고현동", "장평동", "옥포동", "아주동", "능포동", "장승포동", "상문동", "수양동", "일운면", "동부면",
                   "거제면", "둔덕면", "사등면", "연초면", "하청면", "장목면"],
}
# The FAQ table: (topic, title, keywords) and its answers per area (None: the whole municipality).
FAQ_TOPICS = {
    "waste_day": ("생활쓰레기 배출 요일", "생활쓰레기,일반쓰레기,일반 쓰레기,쓰레기 버리는,쓰레기 내놓,쓰레기 배출,"
                  "쓰레기차,쓰레기 수거,쓰레기 언제,쓰레기 무슨,쓰레기 몇"),
    "recycling_day": ("재활용품 배출 요일", "재활용,재활용 쓰레기,재활용품,분리수거,분리 수거,분리배출,분리 배출,"
                      "플라스틱,페트병,스티로폼"),
    "food_waste": ("음식물 쓰레기 배출", "음식물,음식물 쓰레기"),
    "waste_bags": ("종량제 봉투 판매처", "봉투,종량제 봉투,쓰레기 봉투"),
}
WASTE_DAYS = ("일·화·목", "월·수·금")
FAQ_AREAS = {
    "4150000000": ["창전동", "중리동", "관고동", "증포동", "부발읍", "장호원읍"],
    "4831000000": ["고현동", "장평동", "옥포1동", "옥포2동", "아주동", "능포동"],
}


def faq_rows(municipality_id: int, code: str) -> list[dict[str, Any]]:
    """The demo FAQ: household and recycling days per 동 (alternating), food waste and bags for all."""
    now = datetime.now(UTC)
    rows = []
    for i, area in enumerate(FAQ_AREAS.get(code, [])):
        days, recycling = WASTE_DAYS[i % 2], WASTE_DAYS[(i + 1) % 2]
        rows.append(("waste_day", area, f"{area}은 {days}요일 저녁 8시부터 자정까지 종량제 봉투에 담아 집 앞에 "
                                        "내놓으시면 됩니다. 토요일에는 수거하지 않아요."))
        rows.append(("recycling_day", area, f"{area} 재활용품은 {recycling}요일 저녁 8시 이후에 종류별로 나눠 "
                                            "투명 봉투에 담아 내놓으시면 됩니다."))
    rows.append(("food_waste", None, "음식물 쓰레기는 매일 저녁 8시 이후에 납부필증을 붙인 전용 용기에 담아 "
                                     "내놓으시면 됩니다. 물기는 꼭 빼 주세요."))
    rows.append(("waste_bags", None, "종량제 봉투는 가까운 편의점, 마트, 행정복지센터에서 사실 수 있어요."))
    return [{"municipality_id": municipality_id, "topic": topic, "title": FAQ_TOPICS[topic][0], "area": area,
             "keywords": FAQ_TOPICS[topic][1], "answer": answer, "active": True, "created_at": now,
             "updated_at": now} for topic, area, answer in rows]


def faq_lines(code: str = "4150000000") -> list[dialogue.FaqLine]:
    """The demo FAQ as the dialogue reads it (for simulated callers and tests without a database)."""
    return [dialogue.FaqLine(id=n, topic=r["topic"], title=r["title"], area=r["area"], answer=r["answer"],
                             keywords=tuple(k for k in r["keywords"].split(",") if k))
            for n, r in enumerate(faq_rows(0, code), start=1)]


CENTRE = {"4150000000": (37.272, 127.435), "4831000000": (34.880, 128.621)}
APARTMENTS = ["현대", "대우", "롯데캐슬", "푸르지오", "자이", "한신", "주공", "e편한세상", "코오롱"]
ITEM_PHRASES = ["3인용 소파 하나", "쇼파 2인용", "장롱 2미터짜리", "냉장고 500리터", "세탁기",
                "침대랑 매트리스", "책상 두 개", "식탁", "김치냉장고", "피아노", "안마의자", "텔레비전",
                "서랍장 하나", "자전거 두 대"]
BULKY_OPENERS = ["{item} 버리려고요", "대형폐기물 신청할라꼬예 {item}", "어 저기 {item} 내놓으려고 하는데요",
                 "{item} 버릴라는디 얼마여", "대형 폐기물 수거 신청이요 {item}"]
DATE_PHRASES = ["내일요", "모레 오전에요", "다음 주 화요일", "다음 주 목요일 오전", "금요일에요", "내일 오후"]
NIGHT = ["밤인데 옆집 공사 소리가 너무 시끄러워요", "가로등이 꺼져 있어서 길이 너무 어두워요",
         "도로에 구멍이 크게 났어요", "길에 고양이가 죽어 있어요", "로드킬 당한 고라니가 도로에 있어요",
         "밤에 개 짖는 소리 때문에 못 살겠어", "보도블럭이 깨져서 할머니가 넘어질 뻔했어요",
         "밤에 공장에서 냄새가 너무 심해요", "가로등 불이 안 들어와유"]
URGENT = ["지금 도로가 침수됐어요 빨리 와 주세요", "맨홀 뚜껑이 열려 있어요 위험해요",
          "나무가 쓰러져서 길을 막았어요", "도로에 싱크홀 생긴 거 같아요 위험해요"]
PARKING = ["불법 주차 신고하려고요", "집 앞에 차를 막 대 놨어요", "소화전 앞에 차가 서 있어요",
           "불법주정차신고요", "횡단보도에 차가 주차돼 있어요", "장애인 주차구역에 일반 차가 댔어요"]
TAX = ["지방세 환급 받을 거 있나요", "환급금 있다고 문자 받았는데요", "자동차세 더 낸 거 돌려받을 수 있어요",
       "세금 환급금 조회하고 싶어요"]
FAQ_CALLS = [["쓰레기 버리는 날이 언제예요", "{area}이요"], ["{area} 분리수거 요일 알려 주세요"],
             ["음식물 쓰레기 언제 버려요"], ["종량제 봉투 어디서 사요"], ["재활용 버리는 날 언제여", "{area} 살아요"],
             ["쓰레기 내놓는 시간이 몇 시예요", "{other}이요"]]
FAILS = [["오늘 날씨 어때요", "음 그러니까 그게"], ["여권 발급하려면 어떻게 해요", "주민등록등본 떼려고요"],
         ["상담원 연결해 주세요"], ["기계 말고 사람 바꿔 줘"], ["소파 버리려고요", "", "잘 모르겠어요"]]
SIZE_ANSWER = "<size>"
PLATE_HANGUL = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"


def _address(rng: random.Random, code: str) -> str:
    area = rng.choice(AREAS[code])
    if rng.random() < 0.4:
        unit = f"{rng.randint(1, 20)}0{rng.randint(1, 4)}"
        return f"{area} {rng.choice(APARTMENTS)}아파트 {rng.randint(101, 115)}동 {unit}호"
    return f"{area} {rng.randint(1, 999)}-{rng.randint(1, 30)}번지"


def _plate(rng: random.Random) -> str:
    head = str(rng.randint(10, 99)) if rng.random() < 0.5 else str(rng.randint(100, 399))
    return f"{head}{rng.choice(PLATE_HANGUL)} {rng.randint(1000, 9999)}"


def _phone(rng: random.Random) -> str:
    return f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}"


def _script(kind: str, rng: random.Random, code: str, taxpayer: tuple[str, str] | None) -> list[str]:
    if kind == "bulky_waste":
        first = rng.choice(BULKY_OPENERS).format(item=rng.choice(ITEM_PHRASES))
        return [first, SIZE_ANSWER, _address(rng, code) + "이요", rng.choice(DATE_PHRASES), "네 맞아요"]
    if kind == "night_duty":
        return [rng.choice(NIGHT), _address(rng, code) + " 앞이에요", "네"]
    if kind == "urgent":
        return [rng.choice(URGENT) + " " + _address(rng, code)]
    if kind == "illegal_parking":
        lines = [rng.choice(PARKING), _address(rng, code) + " 앞이요"]
        if rng.random() < 0.15:
            lines.append("12갸 34")
        lines += [f"차 번호는 {_plate(rng)}", rng.choice(["방금요", "지금도 서 있어요", "오늘 오후 세시부터요"]), "네"]
        return lines
    if kind == "local_tax_refund":
        birth = taxpayer[1] if taxpayer else f"{rng.randint(50, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
        return [rng.choice(TAX), birth, "네"]  # the claim is filed with a staff call-back, no account by voice
    if kind == "faq":
        areas = FAQ_AREAS[code]
        other = next(a for a in AREAS[code] if a not in areas)  # a 동 the table has no answer for: a person
        return [line.format(area=rng.choice(areas), other=other) for line in rng.choice(FAQ_CALLS)]
    return list(rng.choice(FAILS))


def load_demo(session: Session) -> None:
    rng = random.Random(20261125)
    now = datetime.now(UTC)
    model = classifier.get_model()
    for code in ("4150000000", "4831000000"):
        try:
            municipality = platform_service.get_municipality(session, code=code)
        except Exception:
            continue
        _load_municipality(session, municipality, rng, now, model)


def _fee_rows(municipality_id: int, code: str) -> list[dict[str, Any]]:
    factor = FEE_FACTOR.get(code, 1.0)
    return [{"municipality_id": municipality_id, "name": n, "size": s, "aliases": a,
             "fee_krw": int(round(f * factor / 500) * 500), "active": True, "updated_at": datetime.now(UTC)}
            for n, s, a, f in FEE_TABLE]


def _load_municipality(session: Session, municipality, rng: random.Random, now: datetime, model) -> None:
    mid, code = municipality.id, municipality.code
    insert_rows(session, VoicebotServiceSetting.__table__, publication.default_rows(mid))
    insert_rows(session, VoicebotFeeItem.__table__, _fee_rows(mid, code))
    insert_rows(session, VoicebotFaqEntry.__table__, faq_rows(mid, code))
    fee_table = [dialogue.FeeLine(name=n, size=s, aliases=tuple(x for x in a.split(",") if x),
                                  fee_krw=int(round(f * FEE_FACTOR.get(code, 1.0) / 500) * 500))
                 for n, s, a, f in FEE_TABLE]
    faq = service.faq_lines(session, municipality_id=mid)
    # Taxpayers with refunds due; the console's default caller (010-1234-5678, 850312) is one of them.
    taxpayers = [("010-1234-5678", "850312")] + [(_phone(rng), f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}"
                                                               f"{rng.randint(1, 28):02d}") for _ in range(60)]
    refund_rows = []
    for phone, birth in taxpayers:
        for _ in range(rng.choice([1, 1, 2])):
            tax_type, reason = rng.choice([("자동차세", "차량 매도 후 연납분 일할 환급"), ("재산세", "이중 납부"),
                                           ("지방소득세", "경정청구 결과 환급"), ("주민세", "과오납")])
            refund_rows.append({"municipality_id": mid, "phone_hash": service.caller_hash(phone), "birth": birth,
                                "tax_type": tax_type, "amount_krw": rng.randrange(8000, 400000, 10), "reason": reason,
                                "status": "due", "due_since_date": (now - timedelta(days=rng.randint(10, 400))).date()})
    insert_rows(session, VoicebotTaxRefund.__table__, refund_rows)
    refunds_by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i, r in enumerate(refund_rows):
        refunds_by_key.setdefault((r["phone_hash"], r["birth"]), []).append(
            {"id": None, "tax_type": r["tax_type"], "amount_krw": r["amount_krw"], "reason": r["reason"], "_i": i})

    plan = (["bulky_waste"] * 110 + ["night_duty"] * 90 + ["urgent"] * 20 + ["illegal_parking"] * 100
            + ["local_tax_refund"] * 60 + ["faq"] * 50 + ["fail"] * 40)
    rng.shuffle(plan)
    calls, turns_per_call, outcomes = [], [], []
    for n, kind in enumerate(plan):
        night = kind in ("night_duty", "urgent")
        day_ago = rng.randint(0, 29)
        hour = rng.choice([22, 23, 0, 1, 2, 3]) if night else rng.randint(9, 20)
        local = (now.astimezone(SEOUL) - timedelta(days=day_ago)).replace(hour=hour, minute=rng.randint(0, 59),
                                                                           second=rng.randint(0, 59), microsecond=0)
        started = min(local.astimezone(UTC), now - timedelta(minutes=30 + n))
        taxpayer = rng.choice(taxpayers[1:]) if kind == "local_tax_refund" and rng.random() < 0.8 else None
        phone = taxpayer[0] if taxpayer else _phone(rng)
        phash = service.caller_hash(phone)
        ctx = dialogue.Context(
            today=started.astimezone(SEOUL).date(), fee_table=fee_table, faq=faq,
            find_refunds=lambda birth, h=phash: [dict(x) for x in refunds_by_key.get((h, birth), [])])
        state = dialogue.CallState(municipality_name=municipality.name_ko)
        turns = [{"speaker": "bot", "text": dialogue.greeting(municipality.name_ko), "intent": None,
                  "confidence": None, "state": "greeting", "understood": True, "at": started}]
        at, result, outcome = started, None, None
        for text in _script(kind, rng, code, taxpayer):
            if text == SIZE_ANSWER:
                if state.state != "collect:size":
                    continue  # said only when the bot asks for a size
                text = rng.choice(state.slots["pending_item"]["sizes"]).split()[0] + "요"
            prediction = model.predict(text) if text.strip() else None
            result = dialogue.step(state, text, prediction, ctx)
            at = at + timedelta(seconds=rng.randint(6, 25))
            turns.append({"speaker": "caller", "text": mask_pii(text),
                          "intent": prediction.intent if prediction else None,
                          "confidence": prediction.confidence if prediction else None, "state": state.state,
                          "understood": result.understood, "at": at})
            turns.append({"speaker": "bot", "text": mask_pii(result.reply), "intent": None, "confidence": None,
                          "state": result.state, "understood": True, "at": at + timedelta(seconds=1)})
            state = dialogue.CallState(municipality_name=municipality.name_ko, intent=result.intent,
                                       state=result.state, slots=result.slots, failures=result.failures)
            if result.outcome is not None:
                outcome = result
            if result.ended:
                break
        live = n < 3
        if live and len(turns) > 3:
            turns, result = turns[:3], None
        ended = bool(result and result.ended) and not live
        if not ended and not live:
            status = "abandoned"
        else:
            status = "active" if not ended else ("handed_off" if result.handoff_reason else "completed")
        if live:
            status = "active"
        calls.append({"municipality_id": mid, "client_call_id": f"demo-{code}-{n}",
                      "caller_masked": mask_phone(phone), "caller_hash": phash, "channel": "phone", "status": status,
                      "intent": state.intent if state.intent else None,
                      "state": state.state if not live else "greeting",
                      "slots": service._public_slots(state.slots, masked=True), "context": {},
                      "turn_count": (len(turns) - 1) // 2, "failures": state.failures,
                      "handoff_reason": result.handoff_reason if (result and ended) else None,
                      "started_at": started, "ended_at": at if status != "active" else None})
        turns_per_call.append(turns)
        outcomes.append(outcome if (outcome and not live) else None)

    table = VoicebotCall.__table__
    ids = list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                               check_rows(session, table, calls)))
    request_rows, claimed = [], []
    lat0, long0 = CENTRE[code]
    for call, call_id, res in zip(calls, ids, outcomes, strict=True):
        if res is None or res.outcome is None:
            continue
        o = res.outcome
        age = now - call["ended_at"]
        status = o.status
        if age > timedelta(days=1):
            status = rng.choices(["received", "assigned", "in_progress", "resolved", "rejected", "duplicate"],
                                 weights=[1, 2, 2, 8, 1, 1])[0] if not o.urgent else "resolved"
        attributes = dict(o.attributes)
        if o.service_code == "local_tax_refund":  # claimed with a staff call-back; no account is taken by voice
            claimed.extend(r["_i"] for r in attributes.get("refunds", []) if "_i" in r)
        request_rows.append({
            "municipality_id": mid, "token": uuid.uuid4().hex, "call_id": call_id, "service_code": o.service_code,
            "status": status, "urgent": o.urgent, "department": o.department, "area": o.area,
            "description": mask_pii(o.description), "address": o.address,
            "lat": round(lat0 + rng.uniform(-0.05, 0.05), 6), "long": round(long0 + rng.uniform(-0.06, 0.06), 6),
            "attributes": _strip(attributes), "fee_krw": o.fee_krw,
            "payment_ref": None, "scheduled_date": o.scheduled_date, "interface_used": "voicebot",
            "contact_masked": call["caller_masked"],
            "status_notes": "처리 완료" if status == "resolved" else None,
            "requested_at": call["ended_at"],
            "updated_at": min(now, call["ended_at"] + timedelta(hours=rng.randint(0, 20))),
        })
    rtable = VoicebotRequest.__table__
    rids = list(session.scalars(insert(rtable).returning(rtable.c.id, sort_by_parameter_order=True),
                                check_rows(session, rtable, request_rows)))
    notes = []
    for rid, row in zip(rids, request_rows, strict=True):
        if row["service_code"] == "bulky_waste":
            session.execute(rtable.update().where(rtable.c.id == rid, within_reach(session, rtable)).values(
                payment_ref=f"BW{row['requested_at'].astimezone(SEOUL):%y%m%d}{rid:05d}"))
        if row["status"] != "received":
            notes.append({"municipality_id": mid, "request_id": rid, "author": "user:icheon.staff" if code.startswith(
                "415") else "user:geoje.staff", "text": "담당 부서 확인", "status_from": "received",
                "status_to": row["status"], "created_at": row["updated_at"]})
    if notes:
        insert_rows(session, VoicebotNote.__table__, notes)
    ref_of = {row["call_id"]: f"{rid:06d}" for rid, row in zip(rids, request_rows, strict=True)}
    turn_rows = []
    for call_id, turns in zip(ids, turns_per_call, strict=True):
        for seq, t in enumerate(turns, start=1):
            text = t["text"].replace("{ref}", ref_of.get(call_id, "-"))
            turn_rows.append({"municipality_id": mid, "call_id": call_id, "seq": seq, "speaker": t["speaker"],
                              "text": text, "intent": t["intent"], "confidence": t["confidence"],
                              "state": t["state"], "understood": t["understood"], "created_at": t["at"]})
    insert_rows(session, VoicebotTurn.__table__, turn_rows)
    if claimed:
        refund_ids = list(session.scalars(select(VoicebotTaxRefund.id).where(
            VoicebotTaxRefund.municipality_id == mid).order_by(VoicebotTaxRefund.id)))
        ftable = VoicebotTaxRefund.__table__
        for i in set(claimed):
            session.execute(ftable.update().where(ftable.c.id == refund_ids[i], within_reach(session, ftable))
                            .values(status="claimed"))
    audit.record(session, action="demo_load", object_type="vb_call", object_id=code, municipality_id=mid,
                 after={"calls": len(calls), "turns": len(turn_rows), "requests": len(request_rows)})


def _strip(attributes: dict[str, Any]) -> dict[str, Any]:
    out = dict(attributes)
    if "refunds" in out:
        out["refunds"] = [{k: v for k, v in r.items() if k not in ("_i", "id")} for r in out["refunds"]]
    return out


def sample_data(session: Session, municipality_id: int) -> None:
    """A few of every object in one municipality, for the tenancy walk."""
    municipality = platform_service.get_municipality_by_id(session, municipality_id=municipality_id)
    insert_rows(session, VoicebotServiceSetting.__table__, publication.default_rows(municipality_id))
    insert_rows(session, VoicebotFeeItem.__table__, _fee_rows(municipality_id, municipality.code)[:6])
    insert_rows(session, VoicebotFaqEntry.__table__, faq_rows(municipality_id, "4150000000")[:3])
    now = datetime.now(UTC)
    call = VoicebotCall(municipality_id=municipality_id, caller_masked="010-****-5678",
                        caller_hash=service.caller_hash("010-1234-5678"), channel="phone", status="completed",
                        intent="illegal_parking", state="done", slots={}, context={}, turn_count=1, failures=0,
                        started_at=now, ended_at=now)
    session.add(call)
    session.flush()
    session.add(VoicebotTurn(municipality_id=municipality_id, call_id=call.id, seq=1, speaker="caller",
                             text="불법 주차 신고요", intent="illegal_parking", confidence=0.9, state="greeting"))
    request = VoicebotRequest(municipality_id=municipality_id, token=uuid.uuid4().hex, call_id=call.id,
                              service_code="illegal_parking", status="received", department="교통행정과 주정차단속팀",
                              description="불법 주정차 단속 요청: 12가**56", address="창전동 1-1번지",
                              attributes={"plate": "12가3456"}, interface_used="voicebot")
    session.add(request)
    session.flush()
    session.add(VoicebotNote(municipality_id=municipality_id, request_id=request.id, author="system", text="확인"))
    session.add(VoicebotTaxRefund(municipality_id=municipality_id, phone_hash=service.caller_hash("010-1234-5678"),
                                  birth="850312", tax_type="자동차세", amount_krw=35400, reason="연납 환급",
                                  due_since_date=today_seoul()))
    session.flush()
