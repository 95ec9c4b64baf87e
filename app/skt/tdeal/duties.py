"""T deal's work for the worker (declared in the manifest): the nightly retraining of the recommender,
as one training job per municipality that has a model, each with its progress in the job table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import DomainError, NotFound
from app.core.jobs import Duty, DutyContext, Job, JobContext, JobKind, JobRefused, Queue, get_job, queue_for, submit
from app.core.tenancy import bind_principal
from app.skt.tdeal import recommend
from app.skt.tdeal.models import TdealModel

TRAIN = "skt.tdeal.train"
FRESH = timedelta(hours=20)
PARAMS = ("factors", "iterations", "regularization")


def submit_training(db: Session, *, queue: Queue, municipality_id: int, params: dict[str, Any]) -> Job:
    """Queue a training of ``municipality_id``'s recommender (the API, the page and the nightly duty)."""
    return submit(db, queue=queue, kind=TRAIN, municipality_id=municipality_id, ref=f"{TRAIN}:{municipality_id}",
                  payload={k: params[k] for k in PARAMS if k in params and params[k] is not None})


def get_training(db: Session, *, job_id: int) -> Job:
    """A training job the caller may see, else NotFound (a job of another kind is not found either)."""
    job = get_job(db, job_id=job_id)
    if job.kind != TRAIN:
        raise NotFound("Job {id} not found", id=job_id)
    return job


def _retrain(ctx: DutyContext) -> None:
    """Queue a training job for each municipality whose recommender was trained before."""
    queue = queue_for(ctx.settings)
    for municipality_id in ctx.session.scalars(select(TdealModel.municipality_id).distinct()).all():
        params, trained_at = ctx.session.execute(
            select(TdealModel.params, TdealModel.trained_at).where(TdealModel.municipality_id == municipality_id)
            .order_by(TdealModel.id.desc()).limit(1)).one()
        if trained_at > utcnow() - FRESH:  # trained today already (by hand, or the demo's own model)
            continue
        submit_training(ctx.session, queue=queue, municipality_id=municipality_id, params=params or {})


def train(ctx: JobContext) -> dict[str, Any]:
    """Train and store the model in one transaction, its progress in the job row. Data too thin to train
    on fails the job at once: a retry would find the same data."""
    try:
        with ctx.database.unit_of_work() as session:
            bind_principal(session, ctx.principal)
            model = recommend.train(session, municipality_id=int(ctx.municipality_id or 0),
                                    progress=lambda fraction, _label: ctx.progress(int(fraction * 1000), 1000),
                                    **{k: v for k, v in ctx.payload.items() if k in PARAMS})
            return {"model_id": model.id, "events": model.n_events}
    except DomainError as exc:
        raise JobRefused(exc.detail) from exc


DUTIES = (Duty("skt.tdeal.retrain", 24 * 3600.0, _retrain, offset_s=17 * 3600.0,  # 02:00 Seoul time
               title="Nightly recommender retraining"),)
JOBS = (JobKind(TRAIN, train, max_attempts=2, title="Recommender training"),)
