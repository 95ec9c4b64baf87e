"""A throwaway copy of Debian's FreeRADIUS configuration for the tests: our users file in place of the
``files`` module's, the server kept as the current user, logs and accounting under the copy, and
(to run it) auth and accounting listeners on loopback ports of our choosing.

``python tests/kt/worknet/freeradius_conf.py listen RADDB AUTH_PORT ACCT_PORT`` rewrites the listeners of
an existing copy (fixtures/radius/make-detail.sh uses it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

DEBIAN_RADDB = Path("/etc/freeradius/3.0")


def unavailable() -> str | None:
    """Why FreeRADIUS cannot be run here, or None."""
    if shutil.which("freeradius") is None:
        return "Debian's freeradius is not installed (.ci/run installs it)"
    if not os.access(DEBIAN_RADDB / "radiusd.conf", os.R_OK):
        return f"{DEBIAN_RADDB} is not readable by this user (FreeRADIUS keeps it to root and freerad)"
    return None


def copy_config(target: Path, users: str | None = None) -> Path:
    """Copy Debian's configuration to ``target`` (its own logs, run directory, no user switch)."""
    shutil.copytree(DEBIAN_RADDB, target, symlinks=False)
    conf = target / "radiusd.conf"
    text = conf.read_text()
    text = re.sub(r"^(\s*)(user|group) = freerad", r"\1#\2 = freerad", text, flags=re.M)
    text = re.sub(r"^logdir = .*$", f"logdir = {target / 'log'}", text, flags=re.M)
    text = re.sub(r"^run_dir = .*$", f"run_dir = {target / 'run'}", text, flags=re.M)
    conf.write_text(text)
    (target / "log").mkdir()
    (target / "run").mkdir()
    if users is not None:
        (target / "mods-config" / "files" / "authorize").write_text(users)
    return target


def free_port() -> int:
    """A UDP port free on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_on(raddb: Path, auth_port: int, acct_port: int) -> None:
    """Replace the sites' listeners by auth and accounting on 127.0.0.1 (no fixed ports taken)."""
    for name in ("default", "inner-tunnel"):
        path = raddb / "sites-enabled" / name
        text = re.sub(r"^listen \{.*?^\}\n", "", path.read_text(), flags=re.M | re.S)
        if name == "default":
            listeners = "".join(f"listen {{\n\ttype = {kind}\n\tipaddr = 127.0.0.1\n\tport = {port}\n}}\n"
                                for kind, port in (("auth", auth_port), ("acct", acct_port)))
            text = text.replace("server default {\n", "server default {\n" + listeners, 1)
        path.unlink()
        path.write_text(text)


def check(raddb: Path) -> subprocess.CompletedProcess:
    """``freeradius -XC``: load every module and file of the configuration, then exit."""
    return subprocess.run(["freeradius", "-XC", "-d", str(raddb)], capture_output=True, text=True, timeout=60)


if __name__ == "__main__":
    if sys.argv[1:2] == ["listen"] and len(sys.argv) == 5:
        listen_on(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
