"""Reader of the former stdlib sealing (``v1:``, HMAC-SHA256 in counter mode + encrypt-then-MAC).

Kept **only** so that ``dxhub keys rotate`` can reseal values written before AES-GCM; nothing else opens
``v1:`` values. Their key was derived from the module's own key variable (``DXHUB_WORKNET_ICCID_KEY``,
``DXHUB_VOICEBOT_ACCOUNT_KEY``) or, failing that, ``DXHUB_SECRET_KEY``. Once every deployment has
rotated, this module and the fields' ``legacy_*`` settings can go.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from app.core.config import get_settings
from app.core.sealing import SealedField, Unreadable

LEGACY_FORMAT = "v1"


def is_legacy(sealed: str) -> bool:
    return sealed.startswith(LEGACY_FORMAT + ":")


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


def _keys(field: SealedField) -> tuple[bytes, bytes]:
    master = ((os.environ.get(field.legacy_key_env) if field.legacy_key_env else None)
              or get_settings().secret_key).encode()
    prefix = b"dxhub." + (field.legacy_purpose or field.purpose).encode() + b"."
    return (hmac.new(master, prefix + b"enc", hashlib.sha256).digest(),
            hmac.new(master, prefix + b"mac", hashlib.sha256).digest())


def legacy_unseal(field: SealedField, sealed: str) -> str:
    """The clear text of a ``v1:`` value of ``field``; :class:`Unreadable` if it does not verify."""
    if not is_legacy(sealed) or field.legacy_purpose is None:
        raise Unreadable("not a legacy value of this field")
    enc, mac = _keys(field)
    try:
        raw = base64.urlsafe_b64decode(sealed.partition(":")[2].encode())
    except ValueError:
        raise Unreadable("legacy value is not base64") from None
    if len(raw) < 48:
        raise Unreadable("legacy value is too short")
    nonce, body, tag = raw[:16], raw[16:-32], raw[-32:]
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + body, hashlib.sha256).digest()):
        raise Unreadable("legacy value does not verify (wrong DXHUB_SECRET_KEY or module key?)")
    return bytes(a ^ b for a, b in zip(body, _keystream(enc, nonce, len(body)), strict=True)).decode()


def legacy_seal(field: SealedField, plain: str) -> str:
    """A ``v1:`` value as the former code wrote it: only for tests of the migration path."""
    enc, mac = _keys(field)
    data = plain.encode()
    nonce = os.urandom(16)
    body = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, nonce + body, hashlib.sha256).digest()
    return LEGACY_FORMAT + ":" + base64.urlsafe_b64encode(nonce + body + tag).decode()
