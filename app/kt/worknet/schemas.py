"""Request and response bodies of the 5G work network API."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, field_validator, model_validator

from app.core.schemas import Chars, Id, InputModel, MunicipalityCode, OutputModel, UpdateModel
from app.kt.worknet.sealing import luhn_ok

Serial = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{3,39}$", to_upper=True)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
Department = Annotated[str, StringConstraints(max_length=100)]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Note = Annotated[str, StringConstraints(max_length=500)]
RouterStatus = Literal["in_stock", "assigned", "lost", "retired"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
AlertKind = Literal["off_hours", "wrong_router", "unknown_router", "inactive_router", "failure_burst", "ip_mismatch"]
EventKind = Literal["auth", "start", "interim", "stop"]
# The SIM as the operator's network sees it: IMSI = MCC 450 (Korea) + 2-digit MNC + 10-digit MSIN.
Imsi = Annotated[str, StringConstraints(pattern=r"^450\d{12}$")]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

MIN_PREFIX, MAX_PREFIX = 16, 30


def normalize_msisdn(value: str | None) -> str | None:
    """A Korean mobile number as the network writes it in Calling-Station-Id: international digits without
    the plus (3GPP TS 29.061), e.g. ``010-1234-5678``, ``+82 10 1234 5678`` -> ``821012345678``."""
    if value is None or value == "":
        return None
    digits = re.sub(r"[\s()-]", "", value).removeprefix("+")
    if re.fullmatch(r"01[0-9]\d{7,8}", digits):
        digits = "82" + digits[1:]
    if not re.fullmatch(r"821[0-9]\d{7,8}", digits):
        raise ValueError("Not a Korean mobile number such as 010-1234-5678")
    return digits


Msisdn = Annotated[str, StringConstraints(max_length=20), AfterValidator(normalize_msisdn)]


# --- routers ---------------------------------------------------------------------------------

class RouterIn(InputModel):
    db_table = "worknet_router"
    serial: Serial
    model: Chars(60)
    imei: Annotated[str, StringConstraints(pattern=r"^\d{15}$")]
    iccid: Annotated[str, StringConstraints(pattern=r"^89\d{17,18}$")]
    imsi: Imsi | None = None
    msisdn: Msisdn | None = None
    municipality_code: MunicipalityCode | None = None
    note: Note = ""

    @field_validator("imei")
    @classmethod
    def _imei_check_digit(cls, v: str) -> str:
        if not luhn_ok(v):
            raise ValueError("The IMEI check digit is wrong")
        return v

    @field_validator("iccid")
    @classmethod
    def _iccid_check_digit(cls, v: str) -> str:
        if not luhn_ok(v):
            raise ValueError("The ICCID check digit is wrong")
        return v


class RouterUpdate(UpdateModel):
    db_table = "worknet_router"
    model: Chars(60) | None = None
    imsi: Imsi | None = None
    msisdn: Msisdn | None = None
    note: Note | None = None


class AssignIn(InputModel):
    db_table = "worknet_router"
    assignee_username: Username
    assignee_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    department: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    note: Note = ""


class StatusIn(InputModel):
    """Lost, found (back in stock) or retired; assigning and returning have their own endpoints."""

    db_table = "worknet_router"

    status: Literal["in_stock", "lost", "retired"]
    note: Note = ""


class RouterOut(OutputModel):
    id: int
    serial: str
    model: str
    imei: str
    iccid_masked: str
    imsi: str | None
    msisdn: str | None
    status: str
    department: str
    assignee_username: str | None
    assignee_name: str
    note: str
    ip: str | None = None
    created_at: datetime
    updated_at: datetime


class RouterEventOut(OutputModel):
    id: int
    occurred_at: datetime
    action: str
    detail: dict[str, Any]
    actor: str


# --- pools and leases ------------------------------------------------------------------------

class PoolIn(InputModel):
    db_table = "worknet_pool"
    name: Chars(100)
    cidr: Annotated[str, StringConstraints(min_length=9, max_length=18)]
    municipality_code: MunicipalityCode | None = None
    department: Department = ""
    reserved_low: int = Field(default=1, ge=0, le=64, description="Addresses kept after the network address "
                                                                "(the gateway)")
    quarantine_hours: int | None = Field(default=None, ge=0, le=24 * 90)

    @field_validator("cidr")
    @classmethod
    def _network(cls, v: str) -> str:
        try:
            net = ipaddress.ip_network(v, strict=True)
        except ValueError:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError("Not a CIDR block such as 10.48.31.0/24") from None
            raise ValueError("Host bits are set: this is an address, not a network") from None
        if net.version != 4:
            raise ValueError("Only IPv4 networks carry fixed addresses for the routers")
        if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
            raise ValueError(f"The prefix length must be between /{MIN_PREFIX} and /{MAX_PREFIX}")
        return str(net)


class PoolOut(OutputModel):
    id: int
    name: str
    cidr: str
    department: str
    first_ip: str
    last_ip: str
    size: int
    active: int
    quarantined: int
    free: int
    utilisation: float
    quarantine_hours: int
    created_at: datetime


class AllocateIn(InputModel):
    db_table = None
    router_id: Id


class ReleaseIn(InputModel):
    db_table = None
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class LeaseOut(OutputModel):
    id: int
    ip: str
    pool_id: int
    pool_name: str
    router_id: int
    router_serial: str
    assignee_username: str | None
    allocated_at: datetime
    released_at: datetime | None
    reusable_at: datetime | None
    release_reason: str
    active: bool


# --- policies --------------------------------------------------------------------------------

HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]


def minutes_of(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def hhmm_of(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class PolicyIn(InputModel):
    db_table = "worknet_policy"
    department: Department = Field(default="", description="Empty: the default for departments without their own")
    municipality_code: MunicipalityCode | None = None
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: [0, 1, 2, 3, 4],
                                                              max_length=7)
    start: HHMM = "00:00"
    end: HHMM = "24:00"
    bind_routers: bool = True
    user_routers: dict[Username, list[Serial]] = Field(default_factory=dict, max_length=5000)
    failure_threshold: int = Field(default=5, ge=2, le=1000)
    failure_window_minutes: int = Field(default=10, ge=1, le=24 * 60)

    @field_validator("weekdays")
    @classmethod
    def _sorted_days(cls, v: list[int]) -> list[int]:
        return sorted(set(v))

    @model_validator(mode="after")
    def _hours_in_order(self):
        if minutes_of(self.end) > 1440:
            raise ValueError("end must be at most 24:00")
        if minutes_of(self.start) >= minutes_of(self.end):
            raise ValueError("start must be before end")
        return self


class PolicyOut(OutputModel):
    id: int
    department: str
    version: int
    weekdays: list[int]
    start: str
    end: str
    bind_routers: bool
    user_routers: dict[str, list[str]]
    failure_threshold: int
    failure_window_minutes: int
    updated_at: datetime


class PolicyVersionOut(OutputModel):
    version: int
    rules: dict[str, Any]
    created_at: datetime
    actor: str


# --- access log and alerts -------------------------------------------------------------------

@lru_cache(maxsize=4096)
def ipv4_text(value: str) -> str:
    """The canonical text of an IPv4 address (an ingestion batch repeats the same few addresses)."""
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("Not an IPv4 address") from None


class AccessEventIn(InputModel):
    """One authentication (``auth``) or accounting record (``start``/``interim``/``stop``) of a session.

    A record from the operator's RADIUS may name the router by its SIM (``imsi``) instead of a serial and
    leave ``username`` out: the router's assignee (else the IMSI) is recorded as the user.
    """

    db_table = "worknet_access_event"
    client_id: ClientId
    occurred_at: AwareDatetime
    username: Username | None = None
    router_serial: Serial | None = None
    imsi: Imsi | None = None
    ip: Annotated[str, StringConstraints(max_length=15)] | None = None
    result: Literal["success", "failure"]
    reason: Annotated[str, StringConstraints(max_length=200)] = ""
    kind: EventKind = "auth"
    session_id: SessionId | None = None

    @model_validator(mode="after")
    def _someone(self):
        if self.username is None and self.imsi is None:
            raise ValueError("username or imsi is required")
        return self

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, v: datetime) -> datetime:
        if not 2000 <= v.year <= 2100:
            raise ValueError("The time must be between the years 2000 and 2100")
        return v

    @field_validator("ip")
    @classmethod
    def _ipv4(cls, v: str | None) -> str | None:
        return None if v is None else ipv4_text(v)


class IngestOut(OutputModel):
    received: int
    accepted: int
    duplicates: int
    alerts: int


class AccessEventOut(OutputModel):
    id: int
    client_id: str
    occurred_at: datetime
    username: str
    router_serial: str | None
    ip: str | None
    result: str
    reason: str
    kind: str
    session_id: str | None
    department: str
    policy_version: int | None
    flags: list[str]


class AlertOut(OutputModel):
    id: int
    kind: str
    occurred_at: datetime
    username: str
    router_serial: str | None
    department: str
    params: dict[str, Any]
    message: str
    status: str
    note: str
    handled_by: str
    handled_at: datetime | None


class AlertUpdate(UpdateModel):
    db_table = "worknet_alert"
    status: Literal["acknowledged", "resolved"]
    note: Note = ""


class UsageDayOut(OutputModel):
    date: str
    successes: int
    failures: int
    users: int
    flagged: int
