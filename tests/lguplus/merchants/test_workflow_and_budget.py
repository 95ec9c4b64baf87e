from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy import select

from app.core.errors import Conflict
from app.core.tenancy import SYSTEM, Principal, bind_principal
from app.lguplus.merchants import service
from app.lguplus.merchants.models import Application, Budget
from app.lguplus.merchants.schemas import TransitionIn
from tests.conftest import api_headers
from tests.lguplus.merchants.conftest import API, merchant_body


def _merchant(client, h, head="220816251"):
    r = client.post(API, json=merchant_body(head), headers=h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _apply(client, h, merchant_id, solution="serving_robot", amount=300_000, year=2027):
    r = client.post(f"{API}/applications", json={"merchant_id": merchant_id, "solution": solution,
                                                  "requested_subsidy_krw": amount, "year": year}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _move(client, h, app_id, to, **extra):
    return client.post(f"{API}/applications/{app_id}/transitions", json={"to": to, **extra}, headers=h)


def test_state_machine_records_each_step_and_refuses_the_rest(client, world):
    h = api_headers(client, "cw.staff")
    mid = _merchant(client, h)
    app = _apply(client, h, mid)
    assert app["state"] == "submitted" and app["allowed"] == ["reviewed", "rejected", "cancelled"]
    assert [s["to_state"] for s in app["history"]] == ["submitted"]

    r = _move(client, h, app["id"], "installed")
    assert r.status_code == 409
    body = r.json()
    assert "reviewed, rejected, cancelled" in body["detail"] and body["errors"][0]["loc"] == ["to"]
    assert _move(client, h, app["id"], "flying").status_code == 422
    assert _move(client, h, app["id"], "reviewed").status_code == 200
    assert _move(client, h, app["id"], "rejected").status_code == 422  # a rejection needs its reason

    client.put(f"{API}/budget", json={"year": 2027, "amount": 1_000_000}, headers=h)
    for to in ("approved", "installed", "active"):
        r = _move(client, h, app["id"], to, **({"on": "2026-12-02"} if to == "installed" else {}))
        assert r.status_code == 200, r.text
    done = r.json()
    assert done["installed_date"] == "2026-12-02" and done["allowed"] == ["cancelled"]
    steps = done["history"]
    assert [(s["from_state"], s["to_state"]) for s in steps] == [
        (None, "submitted"), ("submitted", "reviewed"), ("reviewed", "approved"), ("approved", "installed"),
        ("installed", "active")]
    assert all(s["actor"] == "user:cw.staff" and s["at"].endswith("+00:00") for s in steps)
    r = _move(client, h, app["id"], "cancelled", reason="폐업")
    assert r.status_code == 200 and r.json()["reason"] == "폐업" and r.json()["allowed"] == []
    assert _move(client, h, app["id"], "active").status_code == 409

    other = _apply(client, h, mid, solution="pos", amount=100_000)
    r = _move(client, h, other["id"], "rejected", reason="서류 미비")
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["reason"] == "서류 미비"
    assert _move(client, h, other["id"], "reviewed").status_code == 409
    listed = client.get(f"{API}/applications?state=rejected", headers=h).json()
    assert [a["id"] for a in listed["items"]] == [other["id"]]
    assert client.get(f"{API}/funnel?year=2027", headers=h).json() == {
        "submitted": 0, "reviewed": 0, "approved": 0, "installed": 0, "active": 0, "cancelled": 1, "rejected": 1}


def test_application_rules(client, world):
    h = api_headers(client, "cw.staff")
    mid = _merchant(client, h)
    sols = {s["code"]: s for s in client.get(f"{API}/solutions", headers=h).json()}
    assert set(sols) == {"ai_call", "ai_booking", "waiting", "order", "pos", "serving_robot"}
    order = sols["order"]
    assert order["max_subsidy_krw"] == min(order["subsidy_cap_krw"],
                                           (order["one_off_krw"] + 12 * order["monthly_fee_krw"])
                                           * order["subsidy_pct"] // 100)
    r = client.post(f"{API}/applications", json={"merchant_id": mid, "solution": "order", "year": 2027,
                                                  "requested_subsidy_krw": order["max_subsidy_krw"] + 1}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["requested_subsidy_krw"]
    _apply(client, h, mid, solution="order", amount=order["max_subsidy_krw"])
    r = client.post(f"{API}/applications", json={"merchant_id": mid, "solution": "order", "year": 2027,
                                                  "requested_subsidy_krw": 1000}, headers=h)
    assert r.status_code == 409  # one open application per merchant and solution
    r = client.post(f"{API}/applications", json={"merchant_id": 10**9, "solution": "order", "year": 2027,
                                                  "requested_subsidy_krw": 1000}, headers=h)
    assert r.status_code == 422
    rule = {"monthly_fee_krw": 30000, "one_off_krw": 0, "subsidy_pct": 50, "subsidy_cap_krw": 100_000}
    assert client.put(f"{API}/solutions/order", json=rule, headers=h).status_code == 403  # staff
    r = client.put(f"{API}/solutions/order", json=rule, headers=api_headers(client, "cw.admin"))
    assert r.status_code == 200 and r.json()["max_subsidy_krw"] == 100_000


def test_budget_commits_on_approval_and_refuses_beyond_what_remains(client, world):
    h = api_headers(client, "cw.staff")
    mids = [_merchant(client, h, head) for head in ("220816251", "123456789", "345678912")]
    apps = [_apply(client, h, m, amount=400_000) for m in mids]
    for a in apps:
        assert _move(client, h, a["id"], "reviewed").status_code == 200
    r = _move(client, h, apps[0]["id"], "approved")
    assert r.status_code == 409 and "2027" in r.json()["detail"]  # no budget yet

    r = client.put(f"{API}/budget", json={"year": 2027, "amount": 1_000_000}, headers=h)
    assert r.status_code == 200 and r.json()["remaining_krw"] == 1_000_000
    assert _move(client, h, apps[0]["id"], "approved").status_code == 200
    assert _move(client, h, apps[1]["id"], "approved").status_code == 200
    r = _move(client, h, apps[2]["id"], "approved")
    assert r.status_code == 409 and "200000" in r.json()["detail"]
    assert client.get(f"{API}/applications/{apps[2]['id']}", headers=h).json()["state"] == "reviewed"
    b = client.get(f"{API}/budget?year=2027", headers=h).json()
    assert b == {"year": 2027, "amount_krw": 1_000_000, "committed_krw": 800_000, "remaining_krw": 200_000,
                 "used_share": 0.8}
    r = client.put(f"{API}/budget", json={"year": 2027, "amount": 700_000}, headers=h)
    assert r.status_code == 409  # below what is committed

    # cancelling before installation gives the money back; then the third fits
    assert _move(client, h, apps[1]["id"], "cancelled", reason="가맹점 요청").status_code == 200
    assert client.get(f"{API}/budget?year=2027", headers=h).json()["committed_krw"] == 400_000
    assert _move(client, h, apps[2]["id"], "approved").status_code == 200
    # after installation the subsidy is spent: cancelling keeps it committed
    assert _move(client, h, apps[0]["id"], "installed").status_code == 200
    assert _move(client, h, apps[0]["id"], "cancelled", reason="폐업").status_code == 200
    assert client.get(f"{API}/budget?year=2027", headers=h).json()["committed_krw"] == 800_000
    assert client.get(f"{API}/budget?year=2027", headers=api_headers(client, "us.staff")).json()["amount_krw"] == 0


def test_concurrent_approvals_through_the_api_never_overdraw(client, world):
    h = api_headers(client, "cw.staff")
    heads = [f"{100000000 + i * 7919:09d}" for i in range(8)]
    apps = [_apply(client, h, _merchant(client, h, head), amount=300_000) for head in heads]
    for a in apps:
        _move(client, h, a["id"], "reviewed")
    client.put(f"{API}/budget", json={"year": 2027, "amount": 1_000_000}, headers=h)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda a: _move(client, h, a["id"], "approved").status_code, apps))
    assert sorted(codes) == [200, 200, 200] + [409] * 5
    b = client.get(f"{API}/budget?year=2027", headers=h).json()
    assert b["committed_krw"] == 900_000 and b["remaining_krw"] == 100_000
    # the same application approved twice at once: one wins, the other is told it is already approved
    extra = _apply(client, h, _merchant(client, h, "987654321"), amount=50_000)
    _move(client, h, extra["id"], "reviewed")
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda _i: _move(client, h, extra["id"], "approved").status_code, range(4)))
    assert sorted(codes) == [200, 409, 409, 409]
    assert client.get(f"{API}/budget?year=2027", headers=h).json()["committed_krw"] == 950_000


def test_officials_approving_at_the_same_moment_on_separate_connections(database, client, world):
    """Each thread has its own connection and transaction; they start together (a barrier) and the budget
    row lock makes them queue: on PostgreSQL SELECT ... FOR UPDATE, on SQLite BEGIN IMMEDIATE."""
    h = api_headers(client, "cw.staff")
    heads = [f"{200000000 + i * 104729:09d}" for i in range(6)]
    ids = [_apply(client, h, _merchant(client, h, head), amount=400_000)["id"] for head in heads]
    for i in ids:
        _move(client, h, i, "reviewed")
    client.put(f"{API}/budget", json={"year": 2027, "amount": 1_000_000}, headers=h)
    official = Principal(kind="user", id=None, name="official", role="staff", municipality_id=world.changwon.id,
                         municipality_ids=frozenset({world.changwon.id}))
    barrier = Barrier(len(ids))

    def approve(app_id: int) -> str:
        session = database.session(write=False)
        try:
            bind_principal(session, official)
            barrier.wait(timeout=30)
            if database.is_sqlite:
                session.connection(execution_options={"sqlite_immediate": True})
            service.transition(session, application_id=app_id, data=TransitionIn(to="approved"))
            session.commit()
            return "approved"
        except Conflict:
            session.rollback()
            return "refused"
        finally:
            session.close()

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        results = list(pool.map(approve, ids))
    assert sorted(results) == ["approved", "approved"] + ["refused"] * 4
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        budget = s.scalar(select(Budget).where(Budget.year == 2027))
        held = sum(a.committed_krw for a in s.scalars(select(Application).where(Application.id.in_(ids))))
    assert budget.committed_krw == held == 800_000
