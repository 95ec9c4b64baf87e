"""The ``dxhub`` command: serve, migrate, demo, create-user, and what modules add."""

from __future__ import annotations

import argparse
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

    settings = get_settings()
    print(f"DX Hub on http://{args.host}:{args.port}  (database: {settings.database_url})")
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        print("경고: SQLite에서는 실시간 화면이 자기 작업 프로세스의 변경만 받습니다. 작업 프로세스 1개 또는 "
              "PostgreSQL을 쓰세요. / Warning: on SQLite a live screen sees only the changes of its own worker; "
              "serve with one worker, or use PostgreSQL.", file=sys.stderr)
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, reload=args.reload,
                workers=None if args.reload else args.workers, log_level="info")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    warning = migrate(settings.migration_url, args.revision, app_database_url=settings.database_url)
    print(f"Database migrated to {args.revision}.")
    if warning:
        print(f"경고: 행 단위 보안(RLS)이 앱의 데이터베이스 역할에 적용되지 않습니다. / Warning: {warning}",
              file=sys.stderr)
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


def build_parser() -> argparse.ArgumentParser:
    from app.modules import load_manifests

    parser = argparse.ArgumentParser(prog="dxhub", description="DX Hub: municipal DX programs platform")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app and the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true")
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
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
