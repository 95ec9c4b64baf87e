"""Request and response bodies of the robot platform (VDA 5050 / Open-RMF flavoured, vendor neutral)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from app.core.schemas import Chars, Id, InputModel, MunicipalityCode, OutputModel, ShortText, UpdateModel, UtcDateTime
from app.kt.robots.models import DEFAULT_TASK_KINDS

RobotType = Literal["guide", "patrol", "care"]
TaskStatus = Literal["queued", "assigned", "underway", "completed", "failed", "canceled"]
RobotStatus = Literal["idle", "working", "charging", "paused", "error", "offline"]
CommandKind = Literal["pause", "resume", "dock", "charge"]
# VDA 5050's operating modes, lower-cased.
OperatingMode = Literal["automatic", "semiautomatic", "manual", "service", "teachin"]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$")]
ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")]
Capability = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,29}$")]
# A task kind is a word the site lists in its ``task_kinds`` (guide, patrol, care, delivery, ...).
TaskKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,19}$")]  # kt_robot_task.kind: 20
TaskKinds = Annotated[list[TaskKind], Field(min_length=1, max_length=30)]
PlaceName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Metres = Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]

MAX_BATCH = 1000


# --- sites -----------------------------------------------------------------------------------

class PlaceIn(InputModel):
    db_table = "kt_robot_place"
    name: PlaceName
    kind: Literal["poi", "desk", "door", "dock", "exhibit", "room"] = "poi"
    x: Metres
    y: Metres


class PlaceOut(OutputModel):
    name: str
    kind: str
    x: float
    y: float


def _unique_places(places: list[PlaceIn]) -> list[PlaceIn]:
    seen: set[str] = set()
    for place in places:
        if place.name in seen:
            raise ValueError(f"place name {place.name!r} appears twice")
        seen.add(place.name)
    return places


def _unique_kinds(kinds: list[str]) -> list[str]:
    """The kinds in order, each once."""
    return list(dict.fromkeys(kinds))


class SiteIn(InputModel):
    db_table = "kt_robot_site"
    code: Code
    name: ShortText
    municipality_code: MunicipalityCode | None = Field(
        None, description="Defaults to the API key's municipality")
    map_id: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "floor-1"
    map_width_m: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
    map_height_m: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
    offline_after_s: Annotated[int, Field(ge=5, le=3600)] = 30
    battery_floor_pct: Annotated[int, Field(ge=0, le=100)] = 25
    low_battery_pct: Annotated[int, Field(ge=0, le=100)] = 15
    task_kinds: TaskKinds = Field(list(DEFAULT_TASK_KINDS), description="The task kinds this site accepts")
    places: Annotated[list[PlaceIn], Field(max_length=500)] = []

    @field_validator("places")
    @classmethod
    def _places_unique(cls, places: list[PlaceIn]) -> list[PlaceIn]:
        return _unique_places(places)

    @field_validator("task_kinds")
    @classmethod
    def _kinds_unique(cls, kinds: list[str]) -> list[str]:
        return _unique_kinds(kinds)

    @model_validator(mode="after")
    def _places_on_map(self):
        for place in self.places:
            if place.x > self.map_width_m or place.y > self.map_height_m:
                raise ValueError(f"place {place.name!r} lies outside the map")
        return self


class SiteUpdate(UpdateModel):
    db_table = "kt_robot_site"
    name: ShortText | None = None
    offline_after_s: Annotated[int, Field(ge=5, le=3600)] | None = None
    battery_floor_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    low_battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    task_kinds: TaskKinds | None = None

    @field_validator("task_kinds")
    @classmethod
    def _kinds_unique(cls, kinds: list[str] | None) -> list[str] | None:
        return _unique_kinds(kinds) if kinds is not None else None


class SiteOut(OutputModel):
    id: int
    code: str
    name: str
    municipality_code: str
    map_id: str
    map_width_m: float
    map_height_m: float
    offline_after_s: int
    battery_floor_pct: int
    low_battery_pct: int
    task_kinds: list[str]
    places: list[PlaceOut]
    created_at: UtcDateTime


# --- robots ----------------------------------------------------------------------------------

class RobotIn(InputModel):
    db_table = "kt_robot"
    external_id: ExternalId = Field(description="The vendor's id of the robot; unique in the municipality")
    name: Chars(100)
    vendor: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    type: RobotType
    site_id: Id
    capabilities: Annotated[list[Capability], Field(max_length=30)] | None = Field(
        None, description="What the robot can do: task kinds (guide, patrol, care) and actions such as dock. "
                          "Defaults to its type and dock.")


class RobotUpdate(UpdateModel):
    db_table = "kt_robot"
    name: Chars(100) | None = None
    capabilities: Annotated[list[Capability], Field(max_length=30)] | None = None
    site_id: Id | None = None


class Position(InputModel):
    db_table = "kt_robot_state"
    x: float = Field(allow_inf_nan=False, description="metres from the map's left edge")
    y: float = Field(allow_inf_nan=False, description="metres from the map's top edge")
    theta: float = Field(0.0, ge=-7, le=7, allow_inf_nan=False, description="heading in radians")
    map_id: Annotated[str, StringConstraints(min_length=1, max_length=60)]


class Battery(InputModel):
    db_table = None
    charge_pct: float = Field(ge=0, le=100, allow_inf_nan=False)
    charging: bool = False


class RobotError(InputModel):
    db_table = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    level: Literal["warning", "fatal"]
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class TaskReport(InputModel):
    db_table = "kt_robot_task"
    task_id: Id
    status: Literal["underway", "completed", "failed"]
    progress: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    failure_reason: Annotated[str, StringConstraints(max_length=500)] = ""


class StateIn(InputModel):
    db_table = "kt_robot_state"
    time: AwareDatetime = Field(description="When the robot measured this state (with a time zone)")
    operating_mode: OperatingMode = "automatic"
    position: Position
    battery: Battery
    errors: Annotated[list[RobotError], Field(max_length=50)] = []
    task: TaskReport | None = Field(None, description="The task the robot works on and its progress")
    idle: bool = Field(False, description="The robot is idle and ready for work: no order, not driving, no "
                                          "action running (VDA 5050). Ends the hold of a dock, pause or charge "
                                          "command, which keeps the robot from being given tasks")


class StateBatchItem(StateIn):
    db_table = "kt_robot_state"
    robot_id: Id | None = None
    robot_external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _one_robot(self):
        if (self.robot_id is None) == (self.robot_external_id is None):
            raise ValueError("give robot_id or robot_external_id (exactly one)")
        return self


class IngestResult(OutputModel):
    accepted: int
    duplicates: int
    robots: int


class PositionOut(OutputModel):
    x: float
    y: float
    theta: float
    map_id: str


class BatteryOut(OutputModel):
    charge_pct: float
    charging: bool


class RobotOut(OutputModel):
    id: int
    external_id: str
    name: str
    vendor: str
    model: str
    type: str
    site_id: int
    site_code: str
    capabilities: list[str]
    status: RobotStatus
    online: bool
    paused: bool
    hold: str | None = Field(None, description="The command (dock, pause, charge) that keeps the robot from "
                                               "being given tasks until it reports idle")
    last_seen_at: UtcDateTime | None
    operating_mode: str | None
    position: PositionOut | None
    battery: BatteryOut | None
    errors: list[dict[str, Any]]
    current_task_id: int | None
    task_progress: float | None


class StateOut(OutputModel):
    reported_at: UtcDateTime
    operating_mode: str
    x: float
    y: float
    theta: float
    map_id: str
    battery_pct: float
    charging: bool
    errors: list[dict[str, Any]]
    task_id: int | None
    task_progress: float | None


# --- tasks -----------------------------------------------------------------------------------

class TaskIn(InputModel):
    db_table = "kt_robot_task"
    site_id: Id
    kind: TaskKind
    start: PlaceName | None = Field(None, description="Named place where the task starts (e.g. a guide meets "
                                                      "the visitor); default: wherever the robot is")
    destination: PlaceName | None = None
    waypoints: Annotated[list[PlaceName], Field(max_length=50)] = Field(
        [], description="Named places to pass, in order (patrols); the destination, if given, comes last")
    priority: Annotated[int, Field(ge=1, le=9)] = 5
    not_before: AwareDatetime | None = Field(None, description="Do not start before this time")
    robot_id: Id | None = Field(None, description="Only this robot may do it")
    client_task_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = Field(
        None, description="Your id for the task: a retried request with the same id creates nothing new")
    note: Annotated[str, StringConstraints(max_length=500)] = ""

    @model_validator(mode="after")
    def _somewhere_to_go(self):
        if not self.destination and not self.waypoints:
            raise ValueError("give a destination or waypoints")
        return self


class WaypointOut(OutputModel):
    name: str
    x: float
    y: float


class TaskOut(OutputModel):
    id: int
    site_id: int
    client_task_id: str | None
    kind: str
    status: TaskStatus
    priority: int
    waypoints: list[WaypointOut]
    note: str
    not_before_at: UtcDateTime | None
    assigned_robot_id: int | None
    pinned_robot_id: int | None
    progress: float
    attempts: int
    failure_reason: str
    created_at: UtcDateTime
    assigned_at: UtcDateTime | None
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class OrderNode(OutputModel):
    sequence_id: int
    name: str
    x: float
    y: float


class OrderOut(OutputModel):
    order_id: int = Field(description="The task id; report progress with task.task_id in the state")
    kind: str
    status: str
    priority: int
    nodes: list[OrderNode]


class CommandIn(InputModel):
    db_table = "kt_robot_command"
    kind: CommandKind
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class CommandOut(OutputModel):
    id: int
    robot_id: int
    kind: str
    status: str
    note: str
    created_by: str
    created_at: UtcDateTime
    delivered_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class CommandAck(InputModel):
    db_table = "kt_robot_command"
    status: Literal["acknowledged", "completed", "failed"]


class OrdersOut(OutputModel):
    robot_id: int
    orders: list[OrderOut]
    commands: list[CommandOut]


# --- alerts and statistics -------------------------------------------------------------------

class AlertOut(OutputModel):
    id: int
    site_id: int
    robot_id: int
    robot_name: str
    task_id: int | None
    kind: str
    message: str
    raised_at: UtcDateTime
    cleared_at: UtcDateTime | None
    acknowledged_at: UtcDateTime | None
    acknowledged_by: str


class SiteLiveOut(OutputModel):
    site: SiteOut
    robots: list[RobotOut]
    tasks: list[TaskOut]
    alerts: list[AlertOut]
    generated_at: UtcDateTime


class RobotStatsOut(OutputModel):
    robot_id: int
    robot_name: str
    site_id: int
    type: str
    online_h: float
    working_h: float
    charging_h: float
    error_h: float
    utilisation_pct: float | None
    availability_pct: float | None
    error_reports: int
    tasks_completed: int
    tasks_failed: int


class DayStatsOut(OutputModel):
    day: date
    online_h: float
    working_h: float
    utilisation_pct: float | None
    availability_pct: float | None
    error_reports: int
    tasks_completed: int
    tasks_failed: int


class StatsOut(OutputModel):
    date_from: date
    date_to: date
    robots: list[RobotStatsOut]
    days: list[DayStatsOut]


# --- VDA 5050 vehicles ----------------------------------------------------------------------------

class VdaVehicleOut(OutputModel):
    id: int
    manufacturer: str = Field(description="VDA 5050 manufacturer: the robot's vendor once registered")
    serial_number: str = Field(description="VDA 5050 serialNumber: the robot's external id once registered")
    robot_id: int | None
    connection_state: str | None = Field(description="ONLINE, OFFLINE or CONNECTIONBROKEN (the last will)")
    protocol_version: str | None
    series_name: str | None = Field(description="typeSpecification.seriesName of its factsheet")
    messages: int
    first_seen_at: UtcDateTime
    last_seen_at: UtcDateTime
