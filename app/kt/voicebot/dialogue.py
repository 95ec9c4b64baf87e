"""The dialogue state machine: one caller utterance in, the text to speak out.

Pure logic over the call's state (no database): the service loads the state, calls :func:`step`, and
persists what it returns. States: ``greeting`` (what is the call about), ``collect:<slot>`` (asking
for one slot), ``confirm`` (read back, yes/no), ``offer_account`` (tax refund: pay into an account?),
``done`` and ``handoff`` (terminal).

Rules that protect callers: asking for a person hands off at once; a second failure to understand
(low confidence, out of scope, a slot that does not validate, silence) hands off too; urgent night
complaints go straight to the duty officer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.kt.voicebot import slots as sx
from app.kt.voicebot.classifier import Prediction

CONFIDENCE_MIN = 0.5
MAX_FAILURES = 2

GREETING = ("안녕하세요, {name} 민원 안내 에이센입니다. 대형폐기물 수거, 야간 당직 민원, 불법 주정차 신고, "
            "지방세 환급 문의를 도와드려요. 어떤 일로 전화하셨어요?")
MENU = "대형폐기물, 야간 민원, 불법 주차 신고, 지방세 환급 중 어떤 일로 전화하셨는지 한 번 더 말씀해 주시겠어요?"
HANDOFF = {
    "caller_asked": "네, 상담원에게 바로 연결해 드릴게요. 잠시만 기다려 주세요.",
    "not_understood": "제가 잘 알아듣지 못해 죄송합니다. 상담원에게 바로 연결해 드릴게요.",
    "urgent": "위급한 상황으로 보여 당직 근무자에게 바로 연결해 드릴게요. 접수번호는 {ref}입니다.",
}

HUMAN_PATTERN = re.compile(
    r"상담[원사언]|산담원|교환원|주무관|사람\s*(?:좀\s*)?(?:바꿔|연결|통화|얘기|이야기|말|목소리|이랑|하고|한테|이)|"
    r"직원\s*(?:분\s*)?(?:좀\s*)?(?:바꿔|연결|통화|하고|이랑|계세요|있)|담당자?\s*(?:분\s*)?(?:좀\s*)?(?:바꿔|연결|찾)|"
    r"공무원\s*(?:이랑|하고|바꿔|연결)")

NIGHT_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("flooding", "침수·누수", ("침수", "물이 차", "물이 넘", "넘칠", "역류", "수도관", "물이 솟", "하수구", "배수구",
                              "잠겼", "콸콸", "지하차도", "물이 안 빠", "물이 막", "흙이 쏟아")),
    ("streetlight", "가로등·신호등", ("가로등", "신호등", "전선", "전봇대", "전깃줄", "가로뜽")),
    ("carcass", "동물 사체", ("죽어", "사체", "로드킬", "치여", "죽은")),
    ("road_damage", "도로 파손", ("구멍", "포트홀", "파손", "깨져", "꺼졌", "싱크홀", "구덩이", "보도블럭", "난간",
                                "낙석", "돌이", "큰 돌", "표지판", "맨홀", "쓰러져", "넘어져", "나뭇가지", "기름",
                                "빙판", "얼었", "제설", "떨어져")),
    ("noise", "소음", ("시끄", "소음", "소리", "쿵쿵", "노래", "고성", "짖", "폭죽", "경보기")),
    ("odor", "악취·연기", ("냄새", "악취", "연기", "소각")),
)
URGENT_WORDS = ("침수", "물이 차", "넘칠", "싱크홀", "맨홀", "전선", "전깃줄", "쓰러져", "낙석", "흙이 쏟아", "가스",
                "불이 났", "화재", "위험", "급해", "빨리", "사고", "다쳤", "지하차도", "콸콸", "물이 솟", "길을 막")

DEPARTMENTS = {"bulky_waste": "자원순환과", "illegal_parking": "교통행정과 주정차단속팀",
               "local_tax_refund": "세무과 세정팀"}
NIGHT_DEPARTMENTS = {"flooding": "안전총괄과", "streetlight": "도로관리과 가로등팀", "carcass": "자원순환과",
                     "road_damage": "도로관리과", "noise": "환경보호과", "odor": "환경보호과", "other": "당직실"}
DUTY_OFFICER = "당직실 (당직사령)"
PART_KO = {"morning": "오전", "afternoon": "오후", "evening": "저녁"}
WEEKDAY_KO = "월화수목금토일"


@dataclass(frozen=True)
class FeeLine:
    name: str
    size: str
    aliases: tuple[str, ...]
    fee_krw: int


@dataclass
class CallState:
    municipality_name: str
    intent: str | None = None
    state: str = "greeting"
    slots: dict[str, Any] = field(default_factory=dict)
    failures: int = 0


@dataclass
class Outcome:
    """A service request the service layer creates when the dialogue finishes (or hands off urgently)."""

    service_code: str
    department: str
    area: str | None
    description: str
    address: str | None
    attributes: dict[str, Any]
    urgent: bool = False
    fee_krw: int | None = None
    scheduled_date: date | None = None
    status: str = "received"


@dataclass
class StepResult:
    reply: str
    intent: str | None
    confidence: float | None
    state: str
    slots: dict[str, Any]
    handoff_reason: str | None = None
    ended: bool = False
    understood: bool = True
    outcome: Outcome | None = None
    failures: int = 0
    refund_claim: bool = False


@dataclass
class Context:
    """What the dialogue may consult: today, the municipality's fee table, the caller's refunds due."""

    today: date
    fee_table: list[FeeLine]
    find_refunds: Callable[[str], list[dict[str, Any]]]  # birth YYMMDD -> [{tax_type, amount_krw, reason}]


def greeting(municipality_name: str) -> str:
    return GREETING.format(name=municipality_name)


def wants_person(text: str) -> bool:
    return bool(HUMAN_PATTERN.search(text))


def topic(word: str) -> str:
    """The word with the topic particle that fits its last syllable: 냉장고는, 장롱은."""
    if not word:
        return word
    last = word[-1]
    batchim = "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0
    return word + ("은" if batchim else "는")


def krw(value: int) -> str:
    return f"{value:,}원"


def say_date(value: date, part: str | None = None) -> str:
    text = f"{value.month}월 {value.day}일 {WEEKDAY_KO[value.weekday()]}요일"
    return f"{text} {PART_KO[part]}" if part else text


# --- slot filling ----------------------------------------------------------------------------

REQUIRED = {
    "bulky_waste": ("items", "address", "pickup_date"),
    "night_duty": ("category", "address"),
    "illegal_parking": ("address", "plate", "seen_at"),
    "local_tax_refund": ("birth",),
}
ASK = {
    "items": "어떤 물건을 버리시나요? 물건 이름과 크기를 말씀해 주세요. 예를 들면 '3인용 소파 하나'처럼요.",
    "address": "수거할 곳의 주소를 말씀해 주세요. 동 이름과 번지, 아파트라면 동과 호수까지요.",
    "address:night_duty": "어디에서 일어난 일인가요? 동 이름과 번지나 가까운 건물을 말씀해 주세요.",
    "address:illegal_parking": "차가 서 있는 곳이 어디인가요? 동 이름과 번지나 가까운 건물을 말씀해 주세요.",
    "pickup_date": "언제 내놓으실 건가요? '내일'이나 '다음 주 화요일'처럼 말씀해 주세요.",
    "category": "어떤 불편이 있으신가요? 소음, 도로 파손, 가로등 고장, 동물 사체, 침수처럼 말씀해 주세요.",
    "plate": "차량 번호를 말씀해 주세요. 예를 들면 '12가 3456'처럼요.",
    "seen_at": "차량을 언제 보셨나요? '지금'이나 '오늘 오후 3시'처럼 말씀해 주세요.",
    "birth": "본인 확인을 위해 생년월일 여섯 자리를 말씀해 주세요. 예를 들면 '850312'처럼요.",
    "account": "환급받으실 은행 이름과 계좌번호를 말씀해 주세요.",
    "size": "{item} 크기에 따라 수수료가 달라요. {sizes} 중 어떤 크기인가요?",
}
ASK_AGAIN = {
    "items": "죄송해요, 어떤 물건인지 알아듣지 못했어요. 소파, 장롱, 냉장고, 침대처럼 물건 이름을 말씀해 주세요.",
    "address": "주소를 알아듣지 못했어요. '창전동 123번지'나 '현대아파트 101동'처럼 말씀해 주세요.",
    "pickup_date": "수거는 내일부터 30일 안의 월요일부터 토요일까지 가능해요. 원하시는 날을 다시 말씀해 주세요.",
    "category": "어떤 불편인지 다시 한 번 말씀해 주시겠어요? 소음, 도로, 가로등, 동물 사체, 침수 중에서요.",
    "plate": "차량 번호 형식이 맞지 않아요. 숫자 두세 자리, 한글 한 자, 숫자 네 자리로 '12가 3456'처럼 말씀해 주세요.",
    "seen_at": "언제 보셨는지 다시 말씀해 주세요. '방금'이나 '오늘 밤 10시'처럼요.",
    "birth": "생년월일을 알아듣지 못했어요. 여섯 자리 숫자로 '850312'처럼 말씀해 주세요.",
    "account": "계좌번호를 알아듣지 못했어요. 은행 이름과 계좌번호를 천천히 다시 말씀해 주세요.",
    "size": "크기를 알아듣지 못했어요. {sizes} 중에서 말씀해 주세요.",
}


def _size_matches(label: str, said: str | None) -> bool:
    if not label:
        return True
    if not said:
        return False
    if label in said or said in label:
        return True
    ln, sn = re.search(r"\d+", label), re.search(r"\d+", said)
    lu, su = re.sub(r"[\d\s]|이상|이하|미만|초과", "", label), re.sub(r"\d", "", said)
    if ln and sn and lu == su:
        a, b = int(sn.group()), int(ln.group())
        if "이상" in label:
            return a >= b
        if "미만" in label:
            return a < b
        if "이하" in label:
            return a <= b
        return a == b
    return False


BIG_WORDS, SMALL_WORDS = ("큰", "대형"), ("작은", "소형")


def line_for_size(lines: list[FeeLine], said: str | None) -> FeeLine | None:
    """The fee line of one item that the size a caller said fits; "큰 거"/"작은 거" pick the dearest/cheapest
    of the item's sized lines when no line is labelled by that word (callers do not know centimetres)."""
    match = next((line for line in lines if _size_matches(line.size, said)), None)
    if match is None and said in BIG_WORDS + SMALL_WORDS:
        sized = sorted((line for line in lines if line.size), key=lambda line: line.fee_krw)
        if len(sized) > 1:
            match = sized[-1] if said in BIG_WORDS else sized[0]
    return match


def find_items(text: str, fee_table: list[FeeLine]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Items the caller named with their fee; the second value is an item whose size must be asked."""
    compact = text.replace(" ", "")
    by_name: dict[str, list[FeeLine]] = {}
    for line in fee_table:
        by_name.setdefault(line.name, []).append(line)
    found, pending = [], None
    # Longer names first, so 김치냉장고 wins over 냉장고.
    for name in sorted(by_name, key=len, reverse=True):
        lines = by_name[name]
        words = {name, *[a for line in lines for a in line.aliases if a]}
        if not any(w.replace(" ", "") in compact for w in words):
            continue
        if any(name in f["name"] or any(w in f["name"] for w in words) for f in found):
            continue
        compact = compact.replace(name, "")
        size = sx.find_size(text)
        qty = sx.find_quantity(text)
        match = line_for_size(lines, size)
        if match is None and len(lines) == 1:
            match = lines[0]
        if match is None:
            pending = {"name": name, "qty": qty, "sizes": [line.size for line in lines]}
            continue
        found.append({"name": name, "size": match.size, "qty": qty, "fee_krw": match.fee_krw * qty})
    return found, pending


def night_category(text: str) -> str | None:
    for code, _label, words in NIGHT_CATEGORIES:
        if any(w in text for w in words):
            return code
    return None


def is_urgent(text: str) -> bool:
    return any(w in text for w in URGENT_WORDS)


def _extract(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> dict[str, str]:
    """Merge what ``text`` says into ``slots``; returns slot -> problem for values given but invalid."""
    problems: dict[str, str] = {}
    address = sx.find_address(text)
    if address and intent in ("bulky_waste", "night_duty", "illegal_parking"):
        slots["address"] = address
    if intent == "bulky_waste":
        if asking == "size" and slots.get("pending_item"):
            pending = slots["pending_item"]
            said = sx.find_size(text)
            compact = text.replace(" ", "")
            candidates = [line for line in ctx.fee_table if line.name == pending["name"]]
            if said:
                line = line_for_size(candidates, said)
            else:  # the caller read a size label back as it was offered ("3인용 이상")
                line = next((line for line in candidates if line.size and line.size.replace(" ", "") in compact),
                            None)
            if line is None:
                # A size that fits no line is invalid; no size at all (the address instead) is not a failure
                # by itself: the progress rule in `step` decides.
                problems["size"] = "invalid" if said else "missing"
            else:
                slots.setdefault("items", []).append({"name": line.name, "size": line.size, "qty": pending["qty"],
                                                      "fee_krw": line.fee_krw * pending["qty"]})
                slots.pop("pending_item")
        items, pending = find_items(text, ctx.fee_table)
        if items:
            known = {(i["name"], i["size"]) for i in slots.get("items", [])}
            slots.setdefault("items", []).extend(i for i in items if (i["name"], i["size"]) not in known)
        if pending:
            slots["pending_item"] = pending
        when = sx.parse_when(text, today=ctx.today)
        if when.day:
            if when.day <= ctx.today or when.day > ctx.today + timedelta(days=30) or when.day.weekday() == 6:
                problems["pickup_date"] = "invalid"
            else:
                slots["pickup_date"] = when.day.isoformat()
                if when.part:
                    slots["pickup_part"] = when.part
        elif asking == "pickup_date":
            problems["pickup_date"] = "missing"
        amount = sx.find_amount(text)
        if amount:
            slots["amount_said_krw"] = amount
    elif intent == "night_duty":
        category = night_category(text)
        if category:
            slots["category"] = category
        elif asking == "category" and text.strip():
            slots["category"] = "other"
        if is_urgent(text):
            slots["urgent"] = True
        if text.strip() and asking in (None, "category"):
            slots.setdefault("summary", text.strip()[:200])
    elif intent == "illegal_parking":
        plate, attempted = sx.find_plate(text)
        if plate:
            slots["plate"] = plate
        elif attempted:
            problems["plate"] = "invalid"
        elif asking == "plate":
            problems["plate"] = "missing"
        when = sx.parse_when(text, today=ctx.today)
        if when.day or when.hour is not None or sx.says_recently(text):
            day = when.day or ctx.today
            slots["seen_at"] = f"{day.isoformat()}" + (f" {when.hour:02d}:00" if when.hour is not None else "")
        elif asking == "seen_at":
            if any(w in text for w in ("몰라", "모르")):
                slots["seen_at"] = ctx.today.isoformat()
            else:
                problems["seen_at"] = "missing"
    elif intent == "local_tax_refund":
        if asking == "account":
            bank, account = sx.find_bank_account(text)
            if bank:
                slots["bank"] = bank
            if account:
                slots["account"] = account
            if not account:
                problems["account"] = "missing"
        else:
            birth = sx.find_birth(text)
            if birth:
                slots["birth"] = birth
            elif asking == "birth":
                problems["birth"] = "missing"
    return problems


def _missing(intent: str, slots: dict[str, Any]) -> str | None:
    if intent == "bulky_waste" and slots.get("pending_item"):
        return "size"
    for name in REQUIRED.get(intent, ()):
        if not slots.get(name):
            return name
    return None


def _ask(slot: str, slots: dict[str, Any], *, again: bool = False, intent: str | None = None) -> str:
    table = ASK_AGAIN if again else ASK
    template = table.get(f"{slot}:{intent}", table[slot])
    if slot == "size":
        pending = slots.get("pending_item") or {}
        return template.format(item=topic(pending.get("name", "")), sizes=", ".join(pending.get("sizes", [])))
    return template


def _read_back(intent: str, slots: dict[str, Any], ctx: Context) -> str:
    if intent == "bulky_waste":
        items = ", ".join(f"{i['name']}{' ' + i['size'] if i['size'] else ''} {i['qty']}개" for i in slots["items"])
        total = sum(i["fee_krw"] for i in slots["items"])
        day = date.fromisoformat(slots["pickup_date"])
        when = say_date(day, slots.get("pickup_part"))
        return (f"{items}, 수수료는 모두 {krw(total)}입니다. {slots['address']}에서 {when}에 "
                "수거해 드릴게요. 이대로 접수할까요?")
    if intent == "night_duty":
        label = next((lbl for code, lbl, _w in NIGHT_CATEGORIES if code == slots["category"]), "기타 민원")
        return f"{slots['address']}의 {label} 민원으로 당직실에 접수할게요. 맞으신가요?"
    if intent == "illegal_parking":
        return (f"{slots['address']}에 세워진 {slots['plate']} 차량을 불법 주정차로 신고할게요. "
                "단속반에 단속 요청을 보내도 될까요?")
    if intent == "local_tax_refund":
        return f"{slots.get('bank') or ''} 계좌 끝자리 {str(slots['account'])[-4:]}로 환급 청구를 접수할까요?".strip()
    return ""


def _outcome(intent: str, slots: dict[str, Any], *, urgent: bool = False) -> Outcome:
    address = slots.get("address")
    area = sx.area_of(address)
    rural = bool(area and area.endswith(("읍", "면")))
    if intent == "bulky_waste":
        items = slots["items"]
        total = sum(i["fee_krw"] for i in items)
        day = date.fromisoformat(slots["pickup_date"])
        desc = "대형폐기물 수거: " + ", ".join(f"{i['name']} {i['size']} x{i['qty']}".replace("  ", " ") for i in items)
        dept = f"{area} 행정복지센터" if rural else DEPARTMENTS["bulky_waste"]
        return Outcome("bulky_waste", dept, area, desc, address,
                       {"items": items, "pickup_part": slots.get("pickup_part")}, fee_krw=total,
                       scheduled_date=day)
    if intent == "night_duty":
        category = slots.get("category") or "other"
        label = next((lbl for code, lbl, _w in NIGHT_CATEGORIES if code == category), "기타")
        desc = f"야간 당직민원({label}): {slots.get('summary', '')}".strip()
        dept = DUTY_OFFICER if urgent else NIGHT_DEPARTMENTS.get(category, "당직실")
        return Outcome("night_duty", dept, area, desc, address, {"category": category}, urgent=urgent,
                       status="assigned" if urgent else "received")
    if intent == "illegal_parking":
        dept = f"{area} 행정복지센터" if rural else DEPARTMENTS["illegal_parking"]
        return Outcome("illegal_parking", dept, area, f"불법 주정차 단속 요청: {slots['plate']}", address,
                       {"plate": slots["plate"], "seen_at": slots.get("seen_at")})
    return Outcome("local_tax_refund", DEPARTMENTS["local_tax_refund"], None, "지방세 환급금 계좌 입금 청구",
                   None, {"bank": slots.get("bank"), "account": slots.get("account"),
                          "refunds": slots.get("refunds", []), "total_krw": slots.get("refund_total_krw")})


def step(call: CallState, text: str, prediction: Prediction | None, ctx: Context) -> StepResult:
    """Advance the dialogue by one caller utterance."""
    text = (text or "").strip()
    slots = dict(call.slots)
    intent = call.intent
    failures = call.failures

    def result(reply: str, state: str, **kw: Any) -> StepResult:
        return StepResult(reply=reply, intent=intent, confidence=prediction.confidence if prediction else None,
                          state=state, slots=slots, failures=failures, **kw)

    def fail(reply: str) -> StepResult:
        nonlocal failures
        failures += 1
        if failures >= MAX_FAILURES:
            return result(HANDOFF["not_understood"], "handoff", handoff_reason="not_understood", ended=True,
                          understood=False)
        return result(reply, call.state, understood=False)

    if wants_person(text) or (prediction and prediction.intent == "human_agent"
                              and prediction.confidence >= 0.7 and call.state in ("greeting", "confirm")):
        intent = intent or "human_agent"
        return result(HANDOFF["caller_asked"], "handoff", handoff_reason="caller_asked", ended=True)
    if not text or not re.search(r"[가-힣0-9]", text):
        if re.search(r"[A-Za-z]{2}", text):
            return fail("죄송해요, 한국어로만 안내해 드릴 수 있어요. "
                        "한국어로 말씀해 주시거나 '상담원'이라고 말씀해 주세요.")
        if call.state == "greeting":
            again = MENU
        elif call.state.startswith("collect:"):
            again = _ask(call.state.removeprefix("collect:"), slots, intent=intent)
        else:
            again = "다시 말씀해 주시겠어요?"
        return fail("죄송해요, 잘 듣지 못했어요. " + again)

    if call.state == "greeting":
        if prediction is None or prediction.confidence < CONFIDENCE_MIN:
            return fail("죄송해요, 잘 이해하지 못했어요. " + MENU)
        if prediction.intent == "out_of_scope":
            return fail("그 업무는 제가 도와드리기 어려워요. " + MENU
                        + " 상담원이 필요하시면 '상담원'이라고 말씀해 주세요.")
        intent = prediction.intent
        if intent == "human_agent":
            return result(HANDOFF["caller_asked"], "handoff", handoff_reason="caller_asked", ended=True)
        _extract(intent, text, slots, ctx, None)
        if intent == "night_duty" and slots.get("urgent"):
            return result(HANDOFF["urgent"], "handoff", handoff_reason="urgent", ended=True,
                          outcome=_outcome(intent, slots, urgent=True))
        return _next(intent, slots, ctx, result)

    if call.state == "confirm":
        answer = sx.yes_no(text)
        before = {k: v for k, v in slots.items()}
        _extract(intent or "", text, slots, ctx, None)
        changed = slots != before
        if answer is True and not changed:
            return _finish(intent or "", slots, result)
        if changed:
            return _next(intent or "", slots, ctx, result)
        if answer is False:
            keep = {k: v for k, v in slots.items() if k in ("refunds", "refund_total_krw", "birth", "category",
                                                           "summary")}
            slots.clear()
            slots.update(keep)
            first = _missing(intent or "", slots) or "address"
            if intent == "local_tax_refund":
                first = "account"
            return result("알겠습니다. 처음부터 다시 여쭤볼게요. " + _ask(first, slots, intent=intent),
                          f"collect:{first}")
        return fail("'네' 또는 '아니요'로 말씀해 주세요. " + _read_back(intent or "", slots, ctx))

    if call.state == "offer_account":
        answer = sx.yes_no(text)
        bank, account = sx.find_bank_account(text)
        if account:
            slots.update({"bank": bank, "account": account})
            return result(_read_back("local_tax_refund", slots, ctx), "confirm")
        if answer is True:
            return result(ASK["account"], "collect:account")
        if answer is False:
            return result("알겠습니다. 위택스나 시청 세무과에서 언제든 청구하실 수 있어요. 전화 주셔서 감사합니다.",
                          "done", ended=True)
        return fail("환급금을 계좌로 받으시겠어요? '네' 또는 '아니요'로 말씀해 주세요.")

    asking = call.state.removeprefix("collect:")
    problems = _extract(intent or "", text, slots, ctx, asking)
    # A value given but invalid is a failure; so is an answer that moved nothing forward. An answer that
    # filled another slot (the address when the date was asked) is progress: ask on without counting it.
    if problems.get(asking) == "invalid" or not _progress(call.slots, slots):
        return fail(_ask(asking, slots, again=True, intent=intent))
    if intent == "night_duty" and slots.get("urgent"):
        return result(HANDOFF["urgent"], "handoff", handoff_reason="urgent", ended=True,
                      outcome=_outcome(intent, slots, urgent=True))
    return _next(intent or "", slots, ctx, result)


def _progress(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return before != after


def _next(intent: str, slots: dict[str, Any], ctx: Context, result: Callable[..., StepResult]) -> StepResult:
    missing = _missing(intent, slots)
    if missing:
        return result(_ask(missing, slots, intent=intent), f"collect:{missing}")
    if intent == "local_tax_refund" and "refunds" not in slots:
        refunds = ctx.find_refunds(slots["birth"])
        slots["refunds"] = refunds
        slots["refund_total_krw"] = sum(r["amount_krw"] for r in refunds)
        if not refunds:
            return result("확인해 보니 지금 돌려받으실 지방세 환급금은 없어요. 전화 주셔서 감사합니다.", "done",
                          ended=True)
        listing = ", ".join(f"{r['tax_type']} {krw(r['amount_krw'])}" for r in refunds)
        return result(f"돌려받으실 환급금이 있어요. {listing}, 모두 {krw(slots['refund_total_krw'])}입니다. "
                      "위택스나 시청 세무과에서 청구하실 수 있고, 지금 계좌를 말씀해 주시면 바로 접수해 드려요. "
                      "계좌로 받으시겠어요?", "offer_account")
    if intent == "local_tax_refund" and not slots.get("account"):
        return result(ASK["account"], "collect:account")
    return result(_read_back(intent, slots, ctx), "confirm")


def _finish(intent: str, slots: dict[str, Any], result: Callable[..., StepResult]) -> StepResult:
    outcome = _outcome(intent, slots)
    if intent == "bulky_waste":
        reply = (f"접수되었습니다. 수수료 {krw(outcome.fee_krw or 0)}은 문자로 보내 드리는 납부번호로 내 주시고, "
                 "물건에는 접수번호를 적어 내놓아 주세요. 접수번호는 {ref}입니다. 감사합니다.")
    elif intent == "night_duty":
        reply = "당직실에 접수되었습니다. 담당 부서가 확인하고 처리할게요. 접수번호는 {ref}입니다."
    elif intent == "illegal_parking":
        reply = "단속 요청을 보냈습니다. 단속반이 현장을 확인할 거예요. 접수번호는 {ref}입니다. 감사합니다."
    else:
        reply = "환급 청구가 접수되었습니다. 확인 후 말씀하신 계좌로 입금해 드려요. 접수번호는 {ref}입니다."
    return result(reply, "done", ended=True, outcome=outcome, refund_claim=intent == "local_tax_refund")
