"""The callback channel's receiving half: the route Rasa posts the bot's messages to.

Rasa's callback channel handles a turn and, while doing so, posts each bot message to
the URL configured in its credentials.yml (one JSON object per request in Rasa's code;
its docs show an array, so both are accepted). Those posts name the conversation
(`recipient_id`, our sender id) but not the turn, and carry no message id. So:

- `PendingTurns` remembers, per conversation, the control epoch and message id of the
  last turn sent. A message is ingested as a `BotReplied` under that epoch: one that
  arrives after control passed to an agent is stale and dropped by the core.
- The inbox dedup key is the turn's message id plus a hash of the message: a post
  repeated by a proxy is dropped, while different messages of one turn are not. (Two
  identical messages in one turn are shown once, which a citizen will not miss.)
- Rasa can send no header of ours, so the secret is in the URL, as the `token` query
  parameter (`/<name>/callback?token=...`), compared in constant time. Not a path
  segment: the access log masks `token=` values, not paths.

After a restart the pending turns are gone; messages for a turn sent before it are
dropped and counted (`handover_rasa_callbacks_total{result="unknown_turn"}`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import AdapterContext, BotResponse, IngestOutcome
from handover.sdk.http import ApiError, ingest_or_error, json_errors, loads
from handover.sdk.model import Conversation

__all__ = ["CALLBACKS", "CallbackRoutes", "PendingTurn", "PendingTurns"]

CALLBACKS = Counter(
    "handover_rasa_callbacks_total",
    "Bot messages posted by Rasa's callback channel, by result (applied, duplicate, "
    "stale, unknown_turn, invalid, refused).",
    ["adapter", "result"],
    registry=metrics.REGISTRY,
)

_REMEMBERED_TURNS = 50_000
_MAX_MESSAGES_PER_POST = 50


@dataclass(slots=True)
class PendingTurn:
    epoch: int
    message_id: str
    tenant: str
    #: Messages received for this turn (an empty turn may be Rasa's internal timeout).
    received: int = 0
    seen: set[str] = field(default_factory=set)


class PendingTurns:
    """The last turn sent per conversation (bounded: the oldest are forgotten)."""

    def __init__(self, limit: int = _REMEMBERED_TURNS) -> None:
        self._turns: OrderedDict[str, PendingTurn] = OrderedDict()
        self._limit = limit

    def remember(self, conversation_id: str, turn: PendingTurn) -> None:
        self._turns[conversation_id] = turn
        self._turns.move_to_end(conversation_id)
        while len(self._turns) > self._limit:
            self._turns.popitem(last=False)

    def get(self, conversation_id: str) -> PendingTurn | None:
        return self._turns.get(conversation_id)


#: Turns the bot messages of one conversation into what the core ingests (the
#: adapter's mapping: handover key, custom payload filter, consent, enrichment).
Mapper = Callable[[Conversation, list[Mapping[str, Any]]], Awaitable[BotResponse]]


class CallbackRoutes:
    """`POST /<name>/callback?token=...`: one bot message or an array of them."""

    def __init__(
        self, ctx: AdapterContext, tokens: tuple[str, ...], pending: PendingTurns, mapper: Mapper
    ) -> None:
        self.ctx = ctx
        self.tokens = tuple(t.encode() for t in tokens)
        self.pending = pending
        self.mapper = mapper

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        app.router.add_post("/callback", self.receive)
        return app

    def _count(self, result: str, n: int = 1) -> None:
        CALLBACKS.labels(self.ctx.name, result).inc(n)

    def _authorised(self, token: str) -> bool:
        given = token.encode()
        # Compare against every accepted token (rotation) without stopping early.
        return any([hmac.compare_digest(given, t) for t in self.tokens])

    async def receive(self, request: web.Request) -> web.Response:
        if not self._authorised(request.query.get("token", "")):
            self._count("refused")
            metrics.WEBHOOK_SIGNATURE_FAILURES.labels(self.ctx.name).inc()
            raise ApiError(401, "unauthorized", "unknown callback token")
        messages = _messages(await request.read())
        if messages is None:
            self._count("invalid")
            raise ApiError(
                400, "invalid_json",
                "expected a bot message object with recipient_id, or an array of them "
                f"(at most {_MAX_MESSAGES_PER_POST})",
            )
        results = [await self._one(m) for m in messages]
        return web.json_response({"results": results})

    async def _one(self, message: Mapping[str, Any]) -> str:
        conversation_id = str(message["recipient_id"])
        turn = self.pending.get(conversation_id)
        conv = await self.ctx.get_conversation(conversation_id)
        if turn is None or conv is None:
            # Sent before a restart, or not by us: without the turn's epoch it could
            # reach the citizen after a handover, so it is dropped.
            self._count("unknown_turn")
            self.ctx.log.warning("rasa.callback_unknown_turn", conversation_id=conversation_id)
            return "unknown_turn"
        digest = hashlib.sha256(
            json.dumps(message, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:32]
        turn.received += 1
        response = await self.mapper(conv, [message])
        event = ev.BotReplied(
            conversation_id=conversation_id,
            source=self.ctx.name,
            source_id=f"cb:{turn.message_id}:{digest}",
            epoch=turn.epoch,
            messages=response.messages,
            handover=response.handover,
        )
        result = await ingest_or_error(self.ctx, event, log_event="rasa.callback_ingest_failed",
                                       detail="could not store the message; retry")
        outcome = {
            IngestOutcome.APPLIED: "applied",
            IngestOutcome.DUPLICATE: "duplicate",
            IngestOutcome.STALE: "stale",
            IngestOutcome.REFUSED: "stale",
        }[result.outcome]
        self._count(outcome)
        return outcome


def _messages(raw: bytes) -> list[Mapping[str, Any]] | None:
    """The posted bot messages, or None when the body is not what Rasa sends."""
    try:
        data = loads(raw)
    except ValueError:  # also NaN and `[[[[...` nested past the parser's depth
        return None
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > _MAX_MESSAGES_PER_POST:
        return None
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("recipient_id"), str):
            return None
    return items
