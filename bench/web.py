"""Web channel benchmark: idle widget sockets held, and messages through the websocket.

Usage: .venv/bin/python bench/web.py [--idle N] [--conversations C] [--messages M]

The daemon runs as a subprocess (`python -m handover.cli.main run cfg.toml`: the web channel,
the demo bot and the demo desk, SQLite in a temp dir with synchronous=FULL, logging at
warning) on loopback; the widgets are aiohttp websocket clients in this process.

1. Idle sockets: 200 widgets connect first (what the first connections allocate once is
   not counted), then VmRSS of the daemon from /proc/<pid>/status; then N more widgets
   connect, each says `hello` (a new conversation, so one durable row each) and stays
   open; VmRSS again. Printed: the daemon's memory per idle widget connection,
   (delta / N) in KiB. More than 5,000 sockets come from several loopback addresses
   (127.0.0.2, ...): the channel allows at most 10,000 per address. `--bare` measures
   bench/bare_ws.py instead (aiohttp's websocket alone); `--attribute K` holds K sockets
   on a daemon under tracemalloc (bench/traced_daemon.py) and prints, per socket, the
   bytes allocated at each line of the daemon's own code.
2. Throughput: C widgets each send M messages one after another. Per message it waits
   for the `ack` (stored durably) and then for the bot's answer on the same socket.
   Printed: acknowledged citizen messages per second, bot answers per second, and the
   latency (send -> ack, send -> bot answer) percentiles.

Every wait is bounded by a timeout, and the subprocess is killed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ORIGIN = "https://bench.example"
CONFIG = """
[server]
host = "127.0.0.1"
port = {port}

[store]
path = "{data}/handover.db"

[delivery]
poll_seconds = 0.1

[logging]
level = "warning"
format = "json"

[adapters.web]
type = "web"
# The bench holds thousands of sockets from a few loopback addresses (the maximum).
sockets_per_address = 10000
[adapters.web.tenants.demo]
origins = ["{origin}"]
# The bench is one address opening many sockets: lift the per-address limits.
connections_per_minute = 10000000
frames_per_minute = 10000000
messages_per_minute = 10000000

[adapters.gem]
type = "demo_bot"

[adapters.desk]
type = "demo_desk"

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["web"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the daemon exited")
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the daemon did not become ready")


async def open_widget(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{url}/web/ws?tenant=demo", headers={"Origin": ORIGIN},
                               autoping=True)
    await ws.send_str(json.dumps({"type": "hello", "tenant": "demo", "language": "nl"}))
    welcome = json.loads((await ws.receive(timeout=60)).data)
    assert welcome["type"] == "welcome", welcome
    return ws


#: Sockets per client address: the web channel allows at most 10,000 per address, so
#: the client spreads larger sets over loopback addresses 127.0.0.2, 127.0.0.3, ...
PER_ADDRESS = 5000
WARM_UP = 200


async def idle_sockets(url: str, pid: int, n: int) -> tuple[int, int]:
    """Hold n idle widget sockets; the daemon's VmRSS (KiB) before and while held.

    A first WARM_UP sockets are opened (and kept) before the first reading, so what
    the first connections allocate once (code paths, caches, pools) is not counted
    per socket."""
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        limit=0, local_addr=(f"127.0.0.{2 + k}", 0))) for k in range(n // PER_ADDRESS + 1)]
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    try:
        async def open_many(count: int) -> None:
            for start in range(0, count, 100):  # in batches: a burst is another test
                batch = min(count, start + 100) - start
                http = sessions[len(sockets) // PER_ADDRESS]
                sockets.extend(await asyncio.gather(
                    *(open_widget(http, url) for _ in range(batch))))

        await open_many(WARM_UP)
        await asyncio.sleep(1.0)
        before = rss_kib(pid)
        await open_many(n)
        await asyncio.sleep(1.0)
        after = rss_kib(pid)
        await asyncio.gather(*(ws.close() for ws in sockets))
    finally:
        for http in sessions:
            await http.close()
    return before, after


@dataclass
class Attribution:
    """tracemalloc's account of what n held sockets added to the daemon, per socket."""

    sockets: int
    traced: float  # bytes per socket, all Python allocations
    own: float  # bytes per socket allocated at lines of handover/ and adapters/
    lines: list[tuple[float, float, str]]  # (bytes, blocks, file:line), own lines first


async def attribute(data: Path, n: int) -> Attribution:
    """Hold n idle sockets on a daemon under tracemalloc (bench/traced_daemon.py) and
    compare snapshots taken before and while they are held, line by line."""
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = data / "handover.toml"
    cfg.write_text(CONFIG.format(port=port, data=data, origin=ORIGIN))
    env = {**os.environ, "HANDOVER_TRACE_DIR": str(data),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("traced_daemon.py")),
                             "run", str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=(data / "daemon.log").open("wb"))
    url = f"http://127.0.0.1:{port}"

    async def snapshot(number: int) -> tracemalloc.Snapshot:
        proc.send_signal(signal.SIGUSR1)
        path = data / f"snapshot-{number}.pickle"
        for _ in range(1200):
            if path.exists():
                return tracemalloc.Snapshot.load(str(path))
            await asyncio.sleep(0.05)
        raise RuntimeError("no tracemalloc snapshot from the daemon")

    try:
        await wait_ready(url, proc, 120)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            warm = [await open_widget(http, url) for _ in range(WARM_UP // 4)]
            await asyncio.sleep(1.0)
            before = await snapshot(1)
            held = []
            for start in range(0, n, 100):
                held += await asyncio.gather(
                    *(open_widget(http, url) for _ in range(min(n, start + 100) - start)))
            await asyncio.sleep(1.0)
            after = await snapshot(2)
            await asyncio.gather(*(ws.close() for ws in [*warm, *held]))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    stats = after.compare_to(before, "lineno")
    root = str(Path(__file__).resolve().parent.parent)

    def ours(stat: tracemalloc.StatisticDiff) -> bool:
        name = stat.traceback[0].filename
        return name.startswith(root) and "/.venv/" not in name and "/bench/" not in name

    own = [st for st in stats if ours(st) and st.size_diff >= 16 * n]  # 16 B a socket
    lines = [(st.size_diff / n, st.count_diff / n,
              f"{st.traceback[0].filename.removeprefix(root + '/')}:{st.traceback[0].lineno}")
             for st in own]
    lines += [(st.size_diff / n, st.count_diff / n, _short(st.traceback[0].filename)
               + f":{st.traceback[0].lineno}") for st in stats[:10] if not ours(st)]
    return Attribution(n, sum(st.size_diff for st in stats) / n,
                       sum(st.size_diff for st in stats if ours(st)) / n, lines)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def citizen(http: aiohttp.ClientSession, url: str, m: int,
                  acks: list[float], answers: list[float]) -> None:
    ws = await open_widget(http, url)
    try:
        for i in range(m):
            mid = uuid.uuid4().hex
            sent = time.perf_counter()
            await ws.send_str(json.dumps({"type": "message", "message_id": mid,
                                          "text": "Wanneer wordt het afval opgehaald?"}))
            got_ack = got_answer = False
            while not (got_ack and got_answer):
                frame = json.loads((await ws.receive(timeout=30)).data)
                if frame["type"] == "ack" and frame.get("message_id") == mid:
                    acks.append(time.perf_counter() - sent)
                    got_ack = True
                elif frame["type"] == "message" and frame["party"] == "bot":
                    answers.append(time.perf_counter() - sent)
                    got_answer = True
                elif frame["type"] == "error":
                    raise RuntimeError(f"message {i}: {frame}")
    finally:
        await ws.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def throughput(url: str, c: int, m: int) -> tuple[float, list[float], list[float]]:
    """C widgets x M messages: (seconds, send->ack latencies, send->answer latencies)."""
    acks: list[float] = []
    answers: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        start = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(citizen(http, url, m, acks, answers) for _ in range(c))), 600)
        elapsed = time.perf_counter() - start
    return elapsed, acks, answers


def print_throughput(c: int, m: int, elapsed: float, acks: list[float],
                     answers: list[float]) -> None:
    print(f"{c} widgets x {m} messages in {elapsed:.2f} s: "
          f"{len(acks) / elapsed:.0f} acknowledged messages/s, "
          f"{len(answers) / elapsed:.0f} bot answers/s")
    print(f"send -> ack      p50 {pct(acks, 50):.1f} ms  p95 {pct(acks, 95):.1f} ms  "
          f"p99 {pct(acks, 99):.1f} ms")
    print(f"send -> answer   p50 {pct(answers, 50):.1f} ms  p95 {pct(answers, 95):.1f} ms  "
          f"p99 {pct(answers, 99):.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000, help="idle widget sockets to hold")
    parser.add_argument("--conversations", type=int, default=50, help="concurrent widgets")
    parser.add_argument("--messages", type=int, default=20, help="messages per widget")
    parser.add_argument("--bare", action="store_true",
                        help="idle sockets on bench/bare_ws.py (aiohttp alone), then stop")
    parser.add_argument("--attribute", type=int, default=0, metavar="K",
                        help="tracemalloc's account of K idle sockets, then stop")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.idle + 256)), hard))
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    if args.attribute:
        with tempfile.TemporaryDirectory() as tmp:
            found = await attribute(Path(tmp), args.attribute)
        print(f"{found.traced:,.0f} B of Python allocations per socket, {found.own:,.0f} B "
              "at the daemon's own lines:")
        for size, blocks, where in found.lines:
            print(f"{size:8,.0f} B {blocks:6.2f} blocks  {where}")
        return
    if args.bare:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_ws.py")),
                                 str(port)], stdout=subprocess.DEVNULL)
        try:
            await wait_ready(f"http://127.0.0.1:{port}", proc)
            before, after = await idle_sockets(f"http://127.0.0.1:{port}", proc.pid, args.idle)
            print(f"bare aiohttp: {before} KiB -> {after} KiB; per idle socket "
                  f"{(after - before) / args.idle:.1f} KiB")
        finally:
            proc.terminate()
            proc.wait(15)
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cfg = Path(tmp) / "handover.toml"
        cfg.write_text(CONFIG.format(port=port, data=tmp, origin=ORIGIN))
        proc = subprocess.Popen(
            [sys.executable, "-m", "handover", "run", str(cfg)],
            stdout=subprocess.DEVNULL, stderr=(Path(tmp) / "daemon.log").open("wb"),
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_ready(url, proc)
            before, after = await idle_sockets(url, proc.pid, args.idle)
            print(f"idle widget sockets held: {args.idle}")
            print(f"daemon VmRSS: {before} KiB -> {after} KiB; per idle connection (incl. its "
                  f"conversation): {(after - before) / args.idle:.1f} KiB")
            elapsed, acks, answers = await throughput(url, args.conversations, args.messages)
            print_throughput(args.conversations, args.messages, elapsed, acks, answers)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    asyncio.run(main())
