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

    # --- the worker (``dxhub worker``): duties on a clock and jobs, on Huey ---
    # Redis for the queue (several hosts); unset: Huey's SQLite storage beside the SQLite database
    # (or in data_dir on PostgreSQL), which serves the workers of one host.
    redis_url: str | None = None
    queue_path: Path | None = None  # the SQLite queue file; default: beside the database file
    queue_name: str = "dxhub"  # Huey's name: installations sharing one Redis each need their own
    worker_threads: int = 4  # jobs and duties run at once by one worker process
    worker_tick_s: float = 1.0  # how often a worker's clock looks for duties that are due
    # A running job's worker renews its lease this often / 3; a job whose lease ran out (its worker died)
    # is queued again (or failed after max attempts) by any worker.
    job_lease_s: int = 60
    job_retry_delay_s: float = 10.0  # first retry after this long, doubling each attempt
    # Multiply every duty's period (tests and demos run duties faster; 1.0 in production).
    duty_period_scale: float = 1.0
    # Keep audit entries this many days (0: forever); older ones are deleted by a worker duty.
    audit_retention_days: int = 0
    # The worker drives the demo's devices and callers (robots, cameras, voicebot calls). None: on when
    # the database holds the demo data (``dxhub demo`` leaves a mark), off otherwise.
    demo_simulate: bool | None = None

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
