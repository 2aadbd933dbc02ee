"""The console's "Contactverzoeken": callback requests kept for the municipality's agents.

A municipality without Open Klant names its console desk among its registration targets;
the core then hands each callback request to `CallbackRequests.register` (through the
outbox, at least once). The request is kept as a record in the core's store
(`AdapterContext.state`), so every daemon instance shows the same list, and agents of
the request's tenant see it, claim it and close it with an outcome:

    GET  /api/callbacks                              -> 200 {"requests", "outcomes", "now"}
    POST /api/callbacks/{request_id}/claim                        -> 200 {"request"}
    POST /api/callbacks/{request_id}/release                      -> 200 {"request"}
    POST /api/callbacks/{request_id}/close  {"outcome"}           -> 200 {"request"}

Every route needs `Authorization: Bearer <agent token>`. A request of a tenant the agent
does not see answers 404, as if it did not exist; a claim lost to another agent (on any
instance: the claim is a compare-and-set on the record's version) 409 `taken`; closing
or releasing a request another agent holds 409 `not_yours`.

Records (keys in the console instance's namespace): `callback:<request id>`, naming the
request's conversation, so erasing the conversation, or retention purging its messages,
deletes the request too (it holds the citizen's address, name and question). An open
request also expires after `OPEN_TTL` (a request nobody handled in that time is stale,
and personal data must not stay forever); a closed one stays visible `CLOSED_VISIBLE`
(as closed threads do), then expires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.console.options import Agent
from adapters.console.routes import CLOSED_VISIBLE, CONSOLE_ACTIONS
from adapters.console.static import StaticPage
from handover.sdk.contracts import AdapterContext
from handover.sdk.errors import PermanentError
from handover.sdk.http import MAX_ID_LENGTH, ApiError, Fields, read_json
from handover.sdk.registration import CallbackRequest, RegistrationReceipt
from handover.sdk.state import StateRecord

__all__ = ["OPEN_TTL", "OUTCOMES", "CallbackRequests", "RequestRow", "RequestStatus"]

_KEY = "callback:"
#: How long an unhandled request is kept: long enough for a holiday weekend and a busy
#: week after it; the conversation's retention deletes it sooner when that is shorter.
OPEN_TTL = timedelta(days=30)
#: Requests the list reads at most.
MAX_REQUESTS = 2000
_CAS_ATTEMPTS = 20
#: How a request ends, with the words the agent picks from.
OUTCOMES: Mapping[str, str] = {
    "called_back": "Teruggebeld",
    "mailed": "Gemaild",
    "not_reached": "Niet bereikt",
    "no_longer_needed": "Niet meer nodig",
}
#: The channel types in words for the list (others are shown as they are).
CHANNELS: Mapping[str, str] = {
    "web": "Chat op de website", "socketio": "Chat op de website", "rest": "Chat in de app",
    "whatsapp": "WhatsApp", "voiceai": "Telefoon (spraakassistent)",
}
LANGUAGES: Mapping[str, str] = {"nl": "Nederlands", "en": "Engels"}
_SCRIPT = Path(__file__).with_name("requests.js")
#: What the pages are told when a request came, was claimed, given back or closed.
_CHANGED: Mapping[str, Any] = {"type": "callbacks"}


class RequestStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One callback request as the console keeps it (ISO strings for the times)."""

    request_id: str
    reference: str
    tenant: str
    conversation_id: str
    channel_type: str
    language: str
    placed_at: str
    address_kind: str
    address: str
    question: str
    name: str | None
    topic: str | None
    topic_label: str | None
    callback_after: str | None
    callback_text: str | None
    status: RequestStatus = RequestStatus.OPEN
    agent_id: str | None = None
    agent_name: str | None = None
    claimed_at: str | None = None
    closed_at: str | None = None
    outcome: str | None = None

    @classmethod
    def of(cls, request: CallbackRequest) -> RequestRow:
        return cls(
            request_id=request.request_id, reference=request.reference,
            tenant=request.tenant, conversation_id=request.conversation_id,
            channel_type=request.channel_type, language=request.language,
            placed_at=request.placed_at.isoformat(),
            address_kind=request.address_kind.value, address=request.address,
            question=request.question, name=request.name, topic=request.topic,
            topic_label=request.topic_label,
            callback_after=request.callback_after.isoformat() if request.callback_after
            else None,
            callback_text=request.callback_text,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestRow:
        return cls(**{**data, "status": RequestStatus(data["status"])})


def view(row: RequestRow, tenant_name: str) -> dict[str, Any]:
    """A request as the agent's page shows it: the record plus the words for codes."""
    return {
        **row.to_json(),
        "tenant_name": tenant_name,
        "channel_label": CHANNELS.get(row.channel_type, row.channel_type),
        "language_label": LANGUAGES.get(row.language, row.language),
        "outcome_label": OUTCOMES.get(row.outcome or "", None),
    }


class CallbackRequests:
    """The requests of one console instance, and the agents' routes to them.

    `bearer_agent`, `visible` and `announce` are the console's own (routes.AgentApi):
    the agent whose bearer token a request carries (or the 401/403), which tenants that
    agent sees, and the push to the pages of a tenant on every instance. A change pushes
    `{"type": "callbacks"}` (nothing of the request itself): the pages fetch the list
    again.
    """

    def __init__(
        self, ctx: AdapterContext, source: str,
        bearer_agent: Callable[[web.Request], Agent],
        visible: Callable[[Agent], frozenset[str]],
        announce: Callable[[str, Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.state = ctx.state
        # The console's middleware guards its own routes by name; these routes check
        # with the same function, so that list stays the console's own.
        self._agent = bearer_agent
        self.visible = visible
        self.announce = announce

    # --- the registration target's side ------------------------------------------------

    async def register(self, request: CallbackRequest) -> RegistrationReceipt:
        """Keep the request; a repeat (same request id) changes nothing. A request of a
        tenant that does not use this console is refused (PermanentError: a dead letter
        the operator sees), since no agent here could ever see it."""
        if request.tenant not in self.ctx.tenants():
            raise PermanentError(f"tenant {request.tenant!r} does not use this console")
        row = RequestRow.of(request)
        version = await self.state.put(
            _KEY + row.request_id, row.to_json(), expect_version=0,
            ttl_seconds=OPEN_TTL.total_seconds(), conversation_id=row.conversation_id,
        )
        if version is not None:
            self.ctx.log.info("console.callback_request_kept", request_id=row.request_id,
                              conversation_id=row.conversation_id, tenant=row.tenant)
            await self.announce(row.tenant, _CHANGED)
        return RegistrationReceipt(external_id=row.reference)

    # --- routes ----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        script = StaticPage({"requests.js": (_SCRIPT.read_bytes(), "text/javascript")})
        return [
            *script.routes(),
            web.get("/api/callbacks", self.list_requests, name="callbacks"),
            web.post("/api/callbacks/{request_id}/claim", self.claim, name="callback_claim"),
            web.post("/api/callbacks/{request_id}/release", self.release,
                     name="callback_release"),
            web.post("/api/callbacks/{request_id}/close", self.close, name="callback_close"),
        ]

    async def list_requests(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        tenants = self.visible(agent)
        rows = [RequestRow.from_json(r.value) for _, r in
                await self.state.scan(_KEY, limit=MAX_REQUESTS)]
        mine = [row for row in rows if row.tenant in tenants]
        # Open ones first, the longest-waiting on top; then the recently closed.
        mine.sort(key=lambda r: (r.status is RequestStatus.CLOSED, r.placed_at, r.request_id))
        return _json({
            "requests": [view(row, self.ctx.tenant_name(row.tenant)) for row in mine],
            "outcomes": [{"value": k, "label": v} for k, v in OUTCOMES.items()],
            "now": self.ctx.clock.now().isoformat(),
        })

    async def claim(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        now = self.ctx.clock.now().isoformat()

        def take(row: RequestRow) -> RequestRow | None:
            if row.status is not RequestStatus.OPEN:
                return None
            return replace(row, status=RequestStatus.CLAIMED, agent_id=agent.id,
                           agent_name=agent.name, claimed_at=now)

        row, changed = await self._change(request, agent, take)
        if changed:
            await self.announce(row.tenant, _CHANGED)
        if not changed and row.status is RequestStatus.CLOSED:
            # Also for the agent who closed it: a page that missed the close must say so.
            self._count("callback_claim", "closed")
            raise ApiError(409, "closed", "this request has been closed already")
        if not changed and row.agent_id != agent.id:
            self._count("callback_claim", "taken")
            raise ApiError(409, "taken", f"already claimed by {row.agent_name or 'another agent'}")
        self._count("callback_claim", "applied" if changed else "duplicate")
        if changed:
            self.ctx.log.info("console.callback_claimed", request_id=row.request_id,
                              agent_id=agent.id)
        return _json({"request": view(row, self.ctx.tenant_name(row.tenant))})

    async def release(self, request: web.Request) -> web.Response:
        agent = self._agent(request)

        def give_back(row: RequestRow) -> RequestRow | None:
            if row.status is not RequestStatus.CLAIMED or row.agent_id != agent.id:
                return None
            return replace(row, status=RequestStatus.OPEN, agent_id=None, agent_name=None,
                           claimed_at=None)

        row, changed = await self._change(request, agent, give_back)
        if changed:
            await self.announce(row.tenant, _CHANGED)
        if not changed and row.status is not RequestStatus.OPEN:
            self._refuse_not_yours(row, "callback_release")
        self._count("callback_release", "applied" if changed else "duplicate")
        return _json({"request": view(row, self.ctx.tenant_name(row.tenant))})

    async def close(self, request: web.Request) -> web.Response:
        agent = self._agent(request)
        outcome = Fields.of(await read_json(request), ("outcome",)).require("outcome")
        if outcome not in OUTCOMES:
            raise ApiError(400, "invalid_field",
                           f"outcome must be one of: {', '.join(OUTCOMES)}")
        now = self.ctx.clock.now().isoformat()

        def end(row: RequestRow) -> RequestRow | None:
            if row.status is not RequestStatus.CLAIMED or row.agent_id != agent.id:
                return None
            return replace(row, status=RequestStatus.CLOSED, closed_at=now, outcome=outcome)

        row, changed = await self._change(request, agent, end, closing=True)
        if not changed:
            if row.status is RequestStatus.CLOSED and row.agent_id == agent.id:
                self._count("callback_close", "duplicate")  # a repeated close
                return _json({"request": view(row, self.ctx.tenant_name(row.tenant))})
            self._refuse_not_yours(row, "callback_close")
        self._count("callback_close", "applied")
        await self.announce(row.tenant, _CHANGED)
        self.ctx.log.info("console.callback_closed", request_id=row.request_id,
                          agent_id=agent.id, outcome=outcome)
        return _json({"request": view(row, self.ctx.tenant_name(row.tenant))})

    # --- helpers ----------------------------------------------------------------------

    def _refuse_not_yours(self, row: RequestRow, action: str) -> None:
        self._count(action, "refused")
        if row.status is RequestStatus.CLOSED:
            raise ApiError(409, "closed", "this request has been closed already")
        who = f"it is claimed by {row.agent_name}" if row.agent_id else "claim it first"
        raise ApiError(409, "not_yours", f"only the agent who claimed the request may: {who}")

    async def _change(
        self, request: web.Request, agent: Agent,
        change: Callable[[RequestRow], RequestRow | None], *, closing: bool = False,
    ) -> tuple[RequestRow, bool]:
        """Apply `change` as a compare-and-set on the record's version, re-reading after
        losing to a concurrent write (another agent, another instance); `change` returns
        None when the request's current state does not allow it. Returns the request as
        it now is and whether this call changed it. 404 for a request this agent does
        not see."""
        request_id = request.match_info["request_id"]
        key = _KEY + request_id
        for _ in range(_CAS_ATTEMPTS):
            record: StateRecord | None = (
                await self.state.get(key) if len(request_id) <= MAX_ID_LENGTH else None)
            row = RequestRow.from_json(record.value) if record else None
            if record is None or row is None or row.tenant not in self.visible(agent):
                raise ApiError(404, "unknown_request", "this console has no such request")
            changed = change(row)
            if changed is None:
                return row, False
            if await self.state.put(key, changed.to_json(), expect_version=record.version,
                                    ttl_seconds=_remaining(record, closing, self.ctx.clock.now()),
                                    conversation_id=row.conversation_id) is not None:
                return changed, True
        raise ApiError(503, "busy", "too many concurrent changes; retry")

    def _count(self, action: str, result: str) -> None:
        CONSOLE_ACTIONS.labels(self.source, action, result).inc()


def _remaining(record: StateRecord, closing: bool, now: datetime) -> float:
    """The record's time to live after this write: what the open request had left (a
    claim must not extend how long the citizen's data is kept), and for a request being
    closed at most `CLOSED_VISIBLE` (it leaves the list then, as closed threads do)."""
    left = OPEN_TTL if record.expires_at is None else record.expires_at - now
    if closing:
        left = min(left, CLOSED_VISIBLE)
    return max(1.0, left.total_seconds())


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})

