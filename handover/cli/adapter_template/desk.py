"""The desk adapter template: threads posted to an API, agent events on a webhook."""

from __future__ import annotations

from string import Template

WIRE = Template('''\
"""The upstream desk's JSON format (a made-up API: replace it with the real one).

We post: `POST threads` {"thread", "tenant", "summary"} -> {"id"};
`POST threads/<thread>/messages` {"id", "text", "kind"} -> {"id"} (our `id` is the
idempotency key; `kind` is "message" or "note"); `POST threads/<thread>/close` {"reason"}.
The desk calls our webhook with {"event_id", "type", "thread", "message_id"?, "text"?,
"agent"?}, `type` one of "joined", "message", "closed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = ("joined", "message", "closed")


class WireError(ValueError):
    """A webhook body that does not follow the format."""


@dataclass(frozen=True, slots=True)
class DeskEvent:
    event_id: str
    type: str
    thread: str
    message_id: str | None = None
    text: str = ""
    agent: str | None = None


def parse_event(data: Any) -> DeskEvent:
    if not isinstance(data, Mapping):
        raise WireError("the body must be a JSON object")
    unknown = sorted(set(data) - {"event_id", "type", "thread", "message_id", "text", "agent"})
    if unknown:
        raise WireError(f"unknown field(s): {', '.join(unknown)}")
    event_id, type_, thread = data.get("event_id"), data.get("type"), data.get("thread")
    if not isinstance(event_id, str) or not event_id or not isinstance(thread, str):
        raise WireError("event_id and thread are required strings")
    if type_ not in EVENT_TYPES:
        raise WireError(f"type must be one of {', '.join(EVENT_TYPES)}")
    message_id, text, agent = data.get("message_id"), data.get("text", ""), data.get("agent")
    if type_ == "message" and (not isinstance(message_id, str) or not message_id):
        raise WireError("a message needs its message_id")
    if not isinstance(text, str) or not (agent is None or isinstance(agent, str)):
        raise WireError("text and agent must be strings")
    return DeskEvent(event_id, type_, thread, message_id, text, agent)
''')

ROUTES = Template('''\
"""The webhook the desk calls: `POST /<instance>/webhook` with `X-Webhook-Token`.

Every event is ingested durably before we answer 2xx, so the desk retries anything we
did not store; a retry is applied once (the core's inbox dedups on (source, source_id)).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext
from handover.sdk.errors import UnknownConversation
from handover.sdk.http import ApiError, json_errors, read_json
from handover.sdk.keys import desk_message_key
from handover.sdk.model import Content, parse_thread_id

from $package import wire
from $package.options import Options


class WebhookRoutes:
    def __init__(self, ctx: AdapterContext, options: Options) -> None:
        self.ctx = ctx
        self.options = options

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        app.add_routes([web.post("/webhook", self.webhook)])
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Webhook-Token", "")
        if not hmac.compare_digest(token.encode(), self.options.webhook_token.encode()):
            raise ApiError(401, "bad_token", "X-Webhook-Token is missing or wrong")
        try:
            event = wire.parse_event(await read_json(request))
        except wire.WireError as exc:
            raise ApiError(400, "invalid_event", str(exc)) from None
        parsed = parse_thread_id(event.thread)
        if parsed is None:
            raise ApiError(404, "unknown_thread", "no such thread")
        try:
            result = await self.ctx.ingest(self._event(event, parsed[0]))
        except UnknownConversation:
            raise ApiError(404, "unknown_thread", "no such thread") from None
        except Exception:
            self.ctx.log.warning("$name.ingest_failed", exc_info=True)
            raise ApiError(503, "unavailable", "could not store the event; retry") from None
        return web.json_response({"outcome": result.outcome.value})

    def _event(self, event: wire.DeskEvent, conversation_id: str) -> ev.Event:
        source = self.ctx.name
        if event.type == "message":
            assert event.message_id is not None  # parse_event requires it
            return ev.AgentMessage(
                conversation_id=conversation_id, source=source, thread=event.thread,
                # The same key the core records for what we posted: echoes are dropped.
                source_id=desk_message_key(event.message_id),
                content=Content(text=event.text), agent_name=event.agent,
            )
        if event.type == "joined":
            return ev.AgentJoined(
                conversation_id=conversation_id, source=source, thread=event.thread,
                source_id=f"evt:{event.event_id}", agent_name=event.agent or "",
            )
        return ev.AgentClosed(
            conversation_id=conversation_id, source=source, thread=event.thread,
            source_id=f"evt:{event.event_id}",
        )
''')

ADAPTER = Template('''\
"""The $cls desk adapter: the glue between the core and the desk's API."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from handover.sdk.contracts import (
    AdapterContext,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    OutboundMessage,
)
from handover.sdk.model import Conversation

from $package.client import ApiClient
from $package.options import Options, parse_options
from $package.routes import WebhookRoutes


class $cls(DeskAdapter):
    """A contact-centre desk reached over its HTTP API (generated by handover new-adapter)."""

    #: The desk's API is idempotent on our message id: a resend after a crash is safe.
    resend_safe = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        assert isinstance(config, Options)
        self.options = config

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Options:
        return parse_options(section, path)

    def http_app(self) -> web.Application:
        return WebhookRoutes(self.ctx, self.options).app()

    def _client(self) -> ApiClient:
        # ctx.http exists once the daemon runs, so the client is made per call.
        return ApiClient(self.ctx.http, self.options)

    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        summary = "\\n".join(f"{e.party.value}: {e.content.text}" for e in thread.transcript)
        await self._client().post("threads", {
            "thread": thread.thread_id, "tenant": thread.tenant, "summary": summary,
        })
        return DeskReceipt()

    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        answer = await self._client().post(f"threads/{thread_id}/messages", {
            "id": message.message_id, "text": message.content.text, "kind": "message",
        })
        desk_id = answer.get("id")
        return DeskReceipt(desk_message_id=desk_id if isinstance(desk_id, str) else None)

    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        await self._client().post(f"threads/{thread_id}/messages", {
            # A note has no id of ours: a retried note may show twice.
            "id": f"note:{uuid.uuid4().hex}", "text": text, "kind": "note",
        })
        return DeskReceipt()

    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        await self._client().post(f"threads/{thread_id}/close", {"reason": reason})
''')

TEST = Template('''\
"""The handover conformance suite, run against the $cls adapter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web
from handover.sdk.conformance import (
    ConformanceCase,
    ConformanceRun,
    InboundHook,
    UpstreamHook,
    conformance_tests,
)
from handover.sdk.contracts import DeskAdapter, OutboundMessage
from handover.sdk.model import Content, Party, State, thread_id
from handover.sdk.testing import FakeUpstream

from $package.adapter import $cls

WEBHOOK_TOKEN = "webhook-token-for-tests"


class FakeDesk(FakeUpstream):
    """The desk's API as wire.py describes it, accepting everything."""

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("POST", "/threads", "open_thread", self._accept),
            self.route("POST", "/threads/{thread}/messages", "post_message", self._accept),
            self.route("POST", "/threads/{thread}/close", "close_thread", self._accept),
        ]

    async def _accept(self, request: web.Request) -> web.Response:
        return web.json_response({"id": f"desk-{len(self.calls)}"})


class AgentMessage(InboundHook):
    """An agent's message on a thread the desk holds."""

    thread = ""

    async def prepare(self, run: ConformanceRun) -> None:
        conv = run.ctx.add_conversation(channel="web", state=State.AGENT, handover_no=1)
        self.thread = thread_id(conv.id, 1)

    def path(self, run: ConformanceRun) -> str:
        return "webhook"

    def body(self, run: ConformanceRun, message_id: str) -> bytes:
        return json.dumps({"event_id": f"evt-{message_id}", "type": "message",
                           "thread": self.thread, "message_id": message_id,
                           "text": "Goedemorgen", "agent": "Sanne"}).encode()

    def headers(self, run: ConformanceRun, body: bytes) -> Mapping[str, str]:
        return {"Content-Type": "application/json", "X-Webhook-Token": WEBHOOK_TOKEN}


class PostMessage(UpstreamHook):
    operation: ClassVar[str] = "post_message"
    hang_seconds: ClassVar[float] = 3.0

    def fake(self) -> FakeUpstream:
        return FakeDesk()

    def config(self, url: str) -> Mapping[str, Any]:
        return {"api_url": url, "request_timeout_seconds": 0.3}

    async def call(self, run: ConformanceRun) -> None:
        desk = run.adapter
        assert isinstance(desk, DeskAdapter)
        conv = run.ctx.add_conversation(channel="web", state=State.AGENT, handover_no=1)
        message = OutboundMessage(1, "m-1", Party.CITIZEN, Content(text="hallo"))
        await desk.send(conv, thread_id(conv.id, 1), message)


CASE = ConformanceCase(
    $cls,
    {"api_url": "http://127.0.0.1:9", "api_token": "api-token-for-tests",
     "webhook_token": WEBHOOK_TOKEN},
    inbound=AgentMessage(),
    upstream=PostMessage(),
)

TestConformance = conformance_tests(CASE)
''')
