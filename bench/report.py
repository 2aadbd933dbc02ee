"""`make bench`: every benchmark in one run, written up under bench/results/.

Usage: .venv/bin/python bench/report.py [--quick] [--out bench/results]
       (BENCH_QUICK=1 in the environment is the same as --quick)

Writes REPORT.md (the machine, every target with met or missed and why, each figure
next to its baseline from the same run: durable next to bare, one instance next to
two) with plots and a flame graph beside it. The parts, each described in its script:

- relay.py: the durable relay (daemon, SQLite) next to a bare in-memory relay doing the
  same HTTP hops, closed loop (throughput) and open loop at fixed rates (latency); the
  store transactions per relayed message when the daemon counts them;
- pyspy_profile.py: py-spy samples every thread of the daemon under the closed loop;
- desk.py: webhook acknowledgement at a fixed offered rate; recovery after SIGKILL;
- web.py: memory per idle widget socket, the daemon next to a bare aiohttp websocket
  server, and tracemalloc's account of what the daemon's own code keeps per socket;
- scaleout.py with efficiency.py: SQLite, PostgreSQL with one instance and with two,
  CPU seconds per 1,000 messages and the contention counters.

`--quick` shrinks every load (a smoke run of the whole report, two or three minutes);
its figures say the code works, not what the daemon can do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import desk
import efficiency
import pyspy_profile
import relay
import scaleout
import web
import writeup

HERE = Path(__file__).resolve().parent
RATES = (250, 500, 1000)  # messages/s offered in the open-loop runs


@dataclass
class Sizes:
    conversations: int
    messages: int
    paced_seconds: float
    threads: int
    webhook_rate: float
    webhook_seconds: float
    pending: int
    idle: int
    traced_idle: int
    scale_conversations: int
    scale_messages: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(10, 5, 2, 5, 2500, 1, 200, 500, 200, 10, 5)
        # idle: as many as the descriptor limit allows for the client and the daemon.
        return cls(50, 10, 8, 20, 2500, 4, 10_000, 15_000, 1000, 40, 10)


def daemon_server(data: Path, prefix: list[str] | None = None) -> relay.Server:
    data.mkdir(parents=True, exist_ok=True)
    port = relay.free_port()
    cfg = data / "bench.toml"
    cfg.write_text(relay.CONFIG.format(port=port, data=data, concurrency=64))
    argv = [*(prefix or []), sys.executable, "-m", "handover", "run", str(cfg)]
    return relay.Server("daemon", argv, port, data / "daemon.log")


def bare_server(data: Path) -> relay.Server:
    data.mkdir(parents=True, exist_ok=True)
    port = relay.free_port()
    return relay.Server("bare", [sys.executable, str(HERE / "bare_relay.py"), str(port)], port,
                        data / "bare.log")


async def relay_figures(tmp: Path, s: Sizes) -> dict[str, Any]:
    out: dict[str, Any] = {"closed": {}, "paced": {}}
    for name, make in (("durable", daemon_server), ("bare", bare_server)):
        server = make(tmp / name)
        try:
            await server.start()
            await relay.load(server.url, 4, 2)  # warm-up
            if name == "durable":
                before = await efficiency.snapshot([server.pid], [server.url], None)
            out["closed"][name] = await relay.load(server.url, s.conversations, s.messages)
            if name == "durable":
                await asyncio.sleep(0.5)
                after = await efficiency.snapshot([server.pid], [server.url], None)
                out["cost"] = efficiency.Cost.between(before, after,
                                                      out["closed"][name].relayed)
            for rate in RATES:
                out["paced"][(name, rate)] = await relay.paced(server.url, rate, s.paced_seconds)
        finally:
            server.stop()
    return out


async def profile_figures(tmp: Path, out: Path, s: Sizes) -> str:
    holder: list[relay.Server] = []

    async def start(prefix: list[str]) -> int:
        server = daemon_server(tmp / f"profiled{len(holder)}", prefix)
        holder.append(server)
        await server.start()
        return server.pid

    def stop() -> None:
        for server in holder:
            server.stop()

    async def load() -> None:
        await relay.load(holder[-1].url, s.conversations, s.messages)

    return await pyspy_profile.profile(start, stop, load, out, tmp)


async def desk_figures(s: Sizes) -> dict[str, Any]:
    seconds, acks = await desk.webhook_paced(s.threads, s.webhook_rate, s.webhook_seconds)
    ready, delivered, doubles = await desk.recovery(min(50, s.pending // 4), s.pending)
    return {"webhook_seconds": seconds, "acks": acks, "ready": ready, "delivered": delivered,
            "doubles": doubles}


async def idle_figures(tmp: Path, s: Sizes) -> dict[str, Any]:
    """RSS per idle socket for the daemon and the bare server, and the attribution."""
    out: dict[str, Any] = {}
    for name in ("daemon", "bare"):
        data = tmp / f"web-{name}"
        data.mkdir()
        port = web.free_port()
        cfg = data / "handover.toml"
        cfg.write_text(web.CONFIG.format(port=port, data=data, origin=web.ORIGIN))
        argv = ([sys.executable, "-m", "handover", "run", str(cfg)] if name == "daemon"
                else [sys.executable, str(HERE / "bare_ws.py"), str(port)])
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                stderr=(data / "server.log").open("wb"), cwd=HERE.parent)
        try:
            url = f"http://127.0.0.1:{port}"
            await web.wait_ready(url, proc, 60)
            out[name] = await web.idle_sockets(url, proc.pid, s.idle)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    out["own"] = await web.attribute(tmp / "web-traced", s.traced_idle)
    return out


async def scale_figures(tmp: Path, s: Sizes) -> dict[str, tuple[relay.Figures,
                                                            efficiency.Cost]]:
    args = argparse.Namespace(conversations=s.scale_conversations, messages=s.scale_messages,
                              delivery_concurrency=64)
    pg = scaleout.start_pg()
    try:
        data = tmp / "scale"
        data.mkdir()
        return await scaleout.all_setups(pg, data, args)
    finally:
        pg.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="small loads (a smoke run); also BENCH_QUICK=1")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = Sizes.of(args.quick)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The client and the daemon (which inherits it) each hold one descriptor per socket.
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, s.idle + 2048)), hard))
    if s.idle + 1024 > hard:
        s.idle = max(500, hard - 2048)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"sizes": s, "quick": args.quick, "rates": RATES}
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as name:
        tmp = Path(name)
        print("relay (durable and bare)...", flush=True)
        results["relay"] = await relay_figures(tmp, s)
        print("profile (py-spy, all threads)...", flush=True)
        results["profile"] = await profile_figures(tmp, args.out, s)
        print("desk webhooks and recovery...", flush=True)
        results["desk"] = await desk_figures(s)
        print("idle widget sockets...", flush=True)
        results["idle"] = await idle_figures(tmp, s)
        print("scale-out...", flush=True)
        results["scale"] = await scale_figures(tmp, s)
    path = writeup.write(args.out, results)
    print(path.read_text())


if __name__ == "__main__":
    asyncio.run(main())
