"""Tables of the CCTV AI control centre."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

EVENT_TYPES = ("fire", "smoke", "fall", "illegal_parking", "loitering", "intrusion", "crowd")
ZONE_TYPES = ("no_parking", "no_stopping", "watch", "restricted")
PARKING_ZONE_TYPES = ("no_parking", "no_stopping")
SEVERITIES = ("alert", "detection")
INCIDENT_STATUSES = ("new", "acknowledged", "dispatched", "resolved", "false_alarm")
OPEN_STATUSES = ("new", "acknowledged", "dispatched")
DISPATCH_TARGETS = ("112", "119", "department")


class CctvCamera(TenantScoped, Base):
    __tablename__ = "kt_cctv_camera"
    __table_args__ = (UniqueConstraint("municipality_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    control_centre: Mapped[str] = mapped_column(String(200), default="")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    zones: Mapped[list[CctvZone]] = relationship(back_populates="camera", order_by="CctvZone.id",
                                                 cascade="all, delete-orphan")


class CctvZone(TenantScoped, Base):
    __tablename__ = "kt_cctv_zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_camera.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    # [[x, y], ...] in normalised image coordinates (0-1, origin top-left)
    polygon: Mapped[list[Any]] = mapped_column(JSON)

    camera: Mapped[CctvCamera] = relationship(back_populates="zones")


class CctvIncident(TenantScoped, Base):
    """Detections of one type on one camera (one track for parking) merged until a quiet window passes."""

    __tablename__ = "kt_cctv_incident"
    __table_args__ = (
        Index("ix_kt_cctv_incident_camera_type_started", "camera_id", "type", "started_at"),
        Index("ix_kt_cctv_incident_status_started", "status", "started_at"),
        Index("ix_kt_cctv_incident_municipality_last", "municipality_id", "last_detected_at"),
        # The incident list filtered by status, newest first (id breaks ties), and its count, per tenant.
        Index("ix_kt_cctv_incident_municipality_status_last", "municipality_id", "status", "last_detected_at", "id"),
        # The statistics' partial first and last day of a range.
        Index("ix_kt_cctv_incident_municipality_started", "municipality_id", "started_at"),
        # the escalation check on every list read: the few new alerts, not every incident
        Index("ix_kt_cctv_incident_status_severity_opened", "status", "severity", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_camera.id", ondelete="RESTRICT"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="new")
    # "camera:type[:track]" while the incident still takes new detections; NULL afterwards. Unique, so
    # concurrent batches can never open two merge targets for one camera and type.
    open_key: Mapped[str | None] = mapped_column(String(160), unique=True, default=None)
    track_id: Mapped[str | None] = mapped_column(String(100), default=None)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("kt_cctv_zone.id", ondelete="SET NULL"), default=None)
    started_at: Mapped[datetime] = mapped_column()
    last_detected_at: Mapped[datetime] = mapped_column()
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    max_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120), default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    dispatched_by: Mapped[str | None] = mapped_column(String(120), default=None)
    dispatch_target: Mapped[str | None] = mapped_column(String(20), default=None)
    dispatch_department: Mapped[str | None] = mapped_column(String(100), default=None)
    dispatch_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(120), default=None)
    close_note: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)

    camera: Mapped[CctvCamera] = relationship(lazy="joined", innerjoin=True)


class CctvEvent(TenantScoped, Base):
    """One analyser detection. High volume: written with Core, audited once per batch."""

    __tablename__ = "kt_cctv_event"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("camera_id", "event_id"),
        Index("ix_kt_cctv_event_track", "camera_id", "track_id", "zone_id", "detected_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100))
    camera_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_camera.id", ondelete="RESTRICT"))
    type: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    bbox_x: Mapped[float] = mapped_column(Float)
    bbox_y: Mapped[float] = mapped_column(Float)
    bbox_w: Mapped[float] = mapped_column(Float)
    bbox_h: Mapped[float] = mapped_column(Float)
    track_id: Mapped[str | None] = mapped_column(String(100), default=None)
    # the no_parking/no_stopping zone holding the box's bottom-centre point, for parking dwell
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("kt_cctv_zone.id", ondelete="SET NULL"), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("kt_cctv_incident.id", ondelete="SET NULL"),
                                                    index=True, default=None)


class CctvSnapshot(TenantScoped, Base):
    """An image of an event, kept on disk for the retention period (``dxhub cctv purge``)."""

    __tablename__ = "kt_cctv_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_row_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_event.id", ondelete="CASCADE"), unique=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_camera.id", ondelete="RESTRICT"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("kt_cctv_incident.id", ondelete="SET NULL"),
                                                    index=True, default=None)
    path: Mapped[str] = mapped_column(String(300))  # relative to the snapshot directory
    content_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class CctvRule(TenantScoped, Base):
    """A municipality's own rule for one detection type, replacing the deployment's default."""

    __tablename__ = "kt_cctv_rule"
    __table_args__ = (UniqueConstraint("municipality_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    quiet_s: Mapped[int] = mapped_column(Integer)
    min_confidence: Mapped[float] = mapped_column(Float)
    alert_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    required_zones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CctvIncidentDaily(TenantScoped, Base):
    """Incidents per camera, type and day (Asia/Seoul, by ``started_at``), kept up to date whenever an
    incident is written, so that statistics never scan incidents or events. Times to acknowledge and to
    resolve are kept as sums and as counts per bucket (``ack_b0`` ... ``ack_b9``: up to each edge of
    ``app.kt.cctv.rollup.BUCKET_EDGES_S``, the last one beyond), summed by SQL."""

    __tablename__ = "kt_cctv_incident_daily"
    __audit__ = False

    camera_id: Mapped[int] = mapped_column(ForeignKey("kt_cctv_camera.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(20), primary_key=True)
    day_date: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    incidents: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    false_alarms: Mapped[int] = mapped_column(Integer)
    acknowledged: Mapped[int] = mapped_column(Integer)
    ack_s_sum: Mapped[float] = mapped_column(Float)
    resolved: Mapped[int] = mapped_column(Integer)
    resolve_s_sum: Mapped[float] = mapped_column(Float)
    ack_b0: Mapped[int] = mapped_column(Integer)
    ack_b1: Mapped[int] = mapped_column(Integer)
    ack_b2: Mapped[int] = mapped_column(Integer)
    ack_b3: Mapped[int] = mapped_column(Integer)
    ack_b4: Mapped[int] = mapped_column(Integer)
    ack_b5: Mapped[int] = mapped_column(Integer)
    ack_b6: Mapped[int] = mapped_column(Integer)
    ack_b7: Mapped[int] = mapped_column(Integer)
    ack_b8: Mapped[int] = mapped_column(Integer)
    ack_b9: Mapped[int] = mapped_column(Integer)
    res_b0: Mapped[int] = mapped_column(Integer)
    res_b1: Mapped[int] = mapped_column(Integer)
    res_b2: Mapped[int] = mapped_column(Integer)
    res_b3: Mapped[int] = mapped_column(Integer)
    res_b4: Mapped[int] = mapped_column(Integer)
    res_b5: Mapped[int] = mapped_column(Integer)
    res_b6: Mapped[int] = mapped_column(Integer)
    res_b7: Mapped[int] = mapped_column(Integer)
    res_b8: Mapped[int] = mapped_column(Integer)
    res_b9: Mapped[int] = mapped_column(Integer)


FRIGATE_IGNORE = "ignore"  # a label mapping that stores nothing (e.g. to switch a default off)


class CctvFrigateLabel(TenantScoped, Base):
    """A municipality's own mapping of a Frigate label (``label`` or ``label:sub_label``), optionally only
    inside a zone type, to a detection type; a label with rows here no longer uses the defaults."""

    __tablename__ = "kt_cctv_frigate_label"
    __table_args__ = (UniqueConstraint("municipality_id", "label", "zone_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    zone_type: Mapped[str] = mapped_column(String(20), default="")  # "" = anywhere in the picture
    event_type: Mapped[str] = mapped_column(String(20))  # one of EVENT_TYPES, or FRIGATE_IGNORE
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CctvFrigateUnknownCamera(Base):
    """A Frigate camera name that matches no camera's ``external_id`` (or several): counted, never dropped
    in silence. Not a tenant table: before the camera is known there is no municipality."""

    __tablename__ = "kt_cctv_frigate_unknown_camera"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # "unknown" or "ambiguous"
    messages: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_event_id: Mapped[str] = mapped_column(String(100), default="")
