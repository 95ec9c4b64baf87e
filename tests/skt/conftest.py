"""One application per backend for the SKT tests.

FastAPI prepares each route's dependencies the first time an application resolves a URL or its OpenAPI
document, about a second for every route of every module; building the application once per backend pays
that once. The application holds only its settings and database, the database is emptied before every
test as before, and every test still gets its own client (its own cookies and session).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

_apps: dict[tuple[str, str], FastAPI] = {}


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    key = (database.url, settings.model_dump_json())
    found = _apps.get(key)
    if found is None:
        found = _apps[key] = create_app(settings, database)
    return found
