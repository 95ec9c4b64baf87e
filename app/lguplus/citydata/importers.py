"""Imports of living population and card spending.

Every row is checked (columns, dates, hours, zones, codes, counts); one bad row and nothing of the file
is stored, and the report names each bad row's line and column. Good rows go to the raw tables with
bulk Core inserts (``executemany`` on SQLite, ``COPY`` on PostgreSQL) in chunks inside one transaction,
while the rollups are summed in memory and added (upsert) in the same transaction at the end.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.core.agebands import FIVE_YEAR
from app.core.bulk import insert_rows, insert_tuples
from app.core.errors import InvalidInput, field_error
from app.core.metrics import count_ingested
from app.lguplus.citydata.models import (
    AGE_BANDS,
    SEXES,
    VISITOR_TYPES,
    CitydataCardMonthly,
    CitydataCardSpending,
    CitydataLivingPopulation,
    CitydataPopDaily,
    CitydataPopHourly,
    CitydataZone,
)

CHUNK = 20_000
ERROR_LIMIT = 500
READ_BYTES = 1 << 20
LIVING_COLUMNS = ("date", "hour", "zone_code", "sex", "age_band", "visitor_type", "origin_code", "count")
CARD_COLUMNS = ("month", "merchant_zone_code", "category_large", "category_middle", "customer_home_code", "sex",
                "age_band", "amount_krw", "count")
OPTIONAL_COLUMNS = {"origin_code"}
_CODE = re.compile(r"^\d{10}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class ErrorReport:
    """Row-level errors: the first ``ERROR_LIMIT`` are kept, all are counted."""

    prefix: str = "line"  # "line" for files (1 = header), "rows" for JSON batches (0-based index)
    count: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)

    def add(self, where: int, field: str, template: str, /, **params: Any) -> None:
        self.count += 1
        self.bad_rows.add(where)
        if len(self.items) < ERROR_LIMIT:
            self.items.append({"loc": [self.prefix, where, field], "template": template, "params": params,
                               "msg": template.format(**params) if params else template})


class ImportRefused(InvalidInput):
    """The file or batch was refused as a whole; ``report`` lists the bad rows."""

    def __init__(self, report: ErrorReport) -> None:
        rows = len(report.bad_rows)
        if rows > 1 or (rows == 1 and report.prefix == "rows") or not report.items:
            super().__init__("{n} row is invalid; nothing was saved",
                             plural="{n} rows are invalid; nothing was saved", n=rows)
        else:
            first = report.items[0]
            super().__init__(first["template"], **first["params"])
        self.errors = [field_error(e["loc"], e["template"], **e["params"]) for e in report.items]
        self.report = report


class FileTooLarge(ImportRefused):
    status = 413
    title = "Content too large"


def refuse(template: str, *, where: int = 0, prefix: str = "line", **params: Any) -> ImportRefused:
    report = ErrorReport(prefix=prefix)
    report.add(where, "", template, **params)
    return ImportRefused(report)


# --- reading files ---------------------------------------------------------------------------

def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, else CP949 if it decodes as that."""
    for encoding in ("utf-8-sig", "cp949"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(READ_BYTES):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise refuse("The file is neither UTF-8 nor CP949 text; save it as CSV UTF-8 and try again")


def csv_rows(path: Path, encoding: str, progress: Callable[[int], None] | None = None
             ) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and an iterator of ``(line, cells)``; ``progress`` receives bytes read so far."""
    raw = path.open("rb")
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raw.close()
        raise refuse("The file is empty") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for i, cells in enumerate(reader, start=2):
                if progress is not None and i % CHUNK == 0:
                    progress(raw.tell())
                if cells:
                    yield i, cells
        except csv.Error as exc:
            raise refuse("The CSV is malformed: {reason}", where=reader.line_num, reason=str(exc)) from None
        finally:
            raw.close()

    return header, rows()


def json_rows(rows: list[Any], columns: tuple[str, ...], report: ErrorReport) -> Iterator[tuple[int, list[str]]]:
    """JSON objects as cells in ``columns`` order; unknown keys are errors."""
    known = set(columns)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            report.add(i, "", "Each row must be a JSON object")
            continue
        for key in row:
            if key not in known:
                report.add(i, str(key), "This field is not accepted.")
        yield i, [_cell(row.get(c)) for c in columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "\x00"  # never valid: true/false is not a count, an hour or a code
    return str(value).strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


# --- converters ----------------------------------------------------------------------------------

class Converter:
    """Checks and converts the rows of one kind; keeps rollup sums of what it converted."""

    kind = ""
    columns: tuple[str, ...] = ()
    table: Table
    insert_columns: tuple[str, ...] = ()

    def __init__(self, *, municipality_id: int, municipality_code: str, job_id: int | None,
                 zones: dict[str, int], mode: str = "refuse") -> None:
        self.mid = municipality_id
        self.code = municipality_code
        self.job_id = job_id
        self.zones = zones
        self.mode = mode  # "refuse" or "replace": what to do with cells an earlier import holds
        self.summary: dict[str, Any] = {}
        # One key counted once: the grain (sex total or split, age total / 10-year / 5-year bands) the first
        # row of a key used, with its line, and the (key, sex, age band) cells seen.
        self.grains: dict[tuple, tuple[str, str, int]] = {}
        self.cells: set[tuple] = set()

    def coverage(self) -> set[tuple[int, str]]:
        """The (zone id, period) cells the converted rows cover."""
        raise NotImplementedError

    def check_once(self, where: int, key: tuple, sex: str, age: str, report: ErrorReport) -> bool:
        """Refuse a row that would count people of its key twice: a total (``all``) beside a breakdown by
        sex or age band, 10-year beside 5-year bands, or the same sex and age band again."""
        grain = ("all" if sex == "all" else "M/F", _age_grain(age))
        first = self.grains.setdefault(key, (*grain, where))
        if first[:2] != grain:
            report.add(where, "sex" if first[0] != grain[0] else "age_band",
                       "Row {line} gives this key as {first}, this row as {this}: the same people would be "
                       "counted twice; send either the total (all) or the breakdown, not both",
                       line=first[2], first=_grain_label(first[:2]), this=_grain_label(grain))
            return False
        cell = (key, sex, age)
        if cell in self.cells:
            report.add(where, "", "This row repeats an earlier row's key, sex and age band")
            return False
        self.cells.add(cell)
        return True

    def bind_header(self, header: list[str], report: ErrorReport) -> bool:
        positions = {name: i for i, name in enumerate(header)}
        for name in header:
            if name not in self.columns:
                report.add(1, name, "Unknown column {column}", column=name)
        for name in {h for h in header if header.count(h) > 1}:
            report.add(1, name, "Column {column} appears more than once", column=name)
        for name in self.columns:
            if name not in positions and name not in OPTIONAL_COLUMNS:
                report.add(1, name, "Missing column {column}", column=name)
        self.width = len(header)
        self.at = {name: positions.get(name) for name in self.columns}
        return report.count == 0

    def bind_columns(self) -> None:
        self.width = len(self.columns)
        self.at = {name: i for i, name in enumerate(self.columns)}

    def convert(self, where: int, cells: list[str], report: ErrorReport) -> tuple | None:
        raise NotImplementedError

    def write_rollups(self, db: Session) -> None:
        raise NotImplementedError


def _age_grain(age: str) -> str:
    return "all" if age == "all" else "5-year" if age in FIVE_YEAR else "10-year"


def _grain_label(grain: tuple[str, str]) -> str:
    return f"sex {grain[0]} / age {grain[1]}"


def _choice(value: str, options: tuple[str, ...], column: str, where: int, report: ErrorReport) -> str | None:
    if value in options:
        return value
    if not value:
        report.add(where, column, "This field is required.")
    else:
        report.add(where, column, "Choose one of: {options}", options=", ".join(options))
    return None


class LivingPopulation(Converter):
    kind = "living_population"
    columns = LIVING_COLUMNS
    table = CitydataLivingPopulation.__table__
    insert_columns = ("municipality_id", "job_id", "obs_date", "hour", "zone_id", "sex", "age_band",
                      "visitor_type", "origin_code", "count")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dates: dict[str, tuple[str, int] | None] = {}
        self.hours = {str(h): h for h in range(24)} | {f"{h:02d}": h for h in range(24)}
        self.daily: dict[tuple[int, str, str], float] = defaultdict(float)
        self.hourly: dict[tuple[int, int, int, str], float] = defaultdict(float)

    def _date(self, text: str) -> tuple[str, int] | None:
        try:
            return self.dates[text]
        except KeyError:
            try:
                d = date.fromisoformat(text) if len(text) == 10 else None
                found = (d.isoformat(), d.weekday()) if d else None
            except ValueError:
                found = None
            self.dates[text] = found
            return found

    def convert(self, where: int, cells: list[str], report: ErrorReport) -> tuple | None:
        if len(cells) != self.width:
            report.add(where, "", "The row has {n} cells; the header has {m}", n=len(cells), m=self.width)
            return None
        at = self.at
        bad = report.count
        d_text = cells[at["date"]].strip()
        day = self._date(d_text)
        if day is None:
            report.add(where, "date", "Enter a date as YYYY-MM-DD.")
        hour = self.hours.get(cells[at["hour"]].strip())
        if hour is None:
            report.add(where, "hour", "The hour must be a whole number from 0 to 23")
        zone_code = cells[at["zone_code"]].strip()
        zone_id = self.zones.get(zone_code)
        if zone_id is None:
            report.add(where, "zone_code", "Unknown zone {code}", code=zone_code[:20])
        sex = _choice(cells[at["sex"]].strip(), SEXES, "sex", where, report)
        age = _choice(cells[at["age_band"]].strip(), AGE_BANDS, "age_band", where, report)
        vtype = _choice(cells[at["visitor_type"]].strip(), VISITOR_TYPES, "visitor_type", where, report)
        i_origin = at["origin_code"]
        origin = cells[i_origin].strip() if i_origin is not None else ""
        if origin and not _CODE.match(origin):
            report.add(where, "origin_code", "The origin must be a 10-digit municipality code or empty")
        raw_count = cells[at["count"]].strip()
        try:
            count = float(raw_count)
            if not (count >= 0 and math.isfinite(count)):
                raise ValueError
        except ValueError:
            count = 0.0
            report.add(where, "count", "The count must be a number of at least 0")
        if report.count != bad:
            return None
        if not self.check_once(where, (day[0], hour, zone_id, vtype, origin), sex, age, report):
            return None
        self.daily[(zone_id, day[0], vtype)] += count
        self.hourly[(zone_id, day[1], hour, vtype)] += count
        return (self.mid, self.job_id, day[0], hour, zone_id, sex, age, vtype, origin or None, count)

    def coverage(self) -> set[tuple[int, str]]:
        return {(z, d) for z, d, _ in self.daily}

    def write_rollups(self, db: Session) -> None:
        mid = self.mid
        insert_rows(db, CitydataPopDaily.__table__, [
            {"municipality_id": mid, "zone_id": z, "obs_date": date.fromisoformat(d), "visitor_type": v, "count": c}
            for (z, d, v), c in self.daily.items()],
            conflict=["zone_id", "obs_date", "visitor_type"], add_on_conflict=["count"])
        insert_rows(db, CitydataPopHourly.__table__, [
            {"municipality_id": mid, "zone_id": z, "weekday": w, "hour": h, "visitor_type": v, "count": c}
            for (z, w, h, v), c in self.hourly.items()],
            conflict=["zone_id", "weekday", "hour", "visitor_type"], add_on_conflict=["count"])


def origin_class(home_code: str, county_code: str) -> str:
    """``resident`` if the customer lives in the county (its code or any 읍면동 code under it), ``province``
    if elsewhere in the same 시도, else ``other``."""
    prefix = 2 if county_code[2:] == "00000000" else 5  # a 시도 tenant, else a 시군구 one
    if home_code[:prefix] == county_code[:prefix]:
        return "resident"
    if home_code[:2] == county_code[:2]:
        return "province"
    return "other"


class CardSpending(Converter):
    kind = "card_spending"
    columns = CARD_COLUMNS
    table = CitydataCardSpending.__table__
    insert_columns = ("municipality_id", "job_id", "month", "merchant_zone_id", "category_large", "category_middle",
                      "customer_home_code", "sex", "age_band", "amount_krw", "count")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.months: dict[str, bool] = {}
        self.monthly: dict[tuple[int, str, str, str, str], list[int]] = {}

    def _month_ok(self, text: str) -> bool:
        ok = self.months.get(text)
        if ok is None:
            m = _MONTH.match(text)
            ok = self.months[text] = bool(m and 2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12)
        return ok

    def convert(self, where: int, cells: list[str], report: ErrorReport) -> tuple | None:
        if len(cells) != self.width:
            report.add(where, "", "The row has {n} cells; the header has {m}", n=len(cells), m=self.width)
            return None
        at = self.at
        bad = report.count
        month = cells[at["month"]].strip()
        if not self._month_ok(month):
            report.add(where, "month", "Enter the month as YYYY-MM (month 01 to 12)")
        zone_code = cells[at["merchant_zone_code"]].strip()
        zone_id = self.zones.get(zone_code)
        if zone_id is None:
            report.add(where, "merchant_zone_code", "Unknown zone {code}", code=zone_code[:20])
        large = cells[at["category_large"]].strip()
        middle = cells[at["category_middle"]].strip()
        for column, value, limit in (("category_large", large, 40), ("category_middle", middle, 60)):
            if not value:
                report.add(where, column, "This field is required.")
            elif len(value) > limit:
                report.add(where, column, "At most {max_length} characters.", max_length=limit)
        home = cells[at["customer_home_code"]].strip()
        if not _CODE.match(home):
            report.add(where, "customer_home_code", "Enter a 10-digit municipality code")
        sex = _choice(cells[at["sex"]].strip(), SEXES, "sex", where, report)
        age = _choice(cells[at["age_band"]].strip(), AGE_BANDS, "age_band", where, report)
        amount = _whole(cells[at["amount_krw"]], "amount_krw", where, report,
                        "The amount must be a whole number of won, at least 0")
        count = _whole(cells[at["count"]], "count", where, report, "The count must be a whole number of at least 0")
        if report.count != bad:
            return None
        if not self.check_once(where, (month, zone_id, large, middle, home), sex, age, report):
            return None
        key = (zone_id, month, large, middle, origin_class(home, self.code))
        sums = self.monthly.get(key)
        if sums is None:
            self.monthly[key] = [amount, count]
        else:
            sums[0] += amount
            sums[1] += count
        return (self.mid, self.job_id, month, zone_id, large, middle, home, sex, age, amount, count)

    def coverage(self) -> set[tuple[int, str]]:
        return {(z, m) for z, m, *_ in self.monthly}

    def write_rollups(self, db: Session) -> None:
        insert_rows(db, CitydataCardMonthly.__table__, [
            {"municipality_id": self.mid, "zone_id": z, "month": m, "category_large": cl, "category_middle": cm,
             "origin_class": oc, "amount_krw": a, "count": n}
            for (z, m, cl, cm, oc), (a, n) in self.monthly.items()],
            conflict=["zone_id", "month", "category_large", "category_middle", "origin_class"],
            add_on_conflict=["amount_krw", "count"])


def _whole(text: str, column: str, where: int, report: ErrorReport, message: str) -> int:
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value > 10**15:
        report.add(where, column, message)
        return 0
    return value


CONVERTERS: dict[str, type[Converter]] = {"living_population": LivingPopulation, "card_spending": CardSpending}


def zone_map(db: Session, *, municipality_id: int) -> dict[str, int]:
    return dict(db.execute(select(CitydataZone.code, CitydataZone.id)
                           .where(CitydataZone.municipality_id == municipality_id)).all())


def make_converter(db: Session, *, kind: str, municipality_id: int, municipality_code: str,
                   job_id: int | None, mode: str = "refuse") -> Converter:
    return CONVERTERS[kind](municipality_id=municipality_id, municipality_code=municipality_code, job_id=job_id,
                            zones=zone_map(db, municipality_id=municipality_id), mode=mode)


def store(db: Session, conv: Converter, rows: Iterable[tuple[int, list[str]]], report: ErrorReport,
          on_rows: Callable[[int], None] | None = None, claim: Callable[[Converter], None] | None = None) -> int:
    """Check every row; while none is bad, insert in chunks. Raises :class:`ImportRefused` (the caller
    rolls back) if any row is bad; ``claim`` then records (or refuses) the coverage before the rollups are
    added; returns the number of rows stored."""
    buffer: list[tuple] = []
    n = 0
    for where, cells in rows:
        n += 1
        out = conv.convert(where, cells, report)
        if out is not None and not report.count:
            buffer.append(out)
            if len(buffer) >= CHUNK:
                insert_tuples(db, conv.table, conv.insert_columns, buffer)
                buffer = []
                if on_rows is not None:
                    on_rows(n)
    if report.count:
        raise ImportRefused(report)
    if n == 0:
        raise refuse("The file has no data rows", prefix=report.prefix)
    insert_tuples(db, conv.table, conv.insert_columns, buffer)
    if claim is not None:
        claim(conv)
    conv.write_rollups(db)
    count_ingested(db, module="lguplus.citydata", kind="rows", n=n)
    if on_rows is not None:
        on_rows(n)
    return n


def store_file(db: Session, conv: Converter, path: Path, *, encoding: str,
               on_bytes: Callable[[int], None] | None = None, on_rows: Callable[[int], None] | None = None,
               claim: Callable[[Converter], None] | None = None) -> int:
    report = ErrorReport(prefix="line")
    header, rows = csv_rows(path, encoding, on_bytes)
    if not conv.bind_header(header, report):
        raise ImportRefused(report)
    return store(db, conv, rows, report, on_rows, claim)


def store_json(db: Session, conv: Converter, rows: list[Any], claim: Callable[[Converter], None] | None = None
               ) -> int:
    report = ErrorReport(prefix="rows")
    conv.bind_columns()
    return store(db, conv, json_rows(rows, conv.columns, report), report, claim=claim)
