from tests.conftest import api_headers

PROGRAM = {
    "title": "어르신 정보격차 분석",
    "description": "통신 데이터로 고립 분석",
    "municipality_code": "4812000000",
    "partner_codes": ["skt", "kostat"],
    "status": "planned",
    "start_date": "2026-03-01",
    "end_date": "2027-02-28",
    "budget_krw": 180000000,
    "agreement_date": "2026-02-15",
}


def test_create_read_update_delete_program(client, world):
    h = api_headers(client, "cw.staff")
    r = client.post("/api/v1/programs", json=PROGRAM, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["partner_codes"] == ["kostat", "skt"]
    assert body["allowed_transitions"] == ["active", "suspended"]
    pid = body["id"]

    listed = client.get("/api/v1/programs", headers=h).json()
    assert listed["total"] == 1 and listed["limit"] == 50 and listed["offset"] == 0

    r = client.patch(f"/api/v1/programs/{pid}", json={"status": "active", "budget_krw": 200000000}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active"

    audit = client.get(f"/api/v1/programs/{pid}/audit", headers=h).json()
    actions = [e["action"] for e in audit["items"]]
    assert actions == ["update", "create"]
    assert audit["items"][0]["before"]["status"] == "planned"
    assert audit["items"][0]["after"]["status"] == "active"
    assert audit["items"][0]["actor"] == "user:cw.staff"

    assert client.delete(f"/api/v1/programs/{pid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/programs/{pid}", headers=h).status_code == 404


def test_bad_input_is_refused_with_each_field_named(client, world):
    h = api_headers(client, "cw.staff")
    bad = dict(PROGRAM, end_date="2026-01-01", budget_krw=-5, partner_codes=["nobody"], extra="x")
    r = client.post("/api/v1/programs", json=bad, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("body", "end_date") in locs and ("body", "budget_krw") in locs and ("body", "extra") in locs

    r = client.post("/api/v1/programs", json=dict(PROGRAM, partner_codes=["nobody"]), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["partner_codes", 0]

    r = client.post("/api/v1/programs", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422

    r = client.post("/api/v1/programs", json=dict(PROGRAM, title="x" * 201), headers=h)
    assert r.status_code == 422
    assert client.get("/api/v1/programs", headers=h).json()["total"] == 0


def test_duplicate_title_is_a_conflict_and_illegal_transition_refused(client, world):
    h = api_headers(client, "cw.staff")
    pid = client.post("/api/v1/programs", json=PROGRAM, headers=h).json()["id"]
    r = client.post("/api/v1/programs", json=PROGRAM, headers=h)
    assert r.status_code == 409
    r = client.patch(f"/api/v1/programs/{pid}", json={"status": "completed"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["status"]
    assert client.get(f"/api/v1/programs/{pid}", headers=h).json()["status"] == "planned"


def test_filters_and_pagination(client, world):
    h = api_headers(client, "root")
    for i in range(7):
        client.post("/api/v1/programs", headers=h, json=dict(
            PROGRAM, title=f"사업 {i}", partner_codes=["kt"] if i % 2 else ["skt"],
            municipality_code="3100000000" if i < 3 else "4812000000"))
    page = client.get("/api/v1/programs?limit=2&offset=2", headers=h).json()
    assert page["total"] == 7 and len(page["items"]) == 2 and page["offset"] == 2
    assert client.get("/api/v1/programs?partner=kt", headers=h).json()["total"] == 3
    assert client.get("/api/v1/programs?municipality=3100000000", headers=h).json()["total"] == 3
    assert client.get("/api/v1/programs?q=사업 6", headers=h).json()["total"] == 1
    assert client.get("/api/v1/programs?limit=1000", headers=h).status_code == 422


def test_kpis_and_milestones(client, world):
    h = api_headers(client, "cw.staff")
    pid = client.post("/api/v1/programs", json=PROGRAM, headers=h).json()["id"]
    r = client.post(f"/api/v1/programs/{pid}/kpis", json={"name": "수강생", "unit": "명", "baseline": 0,
                                                         "target": 200}, headers=h)
    assert r.status_code == 201
    kid = r.json()["id"]
    client.post(f"/api/v1/programs/{pid}/kpis/{kid}/values", json={"measured_date": "2026-04-01", "value": 50},
                headers=h)
    r = client.post(f"/api/v1/programs/{pid}/kpis/{kid}/values", json={"measured_date": "2026-05-01",
                                                                        "value": 150}, headers=h)
    assert r.json()["latest_value"] == 150 and r.json()["progress"] == 0.75
    assert client.post(f"/api/v1/programs/{pid}/kpis", json={"name": "x", "target": 0, "baseline": 0},
                       headers=h).status_code == 422
    r = client.post(f"/api/v1/programs/{pid}/milestones", json={"title": "개편", "due_date": "2026-06-30"},
                    headers=h)
    assert r.status_code == 201
    mid = r.json()["id"]
    r = client.patch(f"/api/v1/programs/{pid}/milestones/{mid}", json={"done_date": "2026-06-29"}, headers=h)
    assert r.json()["done_date"] == "2026-06-29"
    detail = client.get(f"/api/v1/programs/{pid}", headers=h).json()
    assert len(detail["kpis"][0]["values"]) == 2 and detail["milestones"][0]["title"] == "개편"


def test_viewer_reads_but_cannot_write(client, world):
    h = api_headers(client, "cw.viewer")
    assert client.get("/api/v1/programs", headers=h).status_code == 200
    r = client.post("/api/v1/programs", json=PROGRAM, headers=h)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")


def test_unauthenticated_api_is_401(client, world):
    r = client.get("/api/v1/programs")
    assert r.status_code == 401 and r.json()["status"] == 401


def test_partner_changes_are_audited_and_security_headers_sent(client, world):
    h = api_headers(client, "cw.staff")
    r = client.post("/api/v1/programs", json=PROGRAM, headers=h)
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    pid = r.json()["id"]
    client.patch(f"/api/v1/programs/{pid}", json={"partner_codes": ["kt"]}, headers=h)
    entry = client.get(f"/api/v1/programs/{pid}/audit", headers=h).json()["items"][0]
    assert entry["action"] == "update"
    assert entry["before"]["partners"] == ["kostat", "skt"] and entry["after"]["partners"] == ["kt"]


def test_csv_exports_follow_filters_and_tenancy(client, world):
    from tests.conftest import web_login

    root = api_headers(client, "root")
    client.post("/api/v1/programs", headers=root, json=dict(PROGRAM, title="창원 교육"))
    client.post("/api/v1/programs", headers=root, json=dict(PROGRAM, title="울산 관제", municipality_code="3100000000"))
    web_login(client, "cw.staff")
    r = client.get("/programs.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert "창원 교육" in text and "울산 관제" not in text
    assert client.get("/programs.csv?q=없는사업").content.decode("utf-8-sig").count("\n") == 1



def test_each_bad_program_input_alone_is_refused_and_nothing_saved(client, world):
    h = api_headers(client, "cw.staff")
    cases = [
        ({"end_date": "2026-01-01"}, ["body", "end_date"]),
        ({"budget_krw": -1}, ["body", "budget_krw"]),
        ({"municipality_code": "9999999999"}, ["municipality_code"]),
        ({"partner_codes": ["skt", "nobody"]}, ["partner_codes", 1]),
        ({"description": "가" * 5001}, ["body", "description"]),
        ({"status": "finished"}, ["body", "status"]),
        ({"module": "nosuch.module"}, ["module"]),
    ]
    for change, loc in cases:
        r = client.post("/api/v1/programs", json={**PROGRAM, **change}, headers=h)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), change
        assert [e["loc"] for e in r.json()["errors"]] == [loc], (change, r.json())
    pid = client.post("/api/v1/programs", json=PROGRAM, headers=h).json()["id"]
    r = client.patch(f"/api/v1/programs/{pid}", content=b'{"status": "active",', headers={
        **h, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid"
    r = client.patch(f"/api/v1/programs/{pid}", json={"end_date": "2026-02-01"}, headers=h)  # before the start
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["end_date"]
    assert client.get("/api/v1/programs", headers=h).json()["total"] == 1
    assert client.get(f"/api/v1/programs/{pid}", headers=h).json()["status"] == "planned"


def test_duplicate_municipality_and_partner_codes_are_conflicts(client, world):
    root = api_headers(client, "root")
    r = client.post("/api/v1/municipalities", headers=root, json={
        "code": "4812000000", "name_ko": "창원", "name_en": "Changwon", "level": "basic"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/partners", headers=root, json={
        "code": "skt", "name_ko": "에스케이", "name_en": "SKT", "kind": "telecom"})
    assert r.status_code == 409
    r = client.post("/api/v1/municipalities", headers=root, json={
        "code": "4831000000", "name_ko": "거제시", "name_en": "Geoje", "level": "basic", "parent_code": "4800000000"})
    assert r.status_code == 201 and r.json()["parent_code"] == "4800000000"
    assert client.post("/api/v1/partners", headers=api_headers(client, "cw.admin"), json={
        "code": "newco", "name_ko": "새회사", "name_en": "NewCo", "kind": "other"}).status_code == 403
