"""Sealing on AES-256-GCM: key ids, associated data naming the row, the keyring, and `dxhub keys rotate`."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select, text, update

from app.cli import main
from app.core.config import get_settings
from app.core.sealing import Unreadable, generate_key, key_id, parse_keys, reset_keyring, settings_error
from app.core.sealing_legacy import legacy_seal
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.voicebot.models import VoicebotRequest
from app.kt.voicebot.service import REQUEST_ACCOUNT
from app.kt.worknet import service as worknet
from app.kt.worknet.models import Router
from app.kt.worknet.schemas import RouterIn
from app.kt.worknet.sealing import ICCID
from tests.kt.worknet.conftest import iccid, imei

K1, K2 = generate_key(), generate_key()
ACCOUNT = "302-1234-5678-91"


@pytest.fixture
def keys(monkeypatch):
    """Set the environment's keys (and forget the cached ones) for the test; restored afterwards."""

    def use(value: str | None, lookup: str | None = K1, **env: str) -> None:
        for name, v in {"DXHUB_SEALING_KEYS": value, "DXHUB_LOOKUP_KEY": lookup, **env}.items():
            if v is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, v)
        get_settings.cache_clear()
        reset_keyring()

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_keyring()


def test_the_keyring_reads_ids_and_refuses_bad_keys():
    assert [k for k, _ in parse_keys(f"k2:{K2}, k1:{K1}")] == ["k2", "k1"]
    for bad, says in [("k1", "<id>:<base64 key>"), (f"k1:{K1},k1:{K2}", "twice"),
                      ("k1:" + base64.b64encode(os.urandom(16)).decode(), "32 bytes"), ("", "no key"),
                      ("bad id!:" + K1, "<id>")]:
        with pytest.raises(ValueError, match=says):
            parse_keys(bad)


def test_production_refuses_missing_keys_and_development_warns(keys, caplog):
    keys(None, lookup=None, DXHUB_ENV="production", DXHUB_SECRET_KEY="a-production-secret-0123456789abcdef")
    assert "DXHUB_SEALING_KEYS must be set in production" in settings_error()
    assert main(["keys", "generate"]) == 2  # the CLI refuses to run at all
    keys(f"k1:{K1}", lookup=None, DXHUB_ENV="production", DXHUB_SECRET_KEY="a-production-secret-0123456789abcdef")
    assert "DXHUB_LOOKUP_KEY must be set in production" in settings_error()
    keys(f"k1:{K1}", DXHUB_ENV="production", DXHUB_SECRET_KEY="a-production-secret-0123456789abcdef")
    assert settings_error() is None
    keys(None, lookup=None, DXHUB_ENV="test")
    with caplog.at_level("WARNING", logger="dxhub.sealing"):
        assert settings_error() is None
    assert "development key" in caplog.text


def test_a_value_opens_only_on_its_own_row_column_and_purpose(keys):
    keys(f"k1:{K1}")
    sealed = REQUEST_ACCOUNT.seal(ACCOUNT, row=("token-a",))
    assert sealed.startswith("s2:k1:") and key_id(sealed) == "k1" and ACCOUNT not in sealed
    assert REQUEST_ACCOUNT.unseal(sealed, row=("token-a",)) == ACCOUNT
    for field, row in [(REQUEST_ACCOUNT, ("token-b",)), (ICCID, (1, "token-a"))]:
        with pytest.raises(Unreadable):
            field.unseal(sealed, row=row)
    with pytest.raises(Unreadable, match="no longer"):
        keys(f"k2:{K2}")
        REQUEST_ACCOUNT.unseal(sealed, row=("token-a",))
    with pytest.raises(ValueError, match="named by"):
        REQUEST_ACCOUNT.seal(ACCOUNT, row=(None,))  # a row without its natural key yet cannot be sealed


def _routers(database, count: int) -> list[tuple[int, str, str]]:
    made = []
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        for i in range(count):
            number = iccid()
            r = worknet.create_router(s, data=RouterIn(serial=f"RT-{i:03d}", model="E500", imei=imei(), iccid=number,
                                                       municipality_code="4812000000"))
            made.append((r.id, r.serial, number))
    return made


def test_rotate_reseals_everything_then_the_old_key_can_go(keys, world, database, monkeypatch, capsys):
    keys(f"k1:{K1}", DXHUB_DATABASE_URL=database.url, DXHUB_SECRET_KEY="legacy-secret-0123456789")
    routers = _routers(database, 3)
    mid = world.changwon.id
    with database.unit_of_work(principal=SYSTEM) as s:
        # A request sealed under k1, and one router still in the former v1 format.
        s.add(VoicebotRequest(municipality_id=mid, token="tok-1", service_code="tax_refund", department="세정과",
                              account_sealed=REQUEST_ACCOUNT.seal(ACCOUNT, row=("tok-1",))))
        legacy_id, legacy_serial, legacy_iccid = routers[0]
        s.execute(update(Router).where(Router.id == legacy_id).values(
            iccid_sealed=legacy_seal(ICCID, legacy_iccid), iccid_digest="old-digest-under-the-secret-key"))

    keys(f"k2:{K2},k1:{K1}", DXHUB_DATABASE_URL=database.url, DXHUB_SECRET_KEY="legacy-secret-0123456789")
    assert main(["keys", "rotate", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "worknet_router.iccid_sealed: 2/3 (resealed 2" in out and "3/3 (resealed 3" in out  # per batch
    assert "older keys can now leave" in out

    keys(f"k2:{K2}", DXHUB_DATABASE_URL=database.url)  # k1 removed, and the legacy secret forgotten
    with database.unit_of_work(principal=SYSTEM) as s:
        for rid, serial, number in routers:
            r = s.get(Router, rid)
            assert key_id(r.iccid_sealed) == "k2"
            assert ICCID.unseal(r.iccid_sealed, row=(mid, serial)) == number
            assert r.iccid_digest == ICCID.digest(number)  # the legacy digest was recomputed: duplicates found
        req = s.scalar(select(VoicebotRequest).where(VoicebotRequest.token == "tok-1"))
        assert REQUEST_ACCOUNT.unseal(req.account_sealed, row=("tok-1",)) == ACCOUNT
        # A value copied onto another row (another router, same column and purpose) does not open there.
        a, b = s.get(Router, routers[1][0]), s.get(Router, routers[2][0])
        with pytest.raises(Unreadable):
            ICCID.unseal(a.iccid_sealed, row=(mid, b.serial))
        entry = s.execute(text("SELECT after FROM audit_log WHERE action = 'rotate_keys'")).scalar_one()
        assert "worknet_router.iccid_sealed" in str(entry)

    # A second run finds everything current (resumable, idempotent) and changes nothing.
    with database.unit_of_work(principal=SYSTEM) as s:
        before = s.execute(text("SELECT id, iccid_sealed FROM worknet_router ORDER BY id")).all()
    assert main(["keys", "rotate"]) == 0
    assert "3 values, 0 resealed, 3 already under the newest key" in capsys.readouterr().out
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.execute(text("SELECT id, iccid_sealed FROM worknet_router ORDER BY id")).all() == before


def test_rotate_names_values_that_do_not_open_and_keeps_going(keys, world, database, capsys):
    keys(f"k1:{K1}", DXHUB_DATABASE_URL=database.url)
    routers = _routers(database, 2)
    with database.unit_of_work(principal=SYSTEM) as s:  # one value pasted from the other router: it cannot open here
        s.execute(update(Router).where(Router.id == routers[0][0]).values(
            iccid_sealed=s.get(Router, routers[1][0]).iccid_sealed))
    keys(f"k2:{K2},k1:{K1}", DXHUB_DATABASE_URL=database.url)
    assert main(["keys", "rotate"]) == 1
    captured = capsys.readouterr()
    assert f"1 values do not open (rows [{routers[0][0]}])" in captured.err and "keep the older keys" in captured.err
    with database.unit_of_work(principal=SYSTEM) as s:
        assert key_id(s.get(Router, routers[1][0]).iccid_sealed) == "k2"


def test_rotation_runs_as_a_job_of_the_worker_with_the_same_outcome(keys, world, database, job_queue):
    """``core.keys.rotate``: the run of ``dxhub keys rotate``, queued, in the worker, its outcome in the job table."""
    from app.core.jobs import submit
    from app.core.jobs_models import Job

    keys(f"k1:{K1}", DXHUB_DATABASE_URL=database.url)
    routers = _routers(database, 3)
    keys(f"k2:{K2},k1:{K1}", DXHUB_DATABASE_URL=database.url)
    with database.unit_of_work(principal=SYSTEM) as s:
        job_id = submit(s, queue=job_queue, kind="core.keys.rotate", payload={"batch": 2}).id
    assert job_queue.drain() == 1
    with database.unit_of_work(principal=SYSTEM) as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded" and job.attempts == 1, job.error
        assert job.result["worknet_router.iccid_sealed"] == {"total": 3, "resealed": 3, "current": 0}
        assert all(key_id(s.get(Router, rid).iccid_sealed) == "k2" for rid, _serial, _n in routers)
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'rotate_keys'")).scalar_one() == 1
