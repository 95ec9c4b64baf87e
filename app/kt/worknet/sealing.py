"""Check digits of device numbers and the sealing of USIM ICCIDs at rest.

An ICCID identifies the subscription behind a router's fixed IP, so it is stored encrypted and shown
masked. Sealing uses only the standard library: a keystream from HMAC-SHA256 in counter mode (a PRF
in CTR mode) under a random 16-byte nonce, then encrypt-then-MAC with a separate HMAC-SHA256 key.
Keys are derived from ``DXHUB_WORKNET_ICCID_KEY`` (or, failing that, ``DXHUB_SECRET_KEY``). A keyed
digest (HMAC) of the ICCID lets the database refuse the same USIM twice without storing it in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.config import get_settings

SEAL_VERSION = "v1"


class WorknetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_WORKNET_", extra="ignore")

    iccid_key: str | None = None
    default_quarantine_hours: int = 72


@lru_cache
def worknet_settings() -> WorknetSettings:
    return WorknetSettings()


@lru_cache
def _keys() -> tuple[bytes, bytes, bytes]:
    master = (worknet_settings().iccid_key or get_settings().secret_key).encode()

    def derive(label: bytes) -> bytes:
        return hmac.new(master, b"dxhub.worknet." + label, hashlib.sha256).digest()

    return derive(b"enc"), derive(b"mac"), derive(b"digest")


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


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


def seal(plain: str) -> str:
    enc, mac, _ = _keys()
    data = plain.encode()
    nonce = os.urandom(16)
    body = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, nonce + body, hashlib.sha256).digest()
    return SEAL_VERSION + ":" + base64.urlsafe_b64encode(nonce + body + tag).decode()


def unseal(sealed: str) -> str:
    """The clear text of a value made by :func:`seal`; ValueError if it was altered or the key changed."""
    enc, mac, _ = _keys()
    version, _, payload = sealed.partition(":")
    if version != SEAL_VERSION:
        raise ValueError("unknown sealing version")
    raw = base64.urlsafe_b64decode(payload.encode())
    nonce, body, tag = raw[:16], raw[16:-32], raw[-32:]
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + body, hashlib.sha256).digest()):
        raise ValueError("sealed value does not verify")
    return bytes(a ^ b for a, b in zip(body, _keystream(enc, nonce, len(body)), strict=True)).decode()


def digest(value: str) -> str:
    return hmac.new(_keys()[2], value.encode(), hashlib.sha256).hexdigest()


def mask_iccid(iccid: str) -> str:
    """``8982 **** **** ***4567``-style: the issuer prefix and the last four digits only."""
    return f"{iccid[:4]}{'*' * (len(iccid) - 8)}{iccid[-4:]}"
