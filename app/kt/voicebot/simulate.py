"""Seeded simulated callers: generated dialogues that check the bot files exactly what the caller confirmed.

Each dialogue draws what a caller wants (items with sizes and counts, an address, a pickup date, or a car's
plate and place) and says it the way callers do: several items in one sentence, slots given before they
are asked, Korean numerals (백이십, 두 개, 십이가 삼사오육), fillers and dropped spaces, a forgotten item
added at the read-back ("아니요, 침대도요"). The simulated caller answers what the bot asks and confirms
a read-back only when it matches what it wants.

A share of the callers (drawn from the seed apart from the rest, so the other dialogues stay as they were)
ask the FAQ instead ("쓰레기 버리는 날이 언제예요"), with or without their 동, answering the bot's question
for it by name (창전동이요, 옥포 일동이요, or the name without 동); some name a 동 the table has no answer
for, and must be handed to a person. Such a dialogue is exact when the caller hears the table's answer for
that topic and 동 (or is handed off when the table has none).

Two figures: ``faithful`` (every filed request equals the read-back the caller confirmed: must be all of
them) and ``accuracy`` (the fraction of dialogues filed exactly as the caller wanted). ``dxhub voicebot
simulate`` prints them for a seed range; the test uses a development range and a held-out one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.kt.voicebot import dialogue
from app.kt.voicebot.classifier import Prediction

SINO = "영일이삼사오육칠팔구"
NATIVE_COUNT = {1: ("하나", "한 개"), 2: ("둘", "두 개"), 3: ("셋", "세 개")}
AREAS = [("부발읍", "아미리"), ("장호원읍", "진암리"), ("호법면", "단천리"), ("창전동", None), ("관고동", None),
         ("증포동", None), ("중리동", None)]
APARTMENTS = ["현대아파트", "대우아파트", "롯데캐슬아파트", "푸르지오아파트", "주공아파트"]
ROADS = ["중리천로", "경충대로", "서희로"]
FILLERS = ["어", "음", "저기요", "그러니까", "아"]
WEEKDAY = "월화수목금토일"


def sino(n: int) -> str:
    """A number in Sino-Korean words: 120 → 백이십, 12 → 십이, 3 → 삼."""
    out = ""
    for value, unit in ((1000, "천"), (100, "백"), (10, "십")):
        d, n = divmod(n, value)
        if d:
            out += ("" if d == 1 else SINO[d]) + unit
    return out + (SINO[n] if n else "")


def spoken_digits(digits: str) -> str:
    return "".join("공" if d == "0" else SINO[int(d)] for d in digits)


@dataclass
class Want:
    """What the simulated caller wants filed."""

    intent: str
    items: list[dict[str, Any]] = field(default_factory=list)
    address: str = ""
    said_address: str = ""
    pickup_date: str | None = None
    said_date: str = ""
    plate: str | None = None
    said_plate: str = ""
    forgotten: dict[str, Any] | None = None  # an item said only at the read-back
    faq_topic: str | None = None  # FAQ callers: the question's topic, the 동 and what must be heard
    faq_area: str | None = None
    faq_expected: str | None = None  # the table's answer, or None: the table has none, a person answers


@dataclass
class Result:
    seed: int
    want: Want
    filed: dialogue.Outcome | None
    confirmed: dict[str, Any] | None
    read_back: str | None
    transcript: list[tuple[str, str]]
    state: str = ""
    handoff_reason: str | None = None

    @property
    def faithful(self) -> bool:
        """The filed request equals the read-back the caller confirmed (items, counts, fees, date, address,
        plate), and the read-back said each of them."""
        if self.filed is None:
            return True  # nothing filed: nothing to contradict
        order, said = self.confirmed or {}, self.read_back or ""
        if self.filed.service_code == "bulky_waste":
            items = self.filed.attributes["items"]
            return (items == order.get("items") and self.filed.fee_krw == order.get("fee_krw")
                    and self.filed.address == order.get("address")
                    and self.filed.scheduled_date == date.fromisoformat(order["pickup_date"])
                    and dialogue.say_items(items) in said and dialogue.krw(self.filed.fee_krw or 0) in said
                    and f"{self.filed.address}에서" in said
                    and dialogue.say_date(self.filed.scheduled_date, order.get("pickup_part")) in said)
        if self.filed.service_code == "illegal_parking":
            plate = self.filed.attributes["plate"]
            return (plate == order.get("plate") and self.filed.address == order.get("address")
                    and plate in said and (self.filed.address or "") in said)
        return True

    @property
    def exact(self) -> bool:
        """Filed exactly as the caller wanted."""
        f, w = self.filed, self.want
        if w.intent == "faq":
            last = self.transcript[-1][1] if self.transcript else ""
            if w.faq_expected is None:
                return f is None and self.handoff_reason == "faq_unanswered"
            return f is None and self.state == "done" and w.faq_expected in last
        if f is None:
            return False
        if w.intent == "bulky_waste":
            got = sorted((i["name"], i["size"], i["qty"], i["fee_krw"]) for i in f.attributes["items"])
            want = sorted((i["name"], i["size"], i["qty"], i["fee_krw"]) for i in w.items)
            return (got == want and f.fee_krw == sum(i["fee_krw"] for i in w.items)
                    and _same_place(f.address, w.address)
                    and f.scheduled_date is not None and f.scheduled_date.isoformat() == w.pickup_date)
        return f.attributes.get("plate") == w.plate and _same_place(f.address, w.address)


def _same_place(filed: str | None, wanted: str) -> bool:
    """The same address, whatever the spacing speech recognition gave it ("부발읍아미리")."""
    return re.sub(r"\s", "", filed or "") == re.sub(r"\s", "", wanted)


# --- what a caller says ---------------------------------------------------------------------------

def _size_phrase(rng: random.Random, line: dialogue.FeeLine, lines: list[dialogue.FeeLine]) -> str:
    label = line.size
    m = re.match(r"(\d+)(cm|리터|인용)\s*(미만|이상)?", label)
    if not m:
        return label
    n, unit, bound = int(m.group(1)), m.group(2), m.group(3)
    if unit == "인용":
        return rng.choice([f"{n}인용", f"{sino(n)}인용"])
    spoken_unit = {"cm": rng.choice(["센치", "cm", "센티"]), "리터": "리터"}[unit]
    value = n - rng.choice([10, 20, 30]) if bound == "미만" else n + rng.choice([0, 10, 30])
    extremes = sorted(lines, key=lambda x: x.fee_krw)
    options = [f"{value}{spoken_unit}", f"{sino(value)} {spoken_unit}"]
    if line in (extremes[0], extremes[-1]) and len(lines) > 1:
        options.append("작은 거" if line is extremes[0] else "큰 거")
    if bound == "이상":
        options.append(f"{rng.choice([str(n), sino(n)])} 넘어요")
    return rng.choice(options)


def _count_phrase(rng: random.Random, qty: int, explicit: bool) -> str:
    if not explicit:
        return ""
    return rng.choice([*NATIVE_COUNT[qty], f"{qty}개"])


def item_phrase(rng: random.Random, item: dict[str, Any], fee_table: list[dialogue.FeeLine], *,
                with_size: bool = True) -> str:
    lines = [line for line in fee_table if line.name == item["name"]]
    line = next(line for line in lines if line.size == item["size"])
    name = rng.choice([item["name"]] + [a for a in line.aliases if len(a) > 1 and a != "김치 냉장고"][:1])
    size = _size_phrase(rng, line, lines) if with_size and item["size"] else ""
    count = _count_phrase(rng, item["qty"], item["qty"] > 1 or rng.random() < 0.4)
    parts = [size, name, count] if rng.random() < 0.5 and size and not size.endswith(("거", "요")) else \
        [name, size, count]
    return " ".join(p for p in parts if p)


def _join(rng: random.Random, phrases: list[str]) -> str:
    out = phrases[0]
    for p in phrases[1:]:
        out += rng.choice(["랑 ", ", ", " 하고 ", " 그리고 "]) + p
    return out


def _address(rng: random.Random) -> tuple[str, str]:
    """(the address as filed, the address as said)."""
    area, ri = rng.choice(AREAS)
    head = [area] + ([ri] if ri and rng.random() < 0.8 else [])
    numbers: list[tuple[str, str]] = []
    if rng.random() < 0.5:
        lot = rng.randint(1, 399)
        numbers.append((f"{lot}번지", rng.choice([f"{lot}번지", f"{sino(lot)}번지"])))
    else:
        road, no = rng.choice(ROADS), rng.randint(1, 150)
        numbers.append((f"{road} {no}", f"{road} {no}"))
    if rng.random() < 0.6:
        apt, dong, ho = rng.choice(APARTMENTS), rng.randint(101, 112), rng.choice([101, 202, 303, 1204, 704])
        dong_said = rng.choice([f"{dong}동", f"{spoken_digits(str(dong))}동"])
        numbers.append((f"{apt} {dong}동 {ho}호", f"{apt} {dong_said} {ho}호"))
    filed = " ".join(head + [n[0] for n in numbers])
    said = " ".join(head + [n[1] for n in numbers])
    return filed, said


def _date(rng: random.Random, today: date) -> tuple[date, str]:
    while True:
        day = today + timedelta(days=rng.randint(1, 20))
        if day.weekday() != 6:
            break
    delta = (day - today).days
    monday = today - timedelta(days=today.weekday())
    weeks = (day - monday).days // 7
    options = [f"{day.month}월 {day.day}일", f"{sino(day.month)}월 {sino(day.day)}일"]
    if delta == 1:
        options.append("내일")
    if delta == 2:
        options.append("모레")
    if weeks == 1:
        options.append(f"다음 주 {WEEKDAY[day.weekday()]}요일")
    if weeks == 0:
        options.append(f"이번 주 {WEEKDAY[day.weekday()]}요일")
    return day, rng.choice(options)


def _plate(rng: random.Random) -> tuple[str, str]:
    front = rng.randint(10, 99) if rng.random() < 0.7 else rng.randint(100, 399)
    middle = rng.choice("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주")
    back = f"{rng.randint(1000, 9999)}"
    plate = f"{front}{middle}{back}"
    said = rng.choice([f"{front}{middle} {back}", f"{front} {middle} {back}",
                       f"{sino(front)}{middle} {spoken_digits(back)}"])
    return plate, said


def noisy(rng: random.Random, text: str, noise: float) -> str:
    if rng.random() < noise:
        text = f"{rng.choice(FILLERS)} {text}"
    if rng.random() < noise / 2:
        text = text.replace(" ", "", 1)
    if rng.random() < noise:
        text += rng.choice(["요", "이요", ""]) if not text.endswith("요") else ""
    return text


def want_for(rng: random.Random, fee_table: list[dialogue.FeeLine], today: date) -> Want:
    intent = "bulky_waste" if rng.random() < 0.8 else "illegal_parking"
    want = Want(intent=intent)
    want.address, want.said_address = _address(rng)
    if intent == "illegal_parking":
        want.plate, want.said_plate = _plate(rng)
        return want
    names = rng.sample(sorted({line.name for line in fee_table}), rng.choice([1, 1, 2, 2, 3]))
    for name in names:
        line = rng.choice([line for line in fee_table if line.name == name])
        qty = rng.choice([1, 1, 1, 2, 3])
        want.items.append({"name": name, "size": line.size, "qty": qty, "fee_krw": line.fee_krw * qty})
    if len(want.items) > 1 and rng.random() < 0.3:
        want.forgotten = want.items[-1]
    day, want.said_date = _date(rng, today)
    want.pickup_date = day.isoformat()
    return want


FAQ_QUESTIONS = {
    "waste_day": ["쓰레기 버리는 날이 언제예요", "생활쓰레기 배출 요일이 어떻게 돼요", "일반 쓰레기 언제 내놓으면 돼요",
                  "쓰레기 수거 요일 좀 알려 주세요", "쓰레기 버리는 요일 물어볼라고요", "쓰레기차 언제 와요"],
    "recycling_day": ["분리수거 하는 날이 언제예요", "재활용 쓰레기 무슨 요일에 버려요", "플라스틱 페트병 언제 내놔요",
                      "재활용 버리는 날 언제여"],
    "food_waste": ["음식물 쓰레기 언제 버려요", "음식물 쓰레기 수거 요일이 궁금해요"],
    "waste_bags": ["종량제 봉투 어디서 사요", "쓰레기 봉투 파는 데가 어디예요"],
}
FAQ_SHARE = 0.15  # of the dialogues, drawn from the seed apart from everything else


def spoken_area(rng: random.Random, area: str) -> str:
    """A 동 as callers say it: 옥포1동 as 옥포 일동, 창전동 sometimes as 창전."""
    m = re.fullmatch(r"(.+?)(\d)?(동|읍|면)", area)
    if m and m.group(2):
        digit = SINO[int(m.group(2))]
        return rng.choice([area, f"{m.group(1)} {digit}{m.group(3)}", f"{m.group(1)}{digit}{m.group(3)}"])
    return area


def faq_want(rng: random.Random, faq: list[dialogue.FaqLine], other_areas: list[str]) -> Want:
    want = Want(intent="faq")
    want.faq_topic = rng.choice(sorted({line.topic for line in faq if line.topic in FAQ_QUESTIONS}))
    lines = [line for line in faq if line.topic == want.faq_topic]
    areas = sorted({line.area for line in lines if line.area})
    if not areas:
        want.faq_expected = lines[0].answer
        return want
    if rng.random() < 0.1 and other_areas:  # a 동 the table has no answer for
        want.faq_area = rng.choice(other_areas)
        general = next((line for line in lines if line.area is None), None)
        want.faq_expected = general.answer if general else None
        return want
    want.faq_area = rng.choice(areas)
    want.faq_expected = next(line.answer for line in lines if line.area == want.faq_area)
    return want


def faq_opening(rng: random.Random, want: Want) -> tuple[str, bool]:
    """The question, and whether it already names the caller's 동."""
    question = rng.choice(FAQ_QUESTIONS[want.faq_topic or ""])
    if want.faq_area and rng.random() < 0.4:
        return rng.choice([f"{spoken_area(rng, want.faq_area)} {question}",
                           f"저 {want.faq_area} 사는데요 {question}"]), True
    return question, False


def faq_area_answer(rng: random.Random, want: Want) -> str:
    area = spoken_area(rng, want.faq_area or "")
    return rng.choice([f"{area}이요", f"{area} 살아요", f"{area}에 살아요", f"저 {area}인데요", area])


# --- the simulated caller ------------------------------------------------------------------------

def caller_turn(rng: random.Random, want: Want, state: str, slots: dict[str, Any], fee_table: list[dialogue.FeeLine],
                noise: float, told: set[str]) -> str:
    """What the caller says next, given what the bot asks."""
    if want.intent == "faq":
        return noisy(rng, faq_area_answer(rng, want) if state == "collect:faq_area" else "네", noise)
    early = rng.random() < 0.4  # give the next slots before they are asked
    if state == "collect:size":
        pending = slots["pending_item"]
        item = next(i for i in want.items if i["name"] == pending["name"])
        lines = [line for line in fee_table if line.name == item["name"]]
        line = next(line for line in lines if line.size == item["size"])
        text = _size_phrase(rng, line, lines) + "요"
        if early and "address" not in told:
            told.add("address")
            text = f"{want.said_address} {text}" if rng.random() < 0.5 else f"{want.said_address}이요"
    elif state == "collect:items":
        text = _join(rng, [item_phrase(rng, i, fee_table) for i in want.items if i is not want.forgotten]) + "요"
    elif state == "collect:address":
        told.add("address")
        text = want.said_address
        if early and want.intent == "bulky_waste":
            told.add("date")
            text += f" {want.said_date}"
        elif early and want.intent == "illegal_parking":
            text += f" {want.said_plate}"
    elif state == "collect:pickup_date":
        text = f"{want.said_date}요"
    elif state == "collect:plate":
        text = f"{want.said_plate}이요"
    elif state == "collect:seen_at":
        text = rng.choice(["방금요", "30분 전부터요", "아까부터요"])
    elif state == "confirm":
        order = slots.get("order") or {}
        if want.forgotten and want.forgotten["name"] not in {i["name"] for i in order.get("items", [])}:
            return rng.choice(["아니요, ", "아 그리고 ", "아니요 "]) + item_phrase(rng, want.forgotten, fee_table) + \
                rng.choice(["도요", "도 있어요", "도 버려요"])
        text = "네" if _matches(want, order) else "아니요"
        return rng.choice([text, text + " 맞아요"]) if text == "네" else text
    else:
        text = "네"
    return noisy(rng, text, noise)


def _matches(want: Want, order: dict[str, Any]) -> bool:
    if want.intent == "bulky_waste":
        got = sorted((i["name"], i["size"], i["qty"]) for i in order.get("items", []))
        return (got == sorted((i["name"], i["size"], i["qty"]) for i in want.items)
                and _same_place(order.get("address"), want.address) and order.get("pickup_date") == want.pickup_date)
    return order.get("plate") == want.plate and _same_place(order.get("address"), want.address)


def opening(rng: random.Random, want: Want, fee_table: list[dialogue.FeeLine]) -> str:
    if want.intent == "illegal_parking":
        return rng.choice(["불법 주차 신고하려고요", "차가 불법으로 세워져 있어요 신고할게요",
                           f"{want.said_address}에 불법 주차된 차가 있어요"])
    said = [i for i in want.items if i is not want.forgotten]
    phrase = _join(rng, [item_phrase(rng, i, fee_table) for i in said])
    return rng.choice([f"{phrase} 버리려고요", f"대형폐기물 신청하려고요 {phrase}", f"{phrase} 내놓으려고 하는데요",
                       "대형폐기물 수거 신청하려고요" if rng.random() < 0.2 else f"{phrase} 수거 신청할게요"])


def run_dialogue(seed: int, *, fee_table: list[dialogue.FeeLine], today: date, predict, noise: float = 0.3,
                 max_turns: int = 16, faq_tables: tuple[tuple[list[dialogue.FaqLine], list[str]], ...] = ()
                 ) -> Result:
    """One seeded dialogue with the real dialogue and classifier (``predict``: text -> Prediction).
    ``faq_tables``: FAQ tables (with 동 names they do not answer for) the FAQ callers ask; none, no FAQ callers."""
    rng = random.Random(seed)
    faq_rng = random.Random(f"faq:{seed}")
    faq: list[dialogue.FaqLine] = []
    if faq_tables and faq_rng.random() < FAQ_SHARE:
        faq, others = faq_rng.choice(faq_tables)
        want = faq_want(faq_rng, faq, others)
        rng = faq_rng
    else:
        want = want_for(rng, fee_table, today)
    ctx = dialogue.Context(today=today, fee_table=fee_table, find_refunds=lambda birth: [], faq=faq)
    call = dialogue.CallState(municipality_name="이천시")
    told: set[str] = set()
    text = noisy(rng, faq_opening(rng, want)[0] if want.intent == "faq" else opening(rng, want, fee_table), noise)
    if want.intent == "illegal_parking" and want.said_address in text:
        told.add("address")
    transcript: list[tuple[str, str]] = []
    confirmed, said_back = None, None
    for _ in range(max_turns):
        prediction: Prediction | None = predict(text) if text.strip() else None
        res = dialogue.step(call, text, prediction, ctx)
        transcript.append((text, res.reply))
        if res.outcome is not None:
            confirmed = call.slots.get("order")
            said_back = dialogue.read_back(res.intent or "", confirmed or {}) if confirmed else None
            return Result(seed, want, res.outcome, confirmed, said_back, transcript)
        if res.ended:
            return Result(seed, want, None, None, None, transcript, state=res.state,
                          handoff_reason=res.handoff_reason)
        call = dialogue.CallState(municipality_name="이천시", intent=res.intent, state=res.state,
                                  slots=res.slots, failures=res.failures)
        text = caller_turn(rng, want, res.state, res.slots, fee_table, noise, told)
    return Result(seed, want, None, None, None, transcript)


@dataclass
class Summary:
    dialogues: int
    filed: int
    exact: int
    unfaithful: list[Result]
    misses: list[Result]
    faq: int = 0  # FAQ dialogues (they file nothing)

    @property
    def accuracy(self) -> float:
        return self.exact / self.dialogues if self.dialogues else 0.0


def simulate(seeds: range, *, fee_table: list[dialogue.FeeLine], today: date, predict,
             noise: float = 0.3, faq_tables: tuple[tuple[list[dialogue.FaqLine], list[str]], ...] = ()) -> Summary:
    results = [run_dialogue(s, fee_table=fee_table, today=today, predict=predict, noise=noise, faq_tables=faq_tables)
               for s in seeds]
    return Summary(dialogues=len(results), filed=sum(r.filed is not None for r in results),
                   exact=sum(r.exact for r in results), unfaithful=[r for r in results if not r.faithful],
                   misses=[r for r in results if not r.exact], faq=sum(r.want.intent == "faq" for r in results))
