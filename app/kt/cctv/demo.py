"""Demo data: the control centres of 울산광역시, 여주시 and 이천시 with a month of generated detections."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.db import utcnow
from app.core.tenancy import check_rows
from app.kt.cctv import rollup
from app.kt.cctv.config import get_cctv_settings
from app.kt.cctv.geometry import bottom_centre, point_in_polygon
from app.kt.cctv.models import CctvCamera, CctvEvent, CctvIncident, CctvSnapshot, CctvZone
from app.platform import service as platform_service

NO_PARKING = [[0.05, 0.62], [0.55, 0.62], [0.60, 0.98], [0.02, 0.98]]
NO_STOPPING = [[0.45, 0.55], [0.95, 0.55], [0.98, 0.95], [0.50, 0.95]]
WATCH = [[0.20, 0.20], [0.80, 0.20], [0.80, 0.60], [0.20, 0.60]]
RESTRICTED = [[0.60, 0.10], [0.95, 0.10], [0.95, 0.50], [0.60, 0.50]]

# code, control centre, cameras: (external id, name, lat, lon, address, zone kinds)
CENTRES = [
    ("3100000000", "울산광역시 CCTV 통합관제센터", [
        ("US-NG-001", "태화강 국가정원 입구", 35.5493, 129.2976, "울산광역시 중구 태화동", ("watch",)),
        ("US-NG-002", "삼산동 롯데백화점 앞 교차로", 35.5390, 129.3384, "울산광역시 남구 삼산로", ("no_stopping",)),
        ("US-JG-003", "성남동 젊음의거리", 35.5555, 129.3210, "울산광역시 중구 성남동", ("watch", "no_parking")),
        ("US-NG-004", "울산대공원 정문", 35.5306, 129.2957, "울산광역시 남구 대공원로", ("watch",)),
        ("US-DG-005", "방어진항 수산시장", 35.4862, 129.4292, "울산광역시 동구 방어동", ("no_parking",)),
        ("US-NG-006", "장생포 고래문화마을", 35.5083, 129.3827, "울산광역시 남구 장생포동", ("restricted",)),
        ("US-UJ-007", "울산역 광장", 35.5515, 129.1385, "울산광역시 울주군 삼남읍", ("no_stopping", "watch")),
        ("US-BG-008", "화봉동 주택가 이면도로", 35.5952, 129.3560, "울산광역시 북구 화봉동", ("no_parking",)),
        ("US-NG-009", "무거동 대학가", 35.5448, 129.2624, "울산광역시 남구 무거동", ("no_parking", "watch")),
        ("US-JG-010", "울산 석유화학단지 진입로", 35.4968, 129.3439, "울산광역시 남구 부곡동", ("restricted",)),
    ]),
    ("4167000000", "여주시 CCTV 통합관제센터", [
        ("YJ-001", "여주시청 앞 사거리", 37.2983, 127.6370, "경기도 여주시 현암동", ("no_stopping",)),
        ("YJ-002", "여주역 버스정류장", 37.2824, 127.6282, "경기도 여주시 교동", ("no_parking", "watch")),
        ("YJ-003", "신륵사 관광지 주차장", 37.3005, 127.6522, "경기도 여주시 천송동", ("no_parking",)),
        ("YJ-004", "여주 한글시장", 37.2955, 127.6395, "경기도 여주시 창동", ("no_parking", "watch")),
        ("YJ-005", "세종대왕릉 입구", 37.3068, 127.6032, "경기도 여주시 세종대왕면", ("restricted",)),
        ("YJ-006", "여주 프리미엄아울렛 진입로", 37.2439, 127.6119, "경기도 여주시 상거동", ("no_stopping",)),
        ("YJ-007", "남한강 강변공원", 37.2961, 127.6458, "경기도 여주시 홍문동", ("watch",)),
    ]),
    ("4150000000", "이천시 CCTV 통합관제센터", [
        ("IC-001", "이천시청 앞", 37.2720, 127.4350, "경기도 이천시 중리동", ("no_stopping",)),
        ("IC-002", "이천터미널", 37.2792, 127.4425, "경기도 이천시 창전동", ("no_parking", "watch")),
        ("IC-003", "설봉공원 산책로", 37.2667, 127.4597, "경기도 이천시 관고동", ("watch",)),
        ("IC-004", "관고전통시장", 37.2803, 127.4380, "경기도 이천시 관고동", ("no_parking",)),
        ("IC-005", "이천역 광장", 37.2636, 127.4420, "경기도 이천시 증포동", ("no_stopping", "watch")),
        ("IC-006", "부발읍 산업단지 정문", 37.2870, 127.4980, "경기도 이천시 부발읍", ("restricted",)),
        ("IC-007", "사기막골 도예촌", 37.2698, 127.4620, "경기도 이천시 신둔면", ("no_parking",)),
        ("IC-008", "증포동 학교 앞 어린이보호구역", 37.2610, 127.4490, "경기도 이천시 증포동", ("no_stopping",)),
    ]),
]

ZONE_SHAPES = {"no_parking": ("불법주정차 금지구역", NO_PARKING), "no_stopping": ("정차 금지구역", NO_STOPPING),
               "watch": ("관심구역", WATCH), "restricted": ("출입 제한구역", RESTRICTED)}
OPERATORS = {"3100000000": "user:ulsan.staff", "4150000000": "user:icheon.staff"}
NOTES = {"119": "화재 의심 신고, 소방 출동 요청", "112": "쓰러진 시민, 경찰 현장 확인 요청"}
DEPARTMENTS = ["교통행정과", "주차관리과", "안전총괄과", "도로관리과"]
PLATES = ["12가3456", "34나5678", "123다4567", "56라7890", "78마1234", "234바5678", "90사1122"]


def box_in(polygon: list[list[float]], rng: random.Random) -> list[float]:
    """A box whose bottom-centre lies inside ``polygon``."""
    for _ in range(50):
        w, h = rng.uniform(0.08, 0.2), rng.uniform(0.08, 0.2)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        if point_in_polygon(*bottom_centre([x, y, w, h]), polygon):
            return [x, y, w, h]
    return [0.2, 0.7, 0.1, 0.1]


def random_box(rng: random.Random) -> list[float]:
    w, h = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)
    return [rng.uniform(0, 1 - w), rng.uniform(0, 1 - h), w, h]


class _Builder:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng, self.now = rng, now
        self.events: list[dict[str, Any]] = []
        self.incidents: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.seq = 0
        self.who = "user:admin"

    def event(self, cam: CctvCamera, type_: str, conf: float, at: datetime, bbox: list[float],
              track: str | None = None, zone_id: int | None = None, attributes: dict | None = None) -> dict:
        self.seq += 1
        row = dict(municipality_id=cam.municipality_id, event_id=f"demo-{cam.external_id}-{self.seq:07d}",
                   camera_id=cam.id, type=type_, confidence=round(conf, 3), detected_at=at,
                   received_at=at + timedelta(seconds=self.rng.uniform(0.2, 2.5)), bbox_x=bbox[0], bbox_y=bbox[1],
                   bbox_w=bbox[2], bbox_h=bbox[3], track_id=track, zone_id=zone_id, attributes=attributes or {},
                   incident_id=None)
        return row

    def incident(self, cam: CctvCamera, type_: str, severity: str, start: datetime, n: int, conf: tuple,
                 outcome: str, *, zone: CctvZone | None = None, track: str | None = None,
                 target: str | None = None) -> None:
        rng = self.rng
        polygon = zone.polygon if zone is not None else None
        bbox = box_in(polygon, rng) if polygon else random_box(rng)
        plate = rng.choice(PLATES) if type_ == "illegal_parking" else None
        step = 20 if type_ != "illegal_parking" else 60
        events = []
        for k in range(n):
            at = start + timedelta(seconds=k * step + rng.uniform(0, 5))
            events.append(self.event(cam, type_, rng.uniform(*conf), at, bbox, track=track,
                                     zone_id=zone.id if zone is not None and type_ == "illegal_parking" else None,
                                     attributes={"plate": plate} if plate else None))
        last = events[-1]["detected_at"]
        opened = start + timedelta(seconds=rng.uniform(1, 4))
        row = dict(municipality_id=cam.municipality_id, camera_id=cam.id, type=type_, severity=severity,
                   status=outcome, open_key=None, track_id=track, zone_id=zone.id if zone is not None else None,
                   started_at=start, last_detected_at=last, opened_at=opened, event_count=n,
                   max_confidence=max(e["confidence"] for e in events), dispatch_note="", close_note="",
                   acknowledged_at=None, acknowledged_by=None, dispatched_at=None, dispatched_by=None,
                   dispatch_target=None, dispatch_department=None, closed_at=None, closed_by=None,
                   escalated_at=None)
        who = self.who
        if outcome != "new":
            ack_s = rng.uniform(15, 90) if severity == "alert" else rng.uniform(60, 900)
            row.update(acknowledged_at=opened + timedelta(seconds=ack_s), acknowledged_by=who)
        if outcome in ("dispatched", "resolved") and target:
            row.update(dispatched_at=row["acknowledged_at"] + timedelta(seconds=rng.uniform(20, 120)),
                       dispatched_by=who, dispatch_target=target,
                       dispatch_department=rng.choice(DEPARTMENTS) if target == "department" else None,
                       dispatch_note=NOTES.get(target, "단속 요원 현장 확인 요청"))
        if outcome in ("resolved", "false_alarm"):
            base = row["dispatched_at"] or row["acknowledged_at"]
            row.update(closed_at=base + timedelta(seconds=rng.uniform(120, 2400)), closed_by=who,
                       close_note="현장 조치 완료" if outcome == "resolved" else "그림자·조명 반사 오탐")
        overdue = opened + timedelta(minutes=get_cctv_settings().escalate_after_min)
        if outcome == "new" and severity == "alert" and overdue <= self.now:
            row["escalated_at"] = overdue  # as the worker's escalation duty would have marked it
        if outcome in ("new", "acknowledged", "dispatched") and last + timedelta(minutes=10) > self.now:
            row["open_key"] = f"{cam.id}:{type_}" + (f":{track}" if track else "")
        self.incidents.append((row, events))


def _cameras_for(session: Session, municipality_id: int, centre: str, specs: list) -> list[CctvCamera]:
    cameras = []
    now = utcnow()
    for i, (ext, name, lat, lon, address, kinds) in enumerate(specs):
        cam = CctvCamera(municipality_id=municipality_id, external_id=ext, name=name, lat=lat, lon=lon,
                         address=address, control_centre=centre,
                         last_heartbeat_at=now - timedelta(seconds=20) if i % 6 != 5 else now - timedelta(hours=3))
        for kind in kinds:
            label, polygon = ZONE_SHAPES[kind]
            cam.zones.append(CctvZone(municipality_id=municipality_id, name=label, type=kind, polygon=polygon))
        session.add(cam)
        cameras.append(cam)
    session.flush()
    return cameras


def _generate(builder: _Builder, cameras: list[CctvCamera], days: int) -> None:
    rng, now = builder.rng, builder.now
    start_day = now - timedelta(days=days)
    for d in range(days):
        day = start_day + timedelta(days=d)
        for cam in cameras:
            # low-confidence noise: stored, never an incident
            for _ in range(rng.randint(8, 16)):
                at = day + timedelta(seconds=rng.uniform(0, 86400))
                builder.events.append(builder.event(cam, rng.choice(["smoke", "fall", "loitering", "fire", "crowd"]),
                                                    rng.uniform(0.1, 0.38), at, random_box(rng)))
        for _ in range(rng.randint(2, 5)):  # detections that operators mostly dismiss
            cam = rng.choice(cameras)
            type_ = rng.choice(["smoke", "loitering", "crowd", "smoke", "intrusion"])
            at = day + timedelta(seconds=rng.uniform(0, 86000))
            outcome = "false_alarm" if rng.random() < 0.7 else "resolved"
            builder.incident(cam, type_, "detection", at, rng.randint(2, 8), (0.42, 0.68), outcome,
                             target="department" if outcome == "resolved" and rng.random() < 0.5 else None)
        parking = [c for c in cameras if any(z.type in ("no_parking", "no_stopping") for z in c.zones)]
        for _ in range(rng.randint(1, 4)):
            cam = rng.choice(parking)
            zone = next(z for z in cam.zones if z.type in ("no_parking", "no_stopping"))
            at = day + timedelta(seconds=rng.uniform(25000, 80000))
            outcome = rng.choice(["resolved", "resolved", "false_alarm"])
            builder.incident(cam, "illegal_parking", "detection", at, rng.randint(6, 15), (0.6, 0.95), outcome,
                             zone=zone, track=f"t{builder.seq}", target="department")
        if rng.random() < 0.25:  # a real fire or fall now and then
            cam = rng.choice(cameras)
            type_ = rng.choice(["fire", "fall"])
            at = day + timedelta(seconds=rng.uniform(0, 86000))
            builder.incident(cam, type_, "alert", at, rng.randint(3, 12), (0.72, 0.97), "resolved",
                             target="119" if type_ == "fire" else "112")
        if rng.random() < 0.3:  # false alerts: a sunset glare read as fire
            cam = rng.choice(cameras)
            at = day + timedelta(seconds=rng.uniform(60000, 68000))
            builder.incident(cam, "fire", "alert", at, rng.randint(2, 4), (0.6, 0.7), "false_alarm")


def _live_now(builder: _Builder, cameras: list[CctvCamera]) -> None:
    """What an operator sees on arrival: a fresh fall, an overdue fire, work in progress."""
    now, rng = builder.now, builder.rng
    builder.incident(cameras[0], "fall", "alert", now - timedelta(minutes=2), 4, (0.8, 0.93), "new")
    builder.incident(cameras[1 % len(cameras)], "fire", "alert", now - timedelta(minutes=12), 6, (0.7, 0.9), "new")
    builder.incident(cameras[2 % len(cameras)], "smoke", "detection", now - timedelta(minutes=30), 5, (0.45, 0.65),
                     "acknowledged")
    parking = [c for c in cameras if any(z.type in ("no_parking", "no_stopping") for z in c.zones)]
    cam = parking[0]
    zone = next(z for z in cam.zones if z.type in ("no_parking", "no_stopping"))
    builder.incident(cam, "illegal_parking", "detection", now - timedelta(minutes=25), 12, (0.7, 0.95),
                     "dispatched", zone=zone, track=f"t{rng.randint(1000, 9999)}", target="department")


def _write(session: Session, builder: _Builder) -> None:
    table = CctvIncident.__table__
    rows = [r for r, _e in builder.incidents]
    if rows:
        ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              check_rows(session, table, rows)).scalars().all()
        for new_id, (_row, events) in zip(ids, builder.incidents, strict=True):
            for e in events:
                e["incident_id"] = new_id
                builder.events.append(e)
    if builder.events:
        insert_rows(session, CctvEvent.__table__, builder.events)
    rollup.refresh(session, [(r["camera_id"], r["started_at"]) for r in rows])


def load_demo(session: Session, *, days: int = 30, seed: int = 2026) -> None:
    now = utcnow()
    for code, centre, specs in CENTRES:
        municipality = platform_service.get_municipality(session, code=code)
        builder = _Builder(random.Random(f"{seed}-{code}"), now)
        builder.who = OPERATORS.get(code, "user:admin")
        cameras = _cameras_for(session, municipality.id, centre, specs)
        _generate(builder, cameras, days)
        _live_now(builder, cameras)
        _write(session, builder)
    session.flush()


def sample_data(session: Session, municipality_id: int) -> None:
    """A camera with zones, an incident with events, and a snapshot record, in one municipality."""
    now = utcnow()
    cam = CctvCamera(municipality_id=municipality_id, external_id=f"SAMPLE-{municipality_id}", name="샘플 카메라",
                     lat=35.54, lon=129.31, address="샘플 주소", control_centre="샘플 관제센터",
                     last_heartbeat_at=now)
    cam.zones.append(CctvZone(municipality_id=municipality_id, name="불법주정차 금지구역", type="no_parking",
                              polygon=NO_PARKING))
    session.add(cam)
    session.flush()
    builder = _Builder(random.Random(municipality_id), now)
    builder.incident(cam, "fire", "alert", now - timedelta(minutes=1), 3, (0.8, 0.9), "new")
    builder.events.append(builder.event(cam, "smoke", 0.2, now - timedelta(minutes=3), [0.1, 0.1, 0.2, 0.2]))
    _write(session, builder)
    event_row = session.scalars(select(CctvEvent).where(CctvEvent.camera_id == cam.id)
                                .order_by(CctvEvent.id)).first()
    assert event_row is not None
    session.add(CctvSnapshot(municipality_id=municipality_id, event_row_id=event_row.id, camera_id=cam.id,
                             incident_id=event_row.incident_id, path=f"{municipality_id}/sample.jpg",
                             content_type="image/jpeg", size_bytes=0, sha256="0" * 64))
    session.flush()
