"""Staff pages of T deal: catalogue, merchant and campaign forms, imports, campaign dashboard, recommendations."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import Field, model_validator

from app.core.batch import parse_csv
from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.forms import answer_file, answer_form, form_to_dict, validated
from app.core.i18n import SEOUL, today_seoul
from app.core.i18n import gettext as _
from app.core.jobs import fraction as job_fraction
from app.core.jobs import queue_for
from app.core.pagination import PageParams
from app.core.schemas import INT32_MAX, Id, InputModel, ShortText
from app.core.templating import env, render
from app.core.tenancy import Principal
from app.platform import service as platform_service
from app.platform.auth import WRITER, WebUser
from app.skt.tdeal import duties, recommend, report, service
from app.skt.tdeal.deps import CampaignDep, CouponDep, MerchantDep
from app.skt.tdeal.models import TdealMerchant
from app.skt.tdeal.schemas import (
    CampaignIn,
    CampaignUpdate,
    CouponIn,
    DiscountKind,
    DiscountValue,
    MerchantIn,
    MerchantUpdate,
    PerSubscriber,
    ProductIn,
    Quantity,
    RedemptionCancelIn,
    Won,
    in_range,
)

router = APIRouter(include_in_schema=False)
env.filters.setdefault("extract_from", lambda key, mapping: mapping.get(key))
PAGE_SIZE = 25
IMPORT_KINDS = ("merchants", "products", "subscribers", "events")
METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "hit_rate", "merchant_coverage")
VARIANTS = ("model", "model_reranked", "popularity", "popularity_reranked")




def _names(db) -> dict[int, Any]:
    return {m.id: m for m in platform_service.all_municipalities(db)}


# --- catalogue -------------------------------------------------------------------------------

@router.get("/", name="tdeal_catalogue")
def catalogue(request: Request, db: SessionDep, q: Annotated[str | None, Query(max_length=100)] = None,
              category: Annotated[str | None, Query(max_length=40)] = None,
              page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {k: v for k, v in {"q": q, "category": category}.items() if v}
    items, total = service.list_merchants(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                          **filters)
    return render(request, "skt/tdeal/catalogue.html", {
        "counts": service.catalogue_counts(db), "merchants": items, "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "filters": filters, "query_base": urlencode(filters),
        "names": _names(db)})


@router.get("/merchants.csv", name="tdeal_merchants_csv")
def merchants_csv(db: SessionDep):
    names = _names(db)
    rows = []
    offset = 0
    while True:
        items, _total = service.list_merchants(db, page=PageParams(limit=200, offset=offset))
        rows += [[m.id, m.brn, m.name, m.category, int(m.is_small), names[m.municipality_id].code] for m in items]
        if len(items) < 200:
            break
        offset += 200
    return csv_response("tdeal-merchants.csv", ["id", "brn", "name", "category", "is_small", "municipality_code"],
                        rows)


@router.get("/categories.csv", name="tdeal_categories_csv")
def categories_csv(db: SessionDep):
    counts = service.catalogue_counts(db)
    return csv_response("tdeal-categories.csv", ["category", "merchants"],
                        [[c["category"], c["merchants"]] for c in counts["by_category"]])


@router.api_route("/import", methods=["GET", "POST"], name="tdeal_import", dependencies=WRITER)
async def import_page(request: Request, db: SessionDep):
    context: dict[str, Any] = {"kinds": IMPORT_KINDS, "errors": [], "values": {}, "result": None}
    if request.method == "GET":
        return render(request, "skt/tdeal/import.html", context)
    form = await request.form()
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    context["values"] = {"kind": kind}
    chosen = kind in IMPORT_KINDS and upload is not None and not isinstance(upload, str)
    raw = await upload.read() if chosen else b""
    return answer_file(request, db, lambda: service.IMPORTERS[kind](db, rows=parse_csv(raw)),
                       problem=None if chosen else _("Choose what to import and a CSV file."),
                       page=lambda errors: render(request, "skt/tdeal/import.html", {**context, "errors": errors}),
                       message=lambda result: _("Imported {received} rows: {created} new, {updated} updated, "
                                                "{unchanged} unchanged.", **result),
                       done=request.url_for("tdeal_import"))


# --- merchant forms --------------------------------------------------------------------------

MAX_CHOICES = 500  # merchants offered as checkboxes on a campaign form


def _municipality_options(db, principal: Principal) -> list[tuple[str, str]]:
    """The municipalities the user may write to, as (code, label) for a select."""
    return platform_service.municipality_options([m for m in platform_service.all_municipalities(db)
                                                  if principal.reaches(m.id)])


def _own_code(db, principal: Principal) -> str:
    if principal.municipality_id is None:
        return ""
    return platform_service.get_municipality_by_id(db, municipality_id=principal.municipality_id).code


def _merchant_form_page(request: Request, db, principal: Principal, *, values: dict, errors: dict,
                        status_code: int = 200):
    return render(request, "skt/tdeal/merchant_form.html", {
        "values": values, "errors": errors, "municipalities": _municipality_options(db, principal)},
        status_code=status_code)


@router.api_route("/merchants/new", methods=["GET", "POST"], name="tdeal_merchant_new", dependencies=WRITER)
async def merchant_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return _merchant_form_page(request, db, principal, values={
            "is_small": "true", "municipality_code": _own_code(db, principal)}, errors={})
    values = form_to_dict(await request.form())
    return answer_form(request, db, MerchantIn, values, lambda data: service.create_merchant(db, data=data),
                       page=lambda errors: _merchant_form_page(request, db, principal, values=values, errors=errors),
                       message=_("Merchant registered."),
                       done=lambda merchant: request.url_for("tdeal_merchant", merchant_id=merchant.id))


def _merchant_page(request: Request, db, merchant, *, page: int = 1, values: dict | None = None,
                   errors: dict | None = None, product_values: dict | None = None,
                   product_errors: dict | None = None, status_code: int = 200):
    products, total = service.list_products(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                            merchant_id=merchant.id)
    if values is None:
        values = {"name": merchant.name, "category": merchant.category,
                  "is_small": "true" if merchant.is_small else "false"}
    return render(request, "skt/tdeal/merchant.html", {
        "merchant": merchant, "municipality": _names(db).get(merchant.municipality_id), "products": products,
        "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "values": values, "errors": errors or {}, "product_values": product_values or {},
        "product_errors": product_errors or {}}, status_code=status_code)


@router.get("/merchants/{merchant_id}", name="tdeal_merchant")
def merchant_page(request: Request, merchant: MerchantDep, db: SessionDep,
                  page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _merchant_page(request, db, merchant, page=page)


@router.post("/merchants/{merchant_id}/edit", name="tdeal_merchant_edit", dependencies=WRITER)
async def merchant_edit(request: Request, merchant: MerchantDep, db: SessionDep):
    values = form_to_dict(await request.form())
    # a blank name or category is an error here, not "leave unchanged" as in the API
    return answer_form(request, db, MerchantUpdate, {"name": "", "category": "", **values},
                       lambda d: service.update_merchant(db, merchant=merchant, data=d),
                       page=lambda errors: _merchant_page(request, db, merchant, values=values, errors=errors),
                       message=_("Merchant saved."), done=request.url_for("tdeal_merchant", merchant_id=merchant.id))


@router.post("/merchants/{merchant_id}/products", name="tdeal_product_new", dependencies=WRITER)
async def product_new(request: Request, merchant: MerchantDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, ProductIn,
                       {**{k: v for k, v in values.items() if k != "merchant_brn"}, "merchant_id": merchant.id},
                       lambda d: service.create_product(db, data=d),
                       page=lambda errors: _merchant_page(request, db, merchant, product_values=values,
                                                          product_errors=errors),
                       message=_("Product added."), done=request.url_for("tdeal_merchant", merchant_id=merchant.id))


# --- campaigns -------------------------------------------------------------------------------

def _merchant_choices(db, *, selected: list[int], region: frozenset[int] | None = None) -> tuple[list, bool]:
    """Merchants offered on a campaign form (those of ``region`` when given), the selected ones first;
    and whether the list was cut at :data:`MAX_CHOICES`."""
    chosen = set(selected)
    picked = list(db.scalars(service.merchant_query().where(TdealMerchant.id.in_(chosen)))) if chosen else []
    stmt = service.merchant_query()
    if region is not None:
        stmt = stmt.where(TdealMerchant.municipality_id.in_(region))
    others = [m for m in db.scalars(stmt.limit(MAX_CHOICES + 1)) if m.id not in chosen]
    return picked + others[:MAX_CHOICES], len(others) > MAX_CHOICES


def _selected_ids(values: dict) -> list[int]:
    """The merchant ids ticked on a form, leaving out anything that cannot be an id (the schema reports it)."""
    return [int(v) for v in values.get("merchant_ids", [])
            if str(v).isascii() and str(v).isdigit() and 1 <= int(v) <= INT32_MAX]


def _campaign_form_page(request: Request, db, principal: Principal, *, values: dict, errors: dict,
                        status_code: int = 200):
    merchants, cut = _merchant_choices(db, selected=_selected_ids(values))
    return render(request, "skt/tdeal/campaign_form.html", {
        "values": values, "errors": errors, "municipalities": _municipality_options(db, principal),
        "merchants": merchants, "cut": cut, "selected": set(_selected_ids(values)), "names": _names(db)},
        status_code=status_code)


@router.api_route("/campaigns/new", methods=["GET", "POST"], name="tdeal_campaign_new", dependencies=WRITER)
async def campaign_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return _campaign_form_page(request, db, principal, values={
            "municipality_code": _own_code(db, principal), "merchant_ids": []}, errors={})
    values = form_to_dict(await request.form(), lists=("merchant_ids",))
    return answer_form(request, db, CampaignIn, values, lambda data: service.create_campaign(db, data=data),
                       page=lambda errors: _campaign_form_page(request, db, principal, values=values, errors=errors),
                       message=_("Campaign created."),
                       done=lambda campaign: request.url_for("tdeal_campaign", campaign_id=campaign.id))


@router.get("/campaigns", name="tdeal_campaigns")
def campaigns(request: Request, db: SessionDep):
    items, total = service.list_campaigns(db, page=PageParams(limit=100, offset=0))
    return render(request, "skt/tdeal/campaigns.html", {
        "campaigns": items, "total": total, "counts": service.merchant_counts(db, campaign_ids=[c.id for c in items]),
        "names": _names(db), "today": today_seoul()})


class CouponForm(InputModel):
    db_table = "tdeal_coupon"
    code: Annotated[str, Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    name: ShortText
    discount_kind: DiscountKind
    discount_value: DiscountValue
    max_discount_krw: Won | None = None
    min_order_krw: Won = 0
    total_quantity: Quantity
    per_subscriber_limit: PerSubscriber = 1
    valid_from_date: date
    valid_until_date: date

    @model_validator(mode="after")
    def _order(self) -> CouponForm:
        in_range(self.valid_from_date)
        in_range(self.valid_until_date)
        if self.valid_until_date < self.valid_from_date:
            raise ValueError("valid_until must not be before valid_from")
        return self


def _campaign_page(request: Request, db, campaign, *, values: dict, errors: dict, status_code: int = 200,
                   edit_values: dict | None = None, edit_errors: dict | None = None):
    data = report.campaign_report(db, campaign=campaign)
    if edit_values is None:
        edit_values = {"name": campaign.name, "start_date": campaign.start_date.isoformat(),
                       "end_date": campaign.end_date.isoformat(), "description": campaign.description,
                       "merchant_ids": sorted(service.participant_ids(db, campaign_id=campaign.id))}
    merchants, cut = _merchant_choices(db, selected=_selected_ids(edit_values),
                                       region=service.region_ids(db, campaign=campaign))
    return render(request, "skt/tdeal/campaign.html", {
        "campaign": campaign, "r": data, "top": data["merchants"][:30], "values": values, "errors": errors,
        "edit_values": edit_values, "edit_errors": edit_errors or {}, "merchants": merchants, "cut": cut,
        "selected": set(_selected_ids(edit_values)), "names": _names(db),
        "region": _names(db).get(campaign.municipality_id)}, status_code=status_code)


@router.get("/campaigns/{campaign_id}", name="tdeal_campaign")
def campaign_page(request: Request, campaign: CampaignDep, db: SessionDep):
    return _campaign_page(request, db, campaign, values={}, errors={})


@router.post("/campaigns/{campaign_id}/coupons", name="tdeal_coupon_new", dependencies=WRITER)
async def coupon_new(request: Request, campaign: CampaignDep, db: SessionDep):
    values = form_to_dict(await request.form())

    def create(form: CouponForm):  # the form gives days; the coupon is valid from the first's start to the last's end
        payload = form.model_dump(exclude={"valid_from_date", "valid_until_date"})
        payload["valid_from_at"] = datetime.combine(form.valid_from_date, time(0), tzinfo=SEOUL)
        payload["valid_until_at"] = datetime.combine(form.valid_until_date, time(23, 59, 59), tzinfo=SEOUL)
        return service.create_coupon(db, data=validated(CouponIn, {**payload, "campaign_id": campaign.id}))

    return answer_form(request, db, CouponForm, values, create,
                       page=lambda errors: _campaign_page(request, db, campaign, values=values, errors=errors),
                       message=_("Coupon created."), done=request.url_for("tdeal_campaign", campaign_id=campaign.id))


def _coupon_page(request: Request, db, coupon, *, page: int = 1, values: dict | None = None,
                 errors: dict | None = None, status_code: int = 200):
    items, total = service.list_redemptions(db, coupon=coupon,
                                            page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    merchants = service.merchants_by_id(db, ids={r.merchant_id for r in items if r.merchant_id})
    campaign = service.get_campaign(db, campaign_id=coupon.campaign_id) if coupon.campaign_id else None
    return render(request, "skt/tdeal/coupon.html", {
        "coupon": coupon, "campaign": campaign, "redemptions": items, "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "merchants": merchants, "values": values or {},
        "errors": errors or {}}, status_code=status_code)


@router.get("/coupons/{coupon_id}", name="tdeal_coupon")
def coupon_page(request: Request, coupon: CouponDep, db: SessionDep,
                page: Annotated[int, Query(ge=1, le=100000)] = 1):
    """A coupon's redemptions (with merchant and order reference), each live one with its cancel form."""
    return _coupon_page(request, db, coupon, page=page)


@router.post("/redemptions/{redemption_id}/cancel", name="tdeal_redemption_cancel", dependencies=WRITER)
async def redemption_cancel(request: Request, redemption_id: Id, db: SessionDep):
    redemption = service.get_redemption(db, redemption_id=redemption_id)
    coupon_id = redemption.coupon_id
    values = form_to_dict(await request.form())
    return answer_form(request, db, RedemptionCancelIn, values, lambda data: service.cancel_redemption(
                           db, redemption_id=redemption.id, data=data),
                       page=lambda errors: _coupon_page(request, db, service.get_coupon(db, coupon_id=coupon_id),
                                                        values={**values, "redemption_id": redemption_id},
                                                        errors=errors),
                       message=_("Redemption {id} cancelled: the coupon is back with the subscriber.",
                                 id=redemption_id),
                       done=request.url_for("tdeal_coupon", coupon_id=coupon_id))


@router.post("/campaigns/{campaign_id}/edit", name="tdeal_campaign_edit", dependencies=WRITER)
async def campaign_edit(request: Request, campaign: CampaignDep, db: SessionDep):
    values = form_to_dict(await request.form(), lists=("merchant_ids",))
    return answer_form(request, db, CampaignUpdate, values,
                       lambda data: service.update_campaign(db, campaign=campaign, data=data),
                       page=lambda errors: _campaign_page(request, db, campaign, values={}, errors={},
                                                          edit_values=values, edit_errors=errors),
                       message=_("Campaign saved."), done=request.url_for("tdeal_campaign", campaign_id=campaign.id))


@router.get("/campaigns/{campaign_id}/report.csv", name="tdeal_campaign_csv")
def campaign_csv(campaign: CampaignDep, db: SessionDep,
                 part: Annotated[str, Query(pattern="^(merchants|cities|coupons|daily)$")] = "merchants"):
    data = report.campaign_report(db, campaign=campaign)
    if part == "cities":
        return csv_response(f"campaign-{campaign.id}-cities.csv",
                            ["municipality_code", "municipality", "merchants", "participants", "before_krw",
                             "during_krw"],
                            [[c["code"], c["municipality"], c["merchants"], c["participants"], c["before_krw"],
                              c["during_krw"]] for c in data["by_city"]])
    if part == "coupons":
        return csv_response(f"campaign-{campaign.id}-coupons.csv",
                            ["code", "name", "issued", "redeemed", "subscribers", "discount_krw"],
                            [[c["code"], c["name"], c["issued"], c["redeemed"], c["subscribers"], c["discount_krw"]]
                             for c in data["coupons"]])
    if part == "daily":
        return csv_response(f"campaign-{campaign.id}-daily.csv", ["date", "participants_krw", "others_krw"],
                            [[d["date"], d["participants_krw"], d["others_krw"]] for d in data["daily"]])
    return csv_response(f"campaign-{campaign.id}-merchants.csv",
                        ["merchant_id", "brn", "name", "category", "is_small", "participant", "municipality_code",
                         "before_krw", "during_krw", "orders", "change_krw"],
                        [[r["merchant_id"], r["brn"], r["name"], r["category"], int(r["is_small"]),
                          int(r["participant"]), r["municipality_code"], r["before_krw"], r["during_krw"],
                          r["orders"], r["change_krw"]] for r in data["merchants"]])


# --- recommendations -------------------------------------------------------------------------

@router.get("/recommendations", name="tdeal_models")
def models_page(request: Request, db: SessionDep, job: Id | None = None):
    """The models and their evaluation; with ``job``, the progress of that training job above them."""
    models = recommend.list_models(db)
    training = duties.get_training(db, job_id=job) if job is not None else None
    return render(request, "skt/tdeal/models.html", {
        "models": models, "latest": models[0] if models else None, "metrics": METRICS, "variants": VARIANTS,
        "names": _names(db), "training": training,
        "fraction": job_fraction(db, training) if training is not None else 0.0})


@router.get("/recommendations/training/{job_id}", name="tdeal_training_progress")
def training_progress(request: Request, job_id: Id, db: SessionDep):
    """The training's progress bar alone, polled by the page while the worker trains."""
    job = duties.get_training(db, job_id=job_id)
    return render(request, "skt/tdeal/_training.html", {"job": job, "fraction": job_fraction(db, job)})


@router.get("/recommendations.csv", name="tdeal_models_csv")
def models_csv(db: SessionDep):
    rows = []
    for m in recommend.list_models(db):
        for variant in VARIANTS:
            res = (m.metrics.get("results") or {}).get(variant)
            if res:
                rows.append([m.id, m.trained_at.isoformat(), variant, m.metrics.get("k"),
                             *[round(res[k], 5) for k in METRICS]])
    return csv_response("tdeal-evaluation.csv", ["model_id", "trained_at", "variant", "k", *METRICS], rows)


@router.post("/recommendations/train", name="tdeal_train", dependencies=WRITER)
async def train_page(request: Request, db: SessionDep):
    form = await request.form()
    code = str(form.get("municipality_code", "")).strip() or None

    def train(_data):
        mid = service.target_municipality_id(db, code=code)
        return duties.submit_training(db, queue=queue_for(request.app.state.settings), municipality_id=mid, params={})

    return answer_form(request, db, None, {}, train, back=request.url_for("tdeal_models"),
                       message=_("Training queued: the worker trains and evaluates the model."),
                       done=lambda job: request.url_for("tdeal_models").include_query_params(job=job.id))


# --- home widget -----------------------------------------------------------------------------

def widget(db, principal) -> dict[str, Any] | None:
    campaign = service.active_campaign(db, today=today_seoul())
    if campaign is None:
        return None
    return {"campaign": campaign, **report.campaign_summary(db, campaign=campaign)}
