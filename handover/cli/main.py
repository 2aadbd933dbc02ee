"""The `handover` command: run the daemon, the demo, check a configuration, list adapters;
the operations commands (report, exports, purge) are in cli_ops.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING

from handover.cli.ops import add_ops_commands
from handover.cli.scaffold import add_scaffold_command
from handover.sdk.contracts import ConfigIssues

if TYPE_CHECKING:
    from handover.config.load import Config


def _serve(config: Config, *, demo_page: bool = False) -> int:
    # Imported here so that `check-config` and `--help` stay fast.
    import asyncio

    from handover.daemon.app import Daemon
    from handover.daemon.lifecycle import StartupFailed
    from handover.daemon.serve import serve
    from handover.observability.logs import RedactingAccessLogger, configure_logging

    configure_logging(config.logging.level, config.logging.format)
    daemon = Daemon(config)
    app = daemon.build_app()
    if demo_page:
        from handover.demo.page import add_demo_page

        add_demo_page(app)
    try:
        asyncio.run(serve(
            app, config.server.host, config.server.port, in_flight=daemon.in_flight,
            begin_drain=daemon.begin_drain, drain_seconds=config.server.drain_seconds,
            deliveries_idle=daemon.worker.idle,
            access_log_class=RedactingAccessLogger,
            announce=lambda msg: print(msg, file=sys.stderr),
        ))
    except StartupFailed as exc:
        # Everything opened before the failing part is closed again by now; what the
        # operator needs is which part and why, in one line (the log has the details).
        print(f"handover: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from handover.demo.config import demo_config

    try:
        config, token = demo_config(args.data_dir, args.host, args.port)
    except ConfigIssues as exc:
        print(f"demo configuration invalid:\n{exc}", file=sys.stderr)
        return 1
    wildcard = args.host in ("0.0.0.0", "::")  # noqa: S104 - comparing, not binding
    shown = "127.0.0.1" if wildcard else args.host
    base = f"http://{shown}:{args.port}"
    # On the terminal only, never in the log: the token signs an agent in.
    print(
        f"handover demo on {base}\n"
        f"  citizen (web widget):   {base}/\n"
        f"  agent console:          {base}/console/   token: {token}\n"
        f"  citizen (REST channel): POST {base}/rest/conversations {{\"tenant\": \"demo\"}}\n"
        f"  health:                 {base}/readyz   metrics: {base}/metrics\n"
        f"  data directory:         {args.data_dir}",
        file=sys.stderr,
    )
    return _serve(config, demo_page=True)


def cmd_run(args: argparse.Namespace) -> int:
    from handover.config.load import load_config

    try:
        config = load_config(args.config)
    except ConfigIssues as exc:
        print(f"{args.config}: configuration invalid:\n{exc}", file=sys.stderr)
        return 1
    return _serve(config)


def cmd_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from handover.config.load import load_config
    from handover.store import StoreError, create_store

    try:
        config = load_config(args.config)
    except ConfigIssues as exc:
        print(f"{args.config}: configuration invalid:\n{exc}", file=sys.stderr)
        return 1
    s = config.store

    async def migrate() -> int:
        store = create_store(s.engine, path=s.path, dsn=s.dsn, migrate=True)
        await store.open()  # applies what is pending; refuses a newer schema
        try:
            return await store.schema_version()
        finally:
            await store.close()

    try:
        version = asyncio.run(migrate())
    except StoreError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    print(f"{s.engine} store at schema version {version}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from handover.config.load import check_config, config_notes, load_config

    problems = check_config(args.file)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    for note in config_notes(load_config(args.file)):
        print(f"note: {note}")
    print(f"{args.file}: ok")
    return 0


def cmd_adapters(args: argparse.Namespace) -> int:
    from handover.daemon.registry import describe_adapters

    rows = describe_adapters()
    width = max((len(name) for _, name, _ in rows), default=4)
    current = None
    for kind, name, doc in rows:
        if kind != current:
            print(f"{kind}:")
            current = kind
        print(f"  {name:<{width}}  {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handover",
        description="Livechat handover daemon between citizens' channels, the municipal "
        "chatbot and the contact centre's desk.",
    )
    parser.add_argument("--version", action="version", version=f"handover {version('handover')}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run with the embedded demo configuration (no services)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=int, default=8080, help="port to listen on")
    demo.add_argument("--data-dir", default="data", help="where the SQLite file is kept")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run the daemon with a configuration file")
    run.add_argument("config", help="path to the TOML configuration")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", help="path to the TOML configuration")
    check.set_defaults(func=cmd_check_config)

    migrate = sub.add_parser(
        "migrate", help="apply the store's pending schema migrations and exit"
    )
    migrate.add_argument("--config", required=True, help="path to the TOML configuration")
    migrate.set_defaults(func=cmd_migrate)

    adapters = sub.add_parser("adapters", help="list the installed adapters by kind")
    adapters.set_defaults(func=cmd_adapters)
    add_ops_commands(sub)
    add_scaffold_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
