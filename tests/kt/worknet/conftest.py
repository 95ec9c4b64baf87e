"""Fixtures of the work-network tests: valid device numbers and a quick way to register routers."""

from __future__ import annotations

import itertools

import pytest

from app.kt.worknet.sealing import luhn_complete

_counter = itertools.count(1)


def imei() -> str:
    return luhn_complete(f"35{next(_counter):012d}")


def iccid() -> str:
    return luhn_complete(f"898230{next(_counter):013d}")


def router_body(serial: str, **extra) -> dict:
    return {"serial": serial, "model": "5G 에그 E500", "imei": imei(), "iccid": iccid(), **extra}


@pytest.fixture
def new_router(client):
    def make(headers: dict, serial: str, **extra) -> dict:
        r = client.post("/api/v1/kt/worknet/routers", json=router_body(serial, **extra), headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make
