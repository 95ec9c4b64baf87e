"""Staff pages of the voicebot: calls (live and finished) with transcripts, the service-request queue,
the fee-table editor, statistics and a console where staff play the caller."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.forms import answer_form, form_to_dict, submit_form
from app.core.i18n import format_krw
from app.core.i18n import gettext as _
from app.core.live import sse_response
from app.core.pagination import PageParams
from app.core.templating import env, flash, render, see_other, url_for
from app.kt.voicebot import dialogue, publication, service
from app.kt.voicebot.deps import CallDep, FaqEntryDep, FeeItemDep, RequestDep
from app.kt.voicebot.models import REQUEST_STATUSES, SERVICE_CODES
from app.kt.voicebot.schemas import (
    CallIn,
    Clean,
    FaqEntryIn,
    FaqEntryUpdate,
    FeeItemIn,
    FeeItemUpdate,
    ModerationIn,
    NoteIn,
    ServiceSettingIn,
    StatusChangeIn,
    TurnIn,
)
from app.platform import history
from app.platform import service as platform_service
from app.platform.auth import WRITER, WebUser

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25

SERVICE_LABELS = {"bulky_waste": "Bulky waste", "night_duty": "Night-duty complaint",
                  "illegal_parking": "Illegal parking", "local_tax_refund": "Local tax refund", "faq": "FAQ",
                  "human_agent": "Asked for a person", "out_of_scope": "Out of scope", "unknown": "Unknown"}
STATUS_LABELS = {"received": "Received", "assigned": "Assigned", "in_progress": "In progress", "resolved": "Resolved",
                 "rejected": "Rejected", "duplicate": "Duplicate", "active": "In progress (call)",
                 "completed": "Completed by the bot", "handed_off": "Handed off", "abandoned": "Abandoned"}
HANDOFF_LABELS = {"caller_asked": "Caller asked for a person", "not_understood": "Not understood twice",
                  "urgent": "Urgent: sent to the duty officer",
                  "faq_unanswered": "FAQ the table does not answer", None: "-"}
CHANNEL_LABELS = {"phone": "Phone", "web": "Web", "kiosk": "Kiosk", "console": "Console"}
STATE_LABELS = {"greeting": "Greeting", "confirm": "Read-back and confirmation", "offer_claim": "Refund claim offer",
                "done": "Done", "handoff": "Handed to a person"}
SLOT_LABELS = {"items": "Items", "address": "Address", "pickup_date": "Pickup date", "pickup_part": "Time of day",
               "category": "Complaint", "summary": "What the caller said", "urgent": "Urgent",
               "plate_masked": "Plate (masked)", "seen_at": "Seen at", "birth": "Date of birth (masked)",
               "account": "Refund account (masked)", "amount_said_krw": "Amount said",
               "refund_total_krw": "Refund total", "phone": "Phone number"}
# Not listed: the refunds' rows (the plate in full and the dialogue's working keys never leave
# ``service.shown_slots``).
HIDDEN_SLOTS = frozenset({"refunds"})


def state_label(state: str | None) -> str:
    """A dialogue step as staff read it: "인사", "묻는 중: 주소"."""
    if not state:
        return "-"
    if state.startswith("collect:"):
        slot = state.removeprefix("collect:")
        return _("Asking: {slot}", slot=_(SLOT_LABELS.get(slot, slot)))
    return _(STATE_LABELS.get(state, state))


def _slot_value(key: str, value: Any) -> str:
    if key == "items" and isinstance(value, list):
        return ", ".join(" ".join(str(p) for p in (i.get("name"), i.get("size"), f"×{i.get('qty', 1)}") if p)
                         for i in value if isinstance(i, dict)) or "-"
    if key == "category":
        return next((label for code, label, _w in dialogue.NIGHT_CATEGORIES if code == value), "기타")
    if key == "pickup_part":
        return dialogue.PART_KO.get(value, str(value))
    if key == "birth" and value:
        return str(value)[:2] + "*" * (len(str(value)) - 2)
    if key.endswith("_krw") and isinstance(value, int):
        return format_krw(value)
    return history.format_value(value)


def slot_rows(slots: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The call's slots as (label, value) in people's words, personal numbers masked."""
    return [(_(SLOT_LABELS.get(k, k)), _slot_value(k, v)) for k, v in service.shown_slots(slots).items()
            if k not in HIDDEN_SLOTS]


env.globals["vb_state_label"] = state_label
env.globals["vb_slot_rows"] = slot_rows
env.globals["vb_channel_label"] = lambda c: _(CHANNEL_LABELS.get(c, c))
env.globals["vb_service_label"] = lambda code: _(SERVICE_LABELS.get(code or "unknown", code or "unknown"))
env.globals["vb_status_label"] = lambda s: _(STATUS_LABELS.get(s, s))
env.globals["vb_handoff_label"] = lambda r: _(HANDOFF_LABELS.get(r, r or "-"))
env.filters["vb_handoff_label_f"] = lambda r: _(HANDOFF_LABELS.get(r, r or "-"))
env.filters["vb_status_option"] = lambda s: (s, _(STATUS_LABELS.get(s, s)))


def _topics(principal) -> list[str]:
    if principal.municipality_ids is None:
        return [service.LIVE_ALL]
    return [service.LIVE_TOPIC.format(municipality_id=m) for m in sorted(principal.municipality_ids)]


# --- calls -----------------------------------------------------------------------------------

@router.get("/", name="vb_home", include_in_schema=False)
def home(request: Request) -> RedirectResponse:
    """The module's own address leads to its first page (its calls), as every other module's does."""
    return RedirectResponse(url_for(request, "vb_calls"), status_code=307)


@router.get("/calls", name="vb_calls")
def calls(request: Request, db: SessionDep,
          status: Annotated[str | None, Query(max_length=20)] = None,
          intent: Annotated[str | None, Query(max_length=30)] = None,
          page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {k: v for k, v in {"status": status if status in ("completed", "handed_off", "abandoned") else None,
                                 "intent": intent if intent in SERVICE_LABELS else None}.items() if v}
    live, _n = service.list_calls(db, page=PageParams(limit=50, offset=0), live=True)
    items, total = service.list_calls(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                      live=False, **filters)
    service.record_caller_list(db, calls=[*live, *items])
    return render(request, "kt/voicebot/calls.html", {
        "live": live, "calls": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters, "query_base": urlencode(filters), "intents": list(SERVICE_LABELS)[:7]})


@router.get("/calls/live", name="vb_calls_live")
def calls_live(request: Request, db: SessionDep):
    live, _n = service.list_calls(db, page=PageParams(limit=50, offset=0), live=True)
    service.record_caller_list(db, calls=live)
    return render(request, "kt/voicebot/_live.html", {"live": live})


@router.get("/calls/stream", name="vb_calls_stream")
async def calls_stream(request: Request, principal: WebUser):
    return sse_response(request, _topics(principal))


@router.get("/calls/{call_id}", name="vb_call_detail")
def call_detail(request: Request, call: CallDep, db: SessionDep):
    service.record_transcript_view(db, call=call)
    return render(request, "kt/voicebot/call_detail.html",
                  {"call": call, "turns": service.transcript(call),
                   "requests": service.requests_for_call(db, call=call)})


# --- service requests ------------------------------------------------------------------------

@router.get("/requests", name="vb_requests")
def requests_page(request: Request, db: SessionDep,
                  status: Annotated[str | None, Query(max_length=20)] = None,
                  service_code: Annotated[str | None, Query(max_length=30)] = None,
                  urgent: Annotated[str | None, Query(max_length=5)] = None,
                  q: Annotated[str | None, Query(max_length=100), Clean] = None,
                  page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {k: v for k, v in {"status": status if status in REQUEST_STATUSES else None,
                                 "service_code": service_code if service_code in SERVICE_CODES else None,
                                 "urgent": urgent if urgent in ("yes",) else None, "q": q}.items() if v}
    query = dict(filters)
    if query.pop("urgent", None):
        query["urgent"] = True
    items, total = service.list_requests(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                         **query)
    return render(request, "kt/voicebot/requests.html", {
        "requests": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters, "query_base": urlencode(filters), "statuses": REQUEST_STATUSES,
        "services": SERVICE_CODES, "counts": service.request_counts(db)})


def _request_page(request: Request, db, item, *, errors: dict | None = None, values: dict | None = None,
                  status_code: int = 200, revealed_account: str | None = None, unreadable: bool = False):
    setting = publication.offered(db, municipality_id=item.municipality_id).get(item.service_code)
    return render(request, "kt/voicebot/request_detail.html", {
        "publishable": publication.is_published(setting), "requires_review": bool(setting and setting.requires_review),
        "is_public": publication.is_public(db, request=item),
        "item": item, "transitions": service.allowed_transitions(item), "errors": errors or {},
        "values": values or {}, "revealed_account": revealed_account, "unreadable": unreadable},
        status_code=status_code)


@router.get("/requests/{request_id}", name="vb_request_detail")
def request_detail(request: Request, item: RequestDep, db: SessionDep):
    return _request_page(request, db, item)


async def _request_form(request: Request, db, item, schema, action, *, message: str, errors_prefix: str = ""):
    """A form on a request's page: on a mistake the page again (the request as it stands), else back to it."""
    values = form_to_dict(await request.form())
    return answer_form(request, db, schema, values, action, message=message,
                       page=lambda errors: _request_page(
                           request, db, service.get_request(db, request_id=item.id), values=values,
                           errors={errors_prefix + k: v for k, v in errors.items()}),
                       done=request.url_for("vb_request_detail", request_id=item.id))


@router.post("/requests/{request_id}/status", name="vb_request_status", dependencies=WRITER)
async def request_status(request: Request, item: RequestDep, db: SessionDep):
    return await _request_form(request, db, item, StatusChangeIn, lambda data: service.change_status(
                                   db, request=item, status=data.status, note=data.note),
                               message=_("Status changed."))


@router.post("/requests/{request_id}/account", name="vb_request_reveal_account", dependencies=WRITER)
def request_reveal_account(request: Request, item: RequestDep, db: SessionDep):
    """The full refund account, shown once on this answer (never cached) and audited."""
    account = service.reveal_account(db, request=item)
    response = _request_page(request, db, item, revealed_account=account, unreadable=account is None)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/requests/{request_id}/moderation", name="vb_request_moderation", dependencies=WRITER)
async def request_moderation(request: Request, item: RequestDep, db: SessionDep):
    """Hide from / show in the public Open311 feed, or approve for publication (audited)."""
    return await _request_form(request, db, item, ModerationIn,
                               lambda data: publication.moderate(db, request=item, data=data),
                               message=_("Public feed updated."))


@router.post("/requests/{request_id}/notes", name="vb_request_note", dependencies=WRITER)
async def request_note(request: Request, item: RequestDep, db: SessionDep):
    return await _request_form(request, db, item, NoteIn,
                               lambda data: service.add_note(db, request=item, text=data.text),
                               message=_("Note added."), errors_prefix="note_")


# --- services per municipality ---------------------------------------------------------------

SETTING_FLAGS = ("enabled", "public", "personal", "requires_review")


def _services_page(request: Request, db, *, errors: dict | None = None, values: dict | None = None,
                   status_code: int = 200):
    municipalities = [m for m in platform_service.all_municipalities(db) if m.level == "basic"] \
        or platform_service.all_municipalities(db)
    settings = {(s.municipality_id, s.service_code): s for s in publication.list_settings(db)}
    return render(request, "kt/voicebot/services.html", {
        "municipalities": municipalities, "settings": settings, "codes": SERVICE_CODES,
        "errors": errors or {}, "values": values or {}}, status_code=status_code)


@router.get("/services", name="vb_services")
def services_page(request: Request, db: SessionDep):
    return _services_page(request, db)


@router.post("/services", name="vb_service_save", dependencies=WRITER)
async def service_save(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())
    for flag in SETTING_FLAGS:  # an unticked box is not sent
        values.setdefault(flag, False)
    return answer_form(request, db, ServiceSettingIn, values, lambda data: publication.put_setting(db, data=data),
                       page=lambda errors: _services_page(request, db, errors=errors, values=values),
                       message=_("Service settings saved."), done=request.url_for("vb_services"))


# --- fee table -------------------------------------------------------------------------------

def _fees_page(request: Request, db, *, errors: dict | None = None, values: dict | None = None,
               status_code: int = 200):
    municipalities = [m for m in platform_service.all_municipalities(db) if m.level == "basic"] \
        or platform_service.all_municipalities(db)
    items = service.list_fee_items(db)
    names = {m.id: platform_service.place_name(m) for m in platform_service.all_municipalities(db)}
    return render(request, "kt/voicebot/fees.html", {
        "items": items, "errors": errors or {}, "values": values or {}, "municipalities": municipalities,
        "names": names, "row_error": any(":" in k for k in (errors or {}))}, status_code=status_code)


@router.get("/fees", name="vb_fees")
def fees(request: Request, db: SessionDep):
    return _fees_page(request, db)


def _fee_values(form) -> dict:
    values = form_to_dict(form)
    values.pop("action", None)
    values.setdefault("size", "")
    values.setdefault("aliases", "")
    return values


@router.post("/fees", name="vb_fee_create", dependencies=WRITER)
async def fee_create(request: Request, db: SessionDep):
    values = _fee_values(await request.form())
    return answer_form(request, db, FeeItemIn, values, lambda data: service.create_fee_item(db, data=data),
                       page=lambda errors: _fees_page(request, db, errors=errors, values=values),
                       message=_("Fee added."), done=request.url_for("vb_fees"))


@router.post("/fees/{item_id}", name="vb_fee_update", dependencies=WRITER)
async def fee_update(request: Request, item: FeeItemDep, db: SessionDep):
    form = await request.form()
    if form.get("action") == "delete":
        service.delete_fee_item(db, item=item)
        flash(request, _("Fee removed."))
        return see_other(str(request.url_for("vb_fees")))
    values = _fee_values(form)
    values["active"] = "active" in values
    return answer_form(request, db, FeeItemUpdate, values,
                       lambda data: service.update_fee_item(db, item=item, data=data),
                       page=lambda errors: _fees_page(request, db, values=values,
                                                      errors={f"{item.id}:{k}": v for k, v in errors.items()}),
                       message=_("Fee saved."), done=request.url_for("vb_fees"))


# --- FAQ table -------------------------------------------------------------------------------

def _writable_municipalities(db) -> list:
    return [m for m in platform_service.all_municipalities(db) if m.level == "basic"] \
        or platform_service.all_municipalities(db)


def _faq_page(request: Request, db, *, page: int = 1, topic: str | None = None, errors: dict | None = None,
              values: dict | None = None, status_code: int = 200):
    filters = {"topic": topic} if topic else {}
    items, total = service.list_faq_entries(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                            topic=topic)
    return render(request, "kt/voicebot/faq.html", {
        "items": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "filters": filters,
        "query_base": urlencode(filters), "names": {m.id: platform_service.place_name(m)
                                                    for m in platform_service.all_municipalities(db)},
        "municipalities": _writable_municipalities(db), "errors": errors or {},
        "values": values if values is not None else {"active": True}}, status_code=status_code)


@router.get("/faq", name="vb_faq")
def faq(request: Request, db: SessionDep,
        topic: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")] = None,
        page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _faq_page(request, db, page=page, topic=topic)


@router.post("/faq", name="vb_faq_create", dependencies=WRITER)
async def faq_create(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())
    values["active"] = "active" in values
    return answer_form(request, db, FaqEntryIn, values, lambda d: service.create_faq_entry(db, data=d),
                       done=str(request.url_for("vb_faq")), message=_("FAQ answer added."),
                       page=lambda errors: _faq_page(request, db, errors=errors, values=values))


FAQ_FIELDS = ("topic", "title", "area", "keywords", "answer", "active")


def _faq_edit_page(request: Request, entry, *, errors: dict | None = None, values: dict | None = None,
                   status_code: int = 200):
    shown = values if values is not None else {k: getattr(entry, k) for k in FAQ_FIELDS}
    return render(request, "kt/voicebot/faq_edit.html", {"entry": entry, "errors": errors or {}, "values": shown},
                  status_code=status_code)


@router.get("/faq/{entry_id}", name="vb_faq_edit")
def faq_edit(request: Request, entry: FaqEntryDep):
    return _faq_edit_page(request, entry)


@router.post("/faq/{entry_id}", name="vb_faq_update", dependencies=WRITER)
async def faq_update(request: Request, entry: FaqEntryDep, db: SessionDep):
    form = await request.form()
    done = str(request.url_for("vb_faq"))
    if form.get("action") == "delete":
        return answer_form(request, db, None, {}, lambda _v: service.delete_faq_entry(db, entry=entry), done=done,
                           message=_("FAQ answer removed."))
    values = form_to_dict(form)
    values.pop("action", None)
    values["active"] = "active" in values
    values.setdefault("area", None)  # left empty: the whole municipality's answer
    for required in ("topic", "title", "keywords", "answer"):  # emptied on the form: refused, not kept as was
        values.setdefault(required, "")
    entry_id = entry.id
    return answer_form(
        request, db, FaqEntryUpdate, values, lambda d: service.update_faq_entry(db, entry=entry, data=d),
        done=done, message=_("FAQ answer saved."),
        page=lambda errors: _faq_edit_page(request, service.get_faq_entry(db, entry_id=entry_id), errors=errors,
                                           values=values))


# --- statistics ------------------------------------------------------------------------------

def _since(days: int) -> date:
    return service.recent_window(days)


@router.get("/stats", name="vb_stats")
def stats(request: Request, db: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30,
          since: date | None = None, until: date | None = None):
    """The last ``days`` days, or the period ``since``..``until`` (a bound program KPI links its own)."""
    data = service.statistics(db, since=since or _since(days), until=until)
    return render(request, "kt/voicebot/stats.html", {"s": data, "days": days, "since": since, "until": until})


@router.get("/stats.csv", name="vb_stats_csv")
def stats_csv(db: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30):
    data = service.statistics(db, since=_since(days), failed_limit=500)
    rows: list[list[object]] = [["summary", key, data[key]]
                                for key in ("calls", "finished", "automated", "automation_rate", "average_turns")]
    rows += [[section, key, value] for section in ("handoff_reasons", "turns_per_call", "intents")
             for key, value in data[section].items()]
    rows += [["failed_utterance", f["text"], f["intent"]] for f in data["failed_utterances"]]
    return csv_response("voicebot-stats.csv", ["section", "key", "value"], rows)


# --- console ---------------------------------------------------------------------------------

@router.api_route("/console", methods=["GET", "POST"], name="vb_console", dependencies=WRITER)
async def console(request: Request, db: SessionDep, principal: WebUser):
    municipalities = [m for m in platform_service.all_municipalities(db)]
    default = ""
    if principal.municipality_id:
        default = platform_service.get_municipality_by_id(db, municipality_id=principal.municipality_id).code
    if request.method == "GET":
        return render(request, "kt/voicebot/console.html", {
            "municipalities": municipalities, "errors": {},
            "values": {"municipality_code": default or "4150000000", "caller_number": "010-1234-5678"}})
    values = form_to_dict(await request.form())
    values["channel"] = "console"
    return answer_form(request, db, CallIn, values, lambda data: service.start_call(db, data=data), message=None,
                       page=lambda errors: render(request, "kt/voicebot/console.html", {
                           "municipalities": municipalities, "errors": errors, "values": values}),
                       done=lambda started: request.url_for("vb_console_call", call_id=started[0].id))


@router.api_route("/console/{call_id}", methods=["GET", "POST"], name="vb_console_call", dependencies=WRITER)
async def console_call(request: Request, call: CallDep, db: SessionDep):
    """A simulated call: each POST is the caller's next utterance, answered on the same page (a conversation,
    not a form that leaves)."""
    errors: dict[str, str] = {}
    last = None
    status_code = 200
    if request.method == "POST":
        values = form_to_dict(await request.form())
        values.setdefault("text", "")
        last, errors = submit_form(db, TurnIn, values, lambda data: service.take_turn(db, call=call, text=data.text))
        if errors:
            status_code = 400
        call = service.get_call(db, call_id=call.id)
        db.refresh(call)
    return render(request, "kt/voicebot/console_call.html",
                  {"call": call, "turns": service.transcript(call), "last": last, "errors": errors},
                  status_code=status_code)
