"""The ``dxhub`` command: serve, migrate, demo, create-user, and what modules add."""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from pathlib import Path

from app.core import commands
from app.core.config import ROOT_DIR, get_settings


def alembic_config(database_url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT_DIR / "migrations"))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def migrate(database_url: str | None = None, revision: str = "heads", *,
            app_database_url: str | None = None) -> str | None:
    """Upgrade the schema as its owner (``database_url``, else the settings' migration URL). Given the
    app's URL, grant the app's role its rights; answers why row-level security would not hold for the
    app's role, or None."""
    from alembic import command

    from app.core.rls import after_migrate

    owner_url = database_url or get_settings().migration_url
    command.upgrade(alembic_config(owner_url), revision)
    return after_migrate(owner_url, app_database_url) if app_database_url else None


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.core.logging import configure_logging

    settings = get_settings()
    log_config = configure_logging(settings)
    proxy_headers = settings.proxy_headers if args.proxy_headers is None else args.proxy_headers
    forwarded_allow_ips = args.forwarded_allow_ips or settings.forwarded_allow_ips
    print(f"DX Hub on http://{args.host}:{args.port}  (database: {settings.database_url})")
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        print("경고: SQLite에서는 실시간 화면이 자기 작업 프로세스의 변경만 받습니다. 작업 프로세스 1개 또는 "
              "PostgreSQL을 쓰세요. / Warning: on SQLite a live screen sees only the changes of its own worker; "
              "serve with one worker, or use PostgreSQL.", file=sys.stderr)
    # The app logs one line per request itself (app.core.observe), so uvicorn's access log is off.
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, reload=args.reload,
                workers=None if args.reload else args.workers, log_config=log_config, access_log=False,
                proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
                root_path=args.root_path, server_header=False)
    return 0


# --- worker and run (web + worker) ------------------------------------------------------------------

def _cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from app.core import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)  # one line per task is noise; ours say what ran
    settings = get_settings()
    if args.list:
        info = worker.describe(settings)
        print(f"queue: {info['queue']}")
        for key, period in info["duties"].items():
            print(f"duty  {key:<32} every {period:g} s")
        for key in info["jobs"]:
            print(f"job   {key}")
        return 0
    return worker.run_worker(settings, threads=args.threads)


def _cmd_run(args: argparse.Namespace) -> int:
    """The web app and one worker as two child processes; Ctrl-C (or either one ending) stops both."""
    import signal
    import subprocess
    import time

    me = [sys.executable, "-m", "app.cli"]
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (in background)
        signal.signal(signum, lambda n, _frame: stopping.append(n))
    procs = [subprocess.Popen([*me, "serve", "--host", args.host, "--port", str(args.port)]),
             subprocess.Popen([*me, "worker"])]
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.3)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return max(0, *(p.returncode or 0 for p in procs))


def _cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    warning = migrate(settings.migration_url, args.revision, app_database_url=settings.database_url)
    print(f"Database migrated to {args.revision}.")
    if warning:
        print(f"경고: 행 단위 보안(RLS)이 앱의 데이터베이스 역할에 적용되지 않습니다. / Warning: {warning}",
              file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from app.platform import demo

    with commands.database() as db:
        if args.if_empty and not demo.is_empty(db):
            print("Demo data: the database already has data; nothing loaded.")
        else:
            demo.load_all(db)
            print("Demo data loaded.")
        demo.print_sign_ins()
    return 0


def _cmd_create_user(args: argparse.Namespace) -> int:
    from app.platform import accounts
    from app.platform.schemas import UserIn

    data = UserIn(username=args.username, password=args.password, role=args.role,
                  municipality_code=args.municipality, display_name=args.display_name or "")
    with commands.system_session() as session:
        user = accounts.create_user(session, data=data)
        print(f"Created user {user.username} ({user.role}).")
    return 0


# Backup and restore (app.core.backup) ---------------------------------------------------------------
def _backup_step(step: str, file: str, done: str) -> int:
    """Run ``backup`` or ``restore`` of app.core.backup on ``file``: its refusal is an error line and exit 2."""
    from app.core import backup

    try:
        getattr(backup, step)(get_settings().migration_url, Path(file))
    except backup.BackupError as exc:
        return commands.fail(str(exc))
    print(done)
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    return _backup_step("backup", args.file, f"Backup written to {args.file}. Keep DXHUB_SEALING_KEYS and "
                        "DXHUB_LOOKUP_KEY with it (see README, Backups): without them its sealed values cannot "
                        "be opened.")


def _cmd_restore(args: argparse.Namespace) -> int:
    return _backup_step("restore", args.file,
                        f"Restored {args.file}. Run `dxhub migrate` if this release is newer than the backup.")


def _add_backup_commands(sub: argparse._SubParsersAction) -> None:
    bk = sub.add_parser("backup", help="write a backup of the whole database to FILE (online)")
    bk.add_argument("file", metavar="FILE")
    bk.set_defaults(func=_cmd_backup)
    rs = sub.add_parser("restore", help="load a backup FILE into an empty database")
    rs.add_argument("file", metavar="FILE")
    rs.set_defaults(func=_cmd_restore)
# ------------------------------------------------------------------------------------------------------


# --- keys and audit: sealing keys, the audit chain, access records --------------------------------

def _cmd_keys_generate(args: argparse.Namespace) -> int:
    from app.core.sealing import generate_key

    key = generate_key()
    print(key)
    print(f"# add it FIRST in DXHUB_SEALING_KEYS, e.g. DXHUB_SEALING_KEYS={args.key_id}:{key},<older keys>; "
          "then run `dxhub keys rotate`", file=sys.stderr)
    return 0


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    from app.core.rotation import rotate
    from app.core.sealing import keyring

    with commands.database() as db:  # every module's models and sealed fields
        print(f"Resealing under key {keyring().newest!r} (batches of {args.batch}).")
        reports = rotate(db, batch=args.batch, progress=print)  # as the worker's core.keys.rotate job does
    unreadable = [r for r in reports if r.unreadable]
    for r in reports:
        print(f"{r.name}: {r.total} values, {r.resealed} resealed, {r.skipped} already under the newest key")
    if unreadable:
        for r in unreadable:
            print(f"error: {r.name}: {len(r.unreadable)} values do not open (rows {r.unreadable[:20]}); "
                  "keep the older keys until they are dealt with", file=sys.stderr)
        return 1
    print("Every sealed value is under the newest key: older keys can now leave DXHUB_SEALING_KEYS.")
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from app.platform.auditchain import CHAINS, verify

    failed = False
    with commands.system_session(write=False) as session:  # the whole chain, every tenant
        for chain in CHAINS:
            v = verify(session, chain)
            if v.ok:
                print(f"{chain}: ok, {v.checked} entries verified; head {v.head_seq} {v.head_hash}")
            else:
                failed = True
                print(f"{chain}: TAMPERED after {v.checked} good entries: {v.problem}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from app.core.csvout import csv_text
    from app.platform import audit

    try:
        audit.month_bounds(args.month)
    except ValueError as exc:
        return commands.fail(str(exc))
    output = Path(args.output or f"access-{args.month}.csv")
    with commands.system_session() as session:
        rows = list(audit.access_export_rows(session, month=args.month))
        output.write_text("\ufeff" + csv_text(audit.ACCESS_EXPORT_HEADER, rows), encoding="utf-8")
        audit.record(session, action="export", object_type="access_log", object_id=args.month,
                     municipality_id=None, after={"rows": len(rows), "file": output.name})
    print(f"{len(rows)} access records of {args.month} written to {output}.")
    return 0


def _cmd_audit_purge(args: argparse.Namespace) -> int:
    from app.core.tenancy import SYSTEM
    from app.platform.auditchain import RetentionSettings, purge_expired

    settings = RetentionSettings()
    with commands.database() as db:
        session = db.session(write=True, principal=SYSTEM)  # purge_expired commits batch by batch
        try:
            counts = purge_expired(session, settings=settings, progress=print)
        finally:
            session.close()
    for chain, n in counts.items():
        print(f"{chain}: {n} entries older than {settings.days(chain)} days purged; the chain still verifies.")
    return 0


def _add_keys_and_audit(sub) -> None:
    keys = sub.add_parser("keys", help="sealing keys of personal values").add_subparsers(dest="keys", required=True)
    gen = keys.add_parser("generate", help="print a new random key for DXHUB_SEALING_KEYS or DXHUB_LOOKUP_KEY")
    gen.add_argument("--key-id", default="k2", help="the id to show in the example line")
    gen.set_defaults(func=_cmd_keys_generate)
    rot = keys.add_parser("rotate", help="reseal every sealed value under the newest key (resumable)")
    rot.add_argument("--batch", type=int, default=500)
    rot.set_defaults(func=_cmd_keys_rotate)

    aud = sub.add_parser("audit", help="the audit trail and access records").add_subparsers(dest="audit",
                                                                                           required=True)
    aud.add_parser("verify", help="walk the hash chains; name the first entry altered, inserted or removed"
                   ).set_defaults(func=_cmd_audit_verify)
    exp = aud.add_parser("export", help="write a month's access records (CSV) for the monthly review")
    exp.add_argument("--month", required=True, help="YYYY-MM (Seoul calendar)")
    exp.add_argument("--output", help="file to write (default access-YYYY-MM.csv)")
    exp.set_defaults(func=_cmd_audit_export)
    aud.add_parser("purge", help="delete entries past their retention (DXHUB_AUDIT_RETENTION_DAYS, "
                   "DXHUB_ACCESS_RETENTION_DAYS)").set_defaults(func=_cmd_audit_purge)


def build_parser() -> argparse.ArgumentParser:
    from app.modules import load_manifests

    parser = argparse.ArgumentParser(prog="dxhub", description="DX Hub: municipal DX programs platform")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app and the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true")
    serve.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=None,
                       help="trust X-Forwarded-Proto/-For from --forwarded-allow-ips (default: DXHUB_PROXY_HEADERS)")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="comma-separated proxy addresses trusted (default: DXHUB_FORWARDED_ALLOW_IPS)")
    serve.add_argument("--root-path", default="", metavar="PREFIX",
                       help="the path prefix the proxy serves the site under (e.g. /dxhub), stripped by the proxy")
    serve.set_defaults(func=_cmd_serve)

    wrk = sub.add_parser("worker", help="run duties on their clock and queued jobs (imports, training)")
    wrk.add_argument("--threads", type=int, default=None, help="tasks run at once (default: DXHUB_WORKER_THREADS)")
    wrk.add_argument("--list", action="store_true", help="print the queue, the duties and the job kinds, then exit")
    wrk.set_defaults(func=_cmd_worker)

    run = sub.add_parser("run", help="serve the web app and run a worker together (Ctrl-C stops both)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(func=_cmd_run)

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.add_argument("--revision", default="heads")
    mig.set_defaults(func=_cmd_migrate)

    demo = sub.add_parser("demo", help="load the demo municipalities, partners, programs and users")
    demo.add_argument("--if-empty", action="store_true", help="only when the database has no data")
    demo.set_defaults(func=_cmd_demo)

    cu = sub.add_parser("create-user", help="create a staff account")
    cu.add_argument("--username", required=True)
    cu.add_argument("--password", required=True)
    cu.add_argument("--role", required=True, choices=["platform_admin", "municipal_admin", "staff", "viewer"])
    cu.add_argument("--municipality", help="10-digit code of the municipality the user belongs to")
    cu.add_argument("--display-name")
    cu.set_defaults(func=_cmd_create_user)

    _add_backup_commands(sub)
    _add_keys_and_audit(sub)

    for manifest in load_manifests():
        if manifest.add_cli is not None:
            manifest.add_cli(sub)
    return parser


def _settings_error() -> str | None:
    """Why the settings are refused (e.g. the default secret outside development), or None."""
    from pydantic import ValidationError

    from app.core.sealing import settings_error

    try:
        get_settings()
    except ValidationError as exc:
        return "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in exc.errors())
    return settings_error()


def main(argv: list[str] | None = None) -> int:
    from app.core.origin import origin_scope

    sys.path.insert(0, str(Path.cwd()))
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    refused = _settings_error()
    if refused:
        return commands.fail(refused)
    if args.func is not _cmd_serve and not logging.getLogger().handlers:
        # serve configures logging for each of its processes itself; a host that set up logging already
        # (an embedding program, a test run) keeps its own.
        from app.core.logging import configure_logging

        configure_logging()
    # The audit trail names the command, never its options (a password may be among them).
    words = list(itertools.takewhile(lambda w: not w.startswith("-"), argv))[:2]
    with origin_scope("cli", " ".join(["dxhub", *words])):
        return commands.run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
