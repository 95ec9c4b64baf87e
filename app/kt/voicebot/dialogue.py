"""The dialogue state machine: one caller utterance in, the text to speak out.

Pure logic over the call's state (no database): the service loads the state, calls :func:`step`, and
persists what it returns. States: ``greeting`` (what is the call about), ``collect:<slot>`` (asking
for one slot), ``confirm`` (the pending order read back, yes/no), ``offer_claim`` (tax refund: file the
claim with a staff call-back?), ``done`` and ``handoff`` (terminal). Each state is one named step
(``_step_greeting``, ``_step_collect``, ``_step_confirm``...), each kind of slot one extractor
(``_take_items``, ``_take_address``...), so each can be tested alone.

What is read back is what is filed: the read-back is spoken from the pending order (``pending_order``),
kept in the call's slots as ``order``, and the caller's "네" files that same structure.

Rules that protect callers: asking for a person hands off at once; a second failure to understand
(low confidence, out of scope, a slot that does not validate, silence) hands off too, except that the
second miss on a slot with a short list of choices offers them by name first; urgent night
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
    "faq_unanswered": "그 내용은 제가 안내해 드릴 수 없어서 담당 직원이 알려 드릴게요. 바로 연결해 드릴게요.",
    "faq_area_unanswered": "{area}의 {title} 안내는 제게 없어서 담당 직원이 알려 드릴게요. 바로 연결해 드릴게요.",
}
# "쓰레기 버리는 날이 언제예요": a question about household waste days (an FAQ), not a bulky-waste booking.
WASTE_SCHEDULE = re.compile(r"(?:쓰레기|분리\s*수거|재활용|음식물|종량제).*(?:언제|요일|무슨\s*날|날이|몇\s*시|시간)|"
                            r"(?:언제|무슨\s*요일).*(?:쓰레기|분리\s*수거|재활용|음식물)")

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


@dataclass(frozen=True)
class FaqLine:
    """One answer of the municipality's FAQ table: ``area`` None answers for the whole municipality."""

    id: int
    topic: str
    title: str
    area: str | None
    keywords: tuple[str, ...]
    answer: str


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
    """What the dialogue may consult: today, the municipality's fee table, the caller's refunds due, the
    municipality's FAQ table."""

    today: date
    fee_table: list[FeeLine]
    find_refunds: Callable[[str], list[dict[str, Any]]]  # birth YYMMDD -> [{tax_type, amount_krw, reason}]
    faq: list[FaqLine] = field(default_factory=list)


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
    "faq_area": "{title}은 동네마다 달라요. 사시는 동 이름을 말씀해 주세요. 예를 들면 '{example}'처럼요.",
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
    "faq_area": "어느 동인지 알아듣지 못했어요. '{example}'처럼 동 이름으로 말씀해 주세요.",
    "size": "크기를 알아듣지 못했어요. {sizes} 중에서 말씀해 주세요.",
}


def _size_matches(label: str, said: str | None) -> bool:
    if not label:
        return True
    if not said:
        return False
    bounded = re.search(r"이상|이하|미만|초과", label)
    if not bounded and (label in said or said in label):
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
    return bool(bounded) and said.replace(" ", "") == label.replace(" ", "")


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


def night_category(text: str) -> str | None:
    for code, _label, words in NIGHT_CATEGORIES:
        if any(w in text for w in words):
            return code
    return None


def is_urgent(text: str) -> bool:
    return any(w in text for w in URGENT_WORDS)



# --- items ------------------------------------------------------------------------------------

# Words that join the items of one sentence ("소파랑 장롱", "침대, 매트리스", "냉장고 하고 세탁기").
_JOINER = re.compile(r",|그리고|이랑|하고|및|랑|(?<=[가-힣])[와과]\s|또")
_REMOVE = re.compile(r"빼|말고|없어|안\s*버|취소|필요\s*없")


def size_unit(lines: list[FeeLine]) -> str | None:
    """The unit of an item's sizes (cm, 리터), for a bare number ("120 넘어요")."""
    for unit in ("cm", "리터", "인치"):
        if any(unit in line.size for line in lines):
            return unit
    return None


def _item_hits(text: str, by_name: dict[str, list[FeeLine]]) -> list[tuple[int, int, str]]:
    """Where each item is named, longest words first (김치냉장고 before 냉장고, 티비장 before 티비), spaces
    allowed inside; a one-syllable word (문) only standing alone or before a particle."""
    words = sorted({(w.replace(" ", ""), name) for name, lines in by_name.items()
                    for w in (name, *[a for line in lines for a in line.aliases]) if w.strip()},
                   key=lambda pair: len(pair[0]), reverse=True)
    taken = [False] * len(text)
    hits = []
    for word, name in words:
        pattern = r"\s?".join(re.escape(ch) for ch in word)
        if len(word) == 1:
            pattern = rf"(?<![가-힣]){pattern}(?=[이을은도랑짝과와\s,.]|$)"
        for m in re.finditer(pattern, text):
            if not any(taken[m.start():m.end()]):
                taken[m.start():m.end()] = [True] * (m.end() - m.start())
                hits.append((m.start(), m.end(), name))
    return sorted(hits)


def _segments(text: str, hits: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """Each named item with the words that belong to it: those after it up to the next joiner belong to it,
    those before it back to the previous joiner too ("3인용 소파 하나랑 장롱 큰 거")."""
    out = []
    for i, (start, end, name) in enumerate(hits):
        left = hits[i - 1][1] if i else 0
        before = text[left:start]
        joiners = list(_JOINER.finditer(before))
        head = before[joiners[-1].end():] if joiners else (before if i == 0 else "")
        right = hits[i + 1][0] if i + 1 < len(hits) else len(text)
        after = text[end:right]
        if i + 1 < len(hits):
            joiner = _JOINER.search(after)
            after = after[:joiner.start()] if joiner else after
        out.append((name, f"{head}{text[start:end]}{after}"))
    return out


def find_items(text: str, fee_table: list[FeeLine]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Items the caller named, each with its own size and count and its fee; the second value lists items
    whose size must be asked. An item said with 빼/말고 ("소파는 빼 주세요") comes with ``remove``."""
    text = sx.to_digits(text)
    by_name: dict[str, list[FeeLine]] = {}
    for line in fee_table:
        by_name.setdefault(line.name, []).append(line)
    found: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for name, words in _segments(text, _item_hits(text, by_name)):
        lines = by_name[name]
        qty = sx.quantity_said(words)
        if _REMOVE.search(words):
            found.append({"name": name, "remove": True})
            continue
        match = line_for_size(lines, sx.find_size(words, size_unit(lines)))
        if match is None and len(lines) == 1:
            match = lines[0]
        if match is None:
            pending.append({"name": name, "qty": qty or 1, "sizes": [line.size for line in lines]})
            continue
        found.append(_item(match, qty or 1, explicit=qty is not None))
    return found, pending


def _item(line: FeeLine, qty: int, *, explicit: bool = True) -> dict[str, Any]:
    item = {"name": line.name, "size": line.size, "qty": qty, "unit_fee_krw": line.fee_krw,
            "fee_krw": line.fee_krw * qty}
    if not explicit:
        item["qty_assumed"] = True
    return item


def merge_items(current: list[dict[str, Any]], said: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items after what the caller just said: new ones added, a count said again replaces the old one
    ("매트리스 두 개요"), an item said with 빼/말고 removed."""
    items = [dict(i) for i in current]
    for new in said:
        if new.get("remove"):
            items = [i for i in items if i["name"] != new["name"]]
            continue
        same = next((i for i in items if (i["name"], i["size"]) == (new["name"], new["size"])), None)
        if same is None:
            items.append({k: v for k, v in new.items() if k != "qty_assumed"})
        elif not new.get("qty_assumed"):
            same.update(qty=new["qty"], fee_krw=new["unit_fee_krw"] * new["qty"])
    return items


# --- extraction: one named step per kind of slot --------------------------------------------------

Problems = dict[str, str]  # slot -> "invalid" (a value given that does not fit) | "missing" (nothing given)


def _take_address(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    address = sx.find_address(text)
    if address and intent in ("bulky_waste", "night_duty", "illegal_parking"):
        slots["address"] = address
    return {}


def _take_size_answer(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    """The size of the item asked about: a size word, a bare number in the item's unit, a size label read
    back as offered ("120cm 이상"), or the place of a choice offered by name ("두 번째")."""
    pending = slots.get("pending_item")
    if asking != "size" or not pending:
        return {}
    candidates = [line for line in ctx.fee_table if line.name == pending["name"]]
    said = sx.find_size(text, size_unit(candidates))
    compact = text.replace(" ", "")
    line = line_for_size(candidates, said) if said else None
    if line is None:
        line = next((c for c in candidates if c.size and c.size.replace(" ", "") in compact), None)
    if line is None and (index := sx.ordinal(text)) is not None and -len(candidates) <= index < len(candidates):
        line = candidates[index]
    if line is None:
        return {"size": "invalid" if said else "missing"}
    qty = sx.quantity_said(text) or pending["qty"]
    slots["items"] = merge_items(slots.get("items", []), [_item(line, qty)])
    _next_pending(slots)
    return {}


def _next_pending(slots: dict[str, Any]) -> None:
    queue = list(slots.pop("pending_queue", []))
    slots.pop("pending_item", None)
    if queue:
        slots["pending_item"] = queue.pop(0)
    if queue:
        slots["pending_queue"] = queue


def _take_items(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    items, pending = find_items(text, ctx.fee_table)
    if items:
        slots["items"] = merge_items(slots.get("items", []), items)
    named = {i["name"] for i in items}
    queue = [p for p in [slots.get("pending_item"), *slots.get("pending_queue", [])] if p and p["name"] not in named]
    queue += [p for p in pending if p["name"] not in {q["name"] for q in queue}]
    slots.pop("pending_item", None)
    slots.pop("pending_queue", None)
    if queue:
        slots["pending_item"] = queue[0]
    if queue[1:]:
        slots["pending_queue"] = queue[1:]
    if not items and not pending and asking == "items":
        return {"items": "missing"}
    return {}


def _take_pickup_date(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    when = sx.parse_when(text, today=ctx.today)
    day = when.day
    if day is None and asking == "pickup_date" and (index := sx.ordinal(text)) is not None:
        offered = pickup_choices(ctx.today)
        day = offered[index] if -len(offered) <= index < len(offered) else None
    if day is None:
        return {"pickup_date": "missing"} if asking == "pickup_date" else {}
    if not pickup_allowed(day, ctx.today):
        return {"pickup_date": "invalid"}
    slots["pickup_date"] = day.isoformat()
    if when.part:
        slots["pickup_part"] = when.part
    return {}


def pickup_allowed(day: date, today: date) -> bool:
    return today < day <= today + timedelta(days=30) and day.weekday() != 6


def pickup_choices(today: date, count: int = 3) -> list[date]:
    """The first days a pickup can be booked, offered by name after two misses."""
    days, day = [], today
    while len(days) < count:
        day += timedelta(days=1)
        if pickup_allowed(day, today):
            days.append(day)
    return days


def _take_amount(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    amount = sx.find_amount(text)
    if amount:
        slots["amount_said_krw"] = amount
    return {}


def _take_category(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    category = night_category(text)
    if category is None and asking == "category" and (index := sx.ordinal(text)) is not None:
        codes = [code for code, _l, _w in NIGHT_CATEGORIES]
        category = codes[index] if -len(codes) <= index < len(codes) else None
    if category:
        slots["category"] = category
    elif asking == "category" and text.strip():
        slots["category"] = "other"
    if is_urgent(text):
        slots["urgent"] = True
    if text.strip() and asking in (None, "category"):
        slots.setdefault("summary", text.strip()[:200])
    return {}


def _take_plate(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    plate, attempted = sx.find_plate(text)
    if plate:
        slots["plate"] = plate
    elif attempted:
        return {"plate": "invalid"}
    elif asking == "plate":
        return {"plate": "missing"}
    return {}


def _take_seen_at(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    when = sx.parse_when(text, today=ctx.today)
    if when.day or when.hour is not None or sx.says_recently(text):
        day = when.day or ctx.today
        slots["seen_at"] = f"{day.isoformat()}" + (f" {when.hour:02d}:00" if when.hour is not None else "")
    elif asking == "seen_at":
        if any(w in text for w in ("몰라", "모르")):
            slots["seen_at"] = ctx.today.isoformat()
        else:
            return {"seen_at": "missing"}
    return {}


def _take_birth(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    birth = sx.find_birth(text)
    if birth:
        slots["birth"] = birth
    elif asking == "birth":
        return {"birth": "missing"}
    return {}


Extractor = Callable[[str, str, dict[str, Any], Context, str | None], Problems]
EXTRACTORS: dict[str, tuple[Extractor, ...]] = {
    "bulky_waste": (_take_address, _take_size_answer, _take_items, _take_pickup_date, _take_amount),
    "night_duty": (_take_address, _take_category),
    "illegal_parking": (_take_address, _take_plate, _take_seen_at),
    "local_tax_refund": (_take_birth,),
}


def _extract(intent: str, text: str, slots: dict[str, Any], ctx: Context, asking: str | None) -> Problems:
    """Merge what ``text`` says into ``slots``, one named step per kind of slot; returns slot -> problem."""
    problems: Problems = {}
    for take in EXTRACTORS.get(intent, ()):
        problems.update(take(intent, text, slots, ctx, asking))
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
    if slot == "faq_area":
        return template.format(title=slots.get("faq_title", ""), example=(slots.get("faq_areas") or ["창전동"])[0])
    return template


ORDINALS = ("첫 번째", "두 번째", "세 번째", "네 번째", "다섯 번째", "여섯 번째", "일곱 번째")


def offer_choices(slot: str, slots: dict[str, Any], ctx: Context) -> str | None:
    """After two misses on one slot, the choices by name, each with its place ("두 번째"); None for a slot
    without a short list of choices (an address, a plate)."""
    if slot == "size" and slots.get("pending_item"):
        names = [s for s in slots["pending_item"]["sizes"]]
        head = f"{topic(slots['pending_item']['name'])} 크기에 따라 골라 주세요."
    elif slot == "category":
        names = [label for _c, label, _w in NIGHT_CATEGORIES] + ["기타"]
        head = "어떤 불편인지 골라 주세요."
    elif slot == "pickup_date":
        names = [say_date(d) for d in pickup_choices(ctx.today)]
        head = "가장 빠른 수거일을 알려 드릴게요."
    elif slot == "faq_area" and slots.get("faq_areas"):
        names = list(slots["faq_areas"])
        head = "사시는 동을 골라 주세요."
    elif slot == "items":
        names = list(dict.fromkeys(line.name for line in ctx.fee_table))[:5]
        head = "자주 버리시는 물건은"
        return f"{head} {', '.join(names)}이에요. 이 중에 있으면 이름을 말씀해 주세요."
    else:
        return None
    listing = ", ".join(f"{ORDINALS[i]} {name}" for i, name in enumerate(names[:len(ORDINALS)]))
    return f"{head} {listing}. 번호나 이름으로 말씀해 주세요."


# --- the pending order: what is read back is what is filed --------------------------------------

def pending_order(intent: str, slots: dict[str, Any]) -> dict[str, Any]:
    """The request as it will be filed: the read-back speaks it and the confirmation files this same
    structure, so the caller's "네" confirms exactly what is filed."""
    if intent == "bulky_waste":
        items = [{k: i[k] for k in ("name", "size", "qty", "unit_fee_krw", "fee_krw")} for i in slots["items"]]
        return {"items": items, "fee_krw": sum(i["fee_krw"] for i in items), "address": slots["address"],
                "pickup_date": slots["pickup_date"], "pickup_part": slots.get("pickup_part")}
    if intent == "night_duty":
        return {"category": slots.get("category") or "other", "address": slots.get("address"),
                "summary": slots.get("summary", "")}
    if intent == "illegal_parking":
        return {"address": slots["address"], "plate": slots["plate"], "seen_at": slots.get("seen_at")}
    if intent == "local_tax_refund":
        return {"refunds": slots.get("refunds", []), "total_krw": slots.get("refund_total_krw"), "callback": True}
    return {}


def say_items(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{i['name']}{' ' + i['size'] if i['size'] else ''} {i['qty']}개" for i in items)


def read_back(intent: str, order: dict[str, Any]) -> str:
    if intent == "bulky_waste":
        when = say_date(date.fromisoformat(order["pickup_date"]), order.get("pickup_part"))
        return (f"{say_items(order['items'])}, 수수료는 모두 {krw(order['fee_krw'])}입니다. {order['address']}에서 "
                f"{when}에 수거해 드릴게요. 이대로 접수할까요?")
    if intent == "night_duty":
        label = next((lbl for code, lbl, _w in NIGHT_CATEGORIES if code == order["category"]), "기타 민원")
        return f"{order['address']}의 {label} 민원으로 당직실에 접수할게요. 맞으신가요?"
    if intent == "illegal_parking":
        return (f"{order['address']}에 세워진 {order['plate']} 차량을 불법 주정차로 신고할게요. "
                "단속반에 단속 요청을 보내도 될까요?")
    return ""


def outcome_of(intent: str, order: dict[str, Any], *, urgent: bool = False) -> Outcome:
    """The service request for a confirmed order (or an urgent night complaint)."""
    address = order.get("address")
    area = sx.area_of(address)
    rural = bool(area and area.endswith(("읍", "면")))
    if intent == "bulky_waste":
        items = order["items"]
        desc = "대형폐기물 수거: " + ", ".join(f"{i['name']} {i['size']} x{i['qty']}".replace("  ", " ") for i in items)
        dept = f"{area} 행정복지센터" if rural else DEPARTMENTS["bulky_waste"]
        return Outcome("bulky_waste", dept, area, desc, address,
                       {"items": items, "pickup_part": order.get("pickup_part")}, fee_krw=order["fee_krw"],
                       scheduled_date=date.fromisoformat(order["pickup_date"]))
    if intent == "night_duty":
        category = order["category"]
        label = next((lbl for code, lbl, _w in NIGHT_CATEGORIES if code == category), "기타")
        desc = f"야간 당직민원({label}): {order.get('summary', '')}".strip()
        dept = DUTY_OFFICER if urgent else NIGHT_DEPARTMENTS.get(category, "당직실")
        return Outcome("night_duty", dept, area, desc, address, {"category": category}, urgent=urgent,
                       status="assigned" if urgent else "received")
    if intent == "illegal_parking":
        dept = f"{area} 행정복지센터" if rural else DEPARTMENTS["illegal_parking"]
        return Outcome("illegal_parking", dept, area, f"불법 주정차 단속 요청: {order['plate']}", address,
                       {"plate": order["plate"], "seen_at": order.get("seen_at")})
    return Outcome("local_tax_refund", DEPARTMENTS["local_tax_refund"], None,
                   "지방세 환급 청구: 담당 직원이 전화로 본인 확인과 입금 계좌를 확인", None,
                   {"refunds": order.get("refunds", []), "total_krw": order.get("total_krw"), "callback": True})


# --- the dialogue: one named step per state ------------------------------------------------------

@dataclass
class Turn:
    """One caller utterance being handled: what the steps share."""

    call: CallState
    text: str
    prediction: Prediction | None
    ctx: Context
    slots: dict[str, Any]
    intent: str | None
    failures: int

    def result(self, reply: str, state: str, **kw: Any) -> StepResult:
        return StepResult(reply=reply, intent=self.intent, state=state, slots=self.slots, failures=self.failures,
                          confidence=self.prediction.confidence if self.prediction else None, **kw)

    def fail(self, reply: str, *, slot: str | None = None) -> StepResult:
        """A miss: asked again once; on a slot with choices the second miss offers them by name; the next
        miss hands off (an elderly caller is never trapped in a loop)."""
        self.failures += 1
        if slot:
            misses = dict(self.slots.get("misses", {}))
            misses[slot] = misses.get(slot, 0) + 1
            self.slots["misses"] = misses
            if misses[slot] == 2 and (choices := offer_choices(slot, self.slots, self.ctx)):
                return self.result(choices, self.call.state, understood=False)
        offered = any(n >= 2 for n in self.slots.get("misses", {}).values())
        if self.failures >= MAX_FAILURES + (1 if offered else 0):
            return self.result(HANDOFF["not_understood"], "handoff", handoff_reason="not_understood", ended=True,
                               understood=False)
        return self.result(reply, self.call.state, understood=False)


def step(call: CallState, text: str, prediction: Prediction | None, ctx: Context) -> StepResult:
    """Advance the dialogue by one caller utterance."""
    turn = Turn(call=call, text=(text or "").strip(), prediction=prediction, ctx=ctx, slots=dict(call.slots),
                intent=call.intent, failures=call.failures)
    for guard in (_step_person, _step_silence):
        if (res := guard(turn)) is not None:
            return res
    if call.state == "greeting":
        return _step_faq(turn) or _step_greeting(turn)
    if call.state == "collect:faq_area":
        return _step_faq_area(turn)
    if call.state == "confirm":
        return _step_confirm(turn)
    if call.state == "offer_claim":
        return _step_offer_claim(turn)
    return _step_collect(turn)


def _step_person(turn: Turn) -> StepResult | None:
    """Asking for a person hands off at once, in any state."""
    p = turn.prediction
    if wants_person(turn.text) or (p and p.intent == "human_agent" and p.confidence >= 0.7
                                   and turn.call.state in ("greeting", "confirm")):
        turn.intent = turn.intent or "human_agent"
        return turn.result(HANDOFF["caller_asked"], "handoff", handoff_reason="caller_asked", ended=True)
    return None


def _step_silence(turn: Turn) -> StepResult | None:
    """Silence, noise or another language: asked again (counted as a miss)."""
    text, state = turn.text, turn.call.state
    if text and re.search(r"[가-힣0-9]", text):
        return None
    if re.search(r"[A-Za-z]{2}", text):
        return turn.fail("죄송해요, 한국어로만 안내해 드릴 수 있어요. "
                         "한국어로 말씀해 주시거나 '상담원'이라고 말씀해 주세요.")
    if state == "greeting":
        again = MENU
    elif state.startswith("collect:"):
        again = _ask(state.removeprefix("collect:"), turn.slots, intent=turn.intent)
    else:
        again = "다시 말씀해 주시겠어요?"
    return turn.fail("죄송해요, 잘 듣지 못했어요. " + again)


def _step_greeting(turn: Turn) -> StepResult:
    """What the call is about; whatever slots the first sentence already gives are taken."""
    p = turn.prediction
    if p is None or p.confidence < CONFIDENCE_MIN:
        return turn.fail("죄송해요, 잘 이해하지 못했어요. " + MENU)
    if p.intent == "out_of_scope":
        return turn.fail("그 업무는 제가 도와드리기 어려워요. " + MENU
                         + " 상담원이 필요하시면 '상담원'이라고 말씀해 주세요.")
    # "faq" reaches here only when the caller named bulky items or 대형 ("냉장고 버리는 날"): a booking.
    turn.intent = "bulky_waste" if p.intent == "faq" else p.intent
    if turn.intent == "human_agent":
        return turn.result(HANDOFF["caller_asked"], "handoff", handoff_reason="caller_asked", ended=True)
    _extract(turn.intent, turn.text, turn.slots, turn.ctx, None)
    return _urgent(turn) or _next(turn)


def _urgent(turn: Turn) -> StepResult | None:
    if turn.intent == "night_duty" and turn.slots.get("urgent"):
        return turn.result(HANDOFF["urgent"], "handoff", handoff_reason="urgent", ended=True,
                           outcome=outcome_of("night_duty", pending_order("night_duty", turn.slots), urgent=True))
    return None


def _step_confirm(turn: Turn) -> StepResult:
    """The read-back: "네" files the order read back; a new value ("아니요, 침대도요", "모레요") changes the
    order and reads it back again; a bare "아니요" starts the slots again."""
    intent = turn.intent or ""
    answer = sx.yes_no(turn.text)
    before = pending_order(intent, turn.slots) if intent else {}
    _extract(intent, turn.text, turn.slots, turn.ctx, None)
    changed = _order_changed(intent, turn.slots, before)
    if answer is True and not changed:
        return _finish(turn, turn.slots.get("order") or before)
    if changed:
        return _next(turn)
    if answer is False:
        keep = {k: v for k, v in turn.slots.items() if k in ("refunds", "refund_total_krw", "birth", "category",
                                                             "summary")}
        turn.slots.clear()
        turn.slots.update(keep)
        first = _missing(intent, turn.slots) or "address"
        return turn.result("알겠습니다. 처음부터 다시 여쭤볼게요. " + _ask(first, turn.slots, intent=intent),
                           f"collect:{first}")
    return turn.fail("'네' 또는 '아니요'로 말씀해 주세요. " + read_back(intent, turn.slots.get("order") or before))


def _order_changed(intent: str, slots: dict[str, Any], before: dict[str, Any]) -> bool:
    if slots.get("pending_item"):
        return True
    try:
        return pending_order(intent, slots) != before
    except KeyError:
        return True


def _step_offer_claim(turn: Turn) -> StepResult:
    """Tax refund: file the claim and book a staff call-back (no account is ever taken by voice)."""
    answer = sx.yes_no(turn.text)
    if answer is True:
        return _finish(turn, pending_order("local_tax_refund", turn.slots))
    if answer is False:
        return turn.result("알겠습니다. 위택스나 시청 세무과에서 언제든 청구하실 수 있어요. 전화 주셔서 감사합니다.",
                           "done", ended=True)
    return turn.fail("환급 청구를 접수하고 담당 직원의 전화를 받으시겠어요? '네' 또는 '아니요'로 말씀해 주세요.")


def _step_collect(turn: Turn) -> StepResult:
    """Asking for one slot. An answer that fills another slot (the address when the size was asked) is
    progress: taken, and the slot asked again without counting a miss. A value given but invalid, or an
    answer that moves nothing, is a miss."""
    asking = turn.call.state.removeprefix("collect:")
    before = dict(turn.slots)
    problems = _extract(turn.intent or "", turn.text, turn.slots, turn.ctx, asking)
    progressed = _progress(before, turn.slots)
    if not progressed or (problems.get(asking) == "invalid" and _missing(turn.intent or "", turn.slots) == asking
                          and not _other_slot_filled(before, turn.slots, asking)):
        return turn.fail(_ask(asking, turn.slots, again=True, intent=turn.intent), slot=asking)
    return _urgent(turn) or _next(turn)


def _other_slot_filled(before: dict[str, Any], after: dict[str, Any], asking: str) -> bool:
    ignore = {asking, "misses", "summary", "amount_said_krw"}
    return any(after.get(k) != before.get(k) for k in set(before) | set(after) if k not in ignore)


def _progress(before: dict[str, Any], after: dict[str, Any]) -> bool:
    strip = ("misses",)
    return {k: v for k, v in before.items() if k not in strip} != {k: v for k, v in after.items() if k not in strip}


def _next(turn: Turn) -> StepResult:
    """Ask for the next missing slot, or read the pending order back."""
    intent, slots = turn.intent or "", turn.slots
    missing = _missing(intent, slots)
    if missing:
        return turn.result(_ask(missing, slots, intent=intent), f"collect:{missing}")
    if intent == "local_tax_refund":
        return _refunds_due(turn)
    slots["order"] = pending_order(intent, slots)
    return turn.result(read_back(intent, slots["order"]), "confirm")


def _refunds_due(turn: Turn) -> StepResult:
    """Explain the refunds due to the identified caller, and offer to file the claim with a call-back."""
    slots = turn.slots
    refunds = turn.ctx.find_refunds(slots["birth"])
    slots["refunds"] = refunds
    slots["refund_total_krw"] = sum(r["amount_krw"] for r in refunds)
    if not refunds:
        return turn.result("확인해 보니 지금 돌려받으실 지방세 환급금은 없어요. 전화 주셔서 감사합니다.", "done",
                           ended=True)
    listing = ", ".join(f"{r['tax_type']} {krw(r['amount_krw'])}" for r in refunds)
    return turn.result(
        f"돌려받으실 환급금이 있어요. {listing}, 모두 {krw(slots['refund_total_krw'])}입니다. 환급금은 낸 세금이 "
        "많았거나 고지가 바뀌어 돌려드리는 돈이에요. 위택스나 시청 세무과에서 청구하실 수 있고, 지금 청구를 접수하면 "
        "담당 직원이 전화를 드려 본인 확인과 입금 계좌를 확인해 드려요. 계좌번호는 전화로 말씀하지 마세요. "
        "청구를 접수할까요?", "offer_claim")


def _finish(turn: Turn, order: dict[str, Any]) -> StepResult:
    intent = turn.intent or ""
    outcome = outcome_of(intent, order)
    if intent == "bulky_waste":
        reply = (f"접수되었습니다. 수수료 {krw(outcome.fee_krw or 0)}은 문자로 보내 드리는 납부번호로 내 주시고, "
                 "물건에는 접수번호를 적어 내놓아 주세요. 접수번호는 {ref}입니다. 감사합니다.")
    elif intent == "night_duty":
        reply = "당직실에 접수되었습니다. 담당 부서가 확인하고 처리할게요. 접수번호는 {ref}입니다."
    elif intent == "illegal_parking":
        reply = "단속 요청을 보냈습니다. 단속반이 현장을 확인할 거예요. 접수번호는 {ref}입니다. 감사합니다."
    else:
        reply = "환급 청구가 접수되었습니다. 담당 직원이 곧 전화를 드릴게요. 접수번호는 {ref}입니다."
    return turn.result(reply, "done", ended=True, outcome=outcome, refund_claim=intent == "local_tax_refund")


# --- FAQ: answered from the municipality's table ---------------------------------------------------

SINO_DIGIT = "영일이삼사오육칠팔구"


def faq_topic(text: str, faq: list[FaqLine]) -> str | None:
    """The topic whose keywords the caller said most of (by length, spaces ignored); None when none."""
    said = re.sub(r"\s", "", text)
    scores: dict[str, int] = {}
    for line in faq:
        score = sum(len(k) for k in {re.sub(r"\s", "", w) for w in line.keywords} if k and k in said)
        if score > scores.get(line.topic, 0):
            scores[line.topic] = score
    return max(scores, key=lambda t: scores[t]) if scores else None


def _area_forms(area: str, stems: dict[str, int]) -> list[str]:
    """How a caller says a 동: "옥포1동" as 옥포1동 or 옥포일동; "창전동" also as 창전 when no other area
    shares that stem."""
    compact = re.sub(r"\s", "", area)
    forms = [compact]
    m = re.fullmatch(r"(.+?)(\d)?(동|읍|면|가)", compact)
    if m and m.group(2):
        forms.append(f"{m.group(1)}{SINO_DIGIT[int(m.group(2))]}{m.group(3)}")
    if m and not m.group(2) and len(m.group(1)) >= 2 and stems.get(m.group(1)) == 1:
        forms.append(m.group(1))
    return forms


def find_faq_area(text: str, areas: list[str]) -> str | None:
    """The area of ``areas`` the caller named, the longest form first ("옥포 일동이요" -> 옥포1동)."""
    said = re.sub(r"\s", "", sx.to_digits(text)) + "|" + re.sub(r"\s", "", text)
    stems: dict[str, int] = {}
    for area in areas:
        m = re.fullmatch(r"(.+?)\d?(?:동|읍|면|가)", re.sub(r"\s", "", area))
        if m:
            stems[m.group(1)] = stems.get(m.group(1), 0) + 1
    forms = sorted(((form, area) for area in areas for form in _area_forms(area, stems)),
                   key=lambda pair: len(pair[0]), reverse=True)
    return next((area for form, area in forms if form in said), None)


_NAMED_AREA = re.compile(r"([가-힣]{2,6}\d?(?:동|읍|면))(?=이요|이에요|인데|에\s*살|에서|요|\s|$)")


def named_area(text: str) -> str | None:
    """A 동/읍/면 the caller named ("신둔면이요"), whether or not the table knows it."""
    words = [sx.area_of(text) or ""] + [m.group(1) for m in _NAMED_AREA.finditer(sx.to_digits(text))]
    return next((w for w in words if w and not w.endswith(sx._VERB_ENDINGS) and w not in sx._NOT_PLACE), None)


def is_faq_question(turn: Turn) -> bool:
    """A question for the FAQ table: the classifier says so, or it asks when household waste goes out, or
    the classifier cannot place it but the table's keywords do (a topic staff added). Not when the caller
    says 대형, or names bulky items the classifier also hears as a booking or the table does not know
    ("냉장고 버리는 날이 언제예요" is a booking; the 문 of "민원실 문 열어요" is no item)."""
    p, text = turn.prediction, turn.text
    topic_said = faq_topic(text, turn.ctx.faq) is not None
    asked = bool(WASTE_SCHEDULE.search(text)) or bool(p and p.intent == "faq" and p.confidence >= CONFIDENCE_MIN) \
        or (topic_said and (p is None or p.confidence < CONFIDENCE_MIN or p.intent == "out_of_scope"))
    if not asked or "대형" in text:
        return False
    return not find_items(text, turn.ctx.fee_table)[0] or (topic_said and not (p and p.intent == "bulky_waste"))


def _step_faq(turn: Turn) -> StepResult | None:
    """An FAQ question: answered from the table (asking for the 동 when the answer depends on it); what the
    table does not answer goes to a person."""
    if not is_faq_question(turn):
        return None
    turn.intent = "faq"
    name = faq_topic(turn.text, turn.ctx.faq)
    if name is None:
        return turn.result(HANDOFF["faq_unanswered"], "handoff", handoff_reason="faq_unanswered", ended=True)
    lines = [line for line in turn.ctx.faq if line.topic == name]
    turn.slots.update(faq_topic=name, faq_title=lines[0].title,
                      faq_areas=sorted({line.area for line in lines if line.area}))
    if not turn.slots["faq_areas"]:
        return _faq_answer(turn, lines[0])
    return _faq_for_area(turn, lines, asking=False)


def _step_faq_area(turn: Turn) -> StepResult:
    """The caller's 동 for an FAQ answer that differs per area (by name, or by its place when offered)."""
    lines = [line for line in turn.ctx.faq if line.topic == turn.slots.get("faq_topic")]
    if not lines:  # the table changed during the call
        return turn.result(HANDOFF["faq_unanswered"], "handoff", handoff_reason="faq_unanswered", ended=True)
    return _faq_for_area(turn, lines, asking=True)


def _faq_for_area(turn: Turn, lines: list[FaqLine], *, asking: bool) -> StepResult:
    areas = list(turn.slots.get("faq_areas") or [])
    area = find_faq_area(turn.text, areas)
    if area is None and asking and (index := sx.ordinal(turn.text)) is not None and -len(areas) <= index < len(areas):
        area = areas[index]
    if area is not None:
        return _faq_answer(turn, next(line for line in lines if line.area == area))
    named = named_area(turn.text)
    if named:  # a 동 the table has no answer of its own for: the municipality-wide one, or a person
        general = next((line for line in lines if line.area is None), None)
        if general is not None:
            return _faq_answer(turn, general)
        return turn.result(HANDOFF["faq_area_unanswered"].format(area=named, title=lines[0].title), "handoff",
                           handoff_reason="faq_unanswered", ended=True)
    if asking:
        return turn.fail(_ask("faq_area", turn.slots, again=True), slot="faq_area")
    return turn.result(_ask("faq_area", turn.slots), "collect:faq_area")


def _faq_answer(turn: Turn, line: FaqLine) -> StepResult:
    turn.slots.update(faq_entry_id=line.id, faq_area=line.area)
    head = f"{line.area} {line.title} 안내입니다. " if line.area else f"{line.title} 안내입니다. "
    return turn.result(head + line.answer + " 다른 문의가 있으시면 다시 전화 주세요. 감사합니다.", "done",
                       ended=True)
