"""Sealing of personal values at rest (a USIM ICCID, a bank account number), with the standard library only.

A keystream from HMAC-SHA256 in counter mode (a PRF in CTR mode) under a random 16-byte nonce, then
encrypt-then-MAC with a separate HMAC-SHA256 key; a keyed digest (HMAC) lets a database refuse or find
the same value twice without storing it in clear. Each module makes its own :class:`Sealer` with a
purpose (which separates its keys from every other module's) and, optionally, its own master key;
without one the platform's ``DXHUB_SECRET_KEY`` is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from functools import cached_property

from app.core.config import get_settings

SEAL_VERSION = "v1"


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


class Sealer:
    """Seals and unseals strings under keys derived for one ``purpose`` (e.g. ``"worknet"``).

    ``master_key`` is called once, on first use, and may answer None to fall back to the platform's
    secret key; changing either key makes earlier sealed values unreadable (``unseal`` raises).
    """

    def __init__(self, purpose: str, *, master_key: Callable[[], str | None] | None = None) -> None:
        self.purpose = purpose
        self._master_key = master_key

    @cached_property
    def _keys(self) -> tuple[bytes, bytes, bytes]:
        master = ((self._master_key() if self._master_key else None) or get_settings().secret_key).encode()
        prefix = b"dxhub." + self.purpose.encode() + b"."

        def derive(label: bytes) -> bytes:
            return hmac.new(master, prefix + label, hashlib.sha256).digest()

        return derive(b"enc"), derive(b"mac"), derive(b"digest")

    def seal(self, plain: str) -> str:
        enc, mac, _ = self._keys
        data = plain.encode()
        nonce = os.urandom(16)
        body = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=True))
        tag = hmac.new(mac, nonce + body, hashlib.sha256).digest()
        return SEAL_VERSION + ":" + base64.urlsafe_b64encode(nonce + body + tag).decode()

    def unseal(self, sealed: str) -> str:
        """The clear text of a value made by :meth:`seal`; ValueError if it was altered or the key changed."""
        enc, mac, _ = self._keys
        version, _, payload = sealed.partition(":")
        if version != SEAL_VERSION:
            raise ValueError("unknown sealing version")
        raw = base64.urlsafe_b64decode(payload.encode())
        if len(raw) < 48:
            raise ValueError("sealed value is too short")
        nonce, body, tag = raw[:16], raw[16:-32], raw[-32:]
        if not hmac.compare_digest(tag, hmac.new(mac, nonce + body, hashlib.sha256).digest()):
            raise ValueError("sealed value does not verify")
        return bytes(a ^ b for a, b in zip(body, _keystream(enc, nonce, len(body)), strict=True)).decode()

    def digest(self, value: str) -> str:
        return hmac.new(self._keys[2], value.encode(), hashlib.sha256).hexdigest()
