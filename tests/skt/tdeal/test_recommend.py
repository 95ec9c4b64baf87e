from collections import Counter

from sqlalchemy import update

from app.cli import main as dxhub
from app.core.config import get_settings
from app.core.tenancy import SYSTEM, bind_principal
from app.skt.tdeal import recommend
from app.skt.tdeal.models import TdealSubscriber
from tests.conftest import api_headers

API = "/api/v1/skt/tdeal"


def _train(client, h, **params):
    """Queue a training through the API, let the worker run it, and return the model it stored."""
    from app.core.jobs import queue_for

    r = client.post(f"{API}/models", json={"factors": 16, "iterations": 8, **params}, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.json()["kind"] == "skt.tdeal.train"
    queue = queue_for(client.app.state.settings)
    queue.bind(client.app.state.db)
    assert queue.drain() >= 1
    job = client.get(r.headers["location"], headers=h).json()
    assert job["status"] == "succeeded" and job["fraction"] == 1.0, job
    return next(m for m in client.get(f"{API}/models", headers=h).json() if m["id"] == job["result"]["model_id"])


def test_model_beats_popularity_baseline_on_a_time_split(client, tdeal):
    h = api_headers(client, "cw.staff")
    model = _train(client, h)
    metrics = model["metrics"]
    assert metrics["users_evaluated"] >= 50 and metrics["test_events"] > 0
    res = metrics["results"]
    assert res["model"]["ndcg_at_k"] > res["popularity"]["ndcg_at_k"]
    assert res["model"]["recall_at_k"] > res["popularity"]["recall_at_k"]
    # capping two items per merchant spreads exposure over more merchants than the popularity list
    assert res["model_reranked"]["merchant_coverage"] > res["popularity"]["merchant_coverage"]
    assert client.get(f"{API}/models", headers=h).json()[0]["id"] == model["id"]
    assert client.get(f"{API}/models", headers=api_headers(client, "us.staff")).json() == []


def test_recommendations_model_fallback_campaign_cap_and_opt_in(client, tdeal, database):
    h = api_headers(client, "cw.staff")
    _train(client, h)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        opted = list(s.scalars(TdealSubscriber.__table__.select().with_only_columns(TdealSubscriber.id)
                               .where(TdealSubscriber.id.in_(tdeal["cw"]["subscriber_ids"]),
                                      TdealSubscriber.marketing_opt_in.is_(True))))
        refused = tdeal["cw"]["subscriber_ids"][0]
        s.execute(update(TdealSubscriber).where(TdealSubscriber.id == refused).values(marketing_opt_in=False))
    sub = next(x for x in opted if x != refused)
    r = client.get(f"{API}/recommendations?subscriber_id={sub}&k=10", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "model" and len(body["items"]) == 10
    assert body["campaign_id"] == tdeal["cw"]["campaign_id"]
    assert max(Counter(i["merchant_id"] for i in body["items"]).values()) <= 2
    assert any(i["reason"].endswith("+campaign") for i in body["items"])
    scores = [i["score"] for i in body["items"]]
    assert len(set(i["product_id"] for i in body["items"])) == 10 and scores[0] >= scores[-1]

    assert client.get(f"{API}/recommendations?subscriber_id={refused}", headers=h).status_code == 409
    r = client.post(f"{API}/subscribers", json={"pseudonym": "new-sub-0001", "age_band": "30-39", "sex": "F",
                                               "marketing_opt_in": True}, headers=h)
    new = r.json()["id"]
    r = client.get(f"{API}/recommendations?subscriber_id={new}&k=5", headers=h)
    assert r.status_code == 200 and r.json()["source"] == "segment_popularity" and len(r.json()["items"]) == 5
    assert all(i["reason"].startswith("popular_in_segment") for i in r.json()["items"])

    us = api_headers(client, "us.staff")
    assert client.get(f"{API}/recommendations?subscriber_id={sub}", headers=us).status_code == 404
    assert client.get(f"{API}/recommendations?subscriber_id=abc", headers=h).status_code == 422
    assert client.get(f"{API}/recommendations?subscriber_id={sub}&k=0", headers=h).status_code == 422
    assert client.get(f"{API}/recommendations?subscriber_id={sub}&campaign_id=999999", headers=h).status_code == 404


def test_cli_train_and_evaluate(tdeal, database, monkeypatch, capsys):
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        assert dxhub(["tdeal", "evaluate", "--municipality", "4812000000", "--factors", "16", "--iterations", "8"]) == 0
        out = capsys.readouterr()
        assert "NDCG@10" in out.out and "popularity baseline" in out.out and "The model beats" in out.out
        assert "100.0%" in out.err  # the progress bar reached its end
        assert dxhub(["tdeal", "train", "--municipality", "4812000000", "--quiet", "--factors", "8"]) == 0
        assert "Stored model" in capsys.readouterr().out
        assert dxhub(["tdeal", "train", "--municipality", "9999999999", "--quiet"]) == 2
    finally:
        get_settings.cache_clear()
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        assert recommend.latest_model(s).params["factors"] == 8
