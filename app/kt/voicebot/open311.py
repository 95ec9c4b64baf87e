"""Open311 GeoReport v2 at /open311/v2, so civic apps can file and follow requests the standard way.

Every operation answers in the format its URL ends with, ``.json`` or ``.xml`` (the spec's XML, errors
included): each route is registered once per format with one handler, which builds the answer as plain
data (the view model) and :func:`render` turns it into JSON or XML. Nothing in this module is written
twice for the two formats, so the privacy rules of ``publication`` hold for both.

GeoReport's reads are public per jurisdiction (``jurisdiction_id`` = the municipality's 10-digit code, or
the server's configured default, ``DXHUB_KT_VOICEBOT_OPEN311_JURISDICTION_ID``): the route binds a
read-only principal reaching that jurisdiction only, so the core's tenancy scoping applies as everywhere
else. ``services`` lists the services the jurisdiction enabled (404 when it has none). A stranger reads
only what ``publication`` publishes: requests of public services, after their delay or a staff check, not
hidden by staff, masked and with the place coarsened. An ``api_key`` holding ``kt.voicebot:read`` for the
jurisdiction reads the full requests of every service. Writes carry an ``api_key`` form field (a DX Hub
API key with ``kt.voicebot:write``) and act as that key, for a service the municipality enabled; a photo
comes as the multipart ``media`` file (see ``media``). Errors use the spec's format
(``[{"code": 400, "description": "..."}]``, ``<errors><error>...``) with the same HTTP status.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from app.core.deps import SessionDep
from app.core.errors import PROBLEM_JSON, DomainError
from app.core.i18n import SEOUL, today_seoul
from app.core.tenancy import Principal, all_tenants, bind_principal
from app.kt.voicebot import dialogue, media, publication, service
from app.kt.voicebot import slots as sx
from app.kt.voicebot.config import VoicebotSettings, get_voicebot_settings
from app.kt.voicebot.models import VoicebotRequest
from app.kt.voicebot.schemas import RequestIn, printable
from app.platform import accounts
from app.platform import service as platform_service
from app.platform.auth import rate_limited, resolve_principal

FORMATS = ("json", "xml")
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_ERRORS_SCHEMA = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                              "properties": {"code": {"type": "integer"},
                                                             "description": {"type": "string"}}}}
_XML_SCHEMA = {"type": "string", "description": "The spec's XML"}
_STATUSES = [(400, "Bad request"), (403, "Invalid api_key"), (404, "Not found")]
# Refused at the edge, before any route: the core's problem+json in either format.
_EDGE = {422: {"description": "A control character in the path, query or body",
               "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
# The spec's error format, answered by every operation in the format of its URL (declared once per format).
RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "json": {status: {"description": title, "content": {"application/json": {"schema": _ERRORS_SCHEMA}}}
             for status, title in _STATUSES} | _EDGE,
    "xml": {200: {"description": "Successful response", "content": {"text/xml": {"schema": _XML_SCHEMA}}}}
    | {status: {"description": title, "content": {"text/xml": {"schema": _XML_SCHEMA}}}
       for status, title in _STATUSES} | _EDGE,
}
router = APIRouter(prefix="/open311/v2", tags=["open311"])
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-05T00:00:00Z"
OPEN = ("received", "assigned", "in_progress")
CLOSED = ("resolved", "rejected", "duplicate")
MAX_RESULTS = 1000
FORM_SLACK = 64 * 1024  # a filing's text fields beside its photo
PUBLIC = {"x-tenant-scope": "jurisdiction"}
# Service definitions are public reference data (the spec's service list and attribute definitions; the
# bulky-waste item names come from the jurisdiction's public fee table): nothing private to a tenant.
REFERENCE = {"x-tenant-scope": "global"}
VoicebotSettingsDep = Annotated[VoicebotSettings, Depends(get_voicebot_settings)]

SERVICES: dict[str, dict[str, Any]] = {
    "bulky_waste": {"service_name": "대형폐기물 수거", "group": "생활환경", "keywords": "대형폐기물,가구,가전,수거",
                    "description": "소파·장롱·가전 등 대형폐기물 수거 신청 (수수료는 지자체 요금표에 따름)"},
    "night_duty": {"service_name": "야간 당직민원", "group": "안전", "keywords": "소음,도로,가로등,동물사체,침수",
                   "description": "소음, 도로 파손, 가로등 고장, 동물 사체, 침수 등 야간 당직민원"},
    "illegal_parking": {"service_name": "불법 주정차 신고", "group": "교통", "keywords": "주차,주정차,단속",
                        "description": "불법 주정차 차량 신고 (단속 요청으로 전달)"},
}


# --- one view model, two formats ----------------------------------------------------------------

# The element of each item of a list, by the list's element (the spec's XML examples).
ITEMS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
         "values": "value", "endpoints": "endpoint", "formats": "format"}
# Characters XML 1.0 cannot hold at all (the edge refuses most of them already; stored text may be older).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _element(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _element(element, ITEMS[tag], item)
    else:
        element.text = _xml_text(value)


def to_xml(root: str, data: list[Any] | dict[str, Any]) -> bytes:
    """The spec's XML of a view: ``<services><service>...``, ``<service_definition>...``, ``<errors>...``."""
    element = ET.Element(root)
    if isinstance(data, list):
        for item in data:
            _element(element, ITEMS[root], item)
    else:
        for key, item in data.items():
            _element(element, key, item)
    # Serialised to text, then encoded once (ElementTree's own encoding writer is several times slower).
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()


def render(root: str, data: list[Any] | dict[str, Any], fmt: str, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=XML_TYPE, headers=headers)
    return JSONResponse(data, status_code=status, headers=headers)


def error(code: int, description: str, fmt: str = "json", headers: dict[str, str] | None = None) -> Response:
    return render("errors", [{"code": code, "description": description}], fmt, code, headers)


def response_format(request: Request) -> str:
    """The format the URL asks for: its ``.xml`` or ``.json`` ending."""
    return "xml" if request.url.path.endswith(".xml") else "json"


Format = Annotated[str, Depends(response_format)]


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def _answered(root: str, func: Callable) -> Callable:
    """The handler's view rendered in the URL's format; every failure in GeoReport's error format, never a
    500 for bad input."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        fmt = kwargs["fmt"]
        try:
            return render(root, func(*args, **kwargs), fmt)
        except Open311Error as exc:
            kwargs["db"].rollback()
            return error(exc.code, exc.description, fmt)
        except DomainError as exc:
            kwargs["db"].rollback()
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors) or exc.detail
            return error(exc.status if exc.status != 422 else 400, detail, fmt, exc.headers or None)

    return wrapper


def operation(method: str, path: str, root: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register ``func`` at ``path.json`` and ``path.xml`` (one handler, answered in either format)."""

    def register(func: Callable) -> Callable:
        endpoint = _answered(root, func)
        extra = kwargs.pop("responses", {})
        for fmt in FORMATS:
            router.add_api_route(f"{path}.{fmt}", endpoint, methods=[method], name=f"open311_{func.__name__}_{fmt}",
                                 responses={**RESPONSES[fmt], **extra}, **kwargs,
                                 response_class=JSONResponse if fmt == "json" else Response)
        return endpoint

    return register


# --- who reads ----------------------------------------------------------------------------------

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


def _jurisdiction(db, request: Request, settings: VoicebotSettings) -> Reader:
    """The reader: the jurisdiction named, else a DX Hub caller (bearer token) in its own scope, else the
    server's default jurisdiction."""
    code = (request.query_params.get("jurisdiction_id") or "").strip()
    if not code and request.headers.get("authorization"):
        principal = resolve_principal(request, db)
        if principal is not None:
            full = principal.kind in ("user", "system") or "kt.voicebot:read" in principal.scopes
            return Reader(principal, credentialed=full, municipality_id=principal.municipality_id)
    code = code or settings.open311_jurisdiction_id or ""
    if not code:
        raise Open311Error(400, "jurisdiction_id is required: the municipality's 10-digit code")
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


# --- views ----------------------------------------------------------------------------------------

def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def request_view(r: VoicebotRequest, base_url: str = "") -> dict[str, Any]:
    """A request as GeoReport shows it (credentialed readers; ``publication.public_view`` masks it)."""
    notice = None
    if r.fee_krw is not None:
        notice = f"수수료 {r.fee_krw:,}원" + (f", 납부번호 {r.payment_ref}" if r.payment_ref else "")
    # A pickup is expected from the start of its day in Seoul.
    expected = datetime(r.scheduled_date.year, r.scheduled_date.month, r.scheduled_date.day, tzinfo=SEOUL) \
        if r.scheduled_date else None
    return {
        "service_request_id": str(r.id), "status": "open" if r.status in OPEN else "closed",
        "status_notes": r.status_notes, "service_name": SERVICES.get(r.service_code, {}).get("service_name",
                                                                                           r.service_code),
        "service_code": r.service_code, "description": r.description, "agency_responsible": r.department,
        "service_notice": notice, "requested_datetime": _w3c(r.requested_at), "updated_datetime": _w3c(r.updated_at),
        "expected_datetime": _w3c(expected), "address": r.address, "address_id": None, "zipcode": None,
        "lat": r.lat, "long": r.long, "media_url": media.absolute(r.media_url, base_url),
        "interface_used": r.interface_used,
    }


def _view(r: VoicebotRequest, reader: Reader, base_url: str) -> dict[str, Any]:
    view = request_view(r, base_url)
    return view if reader.credentialed else publication.public_view(view)


# --- reads --------------------------------------------------------------------------------------

@operation("GET", "/discovery", "discovery", openapi_extra=REFERENCE)
def discovery(request: Request, db: SessionDep, fmt: Format):
    return {"changeset": CHANGESET, "contact": "DX Hub: the municipality's civil-complaint office",
            "key_service": "Ask the municipality's administrator for a DX Hub API key with kt.voicebot:write",
            "endpoints": [{"specification": SPEC, "url": _base(request) + "/open311/v2", "changeset": CHANGESET,
                           "type": "production", "formats": ["text/xml", "application/json"]}]}


@operation("GET", "/services", "services", openapi_extra=REFERENCE)
def services(request: Request, db: SessionDep, fmt: Format, settings: VoicebotSettingsDep):
    offered = _offered(db, _jurisdiction(db, request, settings))
    return [{"service_code": code, "service_name": s["service_name"], "description": s["description"],
             "metadata": True, "type": "realtime", "keywords": s["keywords"], "group": s["group"]}
            for code, s in offered.items()]


@operation("GET", "/services/{service_code}", "service_definition", openapi_extra=REFERENCE)
def service_definition(service_code: str, request: Request, db: SessionDep, fmt: Format,
                       settings: VoicebotSettingsDep):
    reader = _jurisdiction(db, request, settings)
    if service_code not in SERVICES or service_code not in _offered(db, reader):
        raise Open311Error(404, f"service_code {service_code[:40]} not found")
    return {"service_code": service_code, "attributes": _attributes(db, service_code)}


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time such as 2026-11-25T09:00:00+09:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@operation("GET", "/requests", "service_requests", openapi_extra=PUBLIC)
def list_requests(request: Request, db: SessionDep, fmt: Format, settings: VoicebotSettingsDep):
    params = request.query_params
    reader = _jurisdiction(db, request, settings)
    ids: list[int] = []
    if params.get("service_request_id"):
        for part in params["service_request_id"].split(","):
            if not part.strip().isdigit() or len(part.strip()) > 9:
                raise Open311Error(400, f"service_request_id {part.strip()[:40]!r} is not a request id")
            ids.append(int(part.strip()))
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    unknown = [c[:40] for c in codes if c not in SERVICES and c != "local_tax_refund"]
    if unknown:
        raise Open311Error(400, f"unknown service_code: {', '.join(unknown[:5])}")
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
    return [_view(r, reader, _base(request)) for r in rows]


@operation("GET", "/requests/{service_request_id}", "service_requests", openapi_extra=PUBLIC)
def get_request(service_request_id: str, request: Request, db: SessionDep, fmt: Format,
                settings: VoicebotSettingsDep):
    reader = _jurisdiction(db, request, settings)
    missing = Open311Error(404, f"service_request_id {service_request_id[:40]} not found")
    if not service_request_id.isdigit() or len(service_request_id) > 9:
        raise missing
    try:
        found = service.get_request(db, request_id=int(service_request_id))
    except DomainError:
        raise missing from None
    if not reader.credentialed and not publication.is_public(db, request=found):
        raise missing
    return [_view(found, reader, _base(request))]


@operation("GET", "/tokens/{token}", "service_requests", openapi_extra=PUBLIC)
def get_token(token: str, request: Request, db: SessionDep, fmt: Format, settings: VoicebotSettingsDep):
    _jurisdiction(db, request, settings)
    token = printable(token)[:40]
    try:
        found = service.get_request_by_token(db, token=token)
    except DomainError:
        raise Open311Error(404, f"token {token} not found") from None
    return [{"service_request_id": str(found.id), "token": found.token}]


@router.get("/media/{name}", openapi_extra=PUBLIC, name="open311_media", response_class=Response,
            responses={200: {"description": "The photo filed with a request",
                             "content": {"image/jpeg": {}, "image/png": {}}},
                       404: RESPONSES["json"][404]} | _EDGE)
def get_media(name: str, request: Request, db: SessionDep, settings: VoicebotSettingsDep):
    """A photo filed with a request: the link is shown to credentialed readers only, and every read of it
    leaves an access record."""
    try:
        content, content_type = media.read(db, name=name, root=settings.media_root(request.app.state.settings.data_dir))
    except DomainError as exc:
        return error(exc.status, exc.detail)
    return Response(content, media_type=content_type, headers={"Cache-Control": "private, no-store"})


# --- filing -------------------------------------------------------------------------------------

class Filing:
    """What a POST carries: its text fields, the photo's bytes, or why the body could not be read."""

    def __init__(self, fields: dict[str, str | None], photo: bytes | None = None,
                 problem: Exception | None = None) -> None:
        self.fields, self.photo, self.problem = fields, photo, problem


async def read_filing(request: Request, settings: VoicebotSettingsDep) -> Filing:
    """The body of a filing: form-encoded, multipart (with the ``media`` file) or JSON, read at most to
    the photo's cap (more is a 400 before anything is parsed). The address's rate limit comes first, so
    a flood is refused before its bodies are read."""
    try:
        await run_in_threadpool(rate_limited("rate_limit_open311_ip"), request)  # with Redis: network I/O
    except DomainError as exc:
        return Filing({}, problem=exc)
    cap = settings.open311_media_max_bytes
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > cap + FORM_SLACK:
        return Filing({}, problem=Open311Error(400, f"media: the body is larger than {cap + FORM_SLACK} bytes"))
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return Filing({}, problem=Open311Error(400, "the body is not valid JSON"))
        return Filing({k: (printable(str(v)) if v is not None else None)
                       for k, v in (body.items() if isinstance(body, dict) else [])})
    try:
        form = await request.form(max_files=1, max_fields=200)
    except HTTPException as exc:
        return Filing({}, problem=Open311Error(400, f"the form could not be read: {exc.detail}"))
    fields, photo = {}, None
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields[key] = printable(value)
        elif key == "media":
            photo = await value.read(cap + 1)
    return Filing(fields, photo)


FilingDep = Annotated[Filing, Depends(read_filing)]
_TEXT = {"type": "string"}
_FIELDS: dict[str, Any] = {
    "api_key": _TEXT, "jurisdiction_id": _TEXT, "service_code": _TEXT, "lat": {"type": "number"},
    "long": {"type": "number"}, "address_string": _TEXT, "description": _TEXT, "first_name": _TEXT,
    "last_name": _TEXT, "phone": _TEXT, "email": _TEXT, "media_url": _TEXT,
    "client_request_id": {**_TEXT, "description": "Extension: a retry with the same id files nothing new"}}


def _form(**extra: Any) -> dict[str, Any]:
    return {"schema": {"type": "object", "required": ["api_key", "service_code"], "properties": _FIELDS | extra,
                       "additionalProperties": {**_TEXT, "description": "attribute[<code>] of the service definition"}}}


# The filing's body as the spec gives it (the route reads it itself: three encodings, one photo).
FILING = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": _form(),
    "multipart/form-data": _form(media={"type": "string", "format": "binary",
                                        "description": "A photo: JPEG or PNG, size-capped"}),
    "application/json": _form()}}}


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


@operation("POST", "/requests", "service_requests", openapi_extra=PUBLIC | FILING,
           responses={429: {"description": "Too many requests from this address (see Retry-After)"}})
def create_request(request: Request, db: SessionDep, fmt: Format, filing: FilingDep,
                   settings: VoicebotSettingsDep):
    """File a request: form-encoded, multipart (a photo as the ``media`` file) or JSON fields of the spec,
    ``api_key`` required."""
    if filing.problem is not None:
        raise filing.problem
    form = filing.fields
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
        raise Open311Error(404, f"service_code {code[:40]} not found")
    lat, long = _float(form, "lat", -90, 90), _float(form, "long", -180, 180)
    address = (form.get("address_string") or "").strip()[:200]
    if not address and (lat is None or long is None):
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    jurisdiction = (form.get("jurisdiction_id") or "").strip() or settings.open311_jurisdiction_id
    attrs = {k[len("attribute["):-1]: v.strip() for k, v in form.items()
             if k.startswith("attribute[") and k.endswith("]") and isinstance(v, str)}
    attributes, urgent, fee = _check_attributes(db, code, attrs)
    media_url = (form.get("media_url") or "").strip() or None
    photo_type = None
    if filing.photo is not None:
        if media_url:
            raise Open311Error(400, "media: send a photo as media or a link as media_url, not both")
        photo_type = media.check(filing.photo, max_bytes=settings.open311_media_max_bytes)
    elif media_url and not media_url.startswith(("https://", "http://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
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
    created, new = service.create_request(db, data=data, interface_used="open311", contact=contact,
                                          media_url=media_url[:500] if media_url else None, attributes=attributes)
    if code not in publication.offered(db, municipality_id=created.municipality_id):
        raise Open311Error(404, f"service_code {code} is not offered in this jurisdiction")  # rolled back
    if new and fee is not None:
        created.fee_krw = fee
        created.payment_ref = f"BW{created.requested_at:%y%m%d}{created.id:05d}"
    if new and attributes.get("pickup_date"):
        created.scheduled_date = date.fromisoformat(attributes["pickup_date"])
    if new and photo_type is not None:
        created.media_url = media.store(filing.photo, content_type=photo_type,
                                        root=settings.media_root(request.app.state.settings.data_dir))
    notice = request_view(created)["service_notice"]
    return [{"service_request_id": str(created.id), "token": created.token, "service_notice": notice,
             "account_id": None}]


# --- service definitions and their attributes ---------------------------------------------------

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
        day = date.fromisoformat(pickup[:10])
    except ValueError:
        raise Open311Error(400, "attribute[pickup_date] must be a date such as 2026-12-01") from None
    today = today_seoul()
    if day <= today or day > today + timedelta(days=30) or day.weekday() == 6:
        raise Open311Error(400, "attribute[pickup_date] must be from tomorrow to 30 days ahead, not a Sunday")
    items = [{"name": line.name, "size": line.size, "qty": quantity, "fee_krw": line.fee_krw * quantity}]
    return {"items": items, "pickup_date": day.isoformat()}, False, line.fee_krw * quantity
