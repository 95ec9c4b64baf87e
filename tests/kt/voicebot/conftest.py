"""Fixtures of the voicebot tests: fee tables, FAQ tables and a refund due in both tenants of the test world."""

from __future__ import annotations

import contextlib
import io
import os
from datetime import date

import pytest
from sqlalchemy import insert

from app.core.tenancy import SYSTEM, bind_principal
from app.kt.voicebot import classifier, publication, service
from app.kt.voicebot.demo import _fee_rows, faq_rows
from app.kt.voicebot.models import VoicebotFaqEntry, VoicebotFeeItem, VoicebotServiceSetting, VoicebotTaxRefund
from app.platform import accounts
from app.platform.schemas import ApiKeyIn

CALLER = "010-1234-5678"
BIRTH = "850312"


@pytest.fixture(scope="session")
def trained_model_file(tmp_path_factory):
    """`dxhub voicebot train` once per session: the model file, and what the command printed."""
    from app.cli import main

    target = tmp_path_factory.mktemp("voicebot") / "model.pkl"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["voicebot", "train", "--output", str(target)]) == 0
    return target, out.getvalue()


@pytest.fixture(scope="session", autouse=True)
def intent_model(trained_model_file):
    """The process's model, loaded from the file the command wrote (trained once per session)."""
    previous = os.environ.get(classifier.MODEL_ENV)
    os.environ[classifier.MODEL_ENV] = str(trained_model_file[0])
    try:
        classifier._model = None
        return classifier.get_model()
    finally:
        if previous is None:
            os.environ.pop(classifier.MODEL_ENV, None)
        else:
            os.environ[classifier.MODEL_ENV] = previous


@pytest.fixture
def vb_world(world, database):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        # FAQ: 창원시 gets the demo's 이천시 answers (창전동...), 울산 the 거제시 ones (옥포1동...).
        for muni, faq_code in ((world.changwon, "4150000000"), (world.ulsan, "4831000000")):
            s.execute(insert(VoicebotFeeItem.__table__), _fee_rows(muni.id, muni.code))
            s.execute(insert(VoicebotFaqEntry.__table__), faq_rows(muni.id, faq_code))
            s.execute(insert(VoicebotServiceSetting.__table__), publication.default_rows(muni.id))
            s.execute(insert(VoicebotTaxRefund.__table__).values(
                municipality_id=muni.id, phone_hash=service.caller_hash(CALLER), birth=BIRTH, tax_type="자동차세",
                amount_krw=35400, reason="연납 환급", status="due", due_since_date=date(2026, 3, 1)))
    return world


@pytest.fixture
def api_key(vb_world, database):
    """An Open311 client's key in 창원시 with kt.voicebot:write and kt.voicebot:read."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        _key, secret = accounts.create_api_key(s, data=ApiKeyIn(name="civic app", municipality_code="4812000000",
                                                                scopes=["kt.voicebot:write", "kt.voicebot:read"]))
    return secret


def refund_request_with_account(client, headers, database, account: str) -> int:
    """A refund claim that holds a sealed account: one filed before accounts stopped being taken by voice
    (the bot now files the claim with a staff call-back), kept for the audited reveal on the staff page."""
    import json

    from sqlalchemy import text

    from tests.kt.voicebot.test_calls_api import say, start

    call = start(client, headers)
    for said in ("지방세 환급 받을 거 있나요", BIRTH):
        say(client, headers, call["id"], said)
    request_id = say(client, headers, call["id"], "네")["request_id"]
    with database.scoped_connection(SYSTEM) as conn:
        token, attributes = conn.execute(text("SELECT token, attributes FROM vb_request WHERE id = :id"),
                                         {"id": request_id}).one()
        attributes = json.loads(attributes) if isinstance(attributes, str) else dict(attributes)
        attributes.update(bank="농협", account="*" * (len(account) - 5) + account[-5:])
        conn.execute(text("UPDATE vb_request SET account_sealed = :v, attributes = :a WHERE id = :id"),
                     {"v": service.REQUEST_ACCOUNT.seal(account, row=(token,)), "a": json.dumps(attributes),
                      "id": request_id})
    return request_id
