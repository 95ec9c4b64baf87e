"""Privacy rules shared by every module that shows telecom- or card-derived figures, and PII masking.

* k-suppression: no published figure may rest on fewer than ``k`` people. Cells under ``k`` are
  suppressed (primary), and where a published total would let a reader recover a suppressed cell by
  subtraction, or the sum of its hidden cells when that sum rests on fewer than ``k`` people, the
  smallest other cell of that total is suppressed too (complementary), repeated until every total is safe.
* differences: where callers choose the range a figure covers (e.g. "ages 65+" or "70+"), a figure is also
  withheld when another range would reveal a small group by subtraction (``suffix_differences_*``).
* masking: phone numbers, resident registration numbers, account numbers and vehicle plates are
  masked in logs, transcripts and screens; for publication, names a speaker gives after a cue
  (이름/성함/저는) too, and places are coarsened (address to 읍/면/동, coordinates to ~100 m).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Cell:
    """One published figure: ``keys`` locate it, ``people`` is how many people it rests on."""

    keys: dict[str, Hashable]
    people: float
    suppressed: bool = False
    reason: str | None = None  # "primary" (under k) or "complementary"
    # The people counts published in the cell (e.g. population, isolated people), when there are several:
    # the hidden cells of a total must rest together on at least k people in each. Default: ``(people,)``.
    counts: tuple[float, ...] = ()

    def figures(self) -> tuple[float, ...]:
        return self.counts or (self.people,)


def suppress(cells: Sequence[Cell], *, k: int, margins: Iterable[Sequence[str]] = ()) -> list[Cell]:
    """Mark cells under ``k`` and, per margin, enough others that no hidden figure can be derived.

    ``margins`` lists the groupings whose totals are published: e.g. ``[("age_band",), ("sex",)]`` for a
    table whose row totals (per age band) and column totals (per sex) are shown. The total minus its
    visible cells gives the sum of its hidden cells, so a group is safe when it has no hidden cell, or at
    least two whose sum rests on k people or more in each published count (a sum of 0 reveals no one).
    Otherwise its smallest visible cell that helps is hidden as well, until the table is stable.
    """
    for cell in cells:
        if 0 < cell.people < k:  # an empty cell reveals no one and stays visible
            cell.suppressed, cell.reason = True, "primary"
    margin_list = [tuple(m) for m in margins]
    changed = True
    while changed:
        changed = False
        for margin in margin_list:
            groups: dict[tuple, list[Cell]] = {}
            for cell in cells:
                groups.setdefault(tuple(cell.keys.get(d) for d in margin), []).append(cell)
            for group in groups.values():
                partner = _complement(group, k)
                if partner is not None:
                    partner.suppressed, partner.reason = True, "complementary"
                    changed = True
    return list(cells)


def _complement(group: Sequence[Cell], k: int) -> Cell | None:
    """The visible cell to hide next so that the group's hidden cells cannot be derived, or None."""
    hidden = [c for c in group if c.suppressed]
    if not hidden:
        return None
    visible = [c for c in group if not c.suppressed and c.people > 0]
    if not visible:
        return None
    width = max(len(c.figures()) for c in group)
    sums = [sum(c.figures()[j] if j < len(c.figures()) else 0.0 for c in hidden) for j in range(width)]
    short = [j for j, total in enumerate(sums) if 0 < total < k]
    if len(hidden) == 1:
        helpful = [c for c in visible if any(j < len(c.figures()) and c.figures()[j] > 0 for j in short)]
        return min(helpful or visible, key=lambda c: c.people)
    if not short:
        return None
    helpful = [c for c in visible if any(j < len(c.figures()) and c.figures()[j] > 0 for j in short)]
    # no visible cell adds people to the short count: hiding more cannot protect it, and the total itself
    # then rests on fewer than k people (its publisher withholds it)
    return min(helpful, key=lambda c: c.people) if helpful else None


def suppress_rows(rows: list[dict[str, Any]], *, k: int, people_key: str, value_keys: Sequence[str],
                  dims: Sequence[str] = (), margins: Iterable[Sequence[str]] = ()) -> list[dict[str, Any]]:
    """Apply :func:`suppress` to dict rows: hidden rows get ``None`` in ``people_key`` and ``value_keys``
    and ``"suppressed": True``; every row gets the ``suppressed`` flag."""
    cells = [Cell(keys={d: row.get(d) for d in dims}, people=float(row.get(people_key) or 0)) for row in rows]
    suppress(cells, k=k, margins=margins)
    out = []
    for row, cell in zip(rows, cells, strict=True):
        row = dict(row)
        row["suppressed"] = cell.suppressed
        if cell.suppressed:
            row[people_key] = None
            for key in value_keys:
                row[key] = None
        out.append(row)
    return out


def people_behind(population: float, *counts: float) -> float:
    """How many people the smallest figure of a row rests on: the population, or a smaller positive count
    published beside it (2 isolated people out of 500 single out 2 people). Zero counts reveal no one."""
    positive = [c for c in counts if c and c > 0]
    return min([population, *positive]) if positive else population


def suffix_differences_safe(parts: Sequence[Sequence[float]], start: int, *, k: int) -> bool:
    """Whether a figure summed over ``parts[start:]`` may be published when callers may ask for any other
    suffix too (e.g. "ages 65+" beside "ages 70+"): subtracting two suffixes reveals the parts between them,
    so the answer is False if any such difference rests on fewer than ``k`` people.

    ``parts[i]`` holds the people counts of part ``i`` in order: the population first, then each count that
    is published beside it (read with :func:`people_behind`).
    """
    n = len(parts)
    if n == 0:
        return True
    width = len(parts[0])
    prefix = [[0.0] * width]  # prefix[i][j]: sum of count j over parts[:i]
    for part in parts:
        prefix.append([a + b for a, b in zip(prefix[-1], part, strict=True)])
    for other in range(n):
        if other == start:
            continue
        lo, hi = (start, other) if start < other else (other, start)
        diff = [b - a for a, b in zip(prefix[lo], prefix[hi], strict=True)]
        people = people_behind(diff[0], *diff[1:])
        if 0 < people < k:
            return False
    return True


def suffix_differences_unsafe(parts: np.ndarray, start: int, *, k: int) -> np.ndarray:
    """:func:`suffix_differences_safe` for many rows at once: ``parts`` has shape (rows, parts, counts), the
    population first among the counts; answers a boolean array, True where the row must be hidden."""
    import numpy as np
    rows, n, _width = parts.shape
    unsafe = np.zeros(rows, dtype=bool)
    if n == 0 or rows == 0:
        return unsafe
    prefix = np.concatenate([np.zeros((rows, 1, parts.shape[2])), np.cumsum(parts, axis=1, dtype=float)], axis=1)
    for other in range(n):
        if other == start:
            continue
        lo, hi = (start, other) if start < other else (other, start)
        diff = prefix[:, hi, :] - prefix[:, lo, :]
        positive = np.where(diff > 0, diff, np.inf)
        smallest_count = positive[:, 1:].min(axis=1) if diff.shape[1] > 1 else np.full(rows, np.inf)
        people = np.where(np.isfinite(smallest_count), np.minimum(diff[:, 0], smallest_count), diff[:, 0])
        unsafe |= (people > 0) & (people < k)
    return unsafe


def safe_value(people: float, value: Any, *, k: int) -> Any:
    """A single figure: ``value`` if it rests on at least ``k`` people, else None."""
    return value if people >= k else None


# --- masking ---------------------------------------------------------------------------------

_RRN = re.compile(r"(?<!\d)(\d{6})[-\s]?([1-8])\d{6}(?!\d)")
_PHONE = re.compile(r"(?<!\d)(01[016789]|0[2-6]\d?|070|080)[-.\s]?(\d{3,4})[-.\s]?(\d{4})(?!\d)")
_ACCOUNT = re.compile(r"(?<!\d)(\d{2,6})[-](\d{2,6})[-](\d{2,7})(?:[-](\d{1,4}))?(?!\d)")
_LONG_DIGITS = re.compile(r"(?<!\d)(\d{10,14})(?!\d)")
_PLATE = re.compile(r"(?<![\d가-힣])(\d{2,3})\s?([가-힣])\s?(\d{4})(?!\d)")


def mask_rrn(text: str) -> str:
    return _RRN.sub(lambda m: f"{m.group(1)}-{m.group(2)}******", text)


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: f"{m.group(1)}-****-{m.group(3)}", text)


def mask_account(text: str) -> str:
    def hide(m: re.Match) -> str:
        parts = [p for p in m.groups() if p]
        return "-".join(["*" * len(p) for p in parts[:-1]] + [parts[-1]])

    text = _ACCOUNT.sub(hide, text)
    return _LONG_DIGITS.sub(lambda m: "*" * (len(m.group(1)) - 4) + m.group(1)[-4:], text)


def mask_plate(text: str) -> str:
    return _PLATE.sub(lambda m: f"{m.group(1)}{m.group(2)}**{m.group(3)[-2:]}", text)


# A name a speaker gives: "이름은 홍길동이에요", "성함: 김영희", "저는 박철수인데요". The word after the cue
# (particles included: a name's end cannot be told from its particle) keeps its first syllable only.
_NAME = re.compile(r"(이름|성함|저는)(\s*(?:은|는|이|:)?\s*)([가-힣])([가-힣]+)")


def mask_names(text: str) -> str:
    return _NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{'*' * len(m.group(4))}", text)


def mask_pii(text: str, *, plates: bool = True, names: bool = False) -> str:
    """Mask every kind of personal number in free text (order matters: the most specific first); with
    ``names``, also names given after a cue (for text published to strangers)."""
    masked = mask_rrn(text)
    masked = mask_phone(masked)
    masked = mask_account(masked)
    masked = mask_plate(masked) if plates else masked
    return mask_names(masked) if names else masked


# --- coarsening places -----------------------------------------------------------------------

_NEIGHBOURHOOD = re.compile(r"^[가-힣]+\d*(?:\.\d+)?[읍면동]$")  # 증포동, 부발읍, 신길1동 (not 103동)
_REGION = re.compile(r"^[가-힣]+(?:특별시|광역시|특별자치시|특별자치도|도|시|군|구)$")
# 3 decimals: 0.001° of latitude is ~111 m, of longitude ~89 m at 37°N (Korea): a block, not a door.
COORDINATE_DECIMALS = 3


def coarse_address(address: str | None) -> str | None:
    """An address cut after its 읍/면/동 ("이천시 증포동 대우아파트 103동" -> "이천시 증포동"); without one, only
    the leading 시/도/군/구 are kept; None when nothing coarse is left."""
    tokens = (address or "").split()
    for i, token in enumerate(tokens):
        if _NEIGHBOURHOOD.match(token):
            return " ".join(tokens[:i + 1])
    regions = []
    for token in tokens:
        if not _REGION.match(token):
            break
        regions.append(token)
    return " ".join(regions) or None


# What places a door within free text: a building and its 동/호, a 지번, a road's building number.
_PLACE_DETAIL = re.compile(
    r"\s*(?:[가-힣A-Za-z0-9]*(?:아파트|빌라|맨션|오피스텔)(?:\s*\d+동)?(?:\s*\d+호)?"
    r"|\d+동\s*\d+호|\d+호(?!선)|(?:산\s?)?\d+(?:-\d+)?\s?번지)"
    r"|(?<=[로길])\s*\d+(?:-\d+)?(?:번길\s*\d+(?:-\d+)?)?")


def coarse_places(text: str, *, address: str | None = None) -> str:
    """Free text with the places in it coarsened: ``address`` (the request's own) cut to its 읍/면/동, and any
    building, 동/호, 지번 or building number dropped."""
    if address and address in text:
        text = text.replace(address, coarse_address(address) or "")
    return _PLACE_DETAIL.sub("", text)


def coarse_coordinate(value: float | None) -> float | None:
    """A latitude or longitude rounded to :data:`COORDINATE_DECIMALS` decimals (about 100 m)."""
    return None if value is None else round(value, COORDINATE_DECIMALS)

