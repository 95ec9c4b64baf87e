"""Converters from rows to the API's output shapes (shared by the JSON and HTML routers)."""

from __future__ import annotations

from datetime import datetime

from app.kt.cctv import service
from app.kt.cctv.config import CctvSettings
from app.kt.cctv.models import CctvCamera, CctvEvent, CctvIncident, CctvSnapshot
from app.kt.cctv.schemas import CameraOut, EventOut, IncidentOut, SnapshotOut, ZoneOut


def camera_out(camera: CctvCamera, *, codes: dict[int, str], settings: CctvSettings, now: datetime) -> CameraOut:
    return CameraOut(id=camera.id, external_id=camera.external_id, name=camera.name,
                     municipality_code=codes.get(camera.municipality_id, ""), lat=camera.lat, lon=camera.lon,
                     address=camera.address, control_centre=camera.control_centre,
                     last_heartbeat_at=camera.last_heartbeat_at,
                     online=service.is_online(camera, now=now, settings=settings),
                     zones=[ZoneOut.model_validate(z) for z in camera.zones])


def incident_out(incident: CctvIncident, *, codes: dict[int, str], rules: service.RuleBook,
                 now: datetime) -> IncidentOut:
    fields = {k: getattr(incident, k) for k in (
        "id", "camera_id", "type", "severity", "status", "track_id", "zone_id", "started_at", "last_detected_at",
        "opened_at", "event_count", "max_confidence", "acknowledged_at", "acknowledged_by", "dispatched_at",
        "dispatched_by", "dispatch_target", "dispatch_department", "dispatch_note", "closed_at", "closed_by",
        "close_note", "escalated_at")}
    return IncidentOut(**fields, camera_name=incident.camera.name,
                       municipality_code=codes.get(incident.municipality_id, ""),
                       merging=service.is_merging(incident, rules=rules, now=now),
                       time_to_acknowledge_s=service.time_to_acknowledge_s(incident),
                       time_to_resolve_s=service.time_to_resolve_s(incident),
                       allowed_actions=service.allowed_actions(incident))


def event_out(event: CctvEvent, snapshot_id: int | None = None) -> EventOut:
    return EventOut(id=event.id, event_id=event.event_id, camera_id=event.camera_id, type=event.type,
                    confidence=event.confidence, detected_at=event.detected_at, received_at=event.received_at,
                    bbox=[event.bbox_x, event.bbox_y, event.bbox_w, event.bbox_h], track_id=event.track_id,
                    zone_id=event.zone_id, attributes=event.attributes or {}, incident_id=event.incident_id,
                    snapshot_id=snapshot_id)


def snapshot_out(snapshot: CctvSnapshot, event: CctvEvent) -> SnapshotOut:
    return SnapshotOut(id=snapshot.id, event_id=event.event_id, camera_id=snapshot.camera_id,
                       incident_id=snapshot.incident_id, content_type=snapshot.content_type,
                       size_bytes=snapshot.size_bytes, sha256=snapshot.sha256, uploaded_at=snapshot.uploaded_at,
                       bbox=[event.bbox_x, event.bbox_y, event.bbox_w, event.bbox_h])
