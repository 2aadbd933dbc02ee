"""The operations subcommands of `handover`: nps export, report, transcripts sample and
purge. Each reads the same configuration file as `handover run` and opens its store, so
they work on every store engine, also while the daemon runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from handover.sdk.contracts import ConfigIssues

if TYPE_CHECKING:
    from handover.config.load import Config, TenantConfig
    from handover.evaluation.period import Period
    from handover.store.base import Store


class _Refused(Exception):
    """A usage error found after parsing (unknown tenant, bad period...)."""


def _load(path: str) -> Config:
    from handover.config.load import load_config
    from handover.observability.logs import configure_logging

    try:
        config = load_config(path)
    except ConfigIssues as exc:
        raise _Refused(f"{path}: configuration invalid:\n{exc}") from exc
    # Log lines go to standard error: standard output carries the export or report.
    configure_logging(config.logging.level, config.logging.format)
    return config


def _tenant(config: Config, tenant_id: str) -> TenantConfig:
    tenant = config.tenants.get(tenant_id)
    if tenant is None:
        known = ", ".join(sorted(config.tenants))
        raise _Refused(f"unknown tenant {tenant_id!r}; configured: {known}")
    return tenant


def _period(text: str) -> Period:
    from handover.evaluation.period import parse_period

    try:
        return parse_period(text)
    except ValueError as exc:
        raise _Refused(str(exc)) from exc


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or a new file readable by its owner only (exports hold pseudonymised
    personal data)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        yield out


def _with_store(config: Config, work: Callable[[Store], Awaitable[int]]) -> int:
    from handover.store import create_store

    s = config.store

    async def run() -> int:
        store = create_store(
            s.engine, path=s.path, dsn=s.dsn, migrate=s.migrate == "auto"
        )
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _command(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn refusals and store failures into a message on stderr and exit status 1."""

    def wrapped(args: argparse.Namespace) -> int:
        from handover.store import StoreError

        try:
            return func(args)
        except _Refused as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
        except StoreError as exc:
            print(f"{args.command}: store: {exc}", file=sys.stderr)
        return 1

    return wrapped


@_command
def cmd_nps_export(args: argparse.Namespace) -> int:
    from handover.evaluation import nps

    config = _load(args.config)
    tenant = _tenant(config, args.tenant)
    period = _period(args.period)

    async def work(store: Store) -> int:
        answers = await store.survey_answers(tenant.id, since=period.since, until=period.until)
        with _output(args.output) as out:
            return await nps.export(store, tenant, answers, out, args.format)

    written = _with_store(config, work)
    print(f"{written} survey answer(s) of {tenant.id} in {period}", file=sys.stderr)
    return 0


@_command
def cmd_report(args: argparse.Namespace) -> int:
    from handover.evaluation.report import build_report, render_text

    config = _load(args.config)
    tenant = _tenant(config, args.tenant)
    period = _period(args.period)

    async def work(store: Store) -> int:
        report = await build_report(store, tenant.id, period)
        with _output(args.output) as out:
            if args.format == "json":
                out.write(json.dumps(report.to_json(), indent=2) + "\n")
            else:
                out.write(render_text(report))
        return 0

    return _with_store(config, work)


@_command
def cmd_transcripts_sample(args: argparse.Namespace) -> int:
    from handover.evaluation.sample import SampleSize, sample

    config = _load(args.config)
    tenant = _tenant(config, args.tenant)
    period = _period(args.period)
    try:
        size = SampleSize(rate=args.rate, count=args.count)
    except ValueError as exc:
        raise _Refused(str(exc)) from exc

    async def work(store: Store) -> int:
        with _output(args.output) as out:
            return await sample(
                store, tenant, period, size, out, seed=args.seed,
                handovers_only=args.handovers_only,
            )  # fmt: skip

    written = _with_store(config, work)
    print(f"{written} conversation(s) of {tenant.id} in {period}", file=sys.stderr)
    return 0


@_command
def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from handover.evaluation.retention import purge

    config = _load(args.config)
    tenants = config.tenants
    if args.tenant is not None:
        tenants = {args.tenant: _tenant(config, args.tenant)}

    async def work(store: Store) -> int:
        result = await purge(store, tenants, datetime.now(UTC))
        for tenant_id in tenants:
            print(
                f"{tenant_id}: bodies removed from {result.bodies[tenant_id]} conversation(s), "
                f"{result.deleted[tenant_id]} conversation(s) deleted"
            )
        return 0

    return _with_store(config, work)


def _common(parser: argparse.ArgumentParser, *, period: bool = True) -> None:
    parser.add_argument("--config", required=True, help="path to the TOML configuration")
    parser.add_argument("--tenant", required=True, help="the tenant (municipality) id")
    if period:
        parser.add_argument(
            "--period", required=True,
            help="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (days in Europe/Amsterdam)",
        )  # fmt: skip


def add_ops_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommands on the `handover` parser."""
    nps = sub.add_parser("nps", help="satisfaction (NPS) answers").add_subparsers(
        dest="nps_command", required=True
    )
    export = nps.add_parser("export", help="export the survey answers of a period")
    _common(export)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_nps_export)

    report = sub.add_parser(
        "report",
        help="conversations, handovers, waits, abandonment, callback requests and NPS per "
        "channel",
    )
    _common(report)
    report.add_argument("--format", choices=("text", "json"), default="text")
    report.add_argument("--output", help="file to write (default: standard output)")
    report.set_defaults(func=cmd_report)

    transcripts = sub.add_parser("transcripts", help="conversation transcripts").add_subparsers(
        dest="transcripts_command", required=True
    )
    sampled = transcripts.add_parser(
        "sample", help="a random sample as JSON lines, personal data masked, for review"
    )
    _common(sampled)
    size = sampled.add_mutually_exclusive_group(required=True)
    size.add_argument("--rate", type=float, help="share of the conversations, e.g. 0.05")
    size.add_argument("--count", type=int, help="number of conversations")
    sampled.add_argument("--seed", type=int, help="repeat an earlier sample exactly")
    sampled.add_argument(
        "--handovers-only", action="store_true",
        help="sample among the conversations handed over to the desk",
    )  # fmt: skip
    sampled.add_argument("--output", help="file to write (default: standard output)")
    sampled.set_defaults(func=cmd_transcripts_sample)

    purge = sub.add_parser(
        "purge", help="apply the tenants' retention now (the daemon also does, hourly)"
    )
    purge.add_argument("--config", required=True, help="path to the TOML configuration")
    purge.add_argument("--tenant", help="only this tenant (default: all)")
    purge.set_defaults(func=cmd_purge)
