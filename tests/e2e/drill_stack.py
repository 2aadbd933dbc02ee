"""An in-process daemon wired to the fake upstreams over loopback, for fault drills.

The citizen side is the memory channel; the bot is the memory bot or Gem on the fake
Rasa (behind `Outage`, a TCP proxy that can refuse connections like a Rasa that is
down); the desk is the fake OBI4wan, whose `down` flag answers 503 to everything.
Backoff and notices are scaled down: an outage ten times the backoff cap long stands
for a minute's outage at the production cap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.sdk.testing import MemoryChannel
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.rasa_server import FakeRasa
from tests.harness import BASE, merge

ENV = {"OBI_TOKEN": "channel-token-1", "OBI_SECRET": "webhook-secret-1"}
BACKOFF_CAP = 0.2
#: "A minute" at this scale.
OUTAGE_SECONDS = 10 * BACKOFF_CAP


class Outage:
    """A TCP proxy in front of an upstream; `down()` refuses and cuts connections."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._pipes |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._pipes -= {writer, up_writer}


@dataclass
class Drill:
    daemon: Daemon
    obi: FakeObi4wan
    rasa: FakeRasa
    bot_link: Outage
    url: str

    @property
    def chat(self) -> MemoryChannel:
        return cast(MemoryChannel, self.daemon.adapters["chat"])


@contextlib.asynccontextmanager
async def drill_stack(tmp: Path, bot: str = "memory") -> AsyncIterator[Drill]:
    async with contextlib.AsyncExitStack() as stack:
        obi = FakeObi4wan()
        await obi.start()
        stack.push_async_callback(obi.stop)
        rasa = FakeRasa()
        await rasa.start()
        stack.push_async_callback(rasa.stop)
        link = Outage(int(rasa.url.rsplit(":", 1)[1].rstrip("/")))
        await link.up()
        bot_section: dict[str, Any] = (
            {"type": "memory_bot"} if bot == "memory" else
            {"type": "rasa", "url": f"http://127.0.0.1:{link.port}", "mode": "rest",
             "turn_timeout_seconds": 2}
        )
        doc = merge(BASE, {
            "store": {"path": str(tmp / "handover.db")},
            "delivery": {"backoff_base_seconds": 0.02, "backoff_cap_seconds": BACKOFF_CAP,
                         "desk_delay_notice_seconds": OUTAGE_SECONDS / 4},
            "adapters": {"bot": bot_section, "desk": {
                "type": "obi4wan", "api_url": obi.url,
                "channel_identifier": obi.channel_identifier, "channel_token": "${OBI_TOKEN}",
                "chat_guid": obi.chat_guid, "webhook_secret": "${OBI_SECRET}",
                "request_timeout_seconds": 0.5, "availability_cache_seconds": 0,
                "queue_poll_seconds": 0, "circuit_failure_threshold": 3,
                "circuit_reset_seconds": BACKOFF_CAP,
            }},
        })
        daemon = Daemon(parse_config(doc, base_dir=tmp, env=ENV))
        runner = web.AppRunner(daemon.build_app(), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        obi.webhook_url = f"{url}/desk/webhook"
        yield Drill(daemon, obi, rasa, link, url)


async def healthz(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
        return resp.status
