"""One daemon for the fuzz tests: every inbound HTTP surface, served on loopback.

The daemon runs on an event loop in a background thread, so hypothesis (synchronous)
drives it with plain calls: `stack.call(coro)` runs a coroutine on the daemon's loop.
Tenant `demo` has the web widget, REST, WhatsApp (fake Graph API) and telephony
(VoiceAI Connect) channels, Gem on (fake) Rasa with callbacks, and (fake) OBI4wan; tenant `ander` has REST, the demo bot and the agent console.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.rasa_server import FakeRasa
from tests.fakes.whatsapp_server import VERSION, FakeGraph

T = TypeVar("T")

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
AGENT_TOKEN = "fuzz-agent-token-0123456789"
CALLBACK_TOKEN = "fuzz-callback-token-0123456789"
ORIGIN = "https://www.gemeente.example"
VOICE_TOKEN = "fuzz-voice-token-0123456789"
ENV = {
    "ADMIN": ADMIN_TOKEN,
    "AGENT": AGENT_TOKEN,
    "CALLBACK": CALLBACK_TOKEN,
    "OBI_TOKEN": "channel-token-1",
    "OBI_SECRET": "webhook-secret-1",
    "WA_TOKEN": "graph-token-1",
    "WA_SECRET": "app-secret-1",
    "WA_VERIFY": "verify-1",
    "VOICE_BOT": VOICE_TOKEN,
    "VOICE_TRANSCRIPT": "fuzz-transcript-token-0123456789",
    "VOICE_REF": "fuzz-reference-secret-0123456789",
}


def _config(tmp: Path, rasa: FakeRasa, obi: FakeObi4wan, graph: FakeGraph) -> dict[str, Any]:
    handover = {"phone": "14 012", "queue_fallback": "bot"}
    return {
        "server": {"admin_tokens": ["${ADMIN}"], "max_body_bytes": 65536},
        "store": {"path": str(tmp / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            # Limits far above the fuzzing's pace: refusals are to come from the input.
            "web": {"type": "web", "tenants": {"demo": {
                "origins": [ORIGIN], "connections_per_minute": 100000,
                "frames_per_minute": 100000, "messages_per_minute": 100000}}},
            # Every fuzz request comes from loopback: the abuse limits would end the
            # fuzzing at the first bucket instead of reaching the parsers behind them.
            "rest": {"type": "rest", "conversations_per_minute": 1_000_000,
                     "messages_per_minute": 1_000_000},
            "sio": {"type": "socketio", "tenants": {"demo": {
                "origins": [ORIGIN], "connections_per_minute": 100000,
                "events_per_minute": 100000, "messages_per_minute": 100000}}},
            "wa": {
                "type": "whatsapp", "graph_url": graph.url, "api_version": VERSION,
                "access_token": "${WA_TOKEN}", "app_secret": "${WA_SECRET}",
                "verify_token": "${WA_VERIFY}", "public_url": "https://handover.test/wa",
                "media_dir": str(tmp / "media"), "state_path": str(tmp / "wa.db"),
                "request_timeout_seconds": 0.5,
                "tenants": {"demo": {"phone_number_id": graph.phone_number_id,
                                     "template_name": "agent_reply",
                                     "template_language": "nl"}},
            },
            "phone": {
                "type": "voiceai", "bot_token": "${VOICE_BOT}",
                "transcript_token": "${VOICE_TRANSCRIPT}", "reference_secret": "${VOICE_REF}",
                "response_budget_seconds": 0.5,
                "tenants": {"demo": {"transfer_target": "tel:+31302860000"}},
            },
            "gem": {"type": "rasa", "url": rasa.url, "mode": "callback",
                    "callback_token": "${CALLBACK}", "turn_timeout_seconds": 2},
            "demo": {"type": "demo_bot"},
            "desk": {
                "type": "obi4wan", "api_url": obi.url,
                "channel_identifier": obi.channel_identifier,
                "channel_token": "${OBI_TOKEN}", "chat_guid": obi.chat_guid,
                "webhook_secret": "${OBI_SECRET}", "request_timeout_seconds": 0.5,
            },
            "kcc": {"type": "console",
                    "agents": [{"id": "sanne", "name": "Sanne", "token": "${AGENT}"}]},
        },
        "tenants": {
            "demo": {"name": "Gemeente Voorbeeld", "channels": ["web", "rest", "wa", "phone", "sio"],
                     "bot": "gem", "desk": "desk", "handover": handover},
            "ander": {"name": "Gemeente Anders", "channels": ["rest"], "bot": "demo",
                      "desk": "kcc", "handover": handover},
        },
    }


class FuzzStack:
    """The daemon, the fake upstreams and a client session, on one background loop."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""
        self.daemon: Daemon
        self.rasa: FakeRasa
        self.obi: FakeObi4wan
        self.graph: FakeGraph
        self.http: aiohttp.ClientSession
        self._runner: web.AppRunner

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `coro` on the daemon's loop; a hang fails the test after `timeout`."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> FuzzStack:
        self.thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _start(self) -> None:
        self.rasa = FakeRasa()
        await self.rasa.start()
        self.obi = FakeObi4wan()
        await self.obi.start()
        self.graph = FakeGraph()
        await self.graph.start()
        config = parse_config(_config(self.tmp, self.rasa, self.obi, self.graph),
                              base_dir=self.tmp, env=ENV)
        self.daemon = Daemon(config)
        self._runner = web.AppRunner(self.daemon.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self.obi.webhook_url = f"{self.url}/desk/webhook"
        self.graph.webhook_url = f"{self.url}/wa/webhook"
        self.rasa.callback_url = f"{self.url}/gem/callback?token={CALLBACK_TOKEN}"
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def _stop(self) -> None:
        await self.http.close()
        await self._runner.cleanup()  # stops the daemon (the app's lifespan)
        await self.obi.stop()
        await self.graph.stop()
        await self.rasa.stop()

    # --- requests -----------------------------------------------------------------------

    async def request(self, method: str, path: str, *, data: bytes | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        async with self.http.request(method, self.url + path, data=data,
                                     headers=headers) as resp:
            return resp.status, await resp.read()

    def healthy(self) -> bool:
        status, _ = self.call(self.request("GET", "/healthz"))
        return status == 200
