"""The ``dxhub`` command: serve, migrate, demo, create-user, and what modules add."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from app.core.config import ROOT_DIR, get_settings


def alembic_config(database_url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT_DIR / "migrations"))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def migrate(database_url: str | None = None, revision: str = "heads") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


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


def _cmd_migrate(args: argparse.Namespace) -> int:
    migrate(revision=args.revision)
    print(f"Database migrated to {args.revision}.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from app.core.db import Database
    from app.core.manifest import install
    from app.modules import load_manifests
    from app.platform import demo

    install(load_manifests())
    db = Database(get_settings().database_url)
    try:
        if args.if_empty and not demo.is_empty(db):
            print("Demo data: the database already has data; nothing loaded.")
        else:
            demo.load_all(db)
            print("Demo data loaded.")
        demo.print_sign_ins()
    finally:
        db.dispose()
    return 0


def _cmd_create_user(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.core.db import Database
    from app.core.errors import DomainError
    from app.core.tenancy import SYSTEM, bind_principal
    from app.platform import accounts
    from app.platform.schemas import UserIn

    try:
        data = UserIn(username=args.username, password=args.password, role=args.role,
                      municipality_code=args.municipality, display_name=args.display_name or "")
    except ValidationError as exc:
        for err in exc.errors():
            print(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    db = Database(get_settings().database_url)
    try:
        with db.unit_of_work() as session:
            bind_principal(session, SYSTEM)
            user = accounts.create_user(session, data=data)
            print(f"Created user {user.username} ({user.role}).")
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0


# Backup and restore (app.core.backup) ---------------------------------------------------------------
def _cmd_backup(args: argparse.Namespace) -> int:
    from app.core.backup import BackupError, backup

    try:
        backup(get_settings().database_url, Path(args.file))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Backup written to {args.file}. Keep DXHUB_SECRET_KEY and the modules' sealing keys with it "
          "(see README, Backups): without them its sealed values cannot be opened.")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from app.core.backup import BackupError, restore

    try:
        restore(get_settings().database_url, Path(args.file))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Restored {args.file}. Run `dxhub migrate` if this release is newer than the backup.")
    return 0


def _add_backup_commands(sub: argparse._SubParsersAction) -> None:
    bk = sub.add_parser("backup", help="write a backup of the whole database to FILE (online)")
    bk.add_argument("file", metavar="FILE")
    bk.set_defaults(func=_cmd_backup)
    rs = sub.add_parser("restore", help="load a backup FILE into an empty database")
    rs.add_argument("file", metavar="FILE")
    rs.set_defaults(func=_cmd_restore)
# ------------------------------------------------------------------------------------------------------


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

    for manifest in load_manifests():
        if manifest.add_cli is not None:
            manifest.add_cli(sub)
    return parser


def _settings_error() -> str | None:
    """Why the settings are refused (e.g. the default secret outside development), or None."""
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as exc:
        return "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in exc.errors())
    return None


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path.cwd()))
    args = build_parser().parse_args(argv)
    refused = _settings_error()
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    if args.func is not _cmd_serve and not logging.getLogger().handlers:
        # serve configures logging for each of its processes itself; a host that set up logging already
        # (an embedding program, a test run) keeps its own.
        from app.core.logging import configure_logging

        configure_logging()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
