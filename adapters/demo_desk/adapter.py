"""The demo desk: a stand-in for the contact centre's desk, driven over HTTP.

The daemon's side of the desk contract (open, send, note, close, availability) is
recorded in `DeskState`; the agent's side (join, answer, type, close) comes in over the
routes in `adapters.demo_desk.routes` and goes to the core as desk events. It is
resend-safe: a message id it has recorded is dropped when it arrives again, and it
never echoes what it receives, so `send` returns no desk message id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.demo_desk.routes import DeskRoutes, stub_thread
from adapters.demo_desk.state import DeskState, entry_json
from handover.sdk.contracts import (
    AdapterContext,
    Availability,
    ConfigIssues,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    Health,
    OutboundMessage,
)
from handover.sdk.model import Conversation
from handover.sdk.options import Issues, Table

__all__ = ["DemoDesk", "DemoDeskOptions"]

_NULLABLE = ("queue_length", "estimated_wait_seconds", "state_path", "token")


@dataclass(frozen=True, slots=True)
class DemoDeskOptions:
    """The demo desk's `[adapters.<name>]` options."""

    #: What `availability()` answers.
    available: bool = True
    queue_length: int | None = None
    estimated_wait_seconds: int | None = None
    #: A JSON-lines journal of every change, replayed at start; None keeps memory only.
    state_path: Path | None = None
    #: Bearer tokens accepted on the agent routes (two during a rotation); empty: none.
    tokens: tuple[str, ...] = ()


class DemoDesk(DeskAdapter):
    """A desk kept in memory (optionally journalled), with an HTTP API for the agent."""

    resend_safe = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options = config if isinstance(config, DemoDeskOptions) else DemoDeskOptions()
        self.state = DeskState(self.options.state_path, lambda: self.ctx.clock.now())

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> DemoDeskOptions:
        issues = Issues()
        # null (from a JSON/Python document) means the same as leaving the key out.
        table = Table(
            {k: v for k, v in section.items() if not (v is None and k in _NULLABLE)},
            path,
            issues,
        )
        available = table.boolean("available", True)
        queue_length = (
            table.integer("queue_length", 0, minimum=0) if table.has("queue_length") else None
        )
        wait = (
            table.integer("estimated_wait_seconds", 0, minimum=0)
            if table.has("estimated_wait_seconds")
            else None
        )
        state_path = table.optional_string("state_path")
        tokens = table.strings("token", allow_single=True)
        table.finish()
        if issues:
            raise ConfigIssues(issues.items)
        return DemoDeskOptions(
            available=available,
            queue_length=queue_length,
            estimated_wait_seconds=wait,
            state_path=Path(state_path) if state_path else None,
            tokens=tokens,
        )

    def http_app(self) -> web.Application:
        return DeskRoutes(self.ctx, self.name, self.options, self.state).app()

    async def start(self) -> None:
        applied, skipped = await self.state.load()
        if self.options.state_path is not None:
            self.ctx.log.info("demo_desk.state_loaded", records=applied, skipped=skipped)
        if skipped:
            self.ctx.log.warning("demo_desk.state_lines_skipped", skipped=skipped)
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        self.state.wakeups.close()

    # --- the daemon's side ------------------------------------------------------------

    async def availability(self, tenant: str, queue: str | None) -> Availability:
        o = self.options
        return Availability(o.available, o.queue_length, o.estimated_wait_seconds)

    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        created = await self.state.open_thread({
            "thread_id": thread.thread_id,
            "conversation_id": conversation.id,
            "tenant": thread.tenant,
            "channel": thread.channel,
            "language": thread.language,
            "signal": thread.signal.to_json(),
            "context": dict(thread.context),
            "transcript": [entry_json(e) for e in thread.transcript],
        })
        if created:
            self.ctx.log.info(
                "demo_desk.thread_opened",
                thread_id=thread.thread_id,
                conversation_id=conversation.id,
                tenant=thread.tenant,
            )
        return DeskReceipt()

    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        await self.state.ensure_thread(stub_thread(thread_id, conversation))
        await self.state.receive(
            thread_id,
            {
                "type": "message",
                "message_id": message.message_id,
                "seq": message.seq,
                "party": message.party.value,
                "sender_name": message.sender_name,
                "content": message.content.to_json(),
                "created_at": message.created_at.isoformat() if message.created_at else None,
            },
            dedup=f"message:{message.message_id}",
        )
        return DeskReceipt(desk_message_id=None)

    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        # Notes carry no id, so a note re-sent after a crash shows twice; acceptable for
        # a demo, and the only item the desk cannot deduplicate.
        await self.state.ensure_thread(stub_thread(thread_id, conversation))
        await self.state.receive(thread_id, {"type": "note", "text": text}, dedup=None)
        return DeskReceipt()

    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        await self.state.ensure_thread(stub_thread(thread_id, conversation))
        if await self.state.receive(
            thread_id, {"type": "closed", "reason": reason}, dedup="closed"
        ):
            self.ctx.log.info(
                "demo_desk.thread_closed", thread_id=thread_id, conversation_id=conversation.id,
                reason=reason,
            )
