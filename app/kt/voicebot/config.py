"""Settings of the voicebot's Open311 door, read from ``DXHUB_KT_VOICEBOT_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class VoicebotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_KT_VOICEBOT_", extra="ignore")

    # The jurisdiction an Open311 call means when it names none (a server run for one municipality):
    # its 10-digit code. Unset: every anonymous read must name its jurisdiction_id.
    open311_jurisdiction_id: str | None = None
    # Photos uploaded with a request (multipart ``media``): JPEG or PNG by content, at most this size.
    open311_media_max_bytes: int = 5 * 1024 * 1024
    # Where they are kept; default: <DXHUB_DATA_DIR>/kt_voicebot/media
    open311_media_dir: Path | None = None

    @field_validator("open311_jurisdiction_id")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        # Checked where it is used, like a jurisdiction_id a caller names (400 or 404 in the spec's format),
        # so that a mistyped setting cannot turn every Open311 call into a server error.
        return (value or "").strip() or None

    def media_root(self, data_dir: Path) -> Path:
        return self.open311_media_dir or (data_dir / "kt_voicebot" / "media")


@lru_cache
def get_voicebot_settings() -> VoicebotSettings:
    return VoicebotSettings()
