"""How the CCTV module's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.i18n import gettext as _
from app.core.manifest import ObjectKind
from app.kt.cctv.models import CctvCamera, CctvIncident, CctvRule, CctvZone
from app.kt.cctv.web import SEVERITY_LABELS, STATUS_LABELS, TARGET_LABELS, TYPE_LABELS, ZONE_LABELS


def _incident_title(incident: CctvIncident) -> str:
    return f"{incident.camera.name} {_(TYPE_LABELS.get(incident.type, incident.type))}"


OBJECTS = (
    ObjectKind("kt_cctv_camera", "CCTV camera", CctvCamera, "name",
               fields={"name": "Name", "external_id": "Camera ID", "address": "Address", "lat": "Latitude",
                       "lon": "Longitude", "control_centre": "Control centre", "last_heartbeat_at": "Last heartbeat"}),
    ObjectKind("kt_cctv_zone", "CCTV zone", CctvZone, "name",
               fields={"name": "Name", "type": "Type", "polygon": "Area", "camera_id": "Camera"},
               values={"type": ZONE_LABELS}),
    ObjectKind("kt_cctv_incident", "CCTV incident", CctvIncident, _incident_title,
               fields={"type": "Type", "severity": "Severity", "status": "Status", "started_at": "Started at",
                       "last_detected_at": "Last detected", "opened_at": "Opened at", "event_count": "Detections",
                       "max_confidence": "Highest confidence", "acknowledged_at": "Acknowledged at",
                       "acknowledged_by": "Acknowledged by", "dispatched_at": "Dispatched at",
                       "dispatched_by": "Dispatched by", "dispatch_target": "Dispatched to",
                       "dispatch_department": "Department", "dispatch_note": "Dispatch note",
                       "closed_at": "Closed at", "closed_by": "Closed by", "close_note": "Closing note",
                       "escalated_at": "Escalated at", "track_id": "Track", "zone_id": "Zone",
                       "camera_id": "Camera"},
               values={"type": TYPE_LABELS, "status": STATUS_LABELS, "severity": SEVERITY_LABELS,
                       "dispatch_target": TARGET_LABELS},
               hidden=frozenset({"open_key"})),
    ObjectKind("kt_cctv_rule", "CCTV detection rule", CctvRule, lambda r: _(TYPE_LABELS.get(r.type, r.type)),
               fields={"type": "Type", "quiet_s": "Quiet window (s)", "min_confidence": "Minimum confidence",
                       "alert_confidence": "Alert confidence", "required_zones": "Required zones"},
               values={"type": TYPE_LABELS}),
    ObjectKind("kt_cctv_event", "CCTV detections", actions={"ingest_events": "Detections received"}),
    ObjectKind("kt_cctv_snapshot", "CCTV snapshots", actions={"purge": "Old snapshots purged"}),
)
