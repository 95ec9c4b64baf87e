"""Settings of city-data consulting, from the environment with the ``DXHUB_CITYDATA_`` prefix."""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from pydantic_settings import BaseSettings, SettingsConfigDict


class CitydataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_CITYDATA_", extra="ignore")

    # A file above this is refused before it is read.
    max_upload_bytes: int = 200_000_000
    # Files above this run as a background job with a progress bar; smaller ones in the request.
    sync_max_bytes: int = 2_000_000


@lru_cache
def default_settings() -> CitydataSettings:
    return CitydataSettings()


def settings_of(request: Request) -> CitydataSettings:
    return getattr(request.app.state, "citydata_settings", None) or default_settings()
