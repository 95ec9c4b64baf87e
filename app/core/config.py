"""Platform settings, read from the environment with the ``DXHUB_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SECRET = "dev-insecure-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    secret_key: str = DEFAULT_SECRET
    database_url: str = f"sqlite:///{ROOT_DIR / 'var' / 'dxhub.db'}"
    # The owner of the schema, for `dxhub migrate` (PostgreSQL: the app's own role should own nothing, so
    # that row-level security holds for it). Unset: migrations use database_url (a single-user set-up).
    migration_database_url: str | None = None
    data_dir: Path = ROOT_DIR / "var"
    cookie_secure: bool = False
    session_max_age_s: int = 8 * 3600
    token_max_age_s: int = 8 * 3600
    login_max_failures: int = 5
    login_lockout_s: int = 15 * 60
    default_locale: Literal["ko", "en"] = "ko"
    max_page_size: int = 200
    # Figures derived from telecom data are never shown for fewer people than this.
    k_threshold: int = 5

    @property
    def migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                f"DXHUB_SECRET_KEY must be set outside development (DXHUB_ENV={self.env}): the default "
                "secret would let anyone forge sessions"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
