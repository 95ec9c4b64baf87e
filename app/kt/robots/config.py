"""Settings of the robot platform, read from ``DXHUB_KT_ROBOTS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class RobotsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_KT_ROBOTS_", extra="ignore")

    # The VDA 5050 interface name: the first level of every topic (``uagv/v2/<manufacturer>/<serial>/state``).
    vda5050_interface: str = "uagv"


@lru_cache
def get_robots_settings() -> RobotsSettings:
    return RobotsSettings()
