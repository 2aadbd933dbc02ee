"""Desk-side benchmarks: webhook acknowledgement latency, and recovery after SIGKILL.

Usage: .venv/bin/python bench/desk.py [--threads T] [--webhooks W] [--pending N]

The daemon runs as a subprocess (REST channel, demo bot, the OBI4wan desk adapter,
SQLite with synchronous=FULL, logging at warning); the desk is the fake OBI4wan of the
tests (tests/fakes/obi4wan_server.py) in this process, speaking the same wire format.

1. Webhook acknowledgement: T conversations are handed over and joined by an agent; then
   W signed `message.created` webhooks (agent messages) are posted, 8 at a time, spread
   over the threads. Latency is POST sent -> 200 received: the event is verified,
   deduplicated and committed before the answer.
2. Recovery: the desk hangs on every request, so N citizen messages, all acknowledged
   and stored, stay pending in the outbox (one in flight per conversation). The daemon is
   killed with SIGKILL, the desk comes back, and the daemon restarts. Printed: the time
   from the restart (process spawn) to ready, and to the last of the N messages accepted
   by the desk, each exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from relay import free_port  # noqa: E402

from tests.fakes.obi4wan_server import FakeObi4wan, Fault  # noqa: E402  (root, set above)

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
type = "obi4wan"
api_url = "{desk_url}"
channel_identifier = "{channel}"
channel_token = "${{BENCH_OBI_TOKEN}}"
chat_guid = "chat-guid-1"
webhook_secret = "${{BENCH_OBI_SECRET}}"
availability_cache_seconds = 0
queue_poll_seconds = 0
request_timeout_seconds = 60

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["rest"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
"""


@dataclass
class Daemon:
    data: Path
    fake: FakeObi4wan
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> float:
        """Spawn and wait until ready; returns the seconds that took."""
        cfg = self.data / "bench.toml"
        cfg.write_text(CONFIG.format(port=self.port, data=self.data, desk_url=self.fake.url,
                                     channel=self.fake.channel_identifier))
        env = {**os.environ, "BENCH_OBI_TOKEN": self.fake.channel_token,
               "BENCH_OBI_SECRET": self.fake.webhook_secret,
               "PYTHONPATH": str(HERE.parent)}
        started = time.perf_counter()
        with (self.data / "daemon.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "handover", "run", str(cfg)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        async with aiohttp.ClientSession() as http:
            while time.perf_counter() - started < 30:
                if self.proc.poll() is not None:
                    raise RuntimeError("the daemon exited")
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            self.fake.webhook_url = f"{self.url}/desk/webhook"
                            return time.perf_counter() - started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.02)
        raise RuntimeError("the daemon did not become ready")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Citizen:
    conversation_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def handed_over(http: aiohttp.ClientSession, d: Daemon, count: int,
                      join: bool) -> list[Citizen]:
    """`count` REST citizens, each queued at the desk (and joined by an agent)."""

    async def one() -> Citizen:
        async with http.post(f"{d.url}/rest/conversations", json={"tenant": "demo"}) as resp:
            data = await resp.json()
        c = Citizen(data["conversation_id"], data["token"])
        body = {"action": "request_agent", "action_id": "a1"}
        async with http.post(f"{d.url}/rest/conversations/{c.conversation_id}/actions",
                             json=body, headers=c.auth) as resp:
            assert resp.status == 202, await resp.text()
        return c

    citizens = list(await asyncio.gather(*(one() for _ in range(count))))
    threads = [f"{c.conversation_id}-1" for c in citizens]
    await d.fake.wait_for(lambda: all(d.fake.threads.get(t) for t in threads), timeout=60)
    if join:
        for t in threads:
            status, _ = await d.fake.join(t)
            assert status == 200
    return citizens


async def webhook_ack(threads: int, webhooks: int) -> tuple[float, list[float]]:
    """(seconds, per-webhook ack latencies)."""
    fake = FakeObi4wan()
    await fake.start()
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
        d = Daemon(Path(tmp), fake)
        try:
            await d.start()
            async with aiohttp.ClientSession() as http:
                citizens = await handed_over(http, d, threads, join=True)
            latencies: list[float] = []
            queue = list(range(webhooks))

            async def poster() -> None:
                while queue:
                    n = queue.pop()
                    thread = f"{citizens[n % len(citizens)].conversation_id}-1"
                    sent = time.perf_counter()
                    status, _ = await fake.say(thread, f"antwoord {n}")
                    latencies.append(time.perf_counter() - sent)
                    if status != 200:
                        raise RuntimeError(f"webhook answered {status}")

            started = time.perf_counter()
            await asyncio.gather(*(poster() for _ in range(8)))
            return time.perf_counter() - started, latencies
        finally:
            d.stop()
            await fake.stop()


async def webhook_paced(threads: int, rate: float, seconds: float,
                        in_flight: int = 8) -> tuple[float, list[float]]:
    """Open loop: webhooks offered at `rate` per second for `seconds`, at most
    `in_flight` at once (as the desk's sender would). Latency counts from each
    webhook's scheduled time, so the wait for a free sender is included: a daemon
    slower than the offered rate shows as a growing p99, not as a lower rate.
    Returns (seconds until the last answer, latencies)."""
    fake = FakeObi4wan()
    await fake.start()
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
        d = Daemon(Path(tmp), fake)
        try:
            await d.start()
            async with aiohttp.ClientSession() as http:
                citizens = await handed_over(http, d, threads, join=True)
            latencies: list[float] = []
            senders = asyncio.Semaphore(in_flight)

            async def one(n: int, scheduled: float) -> None:
                async with senders:
                    thread = f"{citizens[n % len(citizens)].conversation_id}-1"
                    status, _ = await fake.say(thread, f"antwoord {n}")
                latencies.append(time.perf_counter() - scheduled)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")

            tasks = []
            started = time.perf_counter()
            for n in range(int(rate * seconds)):
                scheduled = started + n / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(n, scheduled)))
            await asyncio.gather(*tasks)
            return time.perf_counter() - started, latencies
        finally:
            d.stop()
            await fake.stop()


async def recovery(conversations: int, pending: int) -> tuple[float, float, int]:
    """(seconds to ready, seconds to the last pending message delivered, duplicates)."""
    fake = FakeObi4wan()
    await fake.start()
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
        d = Daemon(Path(tmp), fake)
        try:
            await d.start()
            async with aiohttp.ClientSession() as http:
                citizens = await handed_over(http, d, conversations, join=True)
                # From now on the desk hangs: every message stays pending in the outbox.
                fake.fail_next("ingest", Fault.hang(120), times=10 * pending)
                texts = [f"wachtend {n}" for n in range(pending)]

                async def say(n: int) -> None:
                    c = citizens[n % len(citizens)]
                    body = {"message_id": uuid.uuid4().hex, "text": texts[n]}
                    async with http.post(
                        f"{d.url}/rest/conversations/{c.conversation_id}/messages",
                        json=body, headers=c.auth) as resp:
                        assert resp.status == 202, await resp.text()

                async def in_order(first: int) -> None:  # one conversation's messages
                    for n in range(first, pending, len(citizens)):
                        await say(n)

                await asyncio.gather(*(in_order(i) for i in range(len(citizens))))
            await asyncio.sleep(0.5)
            d.kill()
            fake.clear_faults()  # the desk is back
            ready = await d.start()
            restarted = time.perf_counter() - ready

            def accepted() -> list[str]:
                return [p["content"] for posts in fake.threads.values() for p in posts
                        if p["content"].startswith("wachtend ")]

            deadline = time.perf_counter() + 120
            while len(set(accepted())) < pending:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"only {len(set(accepted()))} of {pending} delivered")
                await asyncio.sleep(0.005)
            delivered = time.perf_counter() - restarted
            return ready, delivered, len(accepted()) - len(set(accepted()))
        finally:
            d.stop()
            await fake.stop()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=20, help="handed-over conversations")
    parser.add_argument("--webhooks", type=int, default=2000, help="agent webhooks to post")
    parser.add_argument("--conversations", type=int, default=50,
                        help="conversations with pending messages (recovery)")
    parser.add_argument("--pending", type=int, default=1000,
                        help="messages pending at the SIGKILL (recovery)")
    args = parser.parse_args()
    seconds, latencies = await webhook_ack(args.threads, args.webhooks)
    print(f"{len(latencies)} webhooks in {seconds:.2f} s ({len(latencies) / seconds:.0f}/s): "
          f"ack p50 {pct(latencies, 50):.1f} ms  p95 {pct(latencies, 95):.1f} ms  "
          f"p99 {pct(latencies, 99):.1f} ms")
    ready, delivered, doubles = await recovery(args.conversations, args.pending)
    print(f"after SIGKILL with {args.pending} pending: ready in {ready:.2f} s, all delivered "
          f"{delivered:.2f} s after the restart; accepted twice: {doubles}")


if __name__ == "__main__":
    asyncio.run(main())
