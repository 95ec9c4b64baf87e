"""A real uvicorn server on a free loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from app.core.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(database) -> Iterator[str]:
    settings = Settings(env="test", database_url=database.url, secret_key="e2e-secret-key-0123456789")
    app = create_app(settings, database)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", server_header=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # The worker's consumer beside the server, as `make run` has it: long work (imports, training) runs there.
    from app.core.jobs import queue_for

    queue = queue_for(settings)
    queue.bind(database)
    consumer = queue.huey.create_consumer(workers=1, worker_type="thread", periodic=False, initial_delay=0.02,
                                          backoff=1.3, max_delay=0.1, check_worker_health=False)
    consumer.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    consumer.stop(graceful=True)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is open,
    # which would stop later tests from using asyncio.run().
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (make test installs the dev extras)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="ko-KR", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    # Generous: these tests check what a user sees, not how fast (bench/ does); with the other test worker
    # training a model on the second core, a page or a background import may take several seconds.
    page.set_default_timeout(20_000)
    page.set_default_navigation_timeout(30_000)
    yield page
    context.close()


def sign_in(page, username: str, *, password: str = PASSWORD, then: str = "/") -> None:
    """Sign in through the form as a person does (an earlier sign-in's cookies cleared) and land on ``then``."""
    page.context.clear_cookies()
    page.goto("/login" if then == "/" else f"/login?next={then}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(then) + "$"))
