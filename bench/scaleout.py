"""Scale-out benchmark: one and two daemon instances on PostgreSQL, next to SQLite, in one run.

Usage: .venv/bin/python bench/scaleout.py [--conversations N] [--messages M]

The same load as bench/relay.py (N concurrent REST citizens, each sending M messages one
after another and long-polling for the bot's reply; the demo bot answers) against:

- SQLite, one instance (the embedded default);
- PostgreSQL, one instance;
- PostgreSQL, two instances on the same database, the citizens spread over them as a
  load balancer would (each conversation sticks to one instance; the bot turns and the
  replies are claimed by whichever instance is free, and the long-poll's connection
  lease brings each reply to the instance the citizen waits on).

A throwaway PostgreSQL cluster is started on loopback (tests/pgserver.py, which installs
Debian's package when it is missing and we are root), with fsync off: the figures show
the engines' and the instances' costs, not a disk's. Every daemon logs at "warning".
Everything is bounded by timeouts; the subprocesses are stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
from efficiency import Cost, snapshot
from relay import CONFIG, HTTP_TIMEOUT, Figures, Server, conversation, cpu_model, free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pgserver import PgServer, start_server  # noqa: E402  (the repository root, set above)


def start_pg() -> PgServer:
    """A throwaway PostgreSQL cluster on loopback (fsync off); the caller stops it."""
    return start_server()


SQLITE_STORE = '[store]\npath = "{data}/handover.db"'
POSTGRES_STORE = '[store]\nengine = "postgres"\ndsn = "${{HANDOVER_BENCH_DSN}}"'


async def load_over(urls: list[str], conversations: int, messages: int) -> Figures:
    """Conversation i talks to urls[i % len(urls)] for its whole life (sticky sessions)."""
    figures = Figures()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=HTTP_TIMEOUT) as http:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(http, urls[i % len(urls)], messages, figures)
                               for i in range(conversations)))
        figures.seconds = time.perf_counter() - started
    return figures


def daemon(name: str, data: Path, store: str, concurrency: int) -> Server:
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = data / "bench.toml"
    template = CONFIG.replace(SQLITE_STORE, store)
    assert template != CONFIG or store == SQLITE_STORE, "relay.CONFIG changed its [store]"
    cfg.write_text(template.format(port=port, data=data, concurrency=concurrency))
    return Server(name, [sys.executable, "-m", "handover", "run", str(cfg)], port,
                  data / "daemon.log")


async def fresh_database(server: PgServer, name: str) -> str:
    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn: str = server.dsn(name)
    return dsn


async def run_setup(servers: list[Server], args: argparse.Namespace,
                    pg_data: Path | None = None) -> tuple[Figures, Cost]:
    """The load over `servers`; its figures and what it cost (the daemons' CPU, the
    PostgreSQL cluster's in `pg_data`, the contention counters)."""
    try:
        await asyncio.gather(*(s.start() for s in servers))
        urls = [s.url for s in servers]
        # A short warm-up, so imports and first connections are not in the figures.
        await load_over(urls, 4, 2)
        pids = [s.pid for s in servers]
        before = await snapshot(pids, urls, pg_data)
        figures = await load_over(urls, args.conversations, args.messages)
        # What the load left behind (deliveries, hints) settles before the second look.
        await asyncio.sleep(0.5)
        after = await snapshot(pids, urls, pg_data)
        return figures, Cost.between(before, after, figures.relayed)
    finally:
        for s in servers:
            s.stop()


def cpu_ratio(one: Cost, two: Cost) -> float:
    """Two instances' CPU per message over one instance's (daemons only)."""
    return two.per_1000(two.daemon_cpu) / one.per_1000(one.daemon_cpu)


def report(args: argparse.Namespace, results: dict[str, tuple[Figures, Cost]]) -> str:
    names = list(results)
    lines = [
        "# Scale-out benchmark",
        "",
        "| machine | |",
        "|---|---|",
        f"| nproc | {os.cpu_count()} |",
        f"| CPU | {cpu_model()} |",
        f"| load | {args.conversations} concurrent conversations x {args.messages} messages "
        "(each waits for the bot's reply) |",
        f"| daemon [delivery] concurrency | {args.delivery_concurrency} |",
        "| PostgreSQL | throwaway cluster on loopback, fsync off, same machine |",
        "",
        "| figure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]

    lines += cost_rows(results)
    return "\n".join(lines)


def cost_rows(results: dict[str, tuple[Figures, Cost]]) -> list[str]:
    """The rows of the scale-out table, one column per setup."""
    names = list(results)
    lines = []

    def row(label: str, fmt: str, value: object) -> None:
        cells = []
        for n in names:
            v = value(*results[n])  # type: ignore[operator]
            cells.append(v if isinstance(v, str) else fmt.format(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("round trips", "{}", lambda f, c: len(f.latencies))
    row("wall time (s)", "{:.2f}", lambda f, c: f.seconds)
    row("messages/s (citizen + bot)", "{:.0f}", lambda f, c: f.per_second)
    row("latency p50 (ms)", "{:.1f}", lambda f, c: f.pct(50))
    row("latency p99 (ms)", "{:.1f}", lambda f, c: f.pct(99))
    row("daemon CPU s per 1,000 messages", "{:.2f}", lambda f, c: c.per_1000(c.daemon_cpu))
    row("PostgreSQL CPU s per 1,000 messages", "{:.2f}",
        lambda f, c: c.per_1000(c.postgres_cpu) if c.postgres_cpu else "-")
    row("version conflicts per 1,000", "", lambda f, c: c.describe("conflicts"))
    row("lease steals per 1,000", "", lambda f, c: c.describe("steals"))
    row("retried claims per 1,000", "", lambda f, c: c.describe("retries"))
    row("store transactions per message", "", lambda f, c: c.describe("transactions", "1"))
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conversations", type=int, default=40, help="concurrent (N)")
    parser.add_argument("--messages", type=int, default=10, help="per conversation (M)")
    parser.add_argument("--delivery-concurrency", type=int, default=64,
                        help="each daemon's [delivery] concurrency")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pg = start_pg()
    try:
        with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
            results = await all_setups(pg, Path(tmp), args)
    finally:
        pg.stop()
    print(report(args, results))
    one, two = results[ONE_PG][1], results[TWO_PG][1]
    print(f"\ntwo instances' daemon CPU per message / one instance's: "
          f"{cpu_ratio(one, two):.2f} (target at most 1.2)")


ONE_PG, TWO_PG = "PostgreSQL, 1 instance", "PostgreSQL, 2 instances"


async def all_setups(pg: PgServer, data: Path,
                     args: argparse.Namespace) -> dict[str, tuple[Figures, Cost]]:
    """SQLite with one instance, PostgreSQL with one and with two, the same load each."""
    c = args.delivery_concurrency
    results: dict[str, tuple[Figures, Cost]] = {}
    results["SQLite, 1 instance"] = await run_setup(
        [daemon("sqlite", data / "sqlite", SQLITE_STORE, c)], args)
    tag = data.name.replace("-", "_").lower()
    os.environ["HANDOVER_BENCH_DSN"] = await fresh_database(pg, f"{tag}_one")
    results[ONE_PG] = await run_setup(
        [daemon("pg-1", data / "pg-1", POSTGRES_STORE, c)], args, pg.data_dir)
    os.environ["HANDOVER_BENCH_DSN"] = await fresh_database(pg, f"{tag}_two")
    results[TWO_PG] = await run_setup(
        [daemon(f"pg-2{x}", data / f"pg-2{x}", POSTGRES_STORE, c) for x in "ab"], args,
        pg.data_dir)
    return results


if __name__ == "__main__":
    asyncio.run(main())
