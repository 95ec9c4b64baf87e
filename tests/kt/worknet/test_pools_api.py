import threading

from sqlalchemy import select

from app.core.errors import DomainError
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet import service
from app.kt.worknet.models import Lease, Pool, Router
from app.kt.worknet.sealing import seal
from tests.conftest import api_headers

API = "/api/v1/kt/worknet"


def _pool(client, h, name="본청", cidr="10.48.31.0/29", **extra):
    r = client.post(f"{API}/pools", json={"name": name, "cidr": cidr, **extra}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_allocate_next_free_one_lease_per_router_and_exhaustion(client, world, new_router):
    h = api_headers(client, "cw.staff")
    pool = _pool(client, h)
    assert (pool["first_ip"], pool["last_ip"], pool["size"], pool["free"]) == ("10.48.31.2", "10.48.31.6", 5, 5)
    routers = [new_router(h, f"CW5G-{i:04d}")["id"] for i in range(6)]
    r = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": routers[0]}, headers=h)
    assert r.status_code == 201 and r.json()["ip"] == "10.48.31.2" and r.json()["router_id"] == routers[0]
    lease_id = r.json()["id"]
    # A retry for the same router gives the same lease, not a second address.
    r = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": routers[0]}, headers=h)
    assert r.status_code == 200 and r.json()["id"] == lease_id
    ips = [client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": rid}, headers=h).json()["ip"]
           for rid in routers[1:5]]
    assert ips == ["10.48.31.3", "10.48.31.4", "10.48.31.5", "10.48.31.6"]
    r = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": routers[5]}, headers=h)
    assert r.status_code == 409 and "exhausted" in r.json()["detail"]
    assert client.get(f"{API}/pools/{pool['id']}", headers=h).json()["utilisation"] == 1.0

    # Released addresses stay in quarantine: the pool is still full.
    r = client.post(f"{API}/leases/{lease_id}/release", json={"reason": "반납"}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["reusable_at"]
    assert client.post(f"{API}/leases/{lease_id}/release", headers=h).status_code == 200  # idempotent
    r = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": routers[5]}, headers=h)
    assert r.status_code == 409
    view = client.get(f"{API}/pools/{pool['id']}", headers=h).json()
    assert (view["active"], view["quarantined"], view["free"]) == (4, 1, 0)
    leases = client.get(f"{API}/pools/{pool['id']}/leases?active=true", headers=h).json()
    assert leases["total"] == 4


def test_quarantine_zero_reuses_and_other_pool_conflicts(client, world, new_router):
    h = api_headers(client, "cw.staff")
    pool = _pool(client, h, cidr="10.48.32.0/30", reserved_low=0, quarantine_hours=0)
    assert pool["size"] == 2
    other = _pool(client, h, name="현장", cidr="10.48.33.0/24", department="안전총괄과")
    a, b = new_router(h, "CW5G-0001")["id"], new_router(h, "CW5G-0002")["id"]
    lease = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": a}, headers=h).json()
    assert lease["ip"] == "10.48.32.1"
    r = client.post(f"{API}/pools/{other['id']}/allocate", json={"router_id": a}, headers=h)
    assert r.status_code == 409 and "10.48.32.1" in r.json()["detail"]
    client.post(f"{API}/leases/{lease['id']}/release", headers=h)
    assert client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": b}, headers=h).json()["ip"] \
        == "10.48.32.2"
    assert client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": a}, headers=h).json()["ip"] \
        == "10.48.32.1"
    # A router of another department does not get an address from a department's pool.
    c = new_router(h, "CW5G-0003")["id"]
    client.post(f"{API}/routers/{c}/assign", headers=h, json={"assignee_username": "cw1", "assignee_name": "김",
                                                               "department": "건설과"})
    r = client.post(f"{API}/pools/{other['id']}/allocate", json={"router_id": c}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["router_id"]
    # Lost routers lose their address at once.
    r = client.post(f"{API}/routers/{a}/status", json={"status": "lost"}, headers=h)
    assert client.get(f"{API}/leases?router_id={a}&active=true", headers=h).json()["total"] == 0
    r = client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": a}, headers=h)
    assert r.status_code == 422


def test_bad_pools_are_refused(client, world, new_router):
    h = api_headers(client, "cw.staff")
    _pool(client, h, cidr="10.48.0.0/24")
    for cidr in ["10.48.0.128/25", "10.48.0.5/24", "10.48.0.0/33", "nonsense", "2001:db8::/64", "10.0.0.0/8",
                 "10.49.0.0/31"]:
        r = client.post(f"{API}/pools", json={"name": f"p {cidr}", "cidr": cidr}, headers=h)
        assert r.status_code == 422, cidr
        assert r.json()["errors"][0]["loc"][-1] == "cidr"
    r = client.post(f"{API}/pools", json={"name": "x", "cidr": "10.48.1.0/30", "reserved_low": 2}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["reserved_low"]
    r = client.post(f"{API}/pools", json={"name": "본청", "cidr": "10.48.9.0/24"}, headers=h)
    assert r.status_code == 409
    assert len(client.get(f"{API}/pools", headers=h).json()) == 1
    pid = client.get(f"{API}/pools", headers=h).json()[0]["id"]
    for body in [{}, {"router_id": 0}, {"router_id": 999999}, {"router_id": "x"}]:
        assert client.post(f"{API}/pools/{pid}/allocate", json=body, headers=h).status_code == 422
    # The same block in another municipality is another network: allowed.
    us = api_headers(client, "us.staff")
    _pool(client, us, cidr="10.48.0.0/24")
    assert client.get(f"{API}/pools/{pid}", headers=us).status_code == 404
    rid = new_router(us, "US5G-0001")["id"]
    r = client.post(f"{API}/pools/{pid}/allocate", json={"router_id": rid}, headers=us)
    assert r.status_code == 404
    r = client.post(f"{API}/pools/{pid}/allocate", json={"router_id": rid}, headers=h)
    assert r.status_code == 422  # another tenant's router is unknown here


def test_exports_for_the_network_side(client, world, new_router):
    h = api_headers(client, "cw.staff")
    pool = _pool(client, h, cidr="10.48.40.0/24")
    rid = new_router(h, "CW5G-0007", model="E500\nDEFAULT Auth-Type := Accept", imsi="450081234500007",
                     msisdn="010-1234-0007")["id"]
    client.post(f"{API}/routers/{rid}/assign", headers=h, json={"assignee_username": "cw2001",
                                                                 "assignee_name": "김민준", "department": "건설과"})
    client.post(f"{API}/pools/{pool['id']}/allocate", json={"router_id": rid}, headers=h)
    r = client.get(f"{API}/pools/{pool['id']}/export.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("\ufeffip,netmask,router_serial")
    assert lines[1].startswith("10.48.40.2,255.255.255.0,CW5G-0007")
    assert ",450081234500007,821012340007" in r.text
    r = client.get(f"{API}/pools/{pool['id']}/radius-users", headers=h)
    assert '"450081234500007" Auth-Type := Accept, Calling-Station-Id == "821012340007"' in r.text
    assert "Framed-IP-Address = 10.48.40.2," in r.text
    assert "Framed-IP-Netmask = 255.255.255.0" in r.text
    # Every line is a comment, an entry's user name, a tab-indented reply item or empty: free text in a
    # router's model cannot start an entry of its own in the users file.
    entries = [line for line in r.text.splitlines() if line and not line.startswith(("#", "\t"))]
    assert entries == ['"450081234500007" Auth-Type := Accept, Calling-Station-Id == "821012340007"']
    replies = [line for line in r.text.splitlines() if line.startswith("\t")]
    assert [line.endswith(",") for line in replies] == [True, False]  # the last reply item has no comma


def test_concurrent_allocations_never_give_an_address_twice(database, world):
    """Many transactions allocate from one pool at once (real concurrency on PostgreSQL)."""
    n_routers, n_threads = 48, 12
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        mid = world.changwon.id
        pool = Pool(municipality_id=mid, name="동시", cidr="10.50.0.0/26", first_ip_int=0, last_ip_int=0,
                    next_ip_int=0, quarantine_hours=1)
        pool.first_ip_int = pool.next_ip_int = int.from_bytes(bytes([10, 50, 0, 2]), "big")
        pool.last_ip_int = int.from_bytes(bytes([10, 50, 0, 62]), "big")  # 61 addresses
        s.add(pool)
        routers = [Router(municipality_id=mid, serial=f"CC5G-{i:04d}", model="m", imei=f"{i:015d}",
                          iccid_sealed=seal("x", municipality_id=mid, serial=f"CC5G-{i:04d}"),
                          iccid_digest=f"{i:064d}", iccid_masked="x", status="in_stock")
                   for i in range(n_routers + 20)]
        s.add_all(routers)
        s.flush()
        pool_id, router_ids = pool.id, [r.id for r in routers]
    barrier = threading.Barrier(n_threads)
    errors: list[str] = []
    outcomes: list[str] = []

    def worker(ids: list[int]) -> None:
        barrier.wait()
        for rid in ids:
            try:
                with database.unit_of_work() as s:
                    bind_principal(s, SYSTEM)
                    p = service.get_pool(s, pool_id=pool_id)
                    lease, _ = service.allocate(s, pool=p, router_id=rid)
                    outcomes.append(lease.ip)
            except DomainError as exc:
                errors.append(exc.detail)

    chunks = [router_ids[i::n_threads] for i in range(n_threads)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with database.session(principal=SYSTEM) as s:
        ips = list(s.scalars(select(Lease.ip).where(Lease.pool_id == pool_id)))
    assert len(ips) == len(set(ips)) == 61 == len(outcomes)
    assert len(errors) == n_routers + 20 - 61 and all("exhausted" in e for e in errors)
