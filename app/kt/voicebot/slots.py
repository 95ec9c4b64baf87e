"""Slot extraction from recognised Korean speech: dates and times, addresses, plates, items and sizes,
amounts, yes/no, birth dates and bank accounts. Pure functions of the text (and today's date)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app.kt.voicebot.numerals import plate_digits, to_digits

WEEKDAYS = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}
NATIVE_NUMBERS = {"한": 1, "하나": 1, "두": 2, "둘": 2, "세": 3, "셋": 3, "네": 4, "넷": 4, "다섯": 5,
                  "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10, "열한": 11, "열두": 12}
SINO_DIGITS = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}

# Hangul used on Korean plates (자가용 가-마, 거-저, 고-조, 구-주; 사업용 바사아자, 배, 하허호 for rentals).
PLATE_SYLLABLES = set("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주바사아자배하허호")
_PLATE = re.compile(r"(?<![\d])(\d{2,3})\s?([가-힣])\s?(\d{4})(?!\d)")
# Something plate-like (to ask again), but not "111동 102호", "3층", "12번지", "5월 3일".
_PLATE_LOOSE = re.compile(r"(?<!\d)\d{1,4}\s?(?![동호층번길리시분일월년개대원명살차인])[가-힣]\s?\d{1,6}")

YES = ("네", "예", "응", "어 맞", "맞아", "맞습니다", "맞아요", "그래", "좋아요", "좋습니다", "그렇게 해", "해 주세요",
       "접수해", "부탁", "오케이", "ok", "yes", "넹", "맞심더", "그라이소", "예예")
NO = ("아니", "아뇨", "틀려", "틀렸", "잘못", "다시", "취소", "no", "됐어요", "필요 없", "안 할", "싫어")

_ADDRESS = re.compile(
    r"((?:[가-힣]+(?:시|군|구)\s+)?"
    r"(?:[가-힣]{1,6}(?:동|읍|면|가)(?:\s*[가-힣]{1,6}리(?![가-힣])|(?![가-힣]))(?:\s+[가-힣0-9]+(?:로|길))?|"
    r"[가-힣0-9]{2,12}(?:로|길))"
    r"(?:\s*\d+(?:-\d+)?(?:\s*번지|\s*번길)?)?"
    r"(?:\s*[가-힣A-Za-z0-9]+(?:아파트|빌라|맨션|타운|상가|오피스텔))?(?:\s*\d+\s*동)?(?:\s*\d+\s*호)?)")
_PLACE_SUFFIXES = ("아파트|빌라|초등학교|중학교|고등학교|학교|시장|사거리|삼거리|(?<![구지])역|공원|마트|"
                   "주민센터|행정복지센터|정류장|터미널|병원|교회|성당|시청|군청|구청|우체국|편의점|주유소|파출소|지구대|"
                   "소방서|도서관|경로당|마을회관")
_LANDMARK = re.compile(
    r"((?:[가-힣]+(?:시|군|구)\s+)?(?:[가-힣0-9]+(?:동|읍|면|리)\s+[가-힣A-Za-z0-9]*|[가-힣A-Za-z0-9]+)(?:"
    + _PLACE_SUFFIXES + r")"
    r"(?:\s*\d+\s*동)?(?:\s*\d+\s*호)?(?:\s*(?:앞|옆|뒤|근처|입구|건너편))?)")
# Words that end like a place (동/면/로/가...) but are not one: verbs' "-면", common nouns.
_VERB_ENDINGS = ("려면", "하면", "으면", "러면", "라면", "이면", "다면", "되면", "보면", "가면", "오면", "시면", "나면",
                 "지면", "자면", "르면", "리면", "치면", "주면", "내면", "냐면", "더면",
                 "해가", "이가", "차가", "물가", "누가", "여가")
_NOT_PLACE = {"어떻게", "이동", "자동", "행동", "활동", "운동", "소음", "대로", "경로", "도로", "진로", "차로", "통로",
              "신고", "신청", "수거", "주차", "해결", "처리", "그리", "이리", "저리", "요리", "거리", "관리",
              "원리", "정리", "수리", "무리", "소리", "가로", "새로", "바로", "서로", "따로",
              "전면", "측면", "정면", "화면", "이면",
              "한동", "가동", "작동", "충동", "감동", "변동", "공동", "출동", "진동", "혼동", "파동", "선동",
              "얼마", "정가", "평가", "가가", "부가"}


@dataclass(frozen=True)
class When:
    day: date | None
    part: str | None  # "morning" | "afternoon" | "evening" | None
    hour: int | None


def _num(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    if token in NATIVE_NUMBERS:
        return NATIVE_NUMBERS[token]
    # sino-korean up to 99: 삼십일, 이십, 십오
    total, current = 0, 0
    for ch in token:
        if ch in SINO_DIGITS:
            current = SINO_DIGITS[ch]
        elif ch == "십":
            total += (current or 1) * 10
            current = 0
        else:
            return None
    return total + current if token else None


def parse_when(text: str, *, today: date) -> When:
    """Korean relative and absolute dates with a part of the day or an hour."""
    t = text.replace(" ", "")
    day: date | None = None
    if "오늘" in t or "지금" in t or "방금" in t:
        day = today
    elif "모레" in t and "글피" not in t:
        day = today + timedelta(days=2)
    elif "글피" in t:
        day = today + timedelta(days=3)
    elif "내일" in t or "낼" in t:
        day = today + timedelta(days=1)
    elif "어제" in t:
        day = today - timedelta(days=1)
    m = re.search(r"(다음주|담주|다담주|이번주|금주)?([월화수목금토일])요일", t)
    if m:
        target = WEEKDAYS[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        week = m.group(1) or ""
        offset = {"다음주": 7, "담주": 7, "다담주": 14}.get(week, 0)
        candidate = monday + timedelta(days=offset + target)
        if not week and candidate <= today:
            candidate += timedelta(days=7)
        day = candidate
    m = re.search(r"(\d{1,2}|[일이삼사오육칠팔구십]+)월(\d{1,2}|[일이삼사오육칠팔구십]+)일", t)
    if m:
        month, dom = _num(m.group(1)), _num(m.group(2))
        if month and dom:
            try:
                candidate = date(today.year, month, dom)
                if candidate < today:
                    candidate = date(today.year + 1, month, dom)
                day = candidate
            except ValueError:
                day = None
    elif day is None:
        m = re.search(r"(?<![\d월])(\d{1,2})일(?:날|에|로|쯤|오전|오후|$)", t)
        if m and 1 <= int(m.group(1)) <= 31:
            dom = int(m.group(1))
            year, month = today.year, today.month
            if dom < today.day:
                month += 1
                if month == 13:
                    year, month = year + 1, 1
            try:
                day = date(year, month, dom)
            except ValueError:
                day = None
    part = None
    if re.search(r"오전|아침|午前", t):
        part = "morning"
    elif re.search(r"오후|낮", t):
        part = "afternoon"
    elif re.search(r"저녁|밤|새벽", t):
        part = "evening"
    hour = None
    m = re.search(r"(\d{1,2}|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|열한|열두)시", t)
    if m:
        hour = _num(m.group(1))
        if hour is not None and part in ("afternoon", "evening") and hour < 12:
            hour += 12
        if hour is not None and not 0 <= hour <= 23:
            hour = None
    return When(day=day, part=part, hour=hour)


def find_plate(text: str) -> tuple[str | None, bool]:
    """``(plate, attempted)``: a valid plate such as 12가3456 or 123가4567, or whether the caller said
    something plate-like that is not one (to ask again)."""
    text = plate_digits(text)
    for m in _PLATE.finditer(text):
        if m.group(2) in PLATE_SYLLABLES:
            return f"{m.group(1)}{m.group(2)}{m.group(3)}", True
    return None, bool(_PLATE_LOOSE.search(text))


def find_address(text: str) -> str | None:
    """The whole address a caller said: 시군구, 읍면동, 리, 지번 or 도로명 + 건물번호, building, 동/호, or a
    landmark. When the administrative part and a building are both said ("부발읍 아미리 123번지 현대아파트
    101동 202호"), both are kept: the 읍 routes the request to its office."""
    text = to_digits(text)
    landmark = next(_LANDMARK.finditer(text), None)
    place = _administrative_address(text)
    if landmark is None:
        return place[0] if place else None
    if place is None:
        return landmark.group(1).strip()
    (p_start, p_end), (l_start, l_end) = place[1], landmark.span(1)
    gap = text[min(p_end, l_end):max(p_start, l_start)]
    if p_start <= l_end and l_start <= p_end or not gap.strip():  # overlapping or side by side: one address
        return text[min(p_start, l_start):max(p_end, l_end)].strip()
    return landmark.group(1).strip()


def _administrative_address(text: str) -> tuple[str, tuple[int, int]] | None:
    """The first administrative address (동/읍/면/리, road and number, lot) and its span in ``text``."""
    for m in _ADDRESS.finditer(text):
        candidate = m.group(1).strip()
        head = re.split(r"\s", candidate)[0]
        stem = re.sub(r"\d", "", head)
        road = stem.endswith(("로", "길")) and re.search(r"\d", candidate) and len(stem) >= 3
        # "모가면 12-3번지" is a place although "가면" also ends verbs ("가면", "하면"): a lot number or
        # a 리 right after a short name settles it.
        lot = len(stem) <= 4 and re.match(r"\S+\s*(?:\d+(?:-\d+)?\s*번지|\d+-\d+|[가-힣]{1,6}리\b)", candidate)
        long_myeon = stem.endswith("면") and len(stem) >= 4  # 면 names have 1-3 syllables: 율면, 호법면
        if len(stem) < 2 or stem in _NOT_PLACE or ((stem.endswith(_VERB_ENDINGS) or long_myeon) and not lot) or \
                (not road and any(stem.endswith(w) for w in _NOT_PLACE)):
            continue
        if stem.endswith(("로", "길", "가")) and not re.search(r"\d", candidate):
            continue  # a road name alone is too vague; 'X가' without a number is usually a subject
        start = m.start(1) + (len(m.group(1)) - len(m.group(1).lstrip()))
        return candidate, (start, start + len(candidate))
    return None


def area_of(address: str | None) -> str | None:
    """The 읍/면/동 an address lies in, for routing to the area's office."""
    if not address:
        return None
    m = re.search(r"([가-힣0-9]+?(?:읍|면|동))(?![가-힣]|(?<=동)[가-힣]{1,6}리)|([가-힣]+?(?:읍|면))(?=[가-힣]{1,6}리)",
                  address)
    if m and not re.fullmatch(r"\d+동", m.group(1) or m.group(2)):
        return m.group(1) or m.group(2)
    return None


def find_quantity(text: str) -> int:
    return quantity_said(text) or 1


def quantity_said(text: str) -> int | None:
    """How many, when said: 두 개, 3대, 하나, 둘이요 (a native count alone is a quantity in an item's words)."""
    text = to_digits(text)
    m = re.search(r"(\d+|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열)\s*(?:개|대|짝|세트|점|채)", text)
    if m is None:
        m = re.search(r"(?<![가-힣])(하나|둘|셋|넷|다섯|여섯|일곱|여덟|아홉|열)(?![가-힣])|"
                      r"(?<![가-힣])(하나|둘|셋|넷)(?=이요|요|이에요|예요|랑|하고|이랑|도)", text)
    if m:
        return max(1, min(_num(next(g for g in m.groups() if g)) or 1, 20))
    return None


_ORDINAL = re.compile(r"(첫|한|두|세|네|다섯|1|2|3|4|5|일|이|삼|사|오)\s*(?:번째|째|번(?!지))|(둘|셋|넷)째|마지막")
_ORDINAL_VALUE = {"첫": 0, "한": 0, "1": 0, "일": 0, "두": 1, "둘": 1, "2": 1, "이": 1, "세": 2, "셋": 2, "3": 2,
                  "삼": 2, "네": 3, "넷": 3, "4": 3, "사": 3, "다섯": 4, "5": 4, "오": 4}


def ordinal(text: str) -> int | None:
    """The place of a choice offered by name: 첫 번째 → 0, 두 번째/둘째/2번 → 1, 마지막 → -1."""
    m = _ORDINAL.search(text)
    if not m:
        return None
    if m.group(0) == "마지막":
        return -1
    return _ORDINAL_VALUE[m.group(1) or m.group(2)]


def find_size(text: str, unit: str | None = None) -> str | None:
    """Size words callers use: 3인용, 2m, 180cm, 10자, 대/중/소, 양문형, 55인치, 500리터, 백이십 센치; with the
    ``unit`` of the item's sizes (cm, 리터), a bare number too: "120 넘어요"."""
    t = re.sub(r"(?<![가-힣])([일이삼사오육칠팔구])\s?(?=인용|단|칸|도어)", lambda m: str(_num(m.group(1))),
               to_digits(text)).replace(" ", "")
    m = re.search(r"(\d+)(인용|인치|리터|L|l|자(?!리)|단(?!지)|칸|도어)", t)
    if m:
        return f"{m.group(1)}{m.group(2)}"
    m = re.search(r"(\d+(?:\.\d+)?)(m|미터|cm|센치|센티)", t)
    if m:
        value = float(m.group(1))
        cm = value * 100 if m.group(2) in ("m", "미터") else value
        return f"{int(cm)}cm"
    if unit:  # a bare number against the item's unit: "120 넘어요", "100 안 돼요", "80 정도"
        m = re.search(r"(?<![\d동호번])(\d{2,4})(넘|이상|초과|미만|안|이하|정도|쯤|짜리|요|이요|$)", t)
        if m:
            value = int(m.group(1))
            if m.group(2) in ("미만", "안"):
                value -= 1
            return f"{value}{unit}"
    for word in ("대형", "중형", "소형", "양문형", "싱글", "슈퍼싱글", "더블", "퀸", "킹", "큰", "작은", "보통"):
        if word in t:
            return word
    return None


def find_amount(text: str) -> int | None:
    """An amount in won: 15,000원, 만 오천 원, 3만원, 2만 5천원."""
    t = text.replace(",", "").replace(" ", "")
    m = re.search(r"(\d+)만(\d+)?천?원", t)
    if m:
        return int(m.group(1)) * 10000 + (int(m.group(2)) * 1000 if m.group(2) else 0)
    m = re.search(r"(\d+)천원", t)
    if m:
        return int(m.group(1)) * 1000
    m = re.search(r"(\d+)원", t)
    if m:
        return int(m.group(1))
    korean = {"만": 10000, "천": 1000, "백": 100}
    m = re.search(r"([일이삼사오육칠팔구]?만)?([일이삼사오육칠팔구]?천)?([일이삼사오육칠팔구]?백)?원", t)
    if m and any(m.groups()):
        total = 0
        for g in m.groups():
            if g:
                unit = korean[g[-1]]
                total += (SINO_DIGITS.get(g[:-1], 1) if len(g) > 1 else 1) * unit
        return total
    return None


def yes_no(text: str) -> bool | None:
    t = text.strip().lower()
    if not t:
        return None
    if any(w in t for w in NO):
        return False
    if any(t.startswith(w) or f" {w}" in t for w in YES):
        return True
    return None


SPOKEN_DIGITS = {"공": "0", "영": "0", **{k: str(v) for k, v in SINO_DIGITS.items()}}
_SINO = r"[일이삼사오육칠팔구십]+"
_BIRTH_WORDS = re.compile(rf"(?<!\d)(\d{{4}}|\d{{2}}|{_SINO})\s*년\s*(\d{{1,2}}|{_SINO})\s*월\s*"
                          rf"(\d{{1,2}}|{_SINO})\s*일")


def find_birth(text: str) -> str | None:
    """Six digits of a birth date (YYMMDD), as callers say it to be identified: 850312, 85.03.12,
    85년 3월 12일(생), 1985년 3월 12일, 팔십오년 삼월 십이일, digit by digit 팔오공삼일이, or the front of a
    resident registration number (850312-1234567)."""
    m = re.search(r"(?<!\d)(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\s*-?\s*[1-8]\d{6}(?!\d)", text)
    if m:  # a resident registration number: its first six digits are the birth date (the rest is not kept)
        return m.group(1)
    m = _BIRTH_WORDS.search(text)
    if m:
        year, month, day = (_num(g) for g in m.groups())
        if year is not None and month and day:
            try:
                date(2000 + year % 100, month, day)  # validates the day of the month (29 Feb: a leap year)
            except ValueError:
                return None
            return f"{year % 100:02d}{month:02d}{day:02d}"
    digits = re.sub(r"[\s.\-년월일]", "", text)
    m = re.search(r"(?<!\d)(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)", digits)
    if m:
        return m.group(0)
    run = re.search(r"[공영일이삼사오육칠팔구]{6}", text.replace(" ", ""))
    if run:
        spoken = "".join(SPOKEN_DIGITS[ch] for ch in run.group(0))
        if re.fullmatch(r"\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", spoken):
            return spoken
    return None


# Callers tell when they saw a car by how long ago: "30분 전부터", "아까", "어제 밤부터", "며칠째".
_RECENTLY = re.compile(r"방금|지금|아까|계속|조금\s*전|좀\s*전|"
                       r"(?:\d+|[가-힣]{1,3})\s*(?:분|시간)\s*(?:전|째|넘게|동안)|"
                       r"(?:아침|저녁|밤|새벽|오전|오후)\s*부터|며칠\s*(?:째|전|동안)|하루\s*종일|밤새|어젯밤")


def says_recently(text: str) -> bool:
    return bool(_RECENTLY.search(text))


BANKS = ("농협", "국민", "신한", "우리", "하나", "기업", "새마을", "우체국", "카카오", "토스", "케이뱅크", "수협",
         "신협", "대구", "부산", "경남", "광주", "전북", "제주", "SC", "씨티")


def find_bank_account(text: str) -> tuple[str | None, str | None]:
    bank = next((b for b in BANKS if b in text), None)
    m = re.search(r"(?<!\d)(\d[\d\- ]{8,18}\d)(?!\d)", text)
    account = None
    if m:
        digits = re.sub(r"\D", "", m.group(1))
        if 10 <= len(digits) <= 14:
            account = m.group(1).replace(" ", "-") if "-" in m.group(1) else digits
    return bank, account
