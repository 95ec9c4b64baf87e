"""Staff accounts, sign-in with lockout, integrator API keys, and who-may-do-what among them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core import security
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from app.core.manifest import installed
from app.core.pagination import PageParams, paginate
from app.core.tenancy import PLATFORM_MODULE, ROLE_RANK, SYSTEM, Principal, across_tenants, principal_of
from app.platform import audit
from app.platform import service as platform_service
from app.platform.models import ApiKey, User
from app.platform.schemas import ApiKeyIn, UserIn, UserUpdate


class SignInFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" or "locked"


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


@across_tenants
def sign_in(db: Session, *, settings: Settings, username: str, password: str) -> User:
    """Check a password; repeated failures lock the account for a while. Raises :class:`SignInFailed`."""
    user = db.scalar(select(User).where(User.username == username).execution_options(skip_tenant_scope=True))
    now = utcnow()
    if user is None or not user.is_active:
        security.burn_password_check(password)
        raise SignInFailed("invalid")
    if user.locked_until and user.locked_until > now:
        raise SignInFailed("locked")
    if not security.verify_password(user.password_hash, password):
        failures = user.failed_logins + 1
        values: dict = {"failed_logins": failures}
        if failures >= settings.login_max_failures:
            values = {"failed_logins": 0, "locked_until": now + timedelta(seconds=settings.login_lockout_s)}
        db.execute(update(User).where(User.id == user.id).values(**values))
        audit.record(db, action="sign_in_failed", object_type="app_user", object_id=str(user.id),
                     municipality_id=user.municipality_id,
                     after={"locked": "locked_until" in values})
        raise SignInFailed("locked" if "locked_until" in values else "invalid")
    db.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None,
                                                           last_login_at=now))
    user.last_login_at = now
    return user


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
    found = db.scalar(select(User).where(User.id == user_id))
    if found is None:
        raise NotFound("User {id} not found", id=user_id)
    return found


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
    if "password" in changes:
        user.password_hash = security.hash_password(changes.pop("password"))
        user.session_version += 1
    if changes.get("is_active") is False and user.is_active:
        user.session_version += 1
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
    found = db.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if found is None:
        raise NotFound("API key {id} not found", id=key_id)
    return found


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
