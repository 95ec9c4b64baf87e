"""T deal's work for the worker (declared in the manifest): the nightly retraining of the recommender,
as one training job per municipality that has a model, each with its progress in the job table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core.db import utcnow
from app.core.jobs import Duty, DutyContext, JobContext, JobKind, queue_for, submit
from app.core.tenancy import bind_principal
from app.skt.tdeal import recommend
from app.skt.tdeal.models import TdealModel

TRAIN = "skt.tdeal.train"
FRESH = timedelta(hours=20)


def _retrain(ctx: DutyContext) -> None:
    """Queue a training job for each municipality whose recommender was trained before."""
    queue = queue_for(ctx.settings)
    for municipality_id in ctx.session.scalars(select(TdealModel.municipality_id).distinct()).all():
        params, trained_at = ctx.session.execute(
            select(TdealModel.params, TdealModel.trained_at).where(TdealModel.municipality_id == municipality_id)
            .order_by(TdealModel.id.desc()).limit(1)).one()
        if trained_at > utcnow() - FRESH:  # trained today already (by hand, or the demo's own model)
            continue
        params = params or {}
        submit(ctx.session, queue=queue, kind=TRAIN, municipality_id=municipality_id, ref=f"{TRAIN}:{municipality_id}",
               payload={k: params[k] for k in ("factors", "iterations", "regularization") if k in params})


def train(ctx: JobContext) -> dict[str, Any]:
    with ctx.database.unit_of_work() as session:
        bind_principal(session, ctx.principal)
        model = recommend.train(session, municipality_id=int(ctx.municipality_id or 0),
                                progress=lambda fraction, _label: ctx.progress(int(fraction * 1000), 1000),
                                **{k: v for k, v in ctx.payload.items()
                                   if k in ("factors", "iterations", "regularization")})
        return {"model_id": model.id, "events": model.n_events}


DUTIES = (Duty("skt.tdeal.retrain", 24 * 3600.0, _retrain, offset_s=17 * 3600.0),)  # 02:00 Seoul time
JOBS = (JobKind(TRAIN, train, max_attempts=2),)
