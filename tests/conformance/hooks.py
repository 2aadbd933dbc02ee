"""Inbound and upstream hooks for the built-in adapters' conformance cases."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from adapters.rest.routes import channel_key
from handover.sdk.conformance import ConformanceRun, InboundHook, UpstreamHook
from handover.sdk.contracts import BotAdapter, DeskAdapter, OutboundMessage
from handover.sdk.model import Content, Party, State, thread_id
from handover.sdk.testing import FakeUpstream

# --- REST channel -------------------------------------------------------------------------

REST_TOKEN = "rest-conformance-token-0123456789"


class RestMessage(InboundHook):
    """A citizen message posted to the REST channel with the conversation's token."""

    conversation_id = ""

    async def prepare(self, run: ConformanceRun) -> None:
        conv = run.ctx.add_conversation(channel_key=channel_key(REST_TOKEN))
        self.conversation_id = conv.id

    def path(self, run: ConformanceRun) -> str:
        return f"conversations/{self.conversation_id}/messages"

    def body(self, run: ConformanceRun, message_id: str) -> bytes:
        return json.dumps({"message_id": message_id, "text": "Goedemorgen"}).encode()

    def headers(self, run: ConformanceRun, body: bytes) -> Mapping[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {REST_TOKEN}"}


# --- Rasa ---------------------------------------------------------------------------------


class FakeRasaRest(FakeUpstream):
    """Rasa's REST webhook, answering no messages."""

    def routes(self) -> list[web.RouteDef]:
        return [self.route("POST", "/webhooks/rest/webhook", "rest_webhook", self._webhook)]

    async def _webhook(self, request: web.Request) -> web.Response:
        return web.json_response([])


class RasaTurn(UpstreamHook):
    operation: ClassVar[str] = "rest_webhook"
    hang_seconds: ClassVar[float] = 3.0

    def fake(self) -> FakeUpstream:
        return FakeRasaRest()

    def config(self, url: str) -> Mapping[str, Any]:
        return {"url": url, "turn_timeout_seconds": 0.5, "connect_timeout_seconds": 0.5}

    async def call(self, run: ConformanceRun) -> None:
        from handover.sdk.contracts import BotTurn

        bot = run.adapter
        assert isinstance(bot, BotAdapter)
        conv = run.ctx.add_conversation(channel="chat")
        await bot.turn(conv, BotTurn("m-1", "hallo", None, "nl", {"tenant": conv.tenant}))


# --- OBI4wan ------------------------------------------------------------------------------

OBI4WAN_SECRET = "obi4wan-webhook-secret-0123456789"
OBI4WAN_CONFIG: Mapping[str, Any] = {
    "api_url": "http://127.0.0.1:9",
    "channel_identifier": "11111111-2222-3333-4444-555555555555",
    "channel_token": "obi4wan-channel-token-0123456789",
    "chat_guid": "chat-guid-1",
    "webhook_secret": OBI4WAN_SECRET,
}


class Obi4wanWebhook(InboundHook):
    """An agent's message on a thread the desk holds, signed like OBI4wan signs."""

    thread = ""

    async def prepare(self, run: ConformanceRun) -> None:
        conv = run.ctx.add_conversation(channel="web", state=State.AGENT, handover_no=1)
        self.thread = thread_id(conv.id, 1)

    def path(self, run: ConformanceRun) -> str:
        return "webhook"

    def body(self, run: ConformanceRun, message_id: str) -> bytes:
        return json.dumps({
            "eventId": f"evt-{message_id}", "type": "message.created", "threadId": self.thread,
            "channelIdentifier": OBI4WAN_CONFIG["channel_identifier"],
            "occurredAt": "2026-03-02T09:00:00Z",
            "agent": {"id": "a1", "name": "Sanne"},
            "message": {"id": message_id, "content": "Goedemorgen"},
        }).encode()

    def headers(self, run: ConformanceRun, body: bytes) -> Mapping[str, str]:
        ts = str(int(time.time()))
        mac = hmac.new(OBI4WAN_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256)
        return {"Content-Type": "application/json", "X-OBI4wan-Timestamp": ts,
                "X-OBI4wan-Signature": "sha256=" + mac.hexdigest()}


class FakeObi4wanIngest(FakeUpstream):
    """OBI4wan's custom-channel ingest and availability check, accepting everything."""

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("POST", "/customchannels/v1/index", "ingest", self._ingest),
            self.route("GET", "/chat/availability", "availability", self._availability),
        ]

    async def _ingest(self, request: web.Request) -> web.Response:
        return web.json_response({"id": f"obi-{len(self.calls)}"})

    async def _availability(self, request: web.Request) -> web.Response:
        return web.json_response({"available": True})


class Obi4wanIngest(UpstreamHook):
    operation: ClassVar[str] = "ingest"
    hang_seconds: ClassVar[float] = 3.0

    def fake(self) -> FakeUpstream:
        return FakeObi4wanIngest()

    def config(self, url: str) -> Mapping[str, Any]:
        return {"api_url": url, "request_timeout_seconds": 0.3, "queue_poll_seconds": 0}

    async def call(self, run: ConformanceRun) -> None:
        desk = run.adapter
        assert isinstance(desk, DeskAdapter)
        conv = run.ctx.add_conversation(channel="web", state=State.AGENT, handover_no=1)
        message = OutboundMessage(1, "m-1", Party.CITIZEN, Content(text="hallo"))
        await desk.send(conv, thread_id(conv.id, 1), message)


# --- Open Klant ---------------------------------------------------------------------------

OPENKLANT_TOKEN = "openklant-conformance-token-0123"
OPENKLANT_ACTOR = "5b0e1c1e-7d4f-4c8e-9a53-0d2f6c1a9b11"


class FakeOpenKlantMaak(FakeUpstream):
    """The first two calls of a registration: the marker lookup (nothing found) and the
    klantcontact's creation, accepted with a well-formed answer."""

    BASE = "/klantinteracties/api/v1"

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("GET", f"{self.BASE}/klantcontacten", "find_klantcontact", self._find),
            self.route("POST", f"{self.BASE}/maak-klantcontact", "maak_klantcontact",
                       self._maak),
        ]

    async def _find(self, request: web.Request) -> web.Response:
        return web.json_response({"count": 0, "next": None, "previous": None, "results": []})

    async def _maak(self, request: web.Request) -> web.Response:
        return web.json_response({}, status=201)


class OpenKlantCallback(UpstreamHook):
    operation: ClassVar[str] = "maak_klantcontact"
    hang_seconds: ClassVar[float] = 3.0

    def fake(self) -> FakeUpstream:
        return FakeOpenKlantMaak()

    def config(self, url: str) -> Mapping[str, Any]:
        return {"base_url": url + FakeOpenKlantMaak.BASE, "timeout_seconds": 0.3}

    async def call(self, run: ConformanceRun) -> None:
        from datetime import UTC, datetime

        from handover.sdk.registration import AddressKind, CallbackRequest, RegistrationTarget

        target = run.adapter
        assert isinstance(target, RegistrationTarget)
        await target.register_callback(CallbackRequest(
            request_id="0" * 32, reference="K7M2QP", tenant=run.case.tenants[0],
            conversation_id="conv-1", channel="web", channel_type="web", language="nl",
            placed_at=datetime(2026, 3, 2, 18, 30, tzinfo=UTC),
            address_kind=AddressKind.PHONE, address="+31612345678", question="Bel mij terug",
        ))
