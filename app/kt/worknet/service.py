"""Routers, fixed-IP pools and leases: the rules of the work-network inventory.

Allocation is next-fit from the pool's cursor under a row lock on the pool (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite's writers are serialised by ``BEGIN IMMEDIATE``). Partial unique indexes on
active leases are the backstop: the database itself refuses an address given twice.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.csvout import csv_text
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, field_error, flush_or_conflict
from app.core.lookup import one_or_404
from app.core.pagination import PageParams, paginate
from app.core.tenancy import Principal, principal_of
from app.kt.worknet import sealing
from app.kt.worknet.models import Lease, Pool, Router, RouterEvent
from app.kt.worknet.schemas import AssignIn, PoolIn, RouterIn, RouterUpdate, StatusIn
from app.platform import audit
from app.platform import service as platform_service
from app.platform.models import Municipality

SCAN_WINDOW = 4096


def target_municipality(db: Session, *, principal: Principal | None, code: str | None,
                        field: str = "municipality_code") -> Municipality:
    """The municipality a write is for: the one named, else the caller's own."""
    if code:
        return platform_service.resolve_municipality(db, code=code, field=field)
    if principal is not None and principal.municipality_id is not None:
        return platform_service.get_municipality_by_id(db, municipality_id=principal.municipality_id)
    raise InvalidInput.field(field, "Name the municipality: this caller is not bound to one")


def _history(db: Session, router: Router, action: str, **detail: Any) -> None:
    db.add(RouterEvent(router_id=router.id, municipality_id=router.municipality_id, action=action,
                       detail=detail, actor=audit.actor(db)))



# --- routers ---------------------------------------------------------------------------------

def router_query(*, status: str | None = None, department: str | None = None, q: str | None = None):
    stmt = select(Router).order_by(Router.serial)
    if status:
        stmt = stmt.where(Router.status == status)
    if department:
        stmt = stmt.where(Router.department == department)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Router.serial.ilike(like), Router.assignee_username.ilike(like),
                              Router.assignee_name.ilike(like), Router.imei.like(like), Router.model.ilike(like)))
    return stmt


def list_routers(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[Router], int]:
    return paginate(db, router_query(**filters), page)


def get_router(db: Session, *, router_id: int) -> Router:
    return one_or_404(db, Router, router_id, "Router {id} not found")


def router_by_serial(db: Session, *, serial: str) -> Router | None:
    return db.scalar(select(Router).where(Router.serial == serial))


def create_router(db: Session, *, data: RouterIn, principal: Principal | None = None) -> Router:
    municipality = target_municipality(db, principal=principal or principal_of(db), code=data.municipality_code)
    mid = municipality.id
    digest = sealing.digest(data.iccid)
    clash = db.execute(select(Router.serial, Router.imei, Router.iccid_digest).where(
        Router.municipality_id == mid,
        or_(Router.serial == data.serial, Router.imei == data.imei, Router.iccid_digest == digest))).first()
    if clash:
        field, value = (("serial", data.serial) if clash.serial == data.serial else
                        ("imei", data.imei) if clash.imei == data.imei else ("iccid", sealing.mask_iccid(data.iccid)))
        raise Conflict("A router with this {field} ({value}) is already registered", field=field, value=value)
    check_sim_free(db, municipality_id=mid, imsi=data.imsi, msisdn=data.msisdn)
    router = Router(municipality_id=mid, serial=data.serial, model=data.model, imei=data.imei,
                    iccid_sealed=sealing.seal(data.iccid, municipality_id=mid, serial=data.serial), iccid_digest=digest,
                    iccid_masked=sealing.mask_iccid(data.iccid), imsi=data.imsi, msisdn=data.msisdn, note=data.note,
                    status="in_stock")
    db.add(router)
    flush_or_conflict(db, "A router with serial {serial} is already registered", serial=data.serial)
    _history(db, router, "registered", model=data.model)
    db.flush()
    return router


def reveal_iccid(db: Session, *, router: Router) -> str | None:
    """The router's full ICCID, for staff who deal with the carrier (a lost USIM, a transfer): shown once,
    with an access record; None when the sealed value does not open (audited as such)."""
    return audit.reveal(db, field=sealing.ICCID, sealed=router.iccid_sealed,
                        row=(router.municipality_id, router.serial), subject_type="worknet_router",
                        subject_id=str(router.id), municipality_id=router.municipality_id,
                        data_subject=router.assignee_name or router.serial, detail={"iccid": router.iccid_masked})


def check_sim_free(db: Session, *, municipality_id: int, imsi: str | None, msisdn: str | None,
                   router_id: int | None = None) -> None:
    """409 when another router of the municipality already holds this IMSI or MSISDN."""
    for field, column, value in (("imsi", Router.imsi, imsi), ("msisdn", Router.msisdn, msisdn)):
        if value is None:
            continue
        other = db.scalar(select(Router.serial).where(Router.municipality_id == municipality_id, column == value,
                                                      Router.id != (router_id or 0)))
        if other:
            raise Conflict("The router {serial} already has this {field} ({value})", serial=other, field=field,
                           value=value)


def update_router(db: Session, *, router: Router, data: RouterUpdate) -> Router:
    check_sim_free(db, municipality_id=router.municipality_id, imsi=data.imsi, msisdn=data.msisdn,
                   router_id=router.id)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(router, key, value)
    db.flush()
    return router


def assign_router(db: Session, *, router: Router, data: AssignIn) -> Router:
    if router.status not in ("in_stock", "assigned"):
        raise InvalidInput.field("status", "A {status} router cannot be assigned; bring it back to stock first",
                                 status=router.status)
    previous = router.assignee_username
    lease = active_lease_of(db, router_id=router.id)
    if lease is not None and lease.pool.department and lease.pool.department != data.department:
        raise InvalidInput.field("department", "The router holds {ip} from the pool of {pool_department}; "
                                 "release it before moving the router to {department}", ip=lease.ip,
                                 pool_department=lease.pool.department, department=data.department)
    router.status = "assigned"
    router.assignee_username = data.assignee_username
    router.assignee_name = data.assignee_name
    router.department = data.department
    if data.note:
        router.note = data.note
    _history(db, router, "reassigned" if previous else "assigned", username=data.assignee_username,
             name=data.assignee_name, department=data.department, previous=previous)
    db.flush()
    return router


def unassign_router(db: Session, *, router: Router, note: str = "") -> Router:
    if router.status != "assigned":
        raise InvalidInput.field("status", "Only an assigned router can be returned")
    _history(db, router, "returned", username=router.assignee_username, note=note)
    router.status = "in_stock"
    router.assignee_username = None
    router.assignee_name = ""
    db.flush()
    return router


TRANSITIONS = {
    "lost": ("in_stock", "assigned"),
    "in_stock": ("lost",),  # found again
    "retired": ("in_stock", "lost"),
}


def change_status(db: Session, *, router: Router, data: StatusIn) -> Router:
    """Lost and retired routers lose their fixed IP at once: the address goes into quarantine."""
    if router.status not in TRANSITIONS[data.status]:
        raise InvalidInput.field("status", "A router cannot go from {current} to {target}", current=router.status,
                                 target=data.status)
    action = {"lost": "lost", "in_stock": "found", "retired": "retired"}[data.status]
    lease = active_lease_of(db, router_id=router.id)
    if lease is not None and data.status in ("lost", "retired"):
        release_lease(db, lease=lease, reason=f"router {data.status}")
    _history(db, router, action, note=data.note, previous=router.status)
    router.status = data.status
    if data.status != "lost":
        router.assignee_username = None
        router.assignee_name = ""
    if data.note:
        router.note = data.note
    db.flush()
    return router


def router_history(db: Session, *, router: Router) -> list[RouterEvent]:
    return list(db.scalars(select(RouterEvent).where(RouterEvent.router_id == router.id)
                           .order_by(RouterEvent.occurred_at.desc(), RouterEvent.id.desc())))


def departments(db: Session) -> list[str]:
    rows = db.scalars(select(Router.department).where(Router.department != "").distinct())
    return sorted(set(rows))


# --- pools -----------------------------------------------------------------------------------

def _usable_range(net: ipaddress.IPv4Network, reserved_low: int) -> tuple[int, int]:
    first = int(net.network_address) + 1 + reserved_low
    last = int(net.broadcast_address) - 1
    if net.prefixlen >= 31 or first > last:
        raise InvalidInput.field("reserved_low", "No usable address is left in {cidr} after {n} reserved",
                                 cidr=str(net), n=reserved_low)
    return first, last


def create_pool(db: Session, *, data: PoolIn, principal: Principal | None = None) -> Pool:
    from app.kt.worknet.sealing import worknet_settings

    municipality = target_municipality(db, principal=principal or principal_of(db), code=data.municipality_code)
    net = ipaddress.IPv4Network(data.cidr)
    first, last = _usable_range(net, data.reserved_low)
    for other in db.scalars(select(Pool).where(Pool.municipality_id == municipality.id)):
        if net.overlaps(ipaddress.IPv4Network(other.cidr)):
            raise InvalidInput.field("cidr", "{cidr} overlaps the pool {name} ({other})", cidr=data.cidr,
                                     name=other.name, other=other.cidr)
    if db.scalar(select(Pool.id).where(Pool.municipality_id == municipality.id, Pool.name == data.name)):
        raise Conflict("A pool named {name} already exists", name=data.name)
    quarantine = data.quarantine_hours
    if quarantine is None:
        quarantine = worknet_settings().default_quarantine_hours
    pool = Pool(municipality_id=municipality.id, name=data.name, cidr=data.cidr, department=data.department,
                first_ip_int=first, last_ip_int=last, next_ip_int=first, quarantine_hours=quarantine)
    db.add(pool)
    flush_or_conflict(db, "A pool named {name} already exists", name=data.name)
    return pool


def list_pools(db: Session) -> list[Pool]:
    return list(db.scalars(select(Pool).order_by(Pool.name)))


def get_pool(db: Session, *, pool_id: int) -> Pool:
    return one_or_404(db, Pool, pool_id, "Pool {id} not found")


def _in_use(now: datetime):
    return or_(Lease.released_at.is_(None), Lease.reusable_at > now)


def pool_usage(db: Session, pools: list[Pool]) -> dict[int, dict[str, int]]:
    """Active and quarantined addresses per pool, in one query."""
    now = utcnow()
    if not pools:
        return {}
    rows = db.execute(
        select(Lease.pool_id,
               func.sum(case((Lease.released_at.is_(None), 1), else_=0)),
               func.count())
        .where(Lease.pool_id.in_([p.id for p in pools]), _in_use(now))
        .group_by(Lease.pool_id)).all()
    found = {pid: (int(active or 0), int(total)) for pid, active, total in rows}
    usage = {}
    for pool in pools:
        active, total = found.get(pool.id, (0, 0))
        usage[pool.id] = {"size": pool.size, "active": active, "quarantined": total - active,
                          "free": pool.size - total}
    return usage


def pool_view(pool: Pool, usage: dict[str, int]) -> dict[str, Any]:
    return {"id": pool.id, "name": pool.name, "cidr": pool.cidr, "department": pool.department,
            "first_ip": str(ipaddress.IPv4Address(pool.first_ip_int)),
            "last_ip": str(ipaddress.IPv4Address(pool.last_ip_int)), **usage,
            "utilisation": round((usage["active"] + usage["quarantined"]) / usage["size"], 4),
            "quarantine_hours": pool.quarantine_hours, "created_at": pool.created_at}


# --- leases ----------------------------------------------------------------------------------

def active_lease_of(db: Session, *, router_id: int) -> Lease | None:
    return db.scalar(select(Lease).where(Lease.router_id == router_id, Lease.released_at.is_(None)))


def _next_free(db: Session, pool: Pool, now: datetime) -> int | None:
    """The first address not in use or quarantine from the cursor on, wrapping around once."""
    start = min(max(pool.next_ip_int, pool.first_ip_int), pool.last_ip_int)
    for lo, hi in ((start, pool.last_ip_int), (pool.first_ip_int, start - 1)):
        window_lo = lo
        while window_lo <= hi:
            window_hi = min(hi, window_lo + SCAN_WINDOW - 1)
            used = set(db.scalars(select(Lease.ip_int).where(
                Lease.pool_id == pool.id, Lease.ip_int.between(window_lo, window_hi), _in_use(now))))
            if len(used) < window_hi - window_lo + 1:
                for candidate in range(window_lo, window_hi + 1):
                    if candidate not in used:
                        return candidate
            window_lo = window_hi + 1
    return None


def allocate(db: Session, *, pool: Pool, router_id: int) -> tuple[Lease, bool]:
    """Bind the pool's next free address to the router. Returns ``(lease, created)``.

    Asking again for a router that already holds an address of this pool returns that lease (an
    integrator's retry is harmless); a router holding an address of another pool is a conflict.
    """
    router = db.scalar(select(Router).where(Router.id == router_id))
    if router is None:
        raise InvalidInput.field("router_id", "Unknown router {id}", id=router_id)
    if router.municipality_id != pool.municipality_id:
        raise InvalidInput.field("router_id", "The router belongs to another municipality than the pool")
    if router.status in ("lost", "retired"):
        raise InvalidInput.field("router_id", "A {status} router gets no address", status=router.status)
    if pool.department and router.department and router.department != pool.department:
        raise InvalidInput.field("router_id", "The pool is for {pool_department}; the router is with {department}",
                                 pool_department=pool.department, department=router.department)
    held = db.execute(select(Lease.id, Lease.pool_id).where(Lease.router_id == router.id,
                                                            Lease.released_at.is_(None))).first()
    if held is not None:
        existing = get_lease(db, lease_id=held.id)
        if existing.pool_id == pool.id:
            return existing, False
        raise Conflict("Router {serial} already holds {ip} from the pool {pool}; release it first",
                       serial=router.serial, ip=existing.ip, pool=existing.pool.name)
    # Serialise allocations of this pool: the lock is held until the request's transaction commits, so the
    # critical section is kept to the lock, one range read and one flush.
    pool = db.scalar(select(Pool).where(Pool.id == pool.id).with_for_update()
                     .execution_options(populate_existing=True))
    now = utcnow()
    ip_int = _next_free(db, pool, now)
    if ip_int is None:
        raise Conflict("The pool {name} ({cidr}) is exhausted: all {size} addresses are in use or in quarantine",
                       name=pool.name, cidr=pool.cidr, size=pool.size)
    ip = str(ipaddress.IPv4Address(ip_int))
    lease = Lease(municipality_id=pool.municipality_id, pool_id=pool.id, router_id=router.id, ip=ip, ip_int=ip_int,
                  allocated_at=now)
    db.add(lease)
    pool.next_ip_int = ip_int + 1 if ip_int < pool.last_ip_int else pool.first_ip_int
    _history(db, router, "ip_allocated", ip=ip, pool=pool.name)
    try:
        db.flush()
    except IntegrityError as exc:  # the partial unique indexes: a second lease for the router at the same moment
        raise Conflict("The address {ip} or router {serial} was taken at the same moment; try again", ip=ip,
                       serial=router.serial) from exc
    return lease, True


def release_lease(db: Session, *, lease: Lease, reason: str = "") -> Lease:
    if lease.released_at is not None:
        return lease  # releasing twice is a no-op: a retried call must not fail
    now = utcnow()
    lease.released_at = now
    lease.reusable_at = now + timedelta(hours=lease.pool.quarantine_hours)
    lease.release_reason = reason
    _history(db, lease.router, "ip_released", ip=lease.ip, reason=reason)
    db.flush()
    return lease


def get_lease(db: Session, *, lease_id: int) -> Lease:
    return one_or_404(db, Lease, lease_id, "Lease {id} not found")


def lease_query(*, pool_id: int | None = None, router_id: int | None = None, active: bool | None = None,
                q: str | None = None):
    stmt = select(Lease).order_by(Lease.allocated_at.desc(), Lease.id.desc())
    if pool_id:
        stmt = stmt.where(Lease.pool_id == pool_id)
    if router_id:
        stmt = stmt.where(Lease.router_id == router_id)
    if active is True:
        stmt = stmt.where(Lease.released_at.is_(None))
    elif active is False:
        stmt = stmt.where(Lease.released_at.is_not(None))
    if q:
        stmt = stmt.join(Router, Lease.router_id == Router.id).where(
            or_(Lease.ip.like(f"%{q}%"), Router.serial.ilike(f"%{q}%"), Router.assignee_username.ilike(f"%{q}%")))
    return stmt


def list_leases(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[Lease], int]:
    return paginate(db, lease_query(**filters), page)


def active_ips(db: Session, router_ids: list[int]) -> dict[int, str]:
    if not router_ids:
        return {}
    return dict(db.execute(select(Lease.router_id, Lease.ip).where(
        Lease.router_id.in_(router_ids), Lease.released_at.is_(None))).all())


def lease_view(lease: Lease) -> dict[str, Any]:
    return {"id": lease.id, "ip": lease.ip, "pool_id": lease.pool_id, "pool_name": lease.pool.name,
            "router_id": lease.router_id, "router_serial": lease.router.serial,
            "assignee_username": lease.router.assignee_username, "allocated_at": lease.allocated_at,
            "released_at": lease.released_at, "reusable_at": lease.reusable_at,
            "release_reason": lease.release_reason, "active": lease.released_at is None}


# --- exports for the network side ------------------------------------------------------------

def _active_rows(db: Session, pool: Pool) -> list[tuple[Lease, Router]]:
    return list(db.execute(select(Lease, Router).join(Router, and_(Lease.router_id == Router.id))
                           .where(Lease.pool_id == pool.id, Lease.released_at.is_(None))
                           .order_by(Lease.ip_int)).all())


EXPORT_COLUMNS = ("ip", "netmask", "router_serial", "model", "imei", "status", "department", "assignee_username",
                  "allocated_at", "imsi", "msisdn")


def export_rows(db: Session, *, pool: Pool) -> list[list[object]]:
    """The pool's active leases as CSV rows (columns ``EXPORT_COLUMNS``), written by ``core.csvout``."""
    netmask = str(ipaddress.IPv4Network(pool.cidr).netmask)
    return [[lease.ip, netmask, router.serial, router.model, router.imei, router.status, router.department,
             router.assignee_username, lease.allocated_at.isoformat(), router.imsi or "", router.msisdn or ""]
            for lease, router in _active_rows(db, pool)]


def export_csv(db: Session, *, pool: Pool) -> str:
    return csv_text(EXPORT_COLUMNS, export_rows(db, pool=pool))


def export_radius(db: Session, *, pool: Pool) -> str:
    """A FreeRADIUS ``users`` file (``mods-config/files/authorize``): one entry per router holding an address.

    The operator's gateway authenticates the SIM itself and asks our RADIUS to authorize the session: it sends
    the IMSI as User-Name and the MSISDN as Calling-Station-Id (3GPP TS 29.061). An entry is keyed by the IMSI,
    checks the MSISDN when one is registered, and answers the router's fixed address. A router without an IMSI
    cannot be recognised by the network and is listed as a comment only.
    """
    net = ipaddress.IPv4Network(pool.cidr)
    lines = [f"# DX Hub 5G work network: pool {pool.name} ({pool.cidr}), generated {utcnow().isoformat()}",
             "# One entry per router holding a fixed address, keyed by its SIM's IMSI (User-Name) and MSISDN",
             "# (Calling-Station-Id); regenerate after every allocation or release.", ""]
    for lease, router in _active_rows(db, pool):
        # Free text goes on one comment line: a line break in a model or department name would otherwise
        # start a new entry of the users file (e.g. "DEFAULT Auth-Type := Accept").
        comment = " ".join(f'{router.serial}, {router.model}, IMEI {router.imei}, {router.department or "-"}'.split())
        lines.append(f"# {comment}")
        if not router.imsi:
            lines.append(f"# {router.serial} has no IMSI registered: not exported ({lease.ip})")
            lines.append("")
            continue
        checks = "Auth-Type := Accept"
        if router.msisdn:
            checks += f', Calling-Station-Id == "{router.msisdn}"'
        lines.append(f'"{router.imsi}" {checks}')
        lines.append(f"\tFramed-IP-Address = {lease.ip},")
        lines.append(f"\tFramed-IP-Netmask = {net.netmask}")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- bulk import of routers ------------------------------------------------------------------

IMPORT_COLUMNS = ("serial", "model", "imei", "iccid", "note", "imsi", "msisdn")
MAX_IMPORT = 2000


def parse_router_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in IMPORT_COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput.field("header", "The CSV header lacks the columns {columns}", columns=", ".join(missing))
    return [{k: v for k, v in row.items() if k in IMPORT_COLUMNS and v not in (None, "")} for row in reader]


def import_routers(db: Session, *, rows: list[Any], municipality_code: str | None = None,
                   principal: Principal | None = None) -> list[Router]:
    """Register many routers at once: a bad row rejects the whole batch, each bad row named."""
    from pydantic import ValidationError

    if not rows:
        raise InvalidInput.field("rows", "Send at least one router")
    if len(rows) > MAX_IMPORT:
        raise InvalidInput.field("rows", "At most {n} routers per import", n=MAX_IMPORT)
    municipality = target_municipality(db, principal=principal or principal_of(db), code=municipality_code)
    errors: list[dict[str, Any]] = []
    valid: list[tuple[int, RouterIn]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(field_error(["rows", i], "Each row must be an object"))
            continue
        try:
            valid.append((i, RouterIn.model_validate({**row, "municipality_code": municipality.code})))
        except ValidationError as exc:
            for err in exc.errors():
                message = err["msg"].removeprefix("Value error, ")
                errors.append(field_error(["rows", i, *err["loc"]], message))
    seen: dict[str, dict[str, int]] = {"serial": {}, "imei": {}, "iccid": {}, "imsi": {}, "msisdn": {}}
    for i, data in valid:
        for key in seen:
            value = getattr(data, key)
            if value is None:
                continue
            if value in seen[key]:
                errors.append(field_error(["rows", i, key], "Same {field} as row {other}", field=key,
                                          other=seen[key][value]))
            seen[key].setdefault(value, i)
    if valid:
        taken = db.execute(select(Router.serial, Router.imei, Router.iccid_digest).where(
            Router.municipality_id == municipality.id,
            or_(Router.serial.in_(list(seen["serial"])), Router.imei.in_(list(seen["imei"])),
                Router.iccid_digest.in_([sealing.digest(v) for v in seen["iccid"]])))).all()
        serials = {t.serial for t in taken}
        imeis = {t.imei for t in taken}
        digests = {t.iccid_digest for t in taken}
        sims = set(db.scalars(select(Router.imsi).where(Router.municipality_id == municipality.id,
                                                        Router.imsi.in_(list(seen["imsi"]))))) | set(
            db.scalars(select(Router.msisdn).where(Router.municipality_id == municipality.id,
                                                   Router.msisdn.in_(list(seen["msisdn"])))))
        for i, data in valid:
            for key in ("imsi", "msisdn"):
                if getattr(data, key) in sims:
                    errors.append(field_error(["rows", i, key], "This {field} is already registered", field=key))
            if data.serial in serials:
                errors.append(field_error(["rows", i, "serial"], "Serial {value} is already registered",
                                          value=data.serial))
            if data.imei in imeis:
                errors.append(field_error(["rows", i, "imei"], "IMEI {value} is already registered", value=data.imei))
            if sealing.digest(data.iccid) in digests:
                errors.append(field_error(["rows", i, "iccid"], "This ICCID is already registered"))
    if errors:
        raise InvalidInput("{n} problems in the import; nothing was saved", n=len(errors), errors=errors)
    return [create_router(db, data=data) for _, data in valid]
