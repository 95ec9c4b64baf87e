"""Security policies per department, the access log from the network side, its alerts and statistics.

Each authentication event is judged on arrival by the policy of the user's department (the department
of the router assigned to the user, else of the router used, else the municipality's default policy):
a success outside the allowed hours (a Korean public holiday counts as a day off unless the policy allows
every day), through a router the user may not use, through an unregistered router or a router reported
lost/retired, or from an address other than the router's fixed lease raises an alert; so does a burst of
failures for one user. The event keeps the policy version that judged it. Accounting records (session
start, interim update, stop; from the REST API or FreeRADIUS detail files, :mod:`.radius`) are stored
beside sign-ins; a session is judged at its start, its interim updates and stop only for the address.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.db import utcnow
from app.core.errors import InvalidInput, field_error
from app.core.i18n import SEOUL, gettext, korean_holidays
from app.core.live import publish_after_commit
from app.core.lookup import one_or_404
from app.core.metrics import count_ingested
from app.core.pagination import PageParams, paginate
from app.kt.worknet.models import AccessEvent, Alert, Lease, Policy, PolicyVersion, Router
from app.kt.worknet.schemas import AccessEventIn, AlertUpdate, PolicyIn, hhmm_of, minutes_of
from app.platform import audit
from app.platform.models import Municipality

MAX_BATCH = 5000
DEFAULT_RULES = {"weekdays": [0, 1, 2, 3, 4, 5, 6], "start_minute": 0, "end_minute": 1440, "bind_routers": False,
                 "user_routers": {}, "failure_threshold": 5, "failure_window_minutes": 10}
ALERT_MESSAGES = {
    "off_hours": "Signed in at {local_time}, outside the allowed hours ({hours})",
    "wrong_router": "Signed in through {router}, a router this user may not use (allowed: {allowed})",
    "unknown_router": "Signed in through {router}, a router not registered in the inventory",
    "inactive_router": "Signed in through {router}, a router reported {status}",
    "failure_burst": "{count} failed sign-ins within {minutes} minutes",
    "ip_mismatch": "Session from {ip} through {router}, whose fixed address is {lease_ip}",
}
SIGN_INS = ("auth", "start")  # the kinds judged by the whole policy; interim updates and stops by address
ALL_ALERTS_TOPIC = "kt.worknet.alerts"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- policies --------------------------------------------------------------------------------

def rules_of(policy: Policy) -> dict[str, Any]:
    return {"weekdays": list(policy.weekdays), "start_minute": policy.start_minute, "end_minute": policy.end_minute,
            "bind_routers": policy.bind_routers, "user_routers": dict(policy.user_routers),
            "failure_threshold": policy.failure_threshold, "failure_window_minutes": policy.failure_window_minutes}


def policy_view(policy: Policy) -> dict[str, Any]:
    return {"id": policy.id, "department": policy.department, "version": policy.version,
            "weekdays": list(policy.weekdays), "start": hhmm_of(policy.start_minute), "end": hhmm_of(policy.end_minute),
            "bind_routers": policy.bind_routers, "user_routers": dict(policy.user_routers),
            "failure_threshold": policy.failure_threshold, "failure_window_minutes": policy.failure_window_minutes,
            "updated_at": policy.updated_at}


def hours_label(rules: dict[str, Any]) -> str:
    days = rules["weekdays"]
    if days == [0, 1, 2, 3, 4]:
        day_text = gettext("Mon-Fri")
    elif len(days) == 7:
        day_text = gettext("every day")
    else:
        day_text = ",".join(gettext(WEEKDAY_NAMES[d]) for d in days) or "-"
    return f"{day_text} {hhmm_of(rules['start_minute'])}-{hhmm_of(rules['end_minute'])}"


def _apply(policy: Policy, data: PolicyIn) -> None:
    policy.weekdays = list(data.weekdays)
    policy.start_minute = minutes_of(data.start)
    policy.end_minute = minutes_of(data.end)
    policy.bind_routers = data.bind_routers
    policy.user_routers = {user: sorted(set(serials)) for user, serials in sorted(data.user_routers.items())}
    policy.failure_threshold = data.failure_threshold
    policy.failure_window_minutes = data.failure_window_minutes


def _snapshot(db: Session, policy: Policy) -> None:
    db.add(PolicyVersion(policy_id=policy.id, municipality_id=policy.municipality_id, version=policy.version,
                         rules=rules_of(policy), actor=audit.actor(db)))


def create_policy(db: Session, *, municipality: Municipality, data: PolicyIn) -> Policy:
    exists = db.scalar(select(Policy.id).where(Policy.municipality_id == municipality.id,
                                               Policy.department == data.department))
    if exists:
        raise InvalidInput.field("department", "The department {department} already has a policy; edit it instead",
                                 department=data.department or gettext("(default)"))
    policy = Policy(municipality_id=municipality.id, department=data.department, version=1)
    _apply(policy, data)
    db.add(policy)
    db.flush()
    _snapshot(db, policy)
    db.flush()
    return policy


def update_policy(db: Session, *, policy: Policy, data: PolicyIn) -> Policy:
    """Save a new version; the department a policy is for does not change."""
    if data.department != policy.department:
        raise InvalidInput.field("department", "A policy's department cannot change; create a new policy")
    before = rules_of(policy)
    _apply(policy, data)
    if rules_of(policy) != before:
        policy.version += 1
        db.flush()
        _snapshot(db, policy)
    db.flush()
    return policy


def list_policies(db: Session) -> list[Policy]:
    return list(db.scalars(select(Policy).order_by(Policy.department)))


def get_policy(db: Session, *, policy_id: int) -> Policy:
    return one_or_404(db, Policy, policy_id, "Policy {id} not found")


def policy_versions(db: Session, *, policy: Policy) -> list[PolicyVersion]:
    return list(db.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy.id)
                           .order_by(PolicyVersion.version.desc())))


# --- ingestion -------------------------------------------------------------------------------

def _insert_ignoring_duplicates(db: Session, *, mid: int, rows: list[dict[str, Any]],
                                now: datetime) -> dict[str, int]:
    """INSERT ``rows`` (one unnest statement on PostgreSQL), skipping those already stored; the ids of the
    new ones by client_id (a row stored meanwhile by a concurrent retry has another ``received_at``)."""
    insert_rows(db, AccessEvent.__table__, rows, conflict=["municipality_id", "client_id"])
    stored = db.execute(select(AccessEvent.id, AccessEvent.client_id, AccessEvent.received_at).where(
        AccessEvent.municipality_id == mid, AccessEvent.client_id.in_([r["client_id"] for r in rows])))
    return {client_id: event_id for event_id, client_id, received_at in stored if received_at == now}


def _lease_ip(leases: list[tuple[str, datetime, datetime | None]], at: datetime) -> str | None:
    """The router's fixed address at ``at``: the lease allocated before and not yet released then."""
    for ip, allocated_at, released_at in leases:
        if allocated_at <= at and (released_at is None or at < released_at):
            return ip
    return None


def _judge(event: AccessEventIn, *, rules: dict[str, Any], router: Router | None, own_serials: list[str],
           lease_ip: str | None = None, name: str | None = None,
           username: str = "") -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The alert kinds a successful sign-in (or session record) raises, with the facts each alert shows."""
    flags: list[str] = []
    facts: dict[str, dict[str, Any]] = {}
    if event.result != "success":
        return flags, facts
    if router is not None and event.ip and lease_ip and event.ip != lease_ip:
        flags.append("ip_mismatch")
        facts["ip_mismatch"] = {"ip": event.ip, "router": router.serial, "lease_ip": lease_ip}
    if event.kind not in SIGN_INS:
        return flags, facts
    local = event.occurred_at.astimezone(SEOUL)
    minute = local.hour * 60 + local.minute
    holiday = korean_holidays(local.year).get(local.date()) if len(rules["weekdays"]) < 7 else None
    if (local.weekday() not in rules["weekdays"] or holiday
            or not rules["start_minute"] <= minute < rules["end_minute"]):
        flags.append("off_hours")
        hours = hours_label(rules) + (f", {gettext('public holiday')} {holiday}" if holiday else "")
        facts["off_hours"] = {"local_time": local.strftime("%Y-%m-%d %H:%M"), "hours": hours}
    serial = event.router_serial or event.imsi
    name = name or serial
    if serial and router is None:
        flags.append("unknown_router")
        facts["unknown_router"] = {"router": name}
    elif router is not None and router.status in ("lost", "retired"):
        flags.append("inactive_router")
        facts["inactive_router"] = {"router": router.serial, "status": router.status}
    elif router is not None and rules["bind_routers"]:
        allowed = set(own_serials) | set(rules["user_routers"].get(username, []))
        if router.serial not in allowed:
            flags.append("wrong_router")
            facts["wrong_router"] = {"router": router.serial, "allowed": ", ".join(sorted(allowed)) or "-"}
    return flags, facts


def ingest(db: Session, *, municipality: Municipality, events: Sequence[AccessEventIn],
           now: datetime | None = None) -> dict[str, int]:
    """Store a batch of authentication events; events already received (same ``client_id``) are skipped.

    A bad row rejects the whole batch with every bad row named; nothing is saved.
    """
    now = now or utcnow()
    errors = []
    seen: dict[str, AccessEventIn] = {}
    for i, event in enumerate(events):
        if event.occurred_at > now + timedelta(minutes=5):
            errors.append(field_error(["rows", i, "occurred_at"], "The time {time} is in the future",
                                      time=event.occurred_at.isoformat()))
        first = seen.setdefault(event.client_id, event)
        if first is not event and first != event:
            errors.append(field_error(["rows", i, "client_id"], "client_id {client_id} appears twice with "
                                      "different contents", client_id=event.client_id))
    if errors:
        raise InvalidInput("{n} of {total} rows are not valid; nothing was saved", n=len(errors), total=len(events),
                           errors=errors)
    mid = municipality.id
    unique = list(seen.values())
    existing = set(db.scalars(select(AccessEvent.client_id).where(
        AccessEvent.municipality_id == mid, AccessEvent.client_id.in_([e.client_id for e in unique]))))
    fresh = [e for e in unique if e.client_id not in existing]
    inserted_ids: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    facts_by_client: dict[str, dict[str, dict[str, Any]]] = {}
    rules_by_user: dict[str, dict[str, Any]] = {}
    if fresh:
        serials = {e.router_serial for e in fresh if e.router_serial}
        routers = {r.serial: r for r in db.scalars(select(Router).where(
            Router.municipality_id == mid, Router.serial.in_(serials)))} if serials else {}
        imsis = {e.imsi for e in fresh if e.imsi and not e.router_serial}
        by_imsi = {r.imsi: r for r in db.scalars(select(Router).where(
            Router.municipality_id == mid, Router.imsi.in_(imsis)))} if imsis else {}
        resolved = [(e, routers.get(e.router_serial) if e.router_serial else by_imsi.get(e.imsi or ""))
                    for e in fresh]
        router_ids = {r.id for _, r in resolved if r is not None}
        leases: dict[int, list[tuple[str, datetime, datetime | None]]] = {}
        for router_id, ip, allocated_at, released_at in db.execute(
                select(Lease.router_id, Lease.ip, Lease.allocated_at, Lease.released_at)
                .where(Lease.municipality_id == mid, Lease.router_id.in_(router_ids))) if router_ids else ():
            leases.setdefault(router_id, []).append((ip, allocated_at, released_at))
        users = {_user_of(e, r) for e, r in resolved}
        own: dict[str, list[tuple[str, str]]] = {}
        for serial, username, department in db.execute(
                select(Router.serial, Router.assignee_username, Router.department)
                .where(Router.municipality_id == mid, Router.status == "assigned", Router.assignee_username.in_(users))
                .order_by(Router.id)):
            own.setdefault(username, []).append((serial, department))
        policies = {p.department: p for p in db.scalars(select(Policy).where(Policy.municipality_id == mid))}
        for event, router in resolved:
            username = _user_of(event, router)
            mine = own.get(username, [])
            department = mine[0][1] if mine else (router.department if router else "")
            policy = policies.get(department) or policies.get("")
            rules = rules_of(policy) if policy else DEFAULT_RULES
            rules_by_user.setdefault(username, rules)
            lease_ip = _lease_ip(leases.get(router.id, []), event.occurred_at) if router else None
            flags, facts = _judge(event, rules=rules, router=router, own_serials=[s for s, _ in mine],
                                  lease_ip=lease_ip, username=username,
                                  name=None if event.router_serial or not event.imsi else f"IMSI {event.imsi}")
            facts_by_client[event.client_id] = facts
            rows.append({"municipality_id": mid, "client_id": event.client_id, "occurred_at": event.occurred_at,
                         "username": username, "router_serial": router.serial if router else event.router_serial,
                         "router_id": router.id if router else None, "ip": event.ip, "result": event.result,
                         "reason": event.reason, "kind": event.kind, "session_id": event.session_id,
                         "department": department,
                         "policy_id": policy.id if policy else None,
                         "policy_version": policy.version if policy else None,
                         "flags": ",".join(flags), "received_at": now})
        for start in range(0, len(rows), 1000):
            inserted_ids.update(_insert_ignoring_duplicates(db, mid=mid, rows=rows[start:start + 1000], now=now))
    count_ingested(db, module="kt.worknet", kind="events", n=len(inserted_ids))
    alerts = []
    for row in rows:
        event_id = inserted_ids.get(row["client_id"])
        if event_id is None:
            continue  # a concurrent retry stored it first
        for kind, params in facts_by_client[row["client_id"]].items():
            alerts.append({"municipality_id": mid, "kind": kind, "occurred_at": row["occurred_at"],
                           "username": row["username"], "router_serial": row["router_serial"], "event_id": event_id,
                           "department": row["department"], "params": params, "status": "open", "note": "",
                           "handled_by": "", "created_at": now})
    failed = [r for r in rows if r["result"] == "failure" and r["client_id"] in inserted_ids]
    alerts += _failure_bursts(db, mid=mid, failed=failed, rules_by_user=rules_by_user, now=now)
    if alerts:
        insert_rows(db, Alert.__table__, alerts)
        message = {"event": "worknet-alerts", "count": len(alerts), "kinds": sorted({a["kind"] for a in alerts})}
        for topic in alert_topics(mid):
            publish_after_commit(db, topic, message)
    result = {"received": len(events), "accepted": len(inserted_ids), "duplicates": len(events) - len(inserted_ids),
              "alerts": len(alerts)}
    if inserted_ids:
        audit.record(db, action="ingest", object_type="worknet_access_event", object_id=f"batch:{len(inserted_ids)}",
                     municipality_id=mid, after=result)
    return result


def _user_of(event: AccessEventIn, router: Router | None) -> str:
    """Who the event is about: as sent, else the assignee of the router its SIM belongs to, else the IMSI."""
    if event.username:
        return event.username
    if router is not None and router.assignee_username:
        return router.assignee_username
    return event.imsi or ""


def alert_topics(municipality_id: int | None) -> list[str]:
    """Live topics of new alerts: one per municipality, and one for callers who reach every municipality."""
    return [ALL_ALERTS_TOPIC] if municipality_id is None else [f"{ALL_ALERTS_TOPIC}.{municipality_id}",
                                                                ALL_ALERTS_TOPIC]


def _failure_bursts(db: Session, *, mid: int, failed: list[dict[str, Any]], rules_by_user: dict[str, dict[str, Any]],
                    now: datetime) -> list[dict[str, Any]]:
    """One alert each time a user's failures within the policy's window reach its threshold."""
    alerts: list[dict[str, Any]] = []
    by_user: dict[str, list[datetime]] = {}
    for row in failed:
        by_user.setdefault(row["username"], []).append(row["occurred_at"])
    for username, times in by_user.items():
        rules = rules_by_user.get(username, DEFAULT_RULES)
        window = timedelta(minutes=rules["failure_window_minutes"])
        threshold = rules["failure_threshold"]
        lo, hi = min(times) - window, max(times) + window
        history = db.execute(select(AccessEvent.occurred_at, AccessEvent.id, AccessEvent.router_serial,
                                    AccessEvent.department).where(
            AccessEvent.municipality_id == mid, AccessEvent.username == username, AccessEvent.result == "failure",
            AccessEvent.occurred_at.between(lo, hi)).order_by(AccessEvent.occurred_at, AccessEvent.id)).all()
        raised = list(db.scalars(select(Alert.occurred_at).where(
            Alert.municipality_id == mid, Alert.kind == "failure_burst", Alert.username == username,
            Alert.occurred_at.between(lo - window, hi + window))))
        recent: deque = deque()
        for at, event_id, serial, department in history:
            recent.append(at)
            while at - recent[0] > window:
                recent.popleft()
            if len(recent) >= threshold and not any(abs(at - other) < window for other in raised):
                raised.append(at)
                alerts.append({"municipality_id": mid, "kind": "failure_burst", "occurred_at": at,
                               "username": username, "router_serial": serial, "event_id": event_id,
                               "department": department, "status": "open", "note": "", "handled_by": "",
                               "params": {"count": len(recent), "minutes": rules["failure_window_minutes"]},
                               "created_at": now})
    return alerts


# --- reading the log -------------------------------------------------------------------------

def event_query(*, username: str | None = None, router: str | None = None, result: str | None = None,
                department: str | None = None, flagged: bool | None = None, since: datetime | None = None,
                until: datetime | None = None) -> Select:
    stmt = select(AccessEvent).order_by(AccessEvent.occurred_at.desc(), AccessEvent.id.desc())
    if username:
        stmt = stmt.where(AccessEvent.username == username)
    if router:
        stmt = stmt.where(AccessEvent.router_serial == router.upper())
    if result:
        stmt = stmt.where(AccessEvent.result == result)
    if department:
        stmt = stmt.where(AccessEvent.department == department)
    if flagged is True:
        stmt = stmt.where(AccessEvent.flags != "")
    elif flagged is False:
        stmt = stmt.where(AccessEvent.flags == "")
    if since:
        stmt = stmt.where(AccessEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AccessEvent.occurred_at < until)
    return stmt


def list_events(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[AccessEvent], int]:
    return paginate(db, event_query(**filters), page)


def event_view(event: AccessEvent) -> dict[str, Any]:
    return {"id": event.id, "client_id": event.client_id, "occurred_at": event.occurred_at,
            "username": event.username, "router_serial": event.router_serial, "ip": event.ip, "result": event.result,
            "reason": event.reason, "kind": event.kind, "session_id": event.session_id,
            "department": event.department, "policy_version": event.policy_version,
            "flags": [f for f in event.flags.split(",") if f]}


def local_day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Seoul calendar days as UTC bounds: ``[start 00:00, end+1 00:00)``, within the years 2000-2100."""
    low, high = date(2000, 1, 1), date(2100, 12, 30)
    start = min(max(start, low), high) if start else None
    end = min(max(end, low), high) if end else None
    since = datetime.combine(start, time(0), tzinfo=SEOUL) if start else None
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=SEOUL) if end else None
    return since, until


# --- alerts ----------------------------------------------------------------------------------

STATUS_WORDS = {"lost": "Lost", "retired": "Retired"}


def alert_message(alert: Alert) -> str:
    params = dict(alert.params)
    if "status" in params:
        params["status"] = gettext(STATUS_WORDS.get(params["status"], params["status"]))
    try:
        return gettext(ALERT_MESSAGES[alert.kind], **params)
    except (KeyError, IndexError):
        return gettext(ALERT_MESSAGES.get(alert.kind, alert.kind))


def alert_view(alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "kind": alert.kind, "occurred_at": alert.occurred_at, "username": alert.username,
            "router_serial": alert.router_serial, "department": alert.department, "params": alert.params,
            "message": alert_message(alert), "status": alert.status, "note": alert.note,
            "handled_by": alert.handled_by, "handled_at": alert.handled_at}


def alert_query(*, status: str | None = None, kind: str | None = None, username: str | None = None) -> Select:
    stmt = select(Alert).order_by(Alert.occurred_at.desc(), Alert.id.desc())
    if status:
        stmt = stmt.where(Alert.status == status)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    if username:
        stmt = stmt.where(Alert.username == username)
    return stmt


def list_alerts(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[Alert], int]:
    return paginate(db, alert_query(**filters), page)


def get_alert(db: Session, *, alert_id: int) -> Alert:
    return one_or_404(db, Alert, alert_id, "Alert {id} not found")


def update_alert(db: Session, *, alert: Alert, data: AlertUpdate) -> Alert:
    allowed = {"open": ("acknowledged", "resolved"), "acknowledged": ("resolved",), "resolved": ()}[alert.status]
    if data.status == alert.status:
        return alert  # a repeated click or retry changes nothing
    if data.status not in allowed:
        raise InvalidInput.field("status", "An alert cannot go from {current} to {target}", current=alert.status,
                                 target=data.status)
    alert.status = data.status
    alert.handled_by = audit.actor(db)
    alert.handled_at = utcnow()
    if data.note:
        alert.note = data.note
    db.flush()
    return alert


def open_alert_count(db: Session) -> int:
    from sqlalchemy import func

    return db.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")) or 0


# --- usage statistics ------------------------------------------------------------------------

def usage_by_day(db: Session, *, days: int = 30, today: date | None = None, first: date | None = None
                 ) -> dict[str, Any]:
    """Per Seoul day: successful and failed sign-ins, distinct users, flagged events; and per department;
    and ``connected``: the distinct users signed in successfully over the window (the last ``days`` days
    up to ``today``, or ``first``..``today``)."""
    today = today or utcnow().astimezone(SEOUL).date()
    if first is not None:
        days = max(1, min(366, (today - first).days + 1))
    first = today - timedelta(days=days - 1)
    since, until = local_day_bounds(first, today)
    rows = db.execute(select(AccessEvent.occurred_at, AccessEvent.result, AccessEvent.username, AccessEvent.flags,
                             AccessEvent.department)
                      .where(AccessEvent.occurred_at >= since, AccessEvent.occurred_at < until,
                             AccessEvent.kind.in_(SIGN_INS))).all()
    per_day = {first + timedelta(days=i): {"successes": 0, "failures": 0, "users": set(), "flagged": 0}
               for i in range(days)}
    per_dept: dict[str, dict[str, Any]] = {}
    connected: set[str] = set()
    for at, result, username, flags, department in rows:
        if result == "success":
            connected.add(username)
        day = per_day[at.astimezone(SEOUL).date()]
        dept = per_dept.setdefault(department, {"successes": 0, "failures": 0, "users": set(), "flagged": 0})
        for bucket in (day, dept):
            bucket["successes" if result == "success" else "failures"] += 1
            bucket["users"].add(username)
            bucket["flagged"] += 1 if flags else 0
    out_days = [{"date": d.isoformat(), "successes": v["successes"], "failures": v["failures"],
                 "users": len(v["users"]), "flagged": v["flagged"]} for d, v in sorted(per_day.items())]
    out_depts = [{"department": k, "successes": v["successes"], "failures": v["failures"], "users": len(v["users"]),
                  "flagged": v["flagged"]} for k, v in sorted(per_dept.items(), key=lambda kv: -kv[1]["successes"])]
    return {"days": out_days, "departments": out_depts, "first": first, "last": today, "connected": len(connected)}


USAGE_COLUMNS = ("date", "successes", "failures", "users", "flagged")


def usage_rows(usage: dict[str, Any]) -> list[list[object]]:
    """Sign-ins per day as CSV rows (columns ``USAGE_COLUMNS``), written by ``core.csvout``."""
    return [[row[c] for c in USAGE_COLUMNS] for row in usage["days"]]
