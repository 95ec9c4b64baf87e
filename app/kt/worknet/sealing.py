"""Check digits of device numbers and the sealing of USIM ICCIDs at rest.

An ICCID identifies the subscription behind a router's fixed IP, so it is stored encrypted and shown
masked, through the platform's sealing (:mod:`app.core.sealing`, AES-GCM under ``DXHUB_SEALING_KEYS``),
bound to the router's municipality and serial (which never change). A keyed lookup digest (HMAC under
``DXHUB_LOOKUP_KEY``) lets the database refuse the same USIM twice without storing it in clear.
``DXHUB_WORKNET_ICCID_KEY`` only matters to read values sealed before AES-GCM (``dxhub keys rotate``).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.sealing import sealed_field

__all__ = ["ICCID", "digest", "luhn_complete", "luhn_ok", "mask_iccid", "seal", "unseal", "worknet_settings"]


class WorknetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_WORKNET_", extra="ignore")

    iccid_key: str | None = None
    default_quarantine_hours: int = 72
    # FreeRADIUS detail files the worker follows (a path or a glob), and the municipality they belong to.
    radius_detail: str | None = None
    radius_municipality: str | None = None


@lru_cache
def worknet_settings() -> WorknetSettings:
    return WorknetSettings()


ICCID = sealed_field("worknet.iccid", table="worknet_router", column="iccid_sealed",
                     row_key=("municipality_id", "serial"), digest_column="iccid_digest",
                     legacy_purpose="worknet", legacy_key_env="DXHUB_WORKNET_ICCID_KEY")
digest = ICCID.digest


def seal(iccid: str, *, municipality_id: int, serial: str) -> str:
    return ICCID.seal(iccid, row=(municipality_id, serial))


def unseal(sealed: str, *, municipality_id: int, serial: str) -> str:
    """The ICCID in clear; :class:`app.core.sealing.Unreadable` when it does not open."""
    return ICCID.unseal(sealed, row=(municipality_id, serial))


def luhn_ok(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others (IMEI, ICCID)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(body: str) -> str:
    """``body`` with its Luhn check digit appended."""
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise ValueError(body)  # pragma: no cover - one digit always fits


def mask_iccid(iccid: str) -> str:
    """``8982 **** **** ***4567``-style: the issuer prefix and the last four digits only."""
    return f"{iccid[:4]}{'*' * (len(iccid) - 8)}{iccid[-4:]}"
