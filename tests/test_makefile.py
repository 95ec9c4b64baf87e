"""`make run` serves on the port given (`make run PORT=8001`), 8000 by default."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dry_run(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", "-C", str(ROOT), "run", *args], capture_output=True, text=True, check=True)
    return done.stdout


def test_make_run_passes_the_port():
    assert "dxhub run --host 127.0.0.1 --port 8001" in _dry_run("PORT=8001")
    assert "dxhub run --host 127.0.0.1 --port 8000" in _dry_run()
