"""Staff accounts, sign-in, sessions, integrator API keys, and who-may-do-what among them.

Sign-in resists guessing without becoming a weapon: failures are counted per (username, address), with
waits that grow, so a stranger who knows a username can hold back only their own address; a ceiling per
username over every address stops guessing spread across many. Known and unknown usernames answer alike
(same message, same status, an argon2 verification either way).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.core import security
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, field_error
from app.core.lookup import one_or_404
from app.core.manifest import installed
from app.core.pagination import PageParams, paginate
from app.core.ratelimit import RateLimiter, TooManyRequests, rule, tiers
from app.core.tenancy import PLATFORM_MODULE, ROLE_RANK, SYSTEM, Principal, across_tenants, principal_of
from app.platform import audit
from app.platform import service as platform_service
from app.platform.models import ApiKey, User, UserSession
from app.platform.schemas import ApiKeyIn, UserIn, UserUpdate

USERNAME_MAX = 64


class SignInFailed(Exception):
    """Wrong username or password (which of the two is never said)."""


class SignInThrottled(TooManyRequests):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s, "Too many sign-in attempts: try again in {seconds} seconds")


# --- principals ------------------------------------------------------------------------------

def principal_for_user(db: Session, user: User) -> Principal:
    reach = None
    if user.role != "platform_admin" and user.municipality_id is not None:
        reach = platform_service.descendant_ids(db, municipality_id=user.municipality_id)
    return Principal(kind="user", id=user.id, name=user.username, role=user.role,
                     municipality_id=user.municipality_id, municipality_ids=reach)


def principal_for_api_key(db: Session, key: ApiKey) -> Principal:
    reach = platform_service.descendant_ids(db, municipality_id=key.municipality_id)
    return Principal(kind="api_key", id=key.id, name=key.name, role="integrator",
                     municipality_id=key.municipality_id, municipality_ids=reach,
                     scopes=frozenset(key.scopes))


@across_tenants
def load_active_user(db: Session, *, user_id: int, session_version: int | None) -> User | None:
    user = db.scalar(select(User).where(User.id == user_id).execution_options(skip_tenant_scope=True))
    if user is None or not user.is_active:
        return None
    if session_version is not None and session_version != user.session_version:
        return None
    return user


@across_tenants
def authenticate_api_key(db: Session, *, secret: str) -> ApiKey | None:
    prefix = security.parse_api_key(secret)
    if prefix is None:
        return None
    key = db.scalar(select(ApiKey).where(ApiKey.prefix == prefix).execution_options(skip_tenant_scope=True))
    if key is None or key.revoked_at is not None or not security.api_key_matches(secret, key.secret_hash):
        return None
    now = utcnow()
    # Recorded at most once a minute, so a busy integrator does not turn every read into a write.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        key.last_used_at = now
    return key


def _username_key(username: str) -> str:
    # Case-folded so "Admin" and "admin" share a count; digested so any input makes a short key.
    return hashlib.sha256(username.casefold().encode()).hexdigest()[:32]


def _plausible(username: str) -> bool:
    return 0 < len(username) <= USERNAME_MAX and username.isprintable()


@across_tenants
def sign_in(db: Session, *, settings: Settings, limiter: RateLimiter, username: str, password: str,
            address: str) -> User:
    """Check a password from ``address``. Raises :class:`SignInFailed`, or :class:`SignInThrottled` (429)
    when that address tries too often, or this username from this address failed too often lately."""
    who = _username_key(username)
    pair = tiers(settings.login_max_failures, settings.login_lockout_s)
    ceiling = rule(settings.rate_limit_sign_in_user)
    try:
        limiter.hit(rule(settings.rate_limit_sign_in_ip), "sign-in-ip", address)
        limiter.check(pair, "sign-in-failures", who, address)
        limiter.check(ceiling, "sign-in-user", who)
    except TooManyRequests as exc:
        raise SignInThrottled(exc.retry_after_s) from None
    user = None
    if _plausible(username):
        user = db.scalar(select(User).where(User.username == username).execution_options(skip_tenant_scope=True))
    if user is None or not user.is_active:
        security.burn_password_check(password)  # the same argon2 work as for a real account
        user = None
    elif not security.verify_password(user.password_hash, password):
        audit.record(db, action="sign_in_failed", object_type="app_user", object_id=str(user.id),
                     municipality_id=user.municipality_id, after={"address": address})
        user = None
    if user is None:
        limiter.count(pair, "sign-in-failures", who, address)
        limiter.count(ceiling, "sign-in-user", who)
        raise SignInFailed()
    limiter.clear(pair, "sign-in-failures", who, address)
    now = utcnow()
    db.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    user.last_login_at = now
    return user


# --- sessions --------------------------------------------------------------------------------

def open_session(db: Session, *, user: User, max_age_s: int) -> str:
    """Start a browser session; returns the id for the signed cookie (only its digest is stored)."""
    now = utcnow()
    db.execute(delete(UserSession).where(UserSession.expires_at <= now))  # sweep everyone's expired ones
    session_id, digest = security.new_session_id()
    db.execute(insert(UserSession).values(id=digest, user_id=user.id, created_at=now,
                                          expires_at=now + timedelta(seconds=max_age_s)))
    return session_id


def session_user(db: Session, *, session_id: str) -> User | None:
    """The active user of a live session, else None (signed out, expired, ended, or deactivated)."""
    stmt = (select(User).join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == security.session_digest(session_id), UserSession.expires_at > utcnow(),
                   User.is_active.is_(True))
            .execution_options(skip_tenant_scope=True))
    return db.scalar(stmt)


def close_session(db: Session, *, session_id: str) -> None:
    db.execute(delete(UserSession).where(UserSession.id == security.session_digest(session_id)))


def end_all_sessions(db: Session, *, user: User) -> None:
    """Sign the user out everywhere: every browser session and every staff token issued so far."""
    user.session_version += 1
    db.execute(delete(UserSession).where(UserSession.user_id == user.id))


# --- users -----------------------------------------------------------------------------------

def _check_may_grant(actor: Principal, role: str, municipality_id: int | None) -> None:
    if actor.is_platform_admin:
        return
    if ROLE_RANK[role] > ROLE_RANK[actor.role]:
        raise Forbidden("A {actor_role} cannot grant the role {role}", actor_role=actor.role, role=role)
    if not actor.reaches(municipality_id):
        raise InvalidInput.field("municipality_code", "Unknown municipality code {code}", code="")


def list_users(db: Session, *, page: PageParams, q: str | None = None) -> tuple[list[User], int]:
    stmt = select(User).order_by(User.username)
    if q:
        stmt = stmt.where(User.username.ilike(f"%{q}%") | User.display_name.ilike(f"%{q}%"))
    return paginate(db, stmt, page)


def get_user(db: Session, *, user_id: int) -> User:
    return one_or_404(db, User, user_id, "User {id} not found")


def create_user(db: Session, *, data: UserIn) -> User:
    actor = principal_of(db) or SYSTEM
    municipality_id = None
    if data.role == "platform_admin":
        if data.municipality_code:
            raise InvalidInput.field("municipality_code", "A platform admin is not bound to a municipality")
    else:
        if not data.municipality_code:
            raise InvalidInput.field("municipality_code", "This role must be bound to a municipality")
        municipality_id = platform_service.resolve_municipality(db, code=data.municipality_code).id
    _check_may_grant(actor, data.role, municipality_id)
    exists = db.scalar(select(User.id).where(User.username == data.username)
                       .execution_options(skip_tenant_scope=True))
    if exists:
        raise Conflict("Username {username} is taken", username=data.username)
    user = User(username=data.username, display_name=data.display_name or data.username, role=data.role,
                municipality_id=municipality_id, password_hash=security.hash_password(data.password))
    db.add(user)
    db.flush()
    return user


def update_user(db: Session, *, user: User, data: UserUpdate) -> User:
    actor = principal_of(db) or SYSTEM
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "role" in changes:
        if changes["role"] == "platform_admin" and user.municipality_id is not None:
            raise InvalidInput.field("role", "A municipal user cannot become a platform admin; create one")
        if changes["role"] != "platform_admin" and user.municipality_id is None:
            raise InvalidInput.field("role", "A platform admin has no municipality to keep a municipal role")
        _check_may_grant(actor, changes["role"], user.municipality_id)
    if not actor.is_platform_admin and ROLE_RANK[user.role] > ROLE_RANK[actor.role]:
        raise Forbidden("You cannot change a user with a higher role")
    if actor.kind == "user" and actor.id == user.id and (changes.get("is_active") is False
                                                          or changes.get("role", user.role) != user.role):
        raise InvalidInput.field("role", "You cannot demote or deactivate yourself")
    ends_sessions = ("password" in changes or (changes.get("is_active") is False and user.is_active)
                     or changes.get("role", user.role) != user.role)
    if "password" in changes:
        user.password_hash = security.hash_password(changes.pop("password"))
    if ends_sessions:
        end_all_sessions(db, user=user)
    for key, value in changes.items():
        setattr(user, key, value)
    db.flush()
    return user


# --- API keys --------------------------------------------------------------------------------

def valid_scopes() -> list[str]:
    modules = [PLATFORM_MODULE, *sorted(installed())]
    return [f"{m}:{access}" for m in modules for access in ("read", "write")]


def list_api_keys(db: Session, *, page: PageParams, include_revoked: bool = True) -> tuple[list[ApiKey], int]:
    stmt = select(ApiKey).order_by(ApiKey.id.desc())
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return paginate(db, stmt, page)


def get_api_key(db: Session, *, key_id: int) -> ApiKey:
    return one_or_404(db, ApiKey, key_id, "API key {id} not found")


def create_api_key(db: Session, *, data: ApiKeyIn) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never stored and never shown again."""
    known = set(valid_scopes())
    bad = [s for s in data.scopes if s not in known]
    if bad:
        raise InvalidInput("Unknown scopes: {scopes}", scopes=", ".join(bad), errors=[
            field_error(["scopes", data.scopes.index(s)], "Unknown scope {scope}", scope=s) for s in bad])
    municipality = platform_service.resolve_municipality(db, code=data.municipality_code)
    secret, prefix, secret_hash = security.new_api_key()
    actor = principal_of(db)
    key = ApiKey(name=data.name, prefix=prefix, secret_hash=secret_hash, scopes=sorted(set(data.scopes)),
                 municipality_id=municipality.id,
                 created_by_id=actor.id if actor and actor.kind == "user" else None)
    db.add(key)
    db.flush()
    return key, secret


def revoke_api_key(db: Session, *, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.flush()
    return key
