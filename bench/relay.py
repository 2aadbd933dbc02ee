"""Relay benchmark: the durable daemon next to a bare in-memory relay, in one run.

Usage: .venv/bin/python bench/relay.py [--conversations N] [--messages M] [--idle K]

Both servers run as subprocesses on loopback and get the same client load: N concurrent
citizens on the REST channel each send M messages one after another and wait (long-poll)
for the bot's reply. The daemon persists every hop (SQLite, synchronous=FULL) and answers
with the demo bot; the bare relay keeps everything in memory and answers with an echo,
with no persistence. It prints messages/s (citizen messages plus bot replies), the
round-trip latency percentiles, and the daemon's memory per idle conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

CONFIG = """
[server]
port = {port}
[store]
path = "{data}/handover.db"
[delivery]
poll_seconds = 0.5
[logging]
level = "warning"
[adapters.rest]
type = "rest"
[adapters.gem]
type = "demo_bot"
[adapters.desk]
type = "demo_desk"
[tenants.demo]
name = "Bench"
channels = ["rest"]
bot = "gem"
desk = "desk"
[tenants.demo.handover]
phone = "14 0000"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the bare relay: same REST paths, in memory, no persistence -------------------------


def bare_app() -> web.Application:
    convs: dict[str, list[dict[str, Any]]] = {}
    events: dict[str, asyncio.Event] = {}

    async def create(request: web.Request) -> web.Response:
        cid = uuid.uuid4().hex
        convs[cid], events[cid] = [], asyncio.Event()
        return web.json_response({"conversation_id": cid, "token": "x"}, status=201)

    def add(cid: str, party: str, text: str) -> None:
        log = convs[cid]
        log.append({"seq": len(log) + 1, "party": party, "content": {"text": text}})
        events[cid].set()

    async def message(request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        body = await request.json()
        add(cid, "citizen", body["text"])
        add(cid, "bot", f"echo: {body['text']}")
        return web.json_response({"outcome": "applied"}, status=202)

    async def poll(request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        after = int(request.query.get("after", "0"))
        wait = float(request.query.get("wait", "0"))
        deadline = time.monotonic() + wait
        while len(convs[cid]) <= after and time.monotonic() < deadline:
            events[cid].clear()
            try:
                await asyncio.wait_for(events[cid].wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return web.json_response({"messages": convs[cid][after:], "state": "bot"})

    app = web.Application()
    app.add_routes([
        web.post("/rest/conversations", create),
        web.post("/rest/conversations/{cid}/messages", message),
        web.get("/rest/conversations/{cid}/messages", poll),
        web.get("/readyz", lambda r: web.json_response({"status": "ready"})),
    ])
    return app


# --- load ------------------------------------------------------------------------------


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


async def citizen(http: aiohttp.ClientSession, url: str, messages: int,
                  latencies: list[float]) -> None:
    async with http.post(f"{url}/rest/conversations", json={"tenant": "demo"}) as resp:
        data = await resp.json()
    cid, auth = data["conversation_id"], {"Authorization": f"Bearer {data['token']}"}
    seen = 0
    for n in range(messages):
        started = time.perf_counter()
        body = {"message_id": uuid.uuid4().hex, "text": f"afval {n}"}
        async with http.post(f"{url}/rest/conversations/{cid}/messages", json=body,
                             headers=auth) as resp:
            assert resp.status == 202, await resp.text()
        while True:
            async with http.get(f"{url}/rest/conversations/{cid}/messages",
                                params={"after": str(seen), "wait": "5"}, headers=auth) as resp:
                got = (await resp.json())["messages"]
            if got:
                seen = got[-1]["seq"]
            if any(m["party"] == "bot" for m in got):
                break
        latencies.append(time.perf_counter() - started)


async def load(url: str, conversations: int, messages: int) -> dict[str, float]:
    latencies: list[float] = []
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        started = time.perf_counter()
        await asyncio.gather(*(citizen(http, url, messages, latencies)
                               for _ in range(conversations)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"msgs_per_s": 2 * len(latencies) / elapsed, "p50_ms": q[49] * 1000,
            "p90_ms": q[89] * 1000, "p99_ms": q[98] * 1000, "seconds": elapsed}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def idle_memory(url: str, pid: int, count: int) -> float:
    before = rss_kib(pid)
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(32)

        async def one() -> None:
            async with sem:
                await citizen(http, url, 1, [])

        await asyncio.gather(*(one() for _ in range(count)))
    await asyncio.sleep(0.5)
    return (rss_kib(pid) - before) / count


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--idle", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port = free_port(), free_port()
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(CONFIG.format(port=port, data=tmp))
        daemon = subprocess.Popen([sys.executable, "-m", "handover.cli", "run", str(cfg)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            durable_url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            await wait_ready(durable_url, daemon)
            await wait_ready(bare_url, bare)
            bare_fig = await load(bare_url, args.conversations, args.messages)
            durable_fig = await load(durable_url, args.conversations, args.messages)
            per_conv = await idle_memory(durable_url, daemon.pid, args.idle)
        finally:
            for p in (daemon, bare):
                p.terminate()
                p.wait(15)
    cpu = next((ln.split(":", 1)[1].strip() for ln in
                Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")),
               platform.machine())
    print(f"# Relay benchmark\n\nMachine: {os.cpu_count()} cores, {cpu}, Python "
          f"{platform.python_version()}\nLoad: {args.conversations} concurrent conversations "
          f"x {args.messages} messages, each waiting for the bot's reply\n")
    print("| path | messages/s | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|")
    for name, f in (("durable (daemon, SQLite, demo bot)", durable_fig),
                    ("bare relay (memory, echo)", bare_fig)):
        print(f"| {name} | {f['msgs_per_s']:.0f} | {f['p50_ms']:.1f} | {f['p90_ms']:.1f} | "
              f"{f['p99_ms']:.1f} |")
    print(f"\nMemory per idle conversation (daemon RSS delta over {args.idle} conversations, "
          f"one exchange each): {per_conv:.2f} KiB")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-server":
        web.run_app(bare_app(), host="127.0.0.1", port=int(sys.argv[2]), print=None)
    else:
        asyncio.run(main())
