"""The console's HTTP API for the agent's page (all under `/<instance>/api/`).

    GET  /api/me              -> 200 {"agent", "tenants", "outcomes", "summary_tenants"}
    GET  /api/threads                              -> 200 {"threads": [summary, ...]}
    GET  /api/threads/{thread_id}                  -> 200 detail (with transcript)
    POST /api/threads/{thread_id}/pickup                        -> 200 {"thread"}
    POST /api/threads/{thread_id}/messages  {"message_id", "text"} -> 202 {"outcome"}
    POST /api/threads/{thread_id}/typing    {"on"}              -> 202 {"outcome"}
    POST /api/threads/{thread_id}/close     {"outcome", "summary"?} -> 200 {"thread"}
    GET  /api/live                           websocket, see adapters.console.live

Every route but the websocket needs `Authorization: Bearer <agent token>`; the websocket
takes the token in its subprotocol header and is refused before the upgrade without one
(see adapters.console.gate). A thread of a
tenant the agent does not see answers 404, as if it did not exist. Errors are JSON
`{"error", "detail"}` (see README.md for the list).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from adapters.console.feed import EventFeed
from adapters.console.gate import LiveGate
from adapters.console.journal import Journal, Status, ThreadRow
from adapters.console.live import LiveHub
from adapters.console.notes import InternalNotes, merge_into
from adapters.console.options import Agent, ConsoleOptions
from adapters.console.presence import Presence
from adapters.console.view import (
    consent_asked,
    detail,
    effective_status,
    entry_json,
    erased,
    last_message,
    summary,
)
from adapters.console.workload import Workload
from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext, IngestOutcome, IngestResult
from handover.sdk.http import (
    MAX_ID_LENGTH,
    ApiError,
    Fields,
    Handler,
    ingest_or_error,
    read_json,
)
from handover.sdk.metrics import REGISTRY
from handover.sdk.model import Content, Conversation, Party, parse_thread_id

__all__ = ["CONSOLE_ACTIONS", "TOOL_ROUTE", "AgentApi"]

#: Transcript entries read per thread for its line in the list: enough to pass over the
#: bot's and the queue's standard lines to the last thing someone said.
LIST_TAIL = 20

CONSOLE_ACTIONS = Counter(
    "handover_console_actions_total",
    "Agent actions in the console by action (pickup, message, close, note, transfer, "
    "status) and result (applied, duplicate, taken, closed, refused; away, available).",
    ["adapter", "action", "result"],
    registry=REGISTRY,
)

MAX_TEXT_LENGTH = 4000
#: The longest close summary: what a contact registry keeps as a contact's content
#: (Open Klant's `inhoud` holds 1000 characters).
MAX_SUMMARY_LENGTH = 1000
#: Closed threads stay in the list this long, so an agent sees what just ended; then the
#: console forgets them.
CLOSED_VISIBLE = timedelta(hours=12)
AGENT_KEY: web.RequestKey[Agent] = web.RequestKey("console_agent", Agent)
_ACCEPTED = (IngestOutcome.APPLIED, IngestOutcome.DUPLICATE)
FORGET_EVERY = timedelta(minutes=10)
#: The routes that need a bearer token (by route name).
_PROTECTED = frozenset({"me", "threads", "thread", "pickup", "message", "typing", "close"})
#: Route names starting with this need a bearer token too (workbench.py's routes).
TOOL_ROUTE = "agent."


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AgentApi:
    """The handlers, bound to one console instance."""

    def __init__(
        self, ctx: AdapterContext, source: str, options: ConsoleOptions, journal: Journal
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.options = options
        self.journal = journal
        self._tokens = [(agent, _digest(t)) for agent in options.agents for t in agent.tokens]
        self.hub = LiveHub(source, LiveGate(self.authenticate, options.origins),
                           self.visible, ctx.spawn,
                           Presence(ctx.state), ctx.clock, ctx.log)
        self.feed = EventFeed(ctx.state, ctx.clock, self.hub.publish, ctx.log)
        self.workload = Workload(ctx.state, journal, self.hub.presence, options,
                                 ctx.get_conversation)
        self.internal_notes = InternalNotes(ctx.state)
        self._forgotten_at: datetime | None = None

    # --- who is asking ----------------------------------------------------------------

    def authenticate(self, token: str) -> Agent | None:
        """The agent with this token; every configured token is compared (in constant
        time, on digests of equal length) so the answer's timing tells nothing."""
        given = _digest(token)
        found: Agent | None = None
        for agent, digest in self._tokens:
            if hmac.compare_digest(given, digest):
                found = agent
        return found

    def visible(self, agent: Agent) -> frozenset[str]:
        mine = set(self.ctx.tenants())
        return frozenset(mine & set(agent.tenants)) if agent.tenants else frozenset(mine)

    @web.middleware
    async def require_agent(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # The page's own files carry no data; the websocket is admitted by its gate.
        name = request.match_info.route.name or ""
        if name not in _PROTECTED and not name.startswith(TOOL_ROUTE):
            return await handler(request)
        request[AGENT_KEY] = self.bearer_agent(request)
        return await handler(request)

    def bearer_agent(self, request: web.Request) -> Agent:
        """The agent whose token the request carries (`Authorization: Bearer`); 401
        without one, 403 for a token of no agent."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <agent token>",
                           {"WWW-Authenticate": "Bearer"})
        agent = self.authenticate(token.strip())
        if agent is None:
            raise ApiError(403, "forbidden", "the token belongs to no agent of this console")
        return agent

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/me", self.me, name="me"),
            web.get("/api/threads", self.list_threads, name="threads"),
            web.get("/api/threads/{thread_id}", self.get_thread, name="thread"),
            web.post("/api/threads/{thread_id}/pickup", self.pickup, name="pickup"),
            web.post("/api/threads/{thread_id}/messages", self.message, name="message"),
            web.post("/api/threads/{thread_id}/typing", self.typing, name="typing"),
            web.post("/api/threads/{thread_id}/close", self.close, name="close"),
            web.get("/api/live", self.hub.handle, name="live"),
        ]

    # --- reading ----------------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        return _json({
            "agent": {"id": agent.id, "name": agent.name},
            "tenants": sorted(self.visible(agent)),
            "outcomes": list(self.options.outcomes),
            # Where the close dialog offers a summary (see ConsoleOptions).
            "summary_tenants": sorted(self.visible(agent) & self.options.summary_tenants),
        })

    async def list_threads(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        now = self.ctx.clock.now()
        if self._forgotten_at is None or now - self._forgotten_at > FORGET_EVERY:
            self._forgotten_at = now
            await self.journal.forget_closed(now - CLOSED_VISIBLE)
        rows = await self.journal.threads(sorted(self.visible(agent)), now - CLOSED_VISIBLE)
        out = []
        for row in rows:
            conv = await self.ctx.get_conversation(row.conversation_id)
            if row.status is not Status.CLOSED and effective_status(row, conv) is Status.CLOSED:
                # The core moved on without telling the desk (erased, a close delivery
                # dead-lettered): record it, so the thread leaves the list in time.
                await self.journal.close_thread(row.thread_id, now, reason="ended")
                row = await self.journal.get(row.thread_id) or row
            out.append(await self._summary(row, conv, now))
        return _json({"threads": out, "now": now.isoformat()})

    async def get_thread(self, request: web.Request) -> web.Response:
        row = await self._row(request)
        conv = await self.ctx.get_conversation(row.conversation_id)
        entries = await self.ctx.transcript_tail(row.conversation_id, 1000) if conv else []
        notes = [] if erased(conv) else await self.journal.notes(row.thread_id)
        out = detail(row, conv, entries, notes, self.ctx.clock.now(),
                     tenant_name=self.ctx.tenant_name(row.tenant))
        if not erased(conv):
            merge_into(out["transcript"], await self.internal_notes.of(row.thread_id))
        return _json(out)

    # --- agent actions ----------------------------------------------------------------

    async def pickup(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self._row(request)
        conv = await self._live(row, "pickup")
        await self._admit(agent, row, "pickup")
        claimed = await self.journal.claim(row.thread_id, agent.id, agent.name,
                                           self.ctx.clock.now())
        if claimed is None or claimed.agent_id != agent.id:
            holder = claimed.agent_name if claimed else None
            self._count("pickup", "taken")
            raise ApiError(409, "taken", f"already picked up by {holder or 'another agent'}")
        if await self.workload.over_limit(agent):
            # Another pick-up of this agent landed meanwhile (workload.py).
            await self.journal.release(row.thread_id, agent.id)
            self._count("pickup", "refused")
            raise ApiError(409, "at_limit", "too many chats at once; close one first")
        try:
            result = await self._ingest(ev.AgentJoined(
                conversation_id=conv.id,
                source=self.source,
                # One join per agent and thread: a retried pick-up is a duplicate. After
                # a hand-off, picking it up again is news to the citizen.
                source_id=f"join:{row.thread_id}:{agent.id}"
                + (f":{claimed.handoffs}" if claimed.handoffs else ""),
                thread=row.thread_id,
                agent_name=agent.name,
                # Registered with the finished contact (the medewerker in Open Klant).
                agent_id=agent.id,
            ))
        except ApiError:
            await self.journal.release(row.thread_id, agent.id)
            raise
        if result.outcome not in _ACCEPTED:
            await self.journal.release(row.thread_id, agent.id)
            await self._ended(row, "pickup", result)
        self._count("pickup", result.outcome.value)
        self.ctx.log.info("console.picked_up", thread_id=row.thread_id, agent_id=agent.id,
                          tenant=row.tenant)
        thread = await self._publish_thread(row.thread_id)
        return _json({"thread": thread})

    async def message(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self._row(request)
        fields = Fields.of(await read_json(request), ("message_id", "text"))
        message_id = fields.ident("message_id", required=True)
        text = fields.string("text", required=True, max_length=MAX_TEXT_LENGTH) or ""
        conv = await self._held(row, agent, "message")
        result = await self._ingest(ev.AgentMessage(
            conversation_id=conv.id,
            source=self.source,
            source_id=f"reply:{row.thread_id}:{message_id}",
            thread=row.thread_id,
            content=Content(text=text),
            agent_name=agent.name,
        ))
        if result.outcome not in _ACCEPTED:
            await self._ended(row, "message", result)
        self._count("message", result.outcome.value)
        await self.announce(row.tenant, {"type": "changed", "thread_id": row.thread_id})
        return _json({"outcome": result.outcome.value}, status=202)

    async def typing(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self._row(request)
        on = Fields.of(await read_json(request), ("on",)).boolean("on")
        conv = await self._held(row, agent, "typing")
        try:
            await self.ctx.relay_typing(conv.id, Party.AGENT, on)
        except Exception:
            # Typing is a hint: the agent's page should not show an error for it.
            self.ctx.log.debug("console.typing_failed", thread_id=row.thread_id, exc_info=True)
        return _json({"outcome": "relayed"}, status=202)

    async def close(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self._row(request)
        fields = Fields.of(await read_json(request), ("outcome", "summary"))
        outcome = fields.require("outcome")
        # Optional: what the agent wrote about the contact, for its registration. Never
        # logged; blank is none.
        summary = (fields.string("summary", max_length=MAX_SUMMARY_LENGTH, allow_empty=True)
                   or "").strip() or None
        if outcome not in self.options.outcomes:
            raise ApiError(400, "invalid_field",
                           f"outcome must be one of: {', '.join(self.options.outcomes)}")
        conv = await self._held(row, agent, "close")
        result = await self._ingest(ev.AgentClosed(
            conversation_id=conv.id,
            source=self.source,
            source_id=f"close:{row.thread_id}",
            thread=row.thread_id,
            outcome=outcome,
            summary=summary,
        ))
        if result.outcome not in _ACCEPTED:
            await self._ended(row, "close", result)
        await self.journal.close_thread(row.thread_id, self.ctx.clock.now(), outcome=outcome,
                                        reason="agent")
        self._count("close", result.outcome.value)
        self.ctx.log.info("console.closed", thread_id=row.thread_id, agent_id=agent.id,
                          outcome=outcome)
        thread = await self._publish_thread(row.thread_id)
        return _json({"thread": thread})

    # --- helpers ----------------------------------------------------------------------

    async def _row(self, request: web.Request) -> ThreadRow:
        thread_id = request.match_info["thread_id"]
        row = await self.journal.get(thread_id) if len(thread_id) <= MAX_ID_LENGTH else None
        if row is None or row.tenant not in self.visible(request[AGENT_KEY]):
            raise ApiError(404, "unknown_thread", "this console has no such thread")
        return row

    async def _admit(self, agent: Agent, row: ThreadRow, action: str) -> None:
        """Refuse a new chat to an away agent or one at the limit (workload.py); the
        holder picking up again is no new chat."""
        if row.agent_id == agent.id:
            return
        try:
            await self.workload.admit(agent, row.thread_id, action=action)
        except ApiError:
            self._count(action, "refused")
            raise

    async def _live(self, row: ThreadRow, action: str) -> Conversation:
        """The conversation, when the thread is still its live one."""
        conv = await self.ctx.get_conversation(row.conversation_id)
        if effective_status(row, conv) is Status.CLOSED or conv is None:
            self._count(action, "closed")
            raise ApiError(409, "thread_closed", "the conversation has ended or moved on")
        return conv

    async def _held(self, row: ThreadRow, agent: Agent, action: str) -> Conversation:
        conv = await self._live(row, action)
        if row.agent_id != agent.id:
            self._count(action, "refused")
            who = f"it is held by {row.agent_name}" if row.agent_id else "pick it up first"
            raise ApiError(409, "not_yours", f"only the agent holding the thread may: {who}")
        return conv

    async def _ended(self, row: ThreadRow, action: str, result: IngestResult) -> None:
        """The core no longer has this thread live: record that and refuse."""
        await self.journal.close_thread(row.thread_id, self.ctx.clock.now(), reason="ended")
        await self._publish_thread(row.thread_id)
        self._count(action, "closed")
        raise ApiError(409, "thread_closed",
                       f"the conversation has ended or moved on ({result.outcome.value})")

    async def _ingest(self, event: ev.Event) -> IngestResult:
        return await ingest_or_error(
            self.ctx, event, log_event="console.ingest_failed",
            detail="the action could not be stored; retry",
        )

    async def _publish_thread(self, thread_id: str) -> dict[str, Any] | None:
        """Tell every page that sees the tenant how the thread looks now."""
        row = await self.journal.get(thread_id)
        if row is None:
            return None
        conv = await self.ctx.get_conversation(row.conversation_id)
        thread = await self._summary(row, conv, self.ctx.clock.now())
        await self.announce(row.tenant, {"type": "thread", "thread": thread})
        return thread

    async def _summary(
        self, row: ThreadRow, conv: Conversation | None, now: datetime
    ) -> dict[str, Any]:
        """The thread's line in the list, with what is read from the transcript's tail
        (the list must not page through long conversations): the last thing said, and
        whether the daemon asked the citizen's consent for this handover."""
        entries = (
            await self.ctx.transcript_tail(row.conversation_id, LIST_TAIL)
            if conv is not None and not erased(conv) and row.status is not Status.CLOSED
            else []
        )
        out = summary(row, conv, now, tenant_name=self.ctx.tenant_name(row.tenant),
                      last=last_message([entry_json(e) for e in entries]) if entries else None)
        parsed = parse_thread_id(row.thread_id)
        out["consent_asked"] = bool(entries) and consent_asked(entries, parsed[1] if parsed else 0)
        out["team_name"] = next((t.name for t in self.options.teams if t.id == row.team), None)
        return out

    async def announce(self, tenant: str, event: Mapping[str, Any]) -> None:
        """Push `event` to the pages that see `tenant`, on every instance, through the
        feed (feed.py), which keeps events in order across instances. When the feed
        cannot be written, this instance's pages get it directly and the others miss
        it: a push is a hint, pages re-fetch when they reconnect."""
        try:
            await self.feed.publish(tenant, event)
        except Exception:
            self.ctx.log.warning("console.feed_write_failed", exc_info=True)
            self.hub.publish(tenant, event)

    def _count(self, action: str, result: str) -> None:
        CONSOLE_ACTIONS.labels(self.source, action, result).inc()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})
