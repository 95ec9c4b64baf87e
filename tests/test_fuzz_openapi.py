"""The OpenAPI fuzzer against the app on PostgreSQL: every operation, as a platform admin and as a staff
member, over real data. No answer may be a server error, and every answer (status code, content type,
body) must be one the OpenAPI documents.

PostgreSQL only: SQLite ignores the limits (integer ranges, NUL bytes, string lengths) whose breach the
fuzzer looks for. Bounded and reproducible: ``FUZZ_EXAMPLES`` cases per operation and role, generated
deterministically (``derandomize``), so one run costs the same on every machine and a failure recurs. The data: two
municipalities with every module's ``sample_data`` (as the tenancy walk has), so generated ids hit real
objects as well as absent ones.
The figures (operations, cases, failures, time) are printed at the end (``pytest -s`` or ``-rA``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from starlette.testclient import TestClient

from app.core.manifest import installed
from app.core.security import hash_password
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import User
from tests.conftest import PASSWORD, make_world

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency: pip install -e .[dev]")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_EXAMPLES = int(os.environ.get("DXHUB_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Ids far from those the demo and the fuzzer's own writes use, so that no generated write (a PATCH that
# deactivates a user, a password change) ends the fuzzer's own sign-in.
FUZZ_USERS = {"fuzz.admin": (1_234_567_001, "platform_admin", None),
              "fuzz.staff": (1_234_567_002, "staff", "4812000000")}
# Server-sent event streams never end; a stream is fuzzed through its siblings' dependencies (same site lookup).
SKIPPED_SUFFIXES = ("/stream",)

pytestmark = [pytest.mark.postgres_only, pytest.mark.fuzz]


def _load_data(database) -> None:
    """Two tenants with every module's sample objects (real ids to hit), and the fuzzer's own users."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        world = make_world(s)
        for municipality in (world.changwon, world.ulsan):
            for manifest in installed().values():
                if manifest.sample_data is not None:
                    manifest.sample_data(s, municipality.id)
        password_hash = hash_password(PASSWORD)
        for username, (user_id, role, code) in FUZZ_USERS.items():
            municipality_id = world.changwon.id if code else None
            s.add(User(id=user_id, username=username, display_name=username, role=role,
                       password_hash=password_hash, municipality_id=municipality_id))


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _fuzz_operation(operation, headers: dict[str, str], counts: Counter, failures: dict[str, str]) -> None:
    label = operation.label

    @given(case=operation.as_strategy())
    @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=False)
    def run(case) -> None:
        counts["cases"] += 1
        try:
            # Generous: the first call of some operations trains a model (the voicebot's classifier).
            response = case.call(headers=headers, timeout=120)
            counts[f"{response.status_code // 100}xx"] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            counts["failures"] += 1
            failures.setdefault(label, str(group)[:3000])
        except Exception as exc:  # a transport error is a failure too, reported with the case
            counts["failures"] += 1
            failures.setdefault(label, f"{type(exc).__name__}: {exc}\n{case.as_curl_command(headers=headers)}")

    run()


def test_fuzz_every_operation(database, settings, app, capsys) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded queue's directory: /readyz is ready
    if database.is_sqlite:
        pytest.skip("the fuzzer looks for PostgreSQL's limits; SQLite ignores them")
    started = time.perf_counter()
    _load_data(database)
    counts: Counter = Counter()
    failures: dict[str, str] = {}
    with TestClient(app) as client:
        tokens = {username: _bearer(client, username) for username in FUZZ_USERS}
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        operations = [op for op in operations if not op.path.endswith(SKIPPED_SUFFIXES)
                      and os.environ.get("DXHUB_FUZZ_ONLY", "") in op.path]  # e.g. DXHUB_FUZZ_ONLY=/citydata/
        setup_s = time.perf_counter() - started
        for username, headers in tokens.items():
            for operation in operations:
                counts["runs"] += 1
                _fuzz_operation(operation, headers, counts, failures)
                if os.environ.get("DXHUB_FUZZ_TRACE"):
                    print(username, operation.label, counts["cases"], round(time.perf_counter() - started, 1))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nfuzz: {len(operations)} operations x {len(FUZZ_USERS)} roles, {counts['cases']} cases, "
              f"{counts['failures']} failures ({len(failures)} operations), {elapsed:.0f} s "
              f"(set-up {setup_s:.0f} s); answers: " + ", ".join(f"{k} {counts[k]}" for k in ("2xx", "4xx", "5xx")))
    report: list[Any] = [f"{label}:\n{text}" for label, text in sorted(failures.items())]
    assert not failures, "\n\n".join(report)
