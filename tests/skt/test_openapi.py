"""The API document integrators build from: once, not per backend (it does not touch the database)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app


def test_the_skt_endpoints_are_documented_for_integrators(tmp_path):
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    app = create_app(Settings(env="test", database_url=url, secret_key="test-secret-key-0123456789"), Database(url))
    paths = TestClient(app).get("/openapi.json").json()["paths"]

    body = paths["/api/v1/skt/isolation/indicators"]["post"]["requestBody"]["content"]
    item = body["application/json"]["schema"]["items"]
    assert set(item["required"]) >= {"period", "dong_code", "age_band", "sex", "income_band", "population",
                                     "isolated", "home_hours"}
    assert "text/csv" in body
    ranking = {p["name"] for p in paths["/api/v1/skt/isolation/ranking"]["get"]["parameters"]}
    assert {"period", "min_age"} <= ranking

    redeem = paths["/api/v1/skt/tdeal/coupons/{coupon_id}/redeem"]["post"]
    assert "201" in redeem["responses"]
    recs = {p["name"] for p in paths["/api/v1/skt/tdeal/recommendations"]["get"]["parameters"]}
    assert {"subscriber_id", "k", "campaign_id"} <= recs
    for resource in ("merchants", "products", "campaigns", "coupons", "subscribers", "events"):
        assert f"/api/v1/skt/tdeal/{resource}" in paths, resource
