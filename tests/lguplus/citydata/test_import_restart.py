"""A large import survives its worker: `dxhub worker` (a real process) is killed in the middle of an
import; a new worker finds the job's worker gone, runs it again from the kept file, and the rows are all
there once (the first attempt's transaction left nothing)."""

from __future__ import annotations

import signal

from sqlalchemy import select

from app.core.config import Settings
from app.core.jobs import fraction, queue_for
from app.core.jobs_models import Job
from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.citydata import jobs
from app.lguplus.citydata.models import CitydataImportJob, CitydataLivingPopulation
from tests.core.test_worker_processes import start_worker, stop, wait_for, worker_env
from tests.lguplus.citydata.conftest import HANCHEON, HWASUN_EUP, count_rows
from tests.lguplus.citydata.test_imports import living_csv


def test_an_import_cut_off_by_a_killed_worker_is_finished_by_the_next(database, county, tmp_path):
    # a year of hours for two zones, by sex and six age bands: large enough to take many seconds
    lines = [f"2024-{m:02d}-{d:02d},{hr},{zone},{sex},{age},visitor,,{d + hr}" for m in range(1, 13)
             for d in range(1, 29) for hr in range(24) for zone in (HWASUN_EUP, HANCHEON) for sex in ("M", "F")
             for age in ("20-29", "30-39", "40-49", "50-59", "60-69", "70+")]
    source = tmp_path / "living.csv"
    source.write_text(living_csv(lines), encoding="utf-8")
    settings = Settings(database_url=database.url, data_dir=tmp_path / "var")
    queue = queue_for(settings)
    queue.bind(database)
    queue.huey.flush()
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        imp = jobs.new_job(s, municipality_id=county.id, kind="living_population", filename="living.csv",
                           bytes_total=source.stat().st_size)
        core_id = jobs.enqueue(s, queue=queue, job=imp, path=source).id
        imp_id = imp.id

    # reads only (write=False): on SQLite the import holds the one write lock while it runs
    def core_job() -> Job:
        with database.unit_of_work(write=False, principal=SYSTEM) as s:
            return s.get(Job, core_id)

    def under_way() -> bool:
        with database.unit_of_work(write=False, principal=SYSTEM) as s:
            job = s.get(Job, core_id)
            return job.status == "running" and fraction(s, job) > 0

    env = worker_env(database.url, tmp_path / "var")
    first = start_worker(env, tmp_path / "worker-1.log")
    try:
        wait_for(under_way, within_s=180, what="the import is under way", procs=[first])
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        stop([first])
    assert core_job().status == "running" and core_job().attempts == 1  # cut off mid-way
    assert count_rows(database, CitydataLivingPopulation) == 0  # its transaction left nothing

    second = start_worker(env, tmp_path / "worker-2.log")
    try:
        wait_for(lambda: core_job().status in ("succeeded", "failed"), within_s=300, what="the import ends",
                 procs=[second])
    finally:
        stop([second])
    job = core_job()
    assert job.status == "succeeded" and job.attempts == 2 and "stopped" in job.error  # why it ran twice
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        imp = s.scalar(select(CitydataImportJob).where(CitydataImportJob.id == imp_id))
        assert imp.status == "done" and imp.rows_done == len(lines)
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
    assert not list((tmp_path / "var" / "citydata-uploads").iterdir())  # the kept file is gone once done


def test_an_import_run_again_after_its_outcome_was_stored_adds_nothing(database, county, job_queue, tmp_path):
    """A worker that dies between the import's commit and marking its job succeeded: the job runs again
    and finds the import done."""
    lines = [f"2024-01-{d:02d},{hr},{HWASUN_EUP},all,all,visitor,,{d + hr}" for d in range(1, 11) for hr in range(24)]
    source = tmp_path / "small.csv"
    source.write_text(living_csv(lines), encoding="utf-8")
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        imp = jobs.new_job(s, municipality_id=county.id, kind="living_population", filename="small.csv",
                           bytes_total=source.stat().st_size)
        core_id = jobs.enqueue(s, queue=job_queue, job=imp, path=source).id
    job_queue.drain()
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
    with database.unit_of_work(principal=SYSTEM) as s:
        s.get(Job, core_id).status = "queued"  # as the recovery round leaves it after such a crash
    job_queue.run_job(core_id)
    job_queue.drain()
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        job = s.get(Job, core_id)
        assert job.status == "succeeded" and job.attempts == 2 and job.result["status"] == "done"
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
