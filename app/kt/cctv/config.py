"""Settings of the CCTV module, read from ``DXHUB_KT_CCTV_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict


class TypeRule(BaseModel):
    """How detections of one type become incidents."""

    quiet_s: int  # detections closer than this (by detected_at) join the same incident
    min_confidence: float  # below this an event is stored but opens no incident
    alert_confidence: float | None  # at or above this (and inside a required zone) it is an alert
    required_zones: tuple[str, ...] = ()  # zone types the box's bottom-centre must be in for an alert


DEFAULT_RULES: dict[str, TypeRule] = {
    "fire": TypeRule(quiet_s=120, min_confidence=0.4, alert_confidence=0.6),
    "smoke": TypeRule(quiet_s=120, min_confidence=0.4, alert_confidence=0.7),
    "fall": TypeRule(quiet_s=120, min_confidence=0.4, alert_confidence=0.6),
    "intrusion": TypeRule(quiet_s=60, min_confidence=0.5, alert_confidence=0.7, required_zones=("restricted",)),
    "loitering": TypeRule(quiet_s=300, min_confidence=0.5, alert_confidence=None),
    "crowd": TypeRule(quiet_s=300, min_confidence=0.5, alert_confidence=None),
    "illegal_parking": TypeRule(quiet_s=600, min_confidence=0.5, alert_confidence=None),
}


class CctvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_KT_CCTV_", extra="ignore")

    # Where snapshots are written; default: <DXHUB_DATA_DIR>/kt_cctv/snapshots
    snapshot_dir: Path | None = None
    snapshot_max_bytes: int = 2 * 1024 * 1024
    snapshot_retention_days: int = 30
    # Illegal parking: seconds a track's bottom-centre point must stay inside a no_parking/no_stopping zone
    parking_dwell_s: int = 300
    # An alert not acknowledged within this many minutes escalates
    escalate_after_min: int = 5
    # A camera without a heartbeat for this long shows offline
    offline_after_s: int = 180
    # Events further in the future than this (clock skew allowance) are refused
    max_future_s: int = 300
    # Events older than this are refused (an analyser may catch up after an outage, not rewrite history)
    max_age_days: int = 30
    max_batch: int = 1000
    max_body_bytes: int = 2 * 1024 * 1024
    # Frigate NVR over MQTT (the kt.cctv.frigate bridge, run by `dxhub worker` when DXHUB_MQTT_URL is set):
    # Frigate's topic_prefix; the bridge listens to <prefix>/events and <prefix>/reviews
    frigate_topic_prefix: str = "frigate"
    # Frigate's base URL (e.g. http://frigate.local:5000); when set, event snapshots are fetched from its API
    frigate_url: str | None = None
    frigate_timeout_s: float = 5.0
    # Per-type overrides, e.g. DXHUB_KT_CCTV_RULES='{"fire": {"quiet_s": 60, ...}}'
    rules: dict[str, TypeRule] = {}

    def rule(self, event_type: str) -> TypeRule:
        return self.rules.get(event_type) or DEFAULT_RULES[event_type]

    def snapshot_root(self, data_dir: Path) -> Path:
        return self.snapshot_dir or (data_dir / "kt_cctv" / "snapshots")


@lru_cache
def get_cctv_settings() -> CctvSettings:
    return CctvSettings()
