"""Platform settings, read from the environment with the ``DXHUB_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SECRET = "dev-insecure-change-me"
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{ROOT_DIR / 'var' / 'dxhub.db'}"
    # The owner of the schema, for `dxhub migrate` (PostgreSQL: the app's own role should own nothing, so
    # that row-level security holds for it). Unset: migrations use database_url (a single-user set-up).
    migration_database_url: str | None = None
    data_dir: Path = ROOT_DIR / "var"
    default_locale: Literal["ko", "en"] = "ko"
    max_page_size: int = 200
    # Figures derived from telecom data are never shown for fewer people than this.
    k_threshold: int = 5
    # The home dashboard's module cards are kept this long per audience (0: computed on every visit). This
    # process's own writes show at once; other processes' (the worker, other web workers) within this time.
    home_card_ttl_s: Annotated[int, Field(ge=0, le=3600)] = 60

    # --- sign-in, sessions, signing keys, abuse limits (docs/OPERATIONS.md "Sign-in and abuse") ---
    # The key that signs session cookies and staff tokens. DXHUB_SECRET_KEYS="newest,older,..." instead
    # rotates: the first signs, every one verifies (and secret_key becomes the first).
    secret_key: str = DEFAULT_SECRET
    secret_keys: Annotated[list[str], NoDecode] = []
    # Secure cookie named with the __Host- prefix; None: on in production, off elsewhere (plain http).
    cookie_secure: bool | None = None
    session_max_age_s: int = 8 * 3600
    token_max_age_s: int = 8 * 3600
    # Failed sign-ins per (username, address): after this many within login_lockout_s that pair waits;
    # after twice as many the wait grows fourfold, after four times sixteenfold (at most a day). Other
    # addresses, the user's own among them, are not held back.
    login_max_failures: int = 5
    login_lockout_s: int = 15 * 60
    # Rate limits ("N/second|minute|hour|day", several joined by ";"; empty: none). Memory by default,
    # Redis when redis_url is set, so that several processes share the counts.
    rate_limit_sign_in_ip: str = "60/minute"  # sign-in attempts from one address (offices share one)
    rate_limit_sign_in_user: str = "100/hour"  # failed sign-ins for one username from every address
    rate_limit_open311_ip: str = "30/minute"  # public Open311 service requests from one address
    rate_limit_api_key: str = "1200/minute"  # requests made with one API key
    rate_limit_prefix: str = "dxhub"  # key prefix in Redis, for deployments that share one server

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    # Operations (docs/DEPLOY.md)
    metrics_token: str | None = None  # /metrics wants this bearer token; None: loopback clients only
    proxy_headers: bool = False  # trust X-Forwarded-Proto/For from forwarded_allow_ips (dxhub serve)
    forwarded_allow_ips: str = "127.0.0.1"
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

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
    # --- MQTT bridges (app/core/mqtt.py): devices in their own standards; off when mqtt_url is unset ---
    mqtt_url: str | None = None  # e.g. mqtt://127.0.0.1:1883, mqtts://user:pass@broker:8883
    mqtt_client_prefix: str = "dxhub"
    # Workers share the bridges' subscriptions through this MQTT shared-subscription group ("" : every
    # worker gets every message).
    mqtt_shared_group: str = "dxhub"

    # Multiply every duty's period (tests and demos run duties faster; 1.0 in production).
    duty_period_scale: float = 1.0
    # The worker drives the demo's devices and callers (robots, cameras, voicebot calls). None: on when
    # the database holds the demo data (``dxhub demo`` leaves a mark), off otherwise.
    demo_simulate: bool | None = None

    @property
    def migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.secret_keys:
            self.secret_key = self.secret_keys[0]
        else:
            self.secret_keys = [self.secret_key]
        if self.env != "development" and DEFAULT_SECRET in self.secret_keys:
            raise ValueError(
                f"DXHUB_SECRET_KEY must be set outside development (DXHUB_ENV={self.env}): the default "
                "secret would let anyone forge sessions"
            )
        short = [i for i, k in enumerate(self.secret_keys) if len(k.encode()) < MIN_SECRET_BYTES]
        if self.env == "production" and short:
            raise ValueError(
                f"DXHUB_SECRET_KEY (or each of DXHUB_SECRET_KEYS) must be at least {MIN_SECRET_BYTES} bytes in "
                "production: a short key can be guessed offline from one signed cookie; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.env == "production" if self.cookie_secure is None else self.cookie_secure

    @property
    def session_cookie(self) -> str:
        # __Host-: the browser keeps it only if Secure, for this host alone, on path /.
        return "__Host-dxhub_session" if self.secure_cookies else "dxhub_session"


@lru_cache
def get_settings() -> Settings:
    return Settings()
