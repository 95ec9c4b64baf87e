"""Check digits of device numbers and the sealing of USIM ICCIDs at rest.

An ICCID identifies the subscription behind a router's fixed IP, so it is stored encrypted and shown
masked, through the platform's sealing (:mod:`app.core.sealing`) under the purpose ``worknet``. Keys
are derived from ``DXHUB_WORKNET_ICCID_KEY`` (or, failing that, ``DXHUB_SECRET_KEY``). A keyed digest
(HMAC) of the ICCID lets the database refuse the same USIM twice without storing it in clear.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.sealing import SEAL_VERSION, Sealer

__all__ = ["SEAL_VERSION", "digest", "luhn_complete", "luhn_ok", "mask_iccid", "seal", "unseal",
           "worknet_settings"]


class WorknetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_WORKNET_", extra="ignore")

    iccid_key: str | None = None
    default_quarantine_hours: int = 72


@lru_cache
def worknet_settings() -> WorknetSettings:
    return WorknetSettings()


_sealer = Sealer("worknet", master_key=lambda: worknet_settings().iccid_key)
seal = _sealer.seal
unseal = _sealer.unseal
digest = _sealer.digest


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
