"""Request and response shapes of the CCTV API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from app.core.schemas import Id, InputModel, OutputModel, ShortText, UpdateModel

EventType = Literal["fire", "smoke", "fall", "illegal_parking", "loitering", "intrusion", "crowd"]
ZoneType = Literal["no_parking", "no_stopping", "watch", "restricted"]
IncidentStatus = Literal["new", "acknowledged", "dispatched", "resolved", "false_alarm"]
Severity = Literal["alert", "detection"]
DispatchTarget = Literal["112", "119", "department"]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Note = Annotated[str, StringConstraints(max_length=2000)]


class CameraIn(InputModel):
    db_table = "kt_cctv_camera"
    external_id: ExternalId
    name: ShortText
    municipality_code: Annotated[str, StringConstraints(pattern=r"^\d{10}$")] | None = Field(
        default=None, description="Defaults to the API key's municipality")
    lat: float = Field(ge=33.0, le=39.0, allow_inf_nan=False, description="WGS84 latitude (Korea)")
    lon: float = Field(ge=124.0, le=132.0, allow_inf_nan=False, description="WGS84 longitude (Korea)")
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    control_centre: Annotated[str, StringConstraints(max_length=200)] = ""


class CameraUpdate(UpdateModel):
    db_table = "kt_cctv_camera"
    name: ShortText | None = None
    lat: float | None = Field(default=None, ge=33.0, le=39.0, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=124.0, le=132.0, allow_inf_nan=False)
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    control_centre: Annotated[str, StringConstraints(max_length=200)] | None = None


class ZoneIn(InputModel):
    db_table = "kt_cctv_zone"
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    type: ZoneType
    polygon: list[tuple[Unit, Unit]] = Field(min_length=3, max_length=64,
                                             description="[[x, y], ...] normalised image coordinates, 0-1")


class ZonesIn(InputModel):
    db_table = None
    zones: list[ZoneIn] = Field(max_length=50)


class ZoneOut(OutputModel):
    id: int
    name: str
    type: str
    polygon: list[list[float]]


class CameraOut(OutputModel):
    id: int
    external_id: str
    name: str
    municipality_code: str
    lat: float
    lon: float
    address: str
    control_centre: str
    last_heartbeat_at: datetime | None
    online: bool
    zones: list[ZoneOut]


class CameraRef(InputModel):
    db_table = None
    camera_id: Id | None = None
    camera_external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _one_camera(self):
        if (self.camera_id is None) == (self.camera_external_id is None):
            raise ValueError("give exactly one of camera_id and camera_external_id")
        return self


class HeartbeatIn(CameraRef):
    db_table = None
    at: AwareDatetime | None = Field(default=None, description="Defaults to the time of arrival")


class EventIn(CameraRef):
    db_table = "kt_cctv_event"
    event_id: ExternalId = Field(description="The analyser's id of the event: a retry with the same id is "
                                             "stored once")
    type: EventType
    confidence: Unit
    detected_at: AwareDatetime
    bbox: tuple[Unit, Unit, Unit, Unit] = Field(description="[x, y, w, h] normalised to the image, 0-1")
    track_id: ExternalId | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, description="e.g. {\"plate\": \"12가3456\"}")

    @field_validator("bbox")
    @classmethod
    def _inside_image(cls, v: tuple[float, float, float, float]):
        x, y, w, h = v
        if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
            raise ValueError("the box must lie inside the image: x + w and y + h at most 1")
        return v

    @field_validator("attributes")
    @classmethod
    def _small(cls, v: dict[str, Any]):
        if len(v) > 20 or len(str(v)) > 2000:
            raise ValueError("attributes are limited to 20 keys and 2,000 characters")
        return v


class IncidentRef(OutputModel):
    id: int
    camera_id: int
    type: str
    severity: str
    status: str
    event_count: int


class IngestResult(OutputModel):
    accepted: int
    duplicates: int
    incidents_opened: list[IncidentRef]
    incidents_joined: list[IncidentRef]


class HeartbeatResult(OutputModel):
    updated: int


class EventOut(OutputModel):
    id: int
    event_id: str
    camera_id: int
    type: str
    confidence: float
    detected_at: datetime
    received_at: datetime
    bbox: list[float]
    track_id: str | None
    zone_id: int | None
    attributes: dict[str, Any]
    incident_id: int | None
    snapshot_id: int | None = None


class IncidentOut(OutputModel):
    id: int
    camera_id: int
    camera_name: str
    municipality_code: str
    type: str
    severity: str
    status: str
    track_id: str | None
    zone_id: int | None
    started_at: datetime
    last_detected_at: datetime
    opened_at: datetime
    event_count: int
    max_confidence: float
    merging: bool = Field(description="Still taking new detections (its quiet window has not passed)")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    dispatched_at: datetime | None
    dispatched_by: str | None
    dispatch_target: str | None
    dispatch_department: str | None
    dispatch_note: str
    closed_at: datetime | None
    closed_by: str | None
    close_note: str
    escalated_at: datetime | None
    time_to_acknowledge_s: float | None
    time_to_resolve_s: float | None
    allowed_actions: list[str]


class DispatchIn(InputModel):
    db_table = None
    target: DispatchTarget = Field(description="112 police, 119 fire, or a municipal department")
    department: Annotated[str, StringConstraints(max_length=100)] | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _department_named(self):
        if self.target == "department" and not self.department:
            raise ValueError("name the department")
        return self


class NoteIn(InputModel):
    db_table = None
    note: Note = ""


class SnapshotOut(OutputModel):
    id: int
    event_id: str
    camera_id: int
    incident_id: int | None
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    bbox: list[float]


class TypeDayOut(OutputModel):
    day: str
    type: str
    incidents: int


class FalseAlarmOut(OutputModel):
    camera_id: int
    camera_name: str
    type: str
    closed: int
    false_alarms: int
    false_alarm_rate: float | None


class ResponseTimeOut(OutputModel):
    type: str
    acknowledged: int
    mean_ack_s: float | None
    median_ack_s: float | None
    resolved: int
    mean_resolve_s: float | None
    median_resolve_s: float | None


class StatsTotalsOut(OutputModel):
    incidents: int
    closed: int
    false_alarms: int
    false_alarm_rate: float | None = Field(description="False alarms of the closed incidents, 0-1")


class StatsOut(OutputModel):
    since: datetime
    until: datetime
    per_type_per_day: list[TypeDayOut]
    false_alarms: list[FalseAlarmOut]
    response_times: list[ResponseTimeOut]
    totals: StatsTotalsOut


class RuleIn(InputModel):
    db_table = "kt_cctv_rule"
    quiet_s: int = Field(ge=5, le=86400, description="Detections closer than this (by detected_at) merge")
    min_confidence: Unit = Field(description="Below this an event is stored but opens no incident")
    alert_confidence: Unit | None = Field(default=None, description="From this confidence an alert; null: never")
    required_zones: list[ZoneType] = Field(default_factory=list, max_length=4,
                                           description="Zone types the box's bottom-centre must be in for an alert")
    municipality_code: Annotated[str, StringConstraints(pattern=r"^\d{10}$")] | None = Field(
        default=None, description="Defaults to the caller's municipality")

    @model_validator(mode="after")
    def _alert_above_minimum(self):
        if self.alert_confidence is not None and self.alert_confidence < self.min_confidence:
            raise ValueError("alert_confidence must not be below min_confidence")
        return self


class RuleOut(OutputModel):
    type: str
    quiet_s: int
    min_confidence: float
    alert_confidence: float | None
    required_zones: list[str]
    municipality_code: str
    customised: bool = Field(description="The municipality's own rule (false: the deployment's default)")


FrigateTarget = Literal["fire", "smoke", "fall", "illegal_parking", "loitering", "intrusion", "crowd", "ignore"]


class FrigateLabelIn(InputModel):
    db_table = "kt_cctv_frigate_label"
    label: Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[\x21-\x7e]+$")] = Field(
        description="Frigate's label (e.g. car), or label:sub_label (e.g. person:fallen)")
    zone_type: ZoneType | Literal[""] = Field(default="", description="Only inside a zone of this type; \"\": anywhere")
    event_type: FrigateTarget = Field(description="The detection type it becomes; ignore: nothing is stored")


class FrigateLabelsIn(InputModel):
    db_table = None
    labels: list[FrigateLabelIn] = Field(max_length=100)
    municipality_code: Annotated[str, StringConstraints(pattern=r"^\d{10}$")] | None = Field(
        default=None, description="Defaults to the caller's municipality")


class FrigateLabelOut(OutputModel):
    label: str
    zone_type: str
    event_type: str
    customised: bool = Field(description="The municipality's own row (false: the default)")


class FrigateCameraOut(OutputModel):
    name: str
    reason: str
    messages: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_event_id: str
