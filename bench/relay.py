"""Relay benchmark: the durable daemon next to a bare in-memory relay, in one run.

Usage: .venv/bin/python bench/relay.py [--conversations N] [--messages M] [--idle K]

Both servers run as subprocesses on loopback and get the same client code and load: N
concurrent citizens on the REST channel each send M messages one after another, and after
each one long-poll (`GET .../messages?after=seq&wait=5`) until the bot's reply appears.
The round-trip latency is POST sent -> reply seen. messages/s counts each citizen message
and each bot reply as one relayed message.

- durable: `python -m handover.cli.main run cfg.toml` (REST channel, demo bot, demo desk,
  SQLite in a temp dir, logging level "warning");
- bare: `bench/bare_relay.py`, the same REST paths kept in memory, answered by the demo
  bot's own script, no persistence.

Then, for each server, memory per idle conversation: VmRSS from /proc/<pid>/status, K more
conversations each with one exchange, VmRSS again; (delta / K) in KiB. Everything is
bounded by timeouts, and the subprocesses are killed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent

CONFIG = """
[server]
host = "127.0.0.1"
port = {port}

[store]
path = "{data}/handover.db"

[delivery]
# Deliveries in flight at once (--delivery-concurrency; the daemon's default is 64).
concurrency = {concurrency}
poll_seconds = 0.1
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.5

[logging]
level = "warning"
format = "json"

[adapters.rest]
type = "rest"
# All load comes from one address: lift the abuse limits (README: limits).
conversations_per_minute = 1000000
tenant_conversations_per_minute = 1000000
messages_per_minute = 1000000
# The open-loop runs keep hundreds of long-polls waiting from this one address.
long_polls_per_address = 10000

[adapters.gem]
type = "demo_bot"

[adapters.desk]
type = "demo_desk"
state_path = "{data}/desk.jsonl"

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["rest"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
queue_fallback = "bot"
"""

# Questions the demo bot answers itself (none asks for a person, so no handover).
TEXTS = (
    "Wanneer wordt het afval opgehaald?",
    "Hoe vraag ik een nieuw paspoort aan?",
    "Goedemiddag",
    "Ik ga verhuizen, wat moet ik doen?",
    "Bedankt!",
    "Hoe laat is het?",
)
REPLY_TIMEOUT = 30.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server subprocess on loopback."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(HERE.parent), os.environ.get("PYTHONPATH", "")) if p)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=HERE.parent)
        deadline = time.monotonic() + READY_TIMEOUT
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --- the client -------------------------------------------------------------------------


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    relayed: int = 0
    seconds: float = 0.0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    idle: int = 0

    @property
    def per_second(self) -> float:
        return self.relayed / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """The p-th percentile in ms (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000

    @property
    def kib_per_idle(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.idle if self.idle else 0.0


async def open_conversation(http: aiohttp.ClientSession, url: str) -> tuple[str, dict[str, str]]:
    """A new REST conversation: (its messages URL, the auth header)."""
    body: dict[str, Any] = {"tenant": "demo", "language": "nl", "context": {}}
    async with http.post(f"{url}/rest/conversations", json=body) as resp:
        if resp.status != 201:
            raise RuntimeError(f"open: {resp.status} {await resp.text()}")
        data = await resp.json()
    base = f"{url}/rest/conversations/{data['conversation_id']}/messages"
    return base, {"Authorization": f"Bearer {data['token']}"}


async def round_trip(http: aiohttp.ClientSession, base: str, auth: dict[str, str],
                     seen: int, text: str) -> int:
    """Send one message and long-poll until the bot's reply; returns the last seq seen."""
    message = {"message_id": uuid.uuid4().hex, "text": text}
    async with http.post(base, json=message, headers=auth) as resp:
        if resp.status != 202:
            raise RuntimeError(f"say: {resp.status} {await resp.text()}")
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no bot reply within {REPLY_TIMEOUT:g}s")
        async with http.get(base, params={"after": str(seen), "wait": "5"},
                            headers=auth) as resp:
            if resp.status != 200:
                raise RuntimeError(f"poll: {resp.status} {await resp.text()}")
            got = (await resp.json())["messages"]
        if got:
            seen = max(m["seq"] for m in got)
        if any(m["party"] == "bot" for m in got):
            return seen


async def conversation(http: aiohttp.ClientSession, url: str, messages: int,
                       figures: Figures | None) -> None:
    """Open one conversation and exchange `messages` messages with the bot."""
    base, auth = await open_conversation(http, url)
    seen = 0
    for n in range(messages):
        started = time.perf_counter()
        seen = await round_trip(http, base, auth, seen, TEXTS[n % len(TEXTS)])
        if figures is not None:
            figures.latencies.append(time.perf_counter() - started)
            figures.relayed += 2  # the citizen's message and the bot's reply


async def paced(url: str, rate: float, seconds: float, pool: int = 200) -> Figures:
    """Open-loop load: round trips started at a fixed rate of `rate` messages/s (each
    round trip relays two: the citizen's and the bot's), whatever the server's pace.
    Latency counts from the scheduled start, so time spent queueing is included."""
    figures = Figures()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=HTTP_TIMEOUT) as http:
        free: asyncio.Queue[tuple[str, dict[str, str], int]] = asyncio.Queue()
        for base, auth in await asyncio.gather(*(open_conversation(http, url)
                                                 for _ in range(pool))):
            free.put_nowait((base, auth, 0))
        interval = 2.0 / rate
        total = int(seconds * rate / 2)
        tasks: list[asyncio.Task[None]] = []

        async def one(n: int, scheduled: float) -> None:
            base, auth, seen = await free.get()
            seen = await round_trip(http, base, auth, seen, TEXTS[n % len(TEXTS)])
            figures.latencies.append(time.perf_counter() - scheduled)
            figures.relayed += 2
            free.put_nowait((base, auth, seen))

        started = time.perf_counter()
        for n in range(total):
            scheduled = started + n * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n, scheduled)))
        await asyncio.gather(*tasks)
        figures.seconds = time.perf_counter() - started
    return figures


async def load(url: str, conversations: int, messages: int) -> Figures:
    figures = Figures()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=HTTP_TIMEOUT) as http:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(http, url, messages, figures)
                               for _ in range(conversations)))
        figures.seconds = time.perf_counter() - started
    return figures


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def idle_memory(server: Server, figures: Figures, count: int, parallel: int) -> None:
    await asyncio.sleep(0.5)
    figures.rss_before_kib = rss_kib(server.pid)
    sem = asyncio.Semaphore(parallel)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=HTTP_TIMEOUT) as http:

        async def one() -> None:
            async with sem:
                await conversation(http, server.url, 1, None)

        await asyncio.gather(*(one() for _ in range(count)))
    await asyncio.sleep(1.0)  # let the outbox settle
    figures.rss_after_kib = rss_kib(server.pid)
    figures.idle = count


# --- the report -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def report(args: argparse.Namespace, durable: Figures, bare: Figures) -> str:
    def row(label: str, fmt: str, attr: Any) -> str:
        return f"| {label} | {fmt.format(attr(durable))} | {fmt.format(attr(bare))} |"

    lines = [
        "# Relay benchmark",
        "",
        "| machine | |",
        "|---|---|",
        f"| nproc | {os.cpu_count()} |",
        f"| CPU | {cpu_model()} |",
        f"| Python | {platform.python_version()} ({platform.python_implementation()}) |",
        f"| load | {args.conversations} concurrent conversations x {args.messages} messages "
        "(each waits for the bot's reply) |",
        f"| idle probe | {args.idle} extra conversations, one exchange each "
        f"({args.parallel} at a time) |",
        f"| daemon [delivery] concurrency | {args.delivery_concurrency} |",
        "",
        "| figure | durable (daemon, SQLite) | bare relay (memory) |",
        "|---|---|---|",
        row("bot logic", "{}", lambda f: "demo bot (adapters.demo_bot)" if f is durable
            else "demo bot script (script.match + DemoBot._answer)"),
        row("round trips", "{}", lambda f: len(f.latencies)),
        row("wall time (s)", "{:.2f}", lambda f: f.seconds),
        row("messages/s (citizen + bot)", "{:.0f}", lambda f: f.per_second),
        row("latency p50 (ms)", "{:.1f}", lambda f: f.pct(50)),
        row("latency p90 (ms)", "{:.1f}", lambda f: f.pct(90)),
        row("latency p99 (ms)", "{:.1f}", lambda f: f.pct(99)),
        row("RSS before idle probe (KiB)", "{}", lambda f: f.rss_before_kib),
        row("RSS after idle probe (KiB)", "{}", lambda f: f.rss_after_kib),
        row("memory per idle conversation (KiB)", "{:.2f}", lambda f: f.kib_per_idle),
    ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conversations", type=int, default=20, help="concurrent (N)")
    parser.add_argument("--messages", type=int, default=10, help="per conversation (M)")
    parser.add_argument("--idle", type=int, default=2000, help="idle-memory probe (K)")
    parser.add_argument("--parallel", type=int, default=50,
                        help="concurrency of the idle-memory probe")
    parser.add_argument("--delivery-concurrency", type=int, default=64,
                        help="the daemon's [delivery] concurrency (default there: 64)")
    args = parser.parse_args()
    # A SIGTERM should still run the `finally` below that stops the subprocesses.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
        data = Path(tmp)
        cfg = data / "bench.toml"
        port = free_port()
        cfg.write_text(CONFIG.format(port=port, data=data,
                                     concurrency=args.delivery_concurrency))
        daemon = Server("daemon", [sys.executable, "-m", "handover", "run", str(cfg)],
                        port, data / "daemon.log")
        bare_port = free_port()
        bare = Server("bare relay", [sys.executable, str(HERE / "bare_relay.py"),
                                     str(bare_port)], bare_port, data / "bare.log")
        results: dict[str, Figures] = {}
        try:
            for server in (daemon, bare):
                await server.start()
                figures = await load(server.url, args.conversations, args.messages)
                await idle_memory(server, figures, args.idle, args.parallel)
                results[server.name] = figures
                server.stop()
        finally:
            daemon.stop()
            bare.stop()
    print(report(args, results["daemon"], results["bare relay"]))


if __name__ == "__main__":
    asyncio.run(main())
