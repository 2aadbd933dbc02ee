"""The demo desk's HTTP API: an agent (a person with curl, a test, a demo page) drives it.

    GET  /threads                              -> 200 [thread, ...] newest first
    GET  /threads/{thread_id}                  -> 200 {thread}
    GET  /threads/{thread_id}/events?after=N&wait=S
         -> 200 {"thread_id", "status", "agent_name", "events": [...], "last_index"}
    POST /threads/{thread_id}/join      {"agent_name"}                        -> 202 {"outcome"}
    POST /threads/{thread_id}/messages  {"text", "message_id"?, "attachments"?} -> 202
    POST /threads/{thread_id}/typing    {"on"}                 -> 202 {"outcome": "relayed"}
    POST /threads/{thread_id}/close     {"outcome"?}                          -> 202

`events` are what the desk received for the thread (opened, message, note, closed), each
with an increasing `index`; the long-poll returns at once when there is one after N,
else waits up to S seconds (at most 30).

An action on a thread the desk does not know is accepted when the thread id parses and
its conversation exists for one of this desk's tenants: the daemon (and a desk without
`state_path`) may have restarted since the thread was opened.

Errors are JSON `{"error", "detail"}`: 400 bad JSON or fields (unknown fields refused),
401 no bearer token / 403 wrong token (when `token` is configured), 404 unknown thread or
conversation, 413 a body over 64 KiB, 503 the daemon could not store the event.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from adapters.demo_desk.state import DeskState, Status, ThreadRecord
from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext, IngestOutcome, IngestResult
from handover.sdk.http import ApiError, Handler, ingest_or_error, json_errors, read_json
from handover.sdk.http import Fields as _Fields
from handover.sdk.http import query_value as _query_value
from handover.sdk.keys import desk_message_key
from handover.sdk.model import Attachment, Content, Conversation, Party, parse_thread_id

if TYPE_CHECKING:
    from adapters.demo_desk.adapter import DemoDeskOptions

MAX_WAIT_SECONDS = 30.0
MAX_ID_LENGTH = 100
MAX_ATTACHMENTS = 10
MAX_URL_LENGTH = 2048



@dataclass(frozen=True, slots=True)
class _Target:
    """The thread an agent acts on: the desk's record, or the conversation behind it."""

    thread_id: str
    conversation_id: str
    record: ThreadRecord | None
    conversation: Conversation | None


class DeskRoutes:
    """The handlers, bound to one demo desk instance."""

    def __init__(
        self, ctx: AdapterContext, source: str, options: DemoDeskOptions, state: DeskState
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.options = options
        self.state = state

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors, self._require_token])
        app.add_routes([
            web.get("/threads", self.list_threads),
            web.get("/threads/{thread_id}", self.get_thread),
            web.get("/threads/{thread_id}/events", self.get_events),
            web.post("/threads/{thread_id}/join", self.join),
            web.post("/threads/{thread_id}/messages", self.message),
            web.post("/threads/{thread_id}/typing", self.typing),
            web.post("/threads/{thread_id}/close", self.close),
        ])

        async def release_pollers(_app: web.Application) -> None:
            self.state.wakeups.close()

        app.on_shutdown.append(release_pollers)
        return app

    @web.middleware
    async def _require_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        tokens = self.options.tokens
        if tokens:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            given = given.strip()
            if scheme.lower() != "bearer" or not given:
                raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                               {"WWW-Authenticate": "Bearer"})
            # Check every configured token (two during a rotation) without stopping early.
            matches = [hmac.compare_digest(given.encode(), t.encode()) for t in tokens]
            if not any(matches):
                raise ApiError(403, "forbidden", "the token is not valid for this desk")
        return await handler(request)

    # --- reading --------------------------------------------------------------------

    async def list_threads(self, request: web.Request) -> web.Response:
        # A bare list: what the README's walkthrough and the e2e harness read.
        return web.json_response([t.to_json() for t in self.state.newest_first()])

    async def get_thread(self, request: web.Request) -> web.Response:
        return web.json_response(self._known(request).to_json())

    async def get_events(self, request: web.Request) -> web.Response:
        record = self._known(request)
        after = _query_value(request, "after", int, 0)
        wait = min(_query_value(request, "wait", float, 0.0), MAX_WAIT_SECONDS)
        with self.state.wakeups.watch(record.thread_id) as woken:
            if len(record.received) <= after and wait > 0:
                await asyncio.wait([woken], timeout=wait)
        return web.json_response({
            "thread_id": record.thread_id,
            "status": record.status.value,
            "agent_name": record.agent_name,
            "events": record.received[after:],
            "last_index": len(record.received),
        })

    # --- agent actions --------------------------------------------------------------

    async def join(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        fields = _Fields.of(await read_json(request), ("agent_name",))
        agent_name = fields.require("agent_name")
        result = await self._ingest(ev.AgentJoined(
            conversation_id=target.conversation_id,
            source=self.source,
            # Joining twice is a second event on purpose (an agent may rejoin).
            source_id=f"join:{target.thread_id}:{secrets.token_hex(8)}",
            thread=target.thread_id,
            agent_name=agent_name,
        ))
        await self._record(target, result, agent_name=agent_name, status=Status.ACTIVE)
        return _accepted(result)

    async def message(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        fields = _Fields.of(await read_json(request), ("text", "message_id", "attachments"))
        text = fields.string("text", max_length=None, allow_empty=True) or ""
        message_id = fields.ident("message_id")
        attachments = _attachments(fields.data.get("attachments"))
        if not text.strip() and not attachments:
            raise ApiError(400, "empty_message", "send a text or attachments")
        agent_name = target.record.agent_name if target.record else None
        result = await self._ingest(ev.AgentMessage(
            conversation_id=target.conversation_id,
            source=self.source,
            source_id=desk_message_key(message_id or secrets.token_hex(12)),
            thread=target.thread_id,
            content=Content(text=text, attachments=attachments),
            agent_name=agent_name,
        ))
        # An agent who answers a queued thread has taken it.
        await self._record(target, result, status=Status.ACTIVE)
        return _accepted(result)

    async def typing(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        on = _Fields.of(await read_json(request), ("on",)).boolean("on")
        try:
            await self.ctx.relay_typing(target.conversation_id, Party.AGENT, on)
        except Exception:
            # Typing is best effort; the agent's UI should not show an error for it.
            self.ctx.log.debug("demo_desk.typing_failed", thread_id=target.thread_id,
                               exc_info=True)
        return web.json_response({"outcome": "relayed"}, status=202)

    async def close(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        outcome = _Fields.of(await read_json(request), ("outcome",)).string("outcome")
        result = await self._ingest(ev.AgentClosed(
            conversation_id=target.conversation_id,
            source=self.source,
            source_id=f"close:{target.thread_id}",
            thread=target.thread_id,
            outcome=outcome or "resolved",
        ))
        await self._record(target, result, status=Status.CLOSED)
        return _accepted(result)

    # --- helpers --------------------------------------------------------------------

    def _known(self, request: web.Request) -> ThreadRecord:
        record = self.state.get(request.match_info["thread_id"])
        if record is None:
            raise ApiError(404, "unknown_thread", "the desk has no such thread")
        return record

    async def _target(self, request: web.Request) -> _Target:
        thread_id = request.match_info["thread_id"]
        record = self.state.get(thread_id)
        if record is not None:
            return _Target(thread_id, record.conversation_id, record, None)
        parsed = parse_thread_id(thread_id)
        conv = None
        if parsed is not None and len(thread_id) <= MAX_ID_LENGTH:
            conv = await self.ctx.get_conversation(parsed[0])
        if conv is None or conv.tenant not in self.ctx.tenants():
            raise ApiError(404, "unknown_thread", "no such thread or conversation")
        return _Target(thread_id, conv.id, None, conv)

    async def _ingest(self, event: ev.Event) -> IngestResult:
        return await ingest_or_error(
            self.ctx, event, log_event="demo_desk.ingest_failed",
            detail="the event could not be stored; retry",
        )

    async def _record(
        self, target: _Target, result: IngestResult, *, agent_name: str | None = None,
        status: Status,
    ) -> None:
        """Mirror an accepted agent action in the desk's own view of the thread. A stale
        or refused action (the thread is no longer current) changes nothing here."""
        if result.outcome not in (IngestOutcome.APPLIED, IngestOutcome.DUPLICATE):
            return
        record = target.record
        if record is None:
            assert target.conversation is not None
            stub = stub_thread(target.thread_id, target.conversation)
            record = await self.state.ensure_thread(stub)
        if status is Status.ACTIVE and record.status is not Status.QUEUED and agent_name is None:
            return  # a message on an active or closed thread changes no status
        await self.state.agent_update(record.thread_id, agent_name=agent_name, status=status)


def stub_thread(thread_id: str, conversation: Conversation) -> dict[str, Any]:
    """What the desk knows of a thread it was never sent: only the conversation's facts."""
    return {
        "thread_id": thread_id,
        "conversation_id": conversation.id,
        "tenant": conversation.tenant,
        "channel": conversation.channel,
        "language": conversation.language,
        "signal": None,
        "context": {},
        "transcript": [],
    }


def _accepted(result: IngestResult) -> web.Response:
    return web.json_response({"outcome": result.outcome.value}, status=202)


def _attachments(raw: Any) -> tuple[Attachment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ApiError(400, "invalid_field", "attachments must be a list")
    if len(raw) > MAX_ATTACHMENTS:
        raise ApiError(400, "invalid_field", f"at most {MAX_ATTACHMENTS} attachments")
    out: list[Attachment] = []
    for i, item in enumerate(raw):
        fields = _Fields.of(item, ("url", "name", "mime_type"), f"attachments[{i}].")
        url = fields.require("url", max_length=MAX_URL_LENGTH)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "invalid_field", f"attachments[{i}].url must be http(s)")
        out.append(Attachment(
            url=url,
            name=fields.string("name", max_length=255) or "",
            mime_type=fields.string("mime_type") or "application/octet-stream",
        ))
    return tuple(out)


