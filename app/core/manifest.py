"""How a program module registers itself with the core."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from app.core.jobs import Duty, JobKind
from app.core.mqtt import Bridge
from app.core.tenancy import Principal


@dataclass(frozen=True)
class NavEntry:
    label: str  # English msgid; translated in the page
    route_name: str
    # A page for writers (an import or registration form): not linked for read-only users, whom it answers 403.
    write: bool = False


@dataclass(frozen=True)
class Widget:
    """A card on the home dashboard: ``build`` returns the template context, or None to hide it."""

    title: str
    template: str
    build: Callable[[Session, Principal], dict[str, Any] | None]


@dataclass(frozen=True)
class MetricSource:
    """A figure a module computes from its own data, to which a program KPI can be bound.

    ``compute(db, municipality_id, period_start, period_end)`` answers the figure over the days
    ``period_start``..``period_end`` (both included, Seoul dates), or None when there is nothing to measure
    (a rate without calls). The platform calls it with the session narrowed to the municipality and those
    under it (``app.platform.service.compute_metric``), so it calls the very service function the module's
    statistics page calls, which reads "the caller's municipalities": both show the same number. Stock
    figures (merchants with a solution installed) count what stands at ``period_end``.
    """

    key: str  # unique across modules: "<module key>.<metric>", e.g. "kt.voicebot.automation_rate"
    name_ko: str
    name_en: str
    unit: str  # as shown after the number: "%", "건", "곳", "명", "원"
    description: str  # how it is computed, in English (shown to staff choosing a source)
    compute: Callable[[Session, int, date, date], float | int | None]
    # The module's page (route name) showing the same figure, linked with the period's first and last days
    # (ISO dates) in the query parameters ``period_params`` names.
    stats_route: str | None = None
    period_params: tuple[str, str] = ("since", "until")


@dataclass(frozen=True)
class ObjectKind:
    """How people call one of a module's tables in its history (app/platform/history.py): the audit trail
    stores ``object_type`` (the table) and ``object_id``; this turns them into "CCTV 사건 #388 · 울산 태화강 화재".

    Every text is an English msgid, translated when shown."""

    table: str  # the audit trail's object_type
    name: str  # e.g. "CCTV incident"
    model: type | None = None  # the ORM class whose rows give titles, looked up by primary key
    # The title of one row: a column's name, or a function of the row (e.g. camera name and incident type).
    title: str | Callable[[Any], str] | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # column -> label
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # column -> stored value -> label
    actions: Mapping[str, str] = field(default_factory=dict)  # an action the trail records -> what it did
    hidden: frozenset[str] = frozenset()  # columns not worth showing in a change (hashes, merge keys)


@dataclass(frozen=True)
class ModuleManifest:
    key: str  # e.g. "kt.cctv": operator, then program
    name_ko: str
    name_en: str
    api_router: APIRouter | None = None
    web_router: APIRouter | None = None
    # Included as is, with absolute paths and no guard: for public standard APIs (e.g. Open311 GeoReport)
    # whose routes resolve their caller themselves and bind a tenant-scoped principal before any read.
    public_router: APIRouter | None = None
    # How the public router answers an error in its standard's format, ``(status, description) -> Response``:
    # used by the core's guard (404 where the jurisdiction does not run the module); problem+json without.
    public_error: Callable[[int, str], Any] | None = None
    nav: tuple[NavEntry, ...] = ()
    widgets: tuple[Widget, ...] = ()
    # Loads the module's demo data; called after the platform's demo (municipalities, partners, programs).
    load_demo: Callable[[Session], None] | None = None
    # Creates a few of the module's objects in one municipality; the tenancy route walk uses it.
    sample_data: Callable[[Session, int], None] | None = None
    # Adds the module's sub-commands to the `dxhub` command: receives argparse's subparsers.
    add_cli: Callable[[Any], None] | None = None
    # Work on a clock that ``dxhub worker`` runs once per period, and the kinds of long work it runs.
    duties: tuple[Duty, ...] = ()
    jobs: tuple[JobKind, ...] = ()
    # MQTT bridges ``dxhub worker`` runs when DXHUB_MQTT_URL is set (app/core/mqtt.py).
    bridges: tuple[Bridge, ...] = ()
    # Figures program KPIs can be bound to (computed from the module's own statistics).
    metrics: tuple[MetricSource, ...] = ()
    # How the module's objects are named and titled in histories (the audit log, the home page's activity).
    objects: tuple[ObjectKind, ...] = ()

    @property
    def operator(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def program(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def api_prefix(self) -> str:
        return f"/api/v1/{self.operator}/{self.program}"

    @property
    def web_prefix(self) -> str:
        return f"/{self.operator}/{self.program}"


_installed: dict[str, ModuleManifest] = {}


def deferred(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` as a callable that imports its module on the first call: a manifest
    names its demo loaders this way, so the app does not import them (and NumPy) when it starts."""
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = name
    return call


def visible(enabled: frozenset[str] | None) -> list[ModuleManifest]:
    """The installed modules in ``enabled`` (None: all), in the installed order: what a user's menus and
    home dashboard show (see ``platform.service.enabled_modules``)."""
    return [m for key, m in _installed.items() if enabled is None or key in enabled]


def install(manifests: list[ModuleManifest]) -> None:
    """Record the modules this process runs; called once by ``create_app``."""
    _installed.clear()
    _installed.update({m.key: m for m in manifests})


def installed() -> dict[str, ModuleManifest]:
    return dict(_installed)


def duties() -> dict[str, Duty]:
    """Every duty the worker runs: the core's own, then each installed module's."""
    from app.core.worker import CORE_DUTIES

    return {d.key: d for d in (*CORE_DUTIES, *(d for m in _installed.values() for d in m.duties))}


def metric_sources() -> dict[str, tuple[ModuleManifest, MetricSource]]:
    """Every installed module's metric sources by key, with the module that computes it."""
    return {s.key: (m, s) for m in _installed.values() for s in m.metrics}


def job_kinds() -> dict[str, JobKind]:
    from app.core.worker import CORE_JOBS

    return {j.key: j for j in (*CORE_JOBS, *(j for m in _installed.values() for j in m.jobs))}


def bridges() -> dict[str, Bridge]:
    """Every MQTT bridge the installed modules declare."""
    return {b.key: b for m in _installed.values() for b in m.bridges}


def object_kinds() -> dict[str, ObjectKind]:
    """Every installed module's object kinds by table."""
    return {k.table: k for m in _installed.values() for k in m.objects}
