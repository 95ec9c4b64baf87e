"""Passwords (argon2id), signing keys, staff bearer tokens, session ids and integrator API-key secrets."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
STAFF_TOKEN_PREFIX = "dxs."
API_KEY_PREFIX = "dxh_"
CLOCK_SKEW_S = 30
"""How far another host's clock may run ahead of ours: what it signed a moment ago is still good here."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A real hash to verify against when the username is unknown, so timing does not reveal which exist.
    Made on first use: hashing costs start-up time otherwise."""
    return _hasher.hash("not-a-real-password")


def burn_password_check(password: str) -> None:
    verify_password(dummy_hash(), password)


def signing_keys(keys: str | Sequence[str]) -> list[str]:
    """Our keys, newest first, in itsdangerous' order (oldest first: the last one signs, all verify)."""
    return [keys] if isinstance(keys, str) else list(reversed(keys))


class SkewTolerantSigner(TimestampSigner):
    """A timestamp signer that accepts signatures dated up to ``CLOCK_SKEW_S`` in the future.

    itsdangerous rejects a signature even one second younger than its own clock, so behind a load balancer a
    cookie or token signed by a host whose clock runs a few milliseconds ahead fails on the next host whenever
    the two straddle a second."""

    def unsign(self, signed_value, max_age=None, return_timestamp=False):
        value, signed_at = super().unsign(signed_value, return_timestamp=True)
        if max_age is not None:
            age = self.get_timestamp() - int(signed_at.timestamp())
            if age > max_age or age < -CLOCK_SKEW_S:
                raise SignatureExpired(f"Signature age {age} s is outside [-{CLOCK_SKEW_S}, {max_age}]",
                                       payload=value, date_signed=signed_at)
        return (value, signed_at) if return_timestamp else value


def _token_serializer(keys: str | Sequence[str]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(keys), salt="dxhub.staff-token", signer=SkewTolerantSigner)


def issue_staff_token(keys: str | Sequence[str], *, user_id: int, session_version: int) -> str:
    """A bearer token signed with the newest of ``keys`` (newest first, or one key)."""
    return STAFF_TOKEN_PREFIX + _token_serializer(keys).dumps({"uid": user_id, "sv": session_version})


def read_staff_token(keys: str | Sequence[str], token: str, *, max_age_s: int) -> dict | None:
    """The token's data if any of ``keys`` signed it within ``max_age_s``, else None."""
    if not token.startswith(STAFF_TOKEN_PREFIX):
        return None
    try:
        data = _token_serializer(keys).loads(token[len(STAFF_TOKEN_PREFIX):], max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    return data if isinstance(data, dict) and "uid" in data else None


def new_api_key() -> tuple[str, str, str]:
    """Return ``(full_secret, public_prefix, secret_hash)``; only the hash and prefix are stored."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    full = f"{API_KEY_PREFIX}{prefix}_{secret}"
    return full, prefix, hash_api_key(full)


def hash_api_key(full_secret: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe here and keeps each request cheap.
    return hashlib.sha256(full_secret.encode()).hexdigest()


def parse_api_key(full_secret: str) -> str | None:
    """Return the public prefix of a well-formed key, else None."""
    if not full_secret.startswith(API_KEY_PREFIX):
        return None
    rest = full_secret[len(API_KEY_PREFIX):]
    prefix, sep, secret = rest.partition("_")
    if not sep or len(prefix) != 8 or not secret:
        return None
    return prefix


def api_key_matches(full_secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(full_secret), stored_hash)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def new_session_id() -> tuple[str, str]:
    """Return ``(session_id, digest)``: the id goes in the signed cookie, only its digest is stored."""
    session_id = secrets.token_urlsafe(32)
    return session_id, session_digest(session_id)


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
