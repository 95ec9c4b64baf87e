"""Viewing a merchant's owner details leaves an access record (who, when, from where, whose)."""

from __future__ import annotations

from sqlalchemy import select

from app.core.tenancy import SYSTEM
from app.lguplus.merchants.models import MerchantStore
from app.platform.models import AccessLog
from tests.conftest import api_headers, web_login
from tests.lguplus.merchants.conftest import API, WEB


def test_owner_details_views_are_recorded(client, program, database):
    with database.unit_of_work(principal=SYSTEM) as s:
        merchant = s.scalar(select(MerchantStore).where(MerchantStore.municipality_id == program["world"].changwon.id)
                            .order_by(MerchantStore.id).limit(1))
        mid, name = merchant.id, merchant.name
    h = api_headers(client, "cw.staff")
    assert client.get(f"{API}/{mid}", headers=h).status_code == 200
    web_login(client, "cw.viewer")
    assert client.get(f"{WEB}/merchants/{mid}").status_code == 200
    assert client.get(f"{API}/{mid}", headers=api_headers(client, "us.staff")).status_code == 404
    with database.unit_of_work(principal=SYSTEM) as s:
        rows = s.scalars(select(AccessLog).order_by(AccessLog.id)).all()
        assert [(r.actor, r.source, r.action, r.subject_id) for r in rows] == [
            ("user:cw.staff", "api", "view_owner", str(mid)), ("user:cw.viewer", "web", "view_owner", str(mid))]
        assert rows[0].data_subject == f"owner of {name}" and rows[1].origin == f"GET {WEB}/merchants/{mid}"
