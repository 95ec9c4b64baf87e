"""Sealing of personal values at rest (a USIM ICCID, a bank account number) with AES-256-GCM.

A sealed value reads ``s2:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. Its associated data names
the purpose, the table, the column and the row it belongs to, so a value pasted onto another row, column
or purpose does not open. The row is named by a **natural key that exists before the row is inserted and
never changes** (a router's municipality and serial, a request's token, a call's id), so a value can be
sealed in the same statement that inserts its row; each field declares which columns those are.

Keys come from ``DXHUB_SEALING_KEYS`` (``id:base64key,id:base64key``: the first seals, every one
unseals), separate from ``DXHUB_SECRET_KEY``; each purpose seals under its own subkey (HKDF). The lookup
digests (a keyed HMAC that finds or refuses the same value twice without storing it in clear) are keyed
by ``DXHUB_LOOKUP_KEY``, so they survive a rotation of the sealing keys. In development and test, unset
keys fall back to fixed development keys with a loud warning; in production they are refused.

Every sealed column is declared once with :func:`sealed_field`; ``dxhub keys rotate`` (:mod:`app.core.rotation`)
walks that list to reseal every value under the newest key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.config import get_settings

log = logging.getLogger("dxhub.sealing")

FORMAT = "s2"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DEV_SEALING_KEY = ("dev", hashlib.sha256(b"dxhub development sealing key: never use in production").digest())
DEV_LOOKUP_KEY = hashlib.sha256(b"dxhub development lookup key: never use in production").digest()


class Unreadable(ValueError):
    """A sealed value that does not open: altered, pasted from another row, its key removed, or legacy."""


class SealingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DXHUB_", extra="ignore")

    sealing_keys: str | None = None
    lookup_key: str | None = None


def _decode_key(text: str, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_").encode() + b"==")
    except (binascii.Error, ValueError):
        raise ValueError(f"{name}: not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name}: a key must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return key


def parse_keys(text: str) -> tuple[tuple[str, bytes], ...]:
    """``id:base64key,id:base64key`` (newest first) as pairs; ValueError naming what is wrong."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kid, sep, material = part.partition(":")
        if not sep or not KEY_ID.match(kid):
            raise ValueError("DXHUB_SEALING_KEYS: each entry is <id>:<base64 key>, the id 1-16 of A-Z a-z 0-9 _ -")
        if kid in {k for k, _ in keys}:
            raise ValueError(f"DXHUB_SEALING_KEYS: key id {kid!r} appears twice")
        keys.append((kid, _decode_key(material, f"DXHUB_SEALING_KEYS[{kid}]")))
    if not keys:
        raise ValueError("DXHUB_SEALING_KEYS holds no key")
    return tuple(keys)


def generate_key() -> str:
    """A fresh key, base64 of 32 random bytes, as ``DXHUB_SEALING_KEYS``/``DXHUB_LOOKUP_KEY`` take it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


@dataclass(frozen=True)
class Keyring:
    keys: tuple[tuple[str, bytes], ...]  # newest first
    lookup: bytes

    @property
    def newest(self) -> str:
        return self.keys[0][0]

    def key(self, kid: str) -> bytes | None:
        return dict(self.keys).get(kid)


def settings_error() -> str | None:
    """Why the sealing settings are refused (unset keys in production, a malformed key), or None."""
    try:
        keyring()
    except ValueError as exc:
        return str(exc)
    return None


@lru_cache
def keyring() -> Keyring:
    settings = SealingSettings()
    production = get_settings().env == "production"
    if settings.sealing_keys:
        keys = parse_keys(settings.sealing_keys)
    elif production:
        raise ValueError("DXHUB_SEALING_KEYS must be set in production: personal values are sealed with it")
    else:
        log.warning("WARNING: DXHUB_SEALING_KEYS is not set; personal values are sealed with the public "
                    "development key. Never run production like this.")
        keys = (DEV_SEALING_KEY,)
    if settings.lookup_key:
        lookup = _decode_key(settings.lookup_key, "DXHUB_LOOKUP_KEY")
    elif production:
        raise ValueError("DXHUB_LOOKUP_KEY must be set in production: duplicate-detection digests use it")
    else:
        log.warning("WARNING: DXHUB_LOOKUP_KEY is not set; lookup digests use the public development key.")
        lookup = DEV_LOOKUP_KEY
    return Keyring(keys=keys, lookup=lookup)


def reset_keyring() -> None:
    """Read the keys again (after the environment changed: tests, a rotation in one process)."""
    keyring.cache_clear()
    _subkey.cache_clear()


@lru_cache(maxsize=256)
def _subkey(master: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(master)


def key_id(sealed: str) -> str | None:
    """The id of the key a value is sealed under (None for a legacy or malformed value)."""
    fmt, _, rest = sealed.partition(":")
    return rest.partition(":")[0] if fmt == FORMAT and ":" in rest else None


@dataclass(frozen=True)
class SealedField:
    """One sealed column: its purpose, where it lives and which columns name its row.

    ``json_key`` says the value sits under that key of a JSON column; ``digest_column`` names the lookup
    digest kept beside it; ``legacy_purpose`` and ``legacy_key_env`` let ``dxhub keys rotate`` read the
    values the former stdlib sealing wrote (see :mod:`app.core.sealing_legacy`).
    """

    purpose: str
    table: str
    column: str
    row_key: tuple[str, ...]
    json_key: str | None = None
    digest_column: str | None = None
    legacy_purpose: str | None = None
    legacy_key_env: str | None = None

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}" + (f"[{self.json_key}]" if self.json_key else "")

    def _aad(self, kid: str, row: Sequence[object]) -> bytes:
        return json.dumps([FORMAT, kid, self.purpose, self.table, self.column, self.json_key,
                           [str(v) for v in row]], separators=(",", ":"), ensure_ascii=False).encode()

    def _check_row(self, row: Sequence[object]) -> None:
        if len(row) != len(self.row_key) or any(v is None or v == "" for v in row):
            raise ValueError(f"{self.name}: the row is named by {self.row_key}, got {tuple(row)!r}")

    def seal(self, plain: str, *, row: Sequence[object]) -> str:
        """``plain`` sealed under the newest key, bound to this field and ``row`` (the ``row_key`` values)."""
        self._check_row(row)
        ring = keyring()
        kid = ring.newest
        nonce = os.urandom(NONCE_BYTES)
        aead = AESGCM(_subkey(ring.keys[0][1], "dxhub.seal:" + self.purpose))
        body = aead.encrypt(nonce, plain.encode(), self._aad(kid, row))
        return f"{FORMAT}:{kid}:" + base64.urlsafe_b64encode(nonce + body).decode().rstrip("=")

    def unseal(self, sealed: str, *, row: Sequence[object]) -> str:
        """The clear text; :class:`Unreadable` if altered, moved, under a removed key, or legacy."""
        self._check_row(row)
        kid = key_id(sealed)
        if kid is None:
            raise Unreadable("not a sealed value of this format (run `dxhub keys rotate` for legacy values)")
        key = keyring().key(kid)
        if key is None:
            raise Unreadable(f"sealed under key {kid!r}, which is no longer in DXHUB_SEALING_KEYS")
        try:
            raw = base64.urlsafe_b64decode(sealed.split(":", 2)[2].encode() + b"==")
            aead = AESGCM(_subkey(key, "dxhub.seal:" + self.purpose))
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(kid, row)).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise Unreadable("sealed value does not open here (altered, or from another row)") from None

    def digest(self, value: str) -> str:
        """The lookup digest of ``value`` (HMAC-SHA256 under this purpose's lookup subkey), hex."""
        return hmac.new(_subkey(keyring().lookup, "dxhub.lookup:" + self.purpose), value.encode(),
                        hashlib.sha256).hexdigest()


_FIELDS: dict[str, SealedField] = {}


def sealed_field(purpose: str, *, table: str, column: str, row_key: tuple[str, ...], json_key: str | None = None,
                 digest_column: str | None = None, legacy_purpose: str | None = None,
                 legacy_key_env: str | None = None) -> SealedField:
    """Declare (once, at import) a sealed column; ``dxhub keys rotate`` reseals every declared one."""
    field = SealedField(purpose, table, column, row_key, json_key, digest_column, legacy_purpose, legacy_key_env)
    _FIELDS[field.name] = field
    return field


def sealed_fields() -> list[SealedField]:
    return list(_FIELDS.values())
