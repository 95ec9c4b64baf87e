"""Korean numerals as speech recognition writes them, turned into digits where a number is meant.

Callers say numbers in Sino-Korean words (백이십, 십이), digit by digit (삼사오육, 일공일), or in native
counts (하나, 둘, 셋). Only numbers in a numeric context are turned into digits: before a unit (번지, 동,
호, cm, 센치, 미터, 인용, 리터, 개...), before 넘다/이상/미만, or in the shape of a plate (십이가 삼사오육).
Syllables such as 이, 사, 오 are also ordinary words (이것, 사체, 오전), so they are never turned alone.
"""

from __future__ import annotations

import re

DIGITS = {"공": 0, "영": 0, "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "륙": 6, "칠": 7, "팔": 8, "구": 9}
NATIVE = {"하나": 1, "한": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "넷": 4, "네": 4, "다섯": 5, "여섯": 6,
          "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}

_D = "[일이삼사오육륙칠팔구]"
_POSITIONAL = rf"(?:{_D}?천)?(?:{_D}?백)?(?:{_D}?십)?{_D}?"
_RUN = "[공영일이삼사오육륙칠팔구]"
_UNITS = (r"번지|번길|번|동(?!네)|호(?!수)|층|cm|센치|센티|미터|m(?![a-z])|인용|인치|리터|개|대(?!형)|짝|"
          r"넘|이상|미만|이하|초과|정도|쯤|짜리")
# One syllable alone (이동, 사동, 오호) is a word, not a number, unless it is 십/백/천.
_NUMBER_START = "(?=[공영일이삼사오육륙칠팔구십백천]{2}|[십백천]|[일이삼사오육륙칠팔구]\\s?번지)"
_NUMBER_BEFORE_UNIT = re.compile(rf"(?<![가-힣]){_NUMBER_START}({_POSITIONAL}|{_RUN}{{2,6}})(?=\s?(?:{_UNITS}))")
_PLATE = re.compile(rf"(?<![가-힣])({_POSITIONAL}|{_RUN}{{2,3}})\s?([가-힣])\s?({_RUN}{{4}})"
                    r"(?=이요|요|이에요|예요|입니다|이고|이랑|[^가-힣]|$)")


def sino_value(word: str) -> int | None:
    """The value of a Sino-Korean number: 백이십 → 120, 십이 → 12, 이천오 → 2005; digits spoken one by one
    (삼사오육 → 3456, 일공일 → 101). None when the word is not a number."""
    if not word:
        return None
    if all(ch in DIGITS for ch in word):
        if len(word) == 1:
            return DIGITS[word]
        return int("".join(str(DIGITS[ch]) for ch in word))
    total, current = 0, 0
    for ch in word:
        if ch in DIGITS and DIGITS[ch] > 0:
            if current:
                return None  # two digits in a row inside a positional number
            current = DIGITS[ch]
        elif ch in "십백천":
            total += (current or 1) * {"십": 10, "백": 100, "천": 1000}[ch]
            current = 0
        else:
            return None
    return total + current


def _digits(match: re.Match[str]) -> str:
    value = sino_value(match.group(1))
    return match.group(0) if value is None else str(value)


def _plate(match: re.Match[str]) -> str:
    front, middle, back = sino_value(match.group(1)), match.group(2), match.group(3)
    if front is None or not 10 <= front <= 999:
        return match.group(0)
    return f"{front}{middle}{''.join(str(DIGITS[ch]) for ch in back)}"


def plate_digits(text: str) -> str:
    """A plate said in words as digits: "십이가 삼사오육" → "12가3456"."""
    return _PLATE.sub(_plate, text)


def to_digits(text: str) -> str:
    """Numbers said in words, in a numeric context, written as digits: "백이십 넘어요" → "120 넘어요",
    "일공일동 이공이호" → "101동 202호"."""
    return _NUMBER_BEFORE_UNIT.sub(_digits, plate_digits(text))
