"""Open311 GeoReport v2 at /open311/v2, so civic apps can file and follow requests the standard way.

GeoReport's reads are public per jurisdiction (``jurisdiction_id`` = the municipality's 10-digit code):
the route binds a read-only principal reaching that jurisdiction only, so the core's tenancy scoping
applies as everywhere else. ``services.json`` lists the services the jurisdiction enabled (404 when it
has none). A stranger reads only what ``publication`` publishes: requests of public services, after their
delay or a staff check, not hidden by staff, masked and with the place coarsened. An ``api_key`` holding
``kt.voicebot:read`` for the jurisdiction reads the full requests of every service. Writes carry an
``api_key`` form field (a DX Hub API key with ``kt.voicebot:write``) and act as that key, in its
municipality, for a service it enabled. Errors use the spec's format: ``[{"code": 400, "description": "..."}]``
with the same HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.core.deps import SessionDep
from app.core.errors import DomainError
from app.core.i18n import today_seoul
from app.core.tenancy import Principal, all_tenants, bind_principal
from app.kt.voicebot import dialogue, publication, service
from app.kt.voicebot import slots as sx
from app.kt.voicebot.models import VoicebotRequest
from app.kt.voicebot.schemas import RequestIn, printable
from app.platform import accounts
from app.platform import service as platform_service
from app.platform.auth import rate_limited, resolve_principal

_ERRORS_SCHEMA = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                              "properties": {"code": {"type": "integer"},
                                                             "description": {"type": "string"}}}}
# The spec's error format, answered by every operation (declared once for the router).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": title, "content": {"application/json": {"schema": _ERRORS_SCHEMA}}}
    for status, title in [(400, "Bad request"), (403, "Invalid api_key"), (404, "Not found")]}
router = APIRouter(prefix="/open311/v2", tags=["open311"], responses=ERRORS)
SPEC = "http://wiki.open311.org/GeoReport_v2"
OPEN = ("received", "assigned", "in_progress")
CLOSED = ("resolved", "rejected", "duplicate")
MAX_RESULTS = 1000
PUBLIC = {"x-tenant-scope": "jurisdiction"}
# Service definitions are public reference data (the spec's service list and attribute definitions; the
# bulky-waste item names come from the jurisdiction's public fee table): nothing private to a tenant.
REFERENCE = {"x-tenant-scope": "global"}

SERVICES: dict[str, dict[str, Any]] = {
    "bulky_waste": {"service_name": "대형폐기물 수거", "group": "생활환경", "keywords": "대형폐기물,가구,가전,수거",
                    "description": "소파·장롱·가전 등 대형폐기물 수거 신청 (수수료는 지자체 요금표에 따름)"},
    "night_duty": {"service_name": "야간 당직민원", "group": "안전", "keywords": "소음,도로,가로등,동물사체,침수",
                   "description": "소음, 도로 파손, 가로등 고장, 동물 사체, 침수 등 야간 당직민원"},
    "illegal_parking": {"service_name": "불법 주정차 신고", "group": "교통", "keywords": "주차,주정차,단속",
                        "description": "불법 주정차 차량 신고 (단속 요청으로 전달)"},
}


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def spec_errors(func: Callable) -> Callable:
    """Answer every failure in GeoReport's error format, never a 500 for bad input."""

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except Open311Error as exc:
            kwargs["db"].rollback()
            return error(exc.code, exc.description)
        except DomainError as exc:
            kwargs["db"].rollback()
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors) or exc.detail
            return error(exc.status if exc.status != 422 else 400, detail)

    return wrapper


class Reader:
    """Who reads: the principal bound for the read, whether it holds credentials (full requests) or is a
    stranger (the public, masked feed), and the jurisdiction's municipality (None for a bearer caller)."""

    def __init__(self, principal: Principal, *, credentialed: bool, municipality_id: int | None) -> None:
        self.principal, self.credentialed, self.municipality_id = principal, credentialed, municipality_id


def _credentialed(db, secret: str, municipality_id: int) -> bool:
    """An ``api_key`` query parameter: a key with ``kt.voicebot:read`` reaching the jurisdiction, or 403."""
    key = accounts.authenticate_api_key(db, secret=secret)
    if key is None or "kt.voicebot:read" not in key.scopes \
            or not accounts.principal_for_api_key(db, key).reaches(municipality_id):
        raise Open311Error(403, "api_key is invalid or may not read kt.voicebot requests of this jurisdiction")
    return True


def _jurisdiction(db, request: Request) -> Reader:
    """The reader: the jurisdiction named, or else a DX Hub caller (bearer token) in its own scope."""
    code = (request.query_params.get("jurisdiction_id") or "").strip()
    if not code:
        principal = resolve_principal(request, db) if request.headers.get("authorization") else None
        if principal is None:
            raise Open311Error(400, "jurisdiction_id is required: the municipality's 10-digit code")
        full = principal.kind in ("user", "system") or "kt.voicebot:read" in principal.scopes
        return Reader(principal, credentialed=full, municipality_id=principal.municipality_id)
    if not code.isdigit() or len(code) != 10:
        raise Open311Error(400, "jurisdiction_id must be a 10-digit municipality code")
    try:
        with all_tenants(db):  # the public reader names its jurisdiction: found before it is bound
            municipality = platform_service.get_municipality(db, code=code)
    except DomainError:
        raise Open311Error(404, f"jurisdiction_id {code} not found") from None
    reach = platform_service.descendant_ids(db, municipality_id=municipality.id)
    principal = Principal(kind="api_key", id=None, name=f"open311:{code}", role="viewer",
                          municipality_id=municipality.id, municipality_ids=reach,
                          scopes=frozenset({"kt.voicebot:read"}))
    secret = (request.query_params.get("api_key") or "").strip()
    full = _credentialed(db, secret, municipality.id) if secret else False
    bind_principal(db, principal)
    return Reader(principal, credentialed=full, municipality_id=municipality.id)


def _offered(db, reader: Reader) -> dict[str, Any]:
    """The Open311 services the jurisdiction enabled; none is the spec's 404."""
    enabled = publication.offered(db, municipality_id=reader.municipality_id) if reader.municipality_id else {}
    codes = {c: SERVICES[c] for c in SERVICES if c in enabled}
    if not codes:
        raise Open311Error(404, "this jurisdiction offers no Open311 service")
    return codes


def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def request_view(r: VoicebotRequest) -> dict[str, Any]:
    notice = None
    if r.fee_krw is not None:
        notice = f"수수료 {r.fee_krw:,}원" + (f", 납부번호 {r.payment_ref}" if r.payment_ref else "")
    expected = datetime(r.scheduled_date.year, r.scheduled_date.month, r.scheduled_date.day, tzinfo=UTC) \
        if r.scheduled_date else None
    return {
        "service_request_id": str(r.id), "status": "open" if r.status in OPEN else "closed",
        "status_notes": r.status_notes, "service_name": SERVICES.get(r.service_code, {}).get("service_name",
                                                                                           r.service_code),
        "service_code": r.service_code, "description": r.description, "agency_responsible": r.department,
        "service_notice": notice, "requested_datetime": _w3c(r.requested_at), "updated_datetime": _w3c(r.updated_at),
        "expected_datetime": _w3c(expected), "address": r.address, "address_id": None, "zipcode": None,
        "lat": r.lat, "long": r.long, "media_url": r.media_url, "interface_used": r.interface_used,
    }


@router.get("/discovery.json", openapi_extra={"x-tenant-scope": "global"})
def discovery(request: Request):
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    return {"changeset": "2026-11-25T00:00:00Z", "contact": "DX Hub: the municipality's civil-complaint office",
            "key_service": "Ask the municipality's administrator for a DX Hub API key with kt.voicebot:write",
            "endpoints": [{"specification": SPEC, "url": base, "changeset": "2026-11-25T00:00:00Z",
                           "type": "production", "formats": ["application/json"]}]}


@router.get("/services.json", openapi_extra=REFERENCE)
@spec_errors
async def services(request: Request, db: SessionDep):
    offered = _offered(db, _jurisdiction(db, request))
    return [{"service_code": code, "service_name": s["service_name"], "description": s["description"],
             "metadata": True, "type": "realtime", "keywords": s["keywords"], "group": s["group"]}
            for code, s in offered.items()]


def _attributes(db, code: str) -> list[dict[str, Any]]:
    if code == "bulky_waste":
        names = sorted({i.name for i in service.list_fee_items(db, active_only=True)})
        return [
            {"variable": True, "code": "item", "datatype": "singlevaluelist", "required": True, "order": 1,
             "datatype_description": None, "description": "버릴 물건",
             "values": [{"key": n, "name": n} for n in names]},
            {"variable": True, "code": "size", "datatype": "string", "required": False, "order": 2,
             "datatype_description": "예: 3인용, 180cm, 대형", "description": "크기"},
            {"variable": True, "code": "quantity", "datatype": "number", "required": False, "order": 3,
             "datatype_description": "1-20", "description": "수량"},
            {"variable": True, "code": "pickup_date", "datatype": "datetime", "required": True, "order": 4,
             "datatype_description": "YYYY-MM-DD, from tomorrow, not on Sundays", "description": "배출일"},
        ]
    if code == "night_duty":
        return [
            {"variable": True, "code": "category", "datatype": "singlevaluelist", "required": True, "order": 1,
             "datatype_description": None, "description": "민원 종류",
             "values": [{"key": c, "name": label} for c, label, _w in dialogue.NIGHT_CATEGORIES]
             + [{"key": "other", "name": "기타"}]},
            {"variable": True, "code": "urgent", "datatype": "singlevaluelist", "required": False, "order": 2,
             "datatype_description": None, "description": "위급 여부 (당직 근무자에게 바로 전달)",
             "values": [{"key": "yes", "name": "위급"}, {"key": "no", "name": "일반"}]},
        ]
    return [
        {"variable": True, "code": "plate", "datatype": "string", "required": True, "order": 1,
         "datatype_description": "12가3456 or 123가4567", "description": "차량 번호"},
        {"variable": True, "code": "seen_at", "datatype": "datetime", "required": False, "order": 2,
         "datatype_description": "W3C date-time", "description": "목격 시각"},
    ]


@router.get("/services/{service_code}.json", openapi_extra=REFERENCE)
@spec_errors
async def service_definition(service_code: str, request: Request, db: SessionDep):
    reader = _jurisdiction(db, request)
    if service_code not in SERVICES or service_code not in _offered(db, reader):
        raise Open311Error(404, f"service_code {service_code} not found")
    return {"service_code": service_code, "attributes": _attributes(db, service_code)}


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time such as 2026-11-25T09:00:00+09:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/requests.json", openapi_extra=PUBLIC)
@spec_errors
async def list_requests(request: Request, db: SessionDep):
    params = request.query_params
    reader = _jurisdiction(db, request)
    ids: list[int] = []
    if params.get("service_request_id"):
        for part in params["service_request_id"].split(","):
            if not part.strip().isdigit() or len(part.strip()) > 9:
                raise Open311Error(400, f"service_request_id {part.strip()!r} is not a request id")
            ids.append(int(part.strip()))
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    unknown = [c for c in codes if c not in SERVICES and c != "local_tax_refund"]
    if unknown:
        raise Open311Error(400, f"unknown service_code: {', '.join(unknown)}")
    status = (params.get("status") or "").strip()
    statuses: list[str] | None = None
    if status:
        wanted = {s.strip() for s in status.split(",")}
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        statuses = [*(OPEN if "open" in wanted else ()), *(CLOSED if "closed" in wanted else ())]
    start, end = _parse_time(params.get("start_date"), "start_date"), _parse_time(params.get("end_date"), "end_date")
    if not ids and start is None and end is None:
        start = datetime.now(UTC) - timedelta(days=90)  # the spec's default window
    if start and end and end < start:
        raise Open311Error(400, "end_date is before start_date")
    stmt = service.request_query(status=statuses, service_code=codes or None, start=start, end=end, ids=ids or None)
    if not reader.credentialed:
        stmt = stmt.where(publication.public_condition(db, municipality_ids=reader.principal.municipality_ids))
    rows = db.scalars(stmt.limit(MAX_RESULTS))
    return [_view(r, reader) for r in rows]


def _view(r: VoicebotRequest, reader: Reader) -> dict[str, Any]:
    return request_view(r) if reader.credentialed else publication.public_view(request_view(r))


@router.get("/requests/{service_request_id}.json", openapi_extra=PUBLIC)
@spec_errors
async def get_request(service_request_id: str, request: Request, db: SessionDep):
    reader = _jurisdiction(db, request)
    if not service_request_id.isdigit() or len(service_request_id) > 9:
        raise Open311Error(404, f"service_request_id {service_request_id} not found")
    try:
        found = service.get_request(db, request_id=int(service_request_id))
    except DomainError:
        raise Open311Error(404, f"service_request_id {service_request_id} not found") from None
    if not reader.credentialed and not publication.is_public(db, request=found):
        raise Open311Error(404, f"service_request_id {service_request_id} not found")
    return [_view(found, reader)]


@router.get("/tokens/{token}.json", openapi_extra=PUBLIC)
@spec_errors
async def get_token(token: str, request: Request, db: SessionDep):
    _jurisdiction(db, request)
    token = printable(token)
    try:
        found = service.get_request_by_token(db, token=token[:40])
    except DomainError:
        raise Open311Error(404, f"token {token[:40]} not found") from None
    return [{"service_request_id": str(found.id), "token": found.token}]


def _float(form, name: str, low: float, high: float) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Open311Error(400, f"{name} must be a number") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low} and {high}")
    return value


@router.post("/requests.json", openapi_extra=PUBLIC, dependencies=[Depends(rate_limited("rate_limit_open311_ip"))],
             responses={429: {"description": "Too many requests from this address (see Retry-After)"}})
@spec_errors
async def create_request(request: Request, db: SessionDep):
    """File a request: form-encoded (or JSON) fields of the spec, ``api_key`` required."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise Open311Error(400, "the body is not valid JSON") from None
        form = {k: (printable(str(v)) if v is not None else None)
                for k, v in (body.items() if isinstance(body, dict) else [])}
    else:
        form = {k: printable(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    secret = (form.get("api_key") or "").strip()
    if not secret:
        raise Open311Error(403, "api_key is required")
    key = accounts.authenticate_api_key(db, secret=secret)
    if key is None or "kt.voicebot:write" not in key.scopes:
        raise Open311Error(403, "api_key is invalid or may not file kt.voicebot requests")
    principal = accounts.principal_for_api_key(db, key)
    bind_principal(db, principal)
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in SERVICES:
        raise Open311Error(404, f"service_code {code} not found")
    lat, long = _float(form, "lat", -90, 90), _float(form, "long", -180, 180)
    address = (form.get("address_string") or "").strip()[:200]
    if not address and (lat is None or long is None):
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    jurisdiction = (form.get("jurisdiction_id") or "").strip() or None
    attrs = {k[len("attribute["):-1]: v.strip() for k, v in form.items()
             if k.startswith("attribute[") and k.endswith("]") and isinstance(v, str)}
    attributes, urgent, fee = _check_attributes(db, code, attrs)
    description = (form.get("description") or "").strip()[:2000] or SERVICES[code]["service_name"]
    contact = " ".join(p for p in (form.get("first_name"), form.get("last_name"), form.get("phone"),
                                   form.get("email")) if p) or None
    try:
        data = RequestIn(service_code=code, description=description, address=address or f"{lat},{long}",
                         lat=lat, long=long, urgent=urgent, municipality_code=jurisdiction,
                         client_request_id=(form.get("client_request_id") or "").strip()[:80] or None)
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                           ) from None
    created, _new = service.create_request(db, data=data, interface_used="open311", contact=contact,
                                           media_url=(form.get("media_url") or None), attributes=attributes)
    if code not in publication.offered(db, municipality_id=created.municipality_id):
        raise Open311Error(404, f"service_code {code} is not offered in this jurisdiction")  # rolled back
    if fee is not None:
        created.fee_krw = fee
        created.payment_ref = f"BW{created.requested_at:%y%m%d}{created.id:05d}"
    if attributes.get("pickup_date"):
        from datetime import date

        created.scheduled_date = date.fromisoformat(attributes["pickup_date"])
    notice = request_view(created)["service_notice"]
    return [{"service_request_id": str(created.id), "token": created.token, "service_notice": notice,
             "account_id": None}]


def _check_attributes(db, code: str, attrs: dict[str, str]) -> tuple[dict[str, Any], bool, int | None]:
    if code == "illegal_parking":
        plate, _attempted = sx.find_plate(attrs.get("plate", ""))
        if not plate:
            raise Open311Error(400, "attribute[plate] must be a Korean plate such as 12가3456 or 123가4567")
        return {"plate": plate, "seen_at": attrs.get("seen_at")}, False, None
    if code == "night_duty":
        category = attrs.get("category") or "other"
        valid = {c for c, _l, _w in dialogue.NIGHT_CATEGORIES} | {"other"}
        if category not in valid:
            raise Open311Error(400, f"attribute[category] must be one of {', '.join(sorted(valid))}")
        return {"category": category}, attrs.get("urgent") == "yes", None
    item = attrs.get("item")
    if not item:
        raise Open311Error(400, "attribute[item] is required")
    try:
        quantity = int(attrs.get("quantity") or 1)
    except ValueError:
        raise Open311Error(400, "attribute[quantity] must be a whole number") from None
    if not 1 <= quantity <= 20:
        raise Open311Error(400, "attribute[quantity] must be between 1 and 20")
    lines = [line for line in service.list_fee_items(db, active_only=True) if line.name == item]
    if not lines:
        raise Open311Error(400, f"attribute[item] {item} is not in the fee table")
    size = attrs.get("size") or None
    line = next((line for line in lines if dialogue._size_matches(line.size, sx.find_size(size or "") or size)),
                lines[0] if len(lines) == 1 else None)
    if line is None:
        raise Open311Error(400, f"attribute[size] must be one of {', '.join(line.size for line in lines)}")
    pickup = attrs.get("pickup_date") or ""
    try:
        from datetime import date

        day = date.fromisoformat(pickup[:10])
    except ValueError:
        raise Open311Error(400, "attribute[pickup_date] must be a date such as 2026-12-01") from None
    today = today_seoul()
    if day <= today or day > today + timedelta(days=30) or day.weekday() == 6:
        raise Open311Error(400, "attribute[pickup_date] must be from tomorrow to 30 days ahead, not a Sunday")
    items = [{"name": line.name, "size": line.size, "qty": quantity, "fee_krw": line.fee_krw * quantity}]
    return {"items": items, "pickup_date": day.isoformat()}, False, line.fee_krw * quantity
