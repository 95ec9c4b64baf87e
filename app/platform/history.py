"""Histories people can read: audit entries turned into lines such as
"2026-12-05 14:35 · 자동 처리 · 경보 상향 점검 · 경보 자동 상향 · CCTV 사건 #388 · 울산 태화강 화재".

Presentation only: the stored entries (and their hash chain) are never touched. Each module's manifest
declares how its tables are named and titled (:class:`app.core.manifest.ObjectKind`); the platform
declares its own here and never names a module's table. Titles are loaded in one query per object kind
per page; actors in one query per page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.i18n import SEOUL, today_seoul
from app.core.i18n import gettext as _
from app.core.manifest import ObjectKind, duties, job_kinds, object_kinds
from app.platform.models import ApiKey, AuditLog, Kpi, KpiValue, Milestone, Municipality, Partner, Program, User

NONE = "—"
ROLE_VALUES = {"platform_admin": "Platform admin", "municipal_admin": "Municipal admin", "staff": "Staff",
               "viewer": "Viewer"}
PROGRAM_STATUS = {"planned": "Planned", "active": "Active", "completed": "Completed", "suspended": "Suspended"}

# What the platform itself keeps; modules declare theirs in their manifests.
PLATFORM_OBJECTS: tuple[ObjectKind, ...] = (
    ObjectKind("municipality", "Municipality", Municipality, "name_ko",
               fields={"name_ko": "Name (Korean)", "name_en": "Name (English)", "code": "Area code",
                       "level": "Level", "parent_id": "Parent municipality"}),
    ObjectKind("partner", "Partner", Partner, "name_ko",
               fields={"name_ko": "Name (Korean)", "name_en": "Name (English)", "code": "Code", "kind": "Kind"}),
    ObjectKind("program", "Program", Program, "title",
               fields={"title": "Title", "description": "Description", "status": "Status",
                       "start_date": "Start date", "end_date": "End date", "budget_krw": "Budget (KRW)",
                       "agreement_date": "Agreement date", "module": "Module", "updated_at": "Updated at"},
               values={"status": PROGRAM_STATUS}),
    ObjectKind("kpi", "KPI", Kpi, "name",
               fields={"name": "Name", "unit": "Unit", "baseline": "Baseline", "target": "Target"}),
    ObjectKind("kpi_value", "KPI value", KpiValue, lambda v: f"{v.measured_date.isoformat()} · {v.value:g}",
               fields={"measured_date": "Measured on", "value": "Value", "note": "Note"}),
    ObjectKind("milestone", "Milestone", Milestone, "title",
               fields={"title": "Milestone title", "due_date": "Due date", "done_date": "Done on"}),
    ObjectKind("app_user", "User", User, lambda u: u.display_name or u.username,
               fields={"username": "Username", "display_name": "Display name", "role": "Role",
                       "is_active": "Active", "last_login_at": "Last sign-in", "municipality_id": "Municipality"},
               values={"role": ROLE_VALUES},
               actions={"sign_in": "Signed in", "sign_out": "Signed out", "sign_in_failed": "Sign-in failed"},
               hidden=frozenset({"password_hash", "session_version"})),
    ObjectKind("api_key", "API key", ApiKey, "name",
               fields={"name": "Name", "scopes": "Scopes", "last_used_at": "Last used", "revoked_at": "Revoked at"},
               hidden=frozenset({"secret_hash", "prefix"})),
    ObjectKind("audit_log", "Audit log", actions={"purge": "Old entries purged"}),
    ObjectKind("access_log", "Access records", actions={"export": "Exported"}),
    ObjectKind("sealing", "Sealing keys", actions={"rotate_keys": "Keys rotated"}),
)
ACTIONS = {"create": "Added", "update": "Changed", "delete": "Deleted", "import": "Imported",
           "ingest": "Received", "replace": "Replaced", "purge": "Purged", "train": "Model trained",
           "end": "Ended", "unseal_failed": "Sealed value unreadable", "demo_load": "Demo data loaded"}
COMMON_FIELDS = {"created_at": "Created at", "updated_at": "Updated at", "municipality_id": "Municipality",
                 "name": "Name", "title": "Title", "status": "Status", "note": "Note"}
ALWAYS_HIDDEN = frozenset({"id"})


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Line:
    """One audit entry as people read it."""

    id: int
    when: str  # KST, to the minute
    who: str
    what: str
    kind: str  # the kind of object, e.g. "CCTV 사건"
    title: str  # "CCTV 사건 #388 · 울산 태화강 화재"
    changes: tuple[Change, ...]
    source: str


def kinds() -> dict[str, ObjectKind]:
    """Every object kind, the platform's and the installed modules', by table."""
    return {**{k.table: k for k in PLATFORM_OBJECTS}, **object_kinds()}


def kind_choices() -> list[tuple[str, str]]:
    """(table, name) of every kind, sorted by the translated name: the object filter's dropdown."""
    return sorted(((t, _(k.name)) for t, k in kinds().items()), key=lambda c: c[1])


# --- values ---------------------------------------------------------------------------------------

_ISO_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def format_value(value: Any, kind: ObjectKind | None = None, field: str = "") -> str:
    """A stored value as people read it: None "—", 예/아니요, KST to the minute, enums by their labels."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    labels = kind.values.get(field) if kind else None
    if labels and isinstance(value, str) and value in labels:
        return _(labels[value])
    if isinstance(value, datetime):
        return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M") if value.tzinfo else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DT.match(value):
        try:
            return format_value(datetime.fromisoformat(value), kind, field)
        except ValueError:
            return value
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, kind, field) for v in value) or NONE
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or NONE
    return str(value)


def field_label(kind: ObjectKind | None, field: str) -> str:
    if kind and field in kind.fields:
        return _(kind.fields[field])
    if field in COMMON_FIELDS:
        return _(COMMON_FIELDS[field])
    return field.replace("_", " ")


_ACTOR_VALUE = re.compile(r"^(user|api_key|system):")


def changes(entry: AuditLog, kind: ObjectKind | None, *,
            actors: Callable[[str], str] | None = None) -> tuple[Change, ...]:
    """An update's changed fields with labels and formatted values (creations and deletions: none).
    ``actors`` names a stored actor ("user:kim", the "acknowledged by" columns) as people read it."""
    if entry.action != "update":
        return ()
    hidden = ALWAYS_HIDDEN | (kind.hidden if kind else frozenset())
    before, after = entry.before or {}, entry.after or {}

    def shown(value: Any, key: str) -> str:
        if actors and isinstance(value, str) and _ACTOR_VALUE.match(value):
            return actors(value)
        return format_value(value, kind, key)

    return tuple(Change(field_label(kind, k), shown(before.get(k), k), shown(v, k))
                 for k, v in after.items() if k not in hidden)


# --- actors ---------------------------------------------------------------------------------------

def _work_titles() -> dict[str, tuple[str, str]]:
    """Background work by key: (what it is, what its changes did)."""
    titles = {d.key: (d.title, d.verb) for d in duties().values()}
    titles.update({j.key: (j.title, "") for j in job_kinds().values()})
    return titles


def _users_by_name(db: Session, actors: Iterable[str]) -> dict[str, str]:
    names = {a.split(":", 1)[1] for a in actors if a.startswith("user:")}
    if not names:
        return {}
    rows = db.execute(select(User.username, User.display_name).where(User.username.in_(names)))
    return {u: d for u, d in rows if d}


def actor_label(actor: str, *, users: dict[str, str], work: dict[str, tuple[str, str]]) -> str:
    kind, _sep, name = actor.partition(":")
    if kind == "user":
        return users.get(name, name)
    if kind == "api_key":
        return _("API key · {name}", name=name)
    if kind == "system" and name.startswith("worker:"):
        key = name.removeprefix("worker:")
        title = work.get(key, ("", ""))[0]
        return _("Automatic · {what}", what=_(title) if title else key)
    if kind == "system":
        return _("System")
    return _("Anonymous") if actor == "anonymous" else actor


def action_label(entry: AuditLog, kind: ObjectKind | None, work: dict[str, tuple[str, str]]) -> str:
    if entry.actor.startswith("system:worker:") and entry.action == "update":
        verb = work.get(entry.actor.removeprefix("system:worker:"), ("", ""))[1]
        if verb:
            return _(verb)
    if kind and entry.action in kind.actions:
        return _(kind.actions[entry.action])
    return _(ACTIONS.get(entry.action, entry.action))


# --- titles ---------------------------------------------------------------------------------------

def _title_of(kind: ObjectKind, row: Any) -> str:
    if callable(kind.title):
        return str(kind.title(row) or "")
    return str(getattr(row, kind.title, "") or "") if kind.title else ""


def _titles(db: Session, entries: Sequence[AuditLog], known: dict[str, ObjectKind]) -> dict[tuple[str, str], str]:
    """Each entry's object title: one query per kind. Objects since deleted (or beyond the viewer's reach)
    fall back to the title column in the entry's own snapshot."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        kind = known.get(e.object_type)
        if kind and kind.model is not None and kind.title and e.object_id.isdigit():
            wanted[e.object_type].add(e.object_id)
    titles: dict[tuple[str, str], str] = {}
    for table, ids in wanted.items():
        kind = known[table]
        pk = sa_inspect(kind.model).primary_key[0]
        for row in db.scalars(select(kind.model).where(pk.in_([int(i) for i in ids]))):
            titles[(table, str(getattr(row, pk.key)))] = _title_of(kind, row)
    for e in entries:
        kind = known.get(e.object_type)
        if (e.object_type, e.object_id) not in titles and kind and isinstance(kind.title, str):
            snap = e.before or e.after or {}
            if snap.get(kind.title):
                titles[(e.object_type, e.object_id)] = str(snap[kind.title])
    return titles


def _object_ref(object_id: str) -> str:
    """An id as people read it: "#388", "12건 일괄", "2026-11-01 이전"."""
    if object_id.isdigit():
        return f"#{object_id}"
    if object_id == "batch":
        return _("batch")
    head, _sep, rest = object_id.partition(":")
    if head == "batch" and rest.isdigit():
        return _("batch of {n}", n=rest)
    if head == "before" and rest:
        return _("before {date}", date=rest)
    return object_id


def present(db: Session, entries: Sequence[AuditLog]) -> list[Line]:
    """The entries as lines people read, in the order given."""
    known = kinds()
    work = _work_titles()
    named = {e.actor for e in entries} | {v for e in entries if e.action == "update" for v in (e.after or {}).values()
                                          if isinstance(v, str) and v.startswith("user:")}
    users = _users_by_name(db, named)

    def who(actor: str) -> str:
        return actor_label(actor, users=users, work=work)

    titles = _titles(db, entries, known)
    lines = []
    for e in entries:
        kind = known.get(e.object_type)
        name = _(kind.name) if kind else e.object_type
        title = f"{name} {_object_ref(e.object_id)}"
        if (found := titles.get((e.object_type, e.object_id))):
            title = f"{title} · {found}"
        lines.append(Line(id=e.id, when=format_value(e.occurred_at), who=who(e.actor),
                          what=action_label(e, kind, work), kind=name, title=title,
                          changes=changes(e, kind, actors=who),
                          source=e.ip or _(e.source)))
    return lines


# --- filters --------------------------------------------------------------------------------------

PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom dates"}


def period_bounds(period: str | None, start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[from, until) in UTC for a period of the filter: days in Seoul, today included."""
    today = today_seoul()
    days = {"today": 0, "7d": 6, "30d": 29}
    if period in days:
        first, last = today - timedelta(days=days[period]), today
    elif period == "custom":
        first, last = start, end
    else:
        return None, None

    def midnight(d: date | None) -> datetime | None:
        return datetime(d.year, d.month, d.day, tzinfo=SEOUL) if d else None

    return midnight(first), midnight(last + timedelta(days=1)) if last else None


def actor_choices(db: Session) -> list[tuple[str, str]]:
    """(actor as stored, name) of the users the viewer reaches, for the person filter."""
    rows = db.execute(select(User.username, User.display_name).order_by(User.display_name, User.username))
    return [(f"user:{u}", f"{d} ({u})" if d else u) for u, d in rows]

