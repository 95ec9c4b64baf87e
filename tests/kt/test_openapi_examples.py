"""The request examples vendors copy from the OpenAPI document are valid requests."""

from __future__ import annotations

import pytest

from app.kt.cctv.schemas import EventIn, HeartbeatIn
from app.kt.robots.schemas import StateBatchItem, StateIn

EXAMPLED = {("/api/v1/kt/cctv/events", EventIn), ("/api/v1/kt/cctv/heartbeats", HeartbeatIn),
            ("/api/v1/kt/robots/states", StateBatchItem), ("/api/v1/kt/robots/{robot_id}/state", StateIn)}


@pytest.mark.parametrize(("path", "model"), sorted(EXAMPLED, key=lambda e: e[0]))
def test_each_request_example_validates_as_the_endpoint_reads_it(client, path, model):
    spec = client.get("/openapi.json").json()
    examples = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    for example in examples.values():
        value = example["value"]
        for item in value if isinstance(value, list) else [value]:
            model.model_validate(item)
