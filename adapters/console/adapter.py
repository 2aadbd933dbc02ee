"""The built-in agent console: a desk whose agents work in a web page served by the daemon.

The daemon's side of the desk contract lands in the console's journal (threads, notes,
closes) and is pushed live to the agents' pages; the agents' side (pick up, reply, type,
close) comes in over `adapters.console.routes` and goes to the core as desk events.

Where the view lives (and why): the transcript and the conversation's state are read
from the core's durable store on every request, so they are never copied and can never
disagree; the console's journal (journal.py, records in the core's store through
`ctx.state`) adds only what the core does not know (which agent holds a thread, when it
was queued here, the notes the daemon sent, the outcome). A restarted daemon therefore
shows exactly the view it showed before, and every daemon instance on one database
shows the same view: agents may be signed in to any instance (presence.py), and live
pushes reach them from whichever instance handled a delivery (feed.py). `send()` stores
nothing: the citizen's message is already in the core's transcript when it is called,
and the push to the pages is a hint. That makes every delivery safe to repeat
(`resend_safe`); only a note re-sent after a crash mid-delivery can show twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from adapters.console.journal import Journal, Status, ThreadRow
from adapters.console.options import ConsoleOptions, parse_options
from adapters.console.reoffer import SilenceWatch
from adapters.console.requests import CallbackRequests
from adapters.console.routes import AgentApi
from adapters.console.static import StaticPage
from adapters.console.view import entry_json, summary
from adapters.console.workbench import Workbench
from handover.sdk.contracts import (
    AdapterContext,
    Availability,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    Health,
    OutboundMessage,
)
from handover.sdk.http import json_errors
from handover.sdk.model import Conversation
from handover.sdk.registration import CallbackRequest, RegistrationReceipt, RegistrationTarget

__all__ = ["ConsoleDesk"]


class ConsoleDesk(DeskAdapter, RegistrationTarget):
    """The agent console desk (`type = "console"`), with a list of callback requests.

    Also a registration target: it keeps callback requests for its agents'
    "Contactverzoeken" list (requests.py)."""

    resend_safe = True
    registers_callbacks = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options = config if isinstance(config, ConsoleOptions) else ConsoleOptions()
        self.journal = Journal(ctx.state)
        self.api = AgentApi(ctx, name, self.options, self.journal)
        self.requests = CallbackRequests(ctx, name, self.api.bearer_agent, self.api.visible,
                                         self.api.announce)
        self.workbench = Workbench(self.api)
        self.silence = SilenceWatch(ctx, name, self.journal, self.api.internal_notes,
                                    self.api.announce, self.api._publish_thread,
                                    self.options.reoffer_after_seconds)

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> ConsoleOptions:
        return parse_options(section, path)

    def http_app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors, self.api.require_agent])
        app.add_routes(StaticPage.load().routes())
        app.add_routes(self.api.routes())
        app.add_routes(self.requests.routes())
        app.add_routes(self.workbench.routes())

        async def close_pages(_app: web.Application) -> None:
            await self.api.hub.close_all()

        app.on_shutdown.append(close_pages)
        return app

    async def start(self) -> None:
        self.ctx.spawn(self.api.feed.run(), "feed")
        self.ctx.spawn(self.api.hub.renew_presence(), "presence")
        if self.options.reoffer_after_seconds > 0:
            self.ctx.spawn(self.silence.run(), "reoffer")
        mine = set(self.ctx.tenants())
        unknown_canned = sorted(set(self.options.canned) - mine)
        if unknown_canned:
            self.ctx.log.warning("console.canned_tenants_unknown", tenants=unknown_canned)
        unknown_summary = sorted(self.options.summary_tenants - mine)
        if unknown_summary:
            self.ctx.log.warning("console.summary_tenants_unknown", tenants=unknown_summary)
        for agent in self.options.agents:
            unknown = sorted(set(agent.tenants) - mine)
            if unknown:
                # Not an error: the tenant may move to this desk later. But say so.
                self.ctx.log.warning("console.agent_tenants_unknown", agent_id=agent.id,
                                     tenants=unknown)
        if self.options.state_path is not None:
            self.ctx.log.warning("console.state_path_ignored",
                                 detail="the console keeps its threads in the daemon's "
                                        "store now; remove state_path (its file is not read)")
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        await self.api.hub.close_all()

    # --- the daemon's side ------------------------------------------------------------

    async def availability(self, tenant: str, queue: str | None) -> Availability:
        waiting = await self.journal.queued_count(tenant)
        # Only an agent who could take the chat now counts: signed in, not away, and
        # below the chat limit (workload.py).
        if self.options.availability == "agents_online" \
                and not await self.api.workload.ready_agents(tenant, first_only=True):
            return Availability(available=False, queue_length=waiting)
        return Availability(available=True, queue_length=waiting)

    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        row = ThreadRow(
            thread_id=thread.thread_id,
            conversation_id=conversation.id,
            tenant=thread.tenant,
            channel=thread.channel,
            language=thread.language,
            signal=thread.signal.to_json(),
            context=dict(thread.context),
            # The citizen's wait starts when the daemon queued the handover, which a
            # delayed delivery to this desk must not hide.
            opened_at=thread.queued_at or self.ctx.clock.now(),
            status=Status.QUEUED,
        )
        if await self.journal.add_thread(row):
            self.ctx.log.info("console.thread_opened", thread_id=thread.thread_id,
                              conversation_id=conversation.id, tenant=thread.tenant)
            await self._publish(thread.thread_id, conversation)
        return DeskReceipt()

    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        row = await self._ensure(conversation, thread_id)
        await self.api.announce(row.tenant, {
            "type": "message", "thread_id": thread_id, "entry": entry_json(message),
        })
        return DeskReceipt()

    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        row = await self._ensure(conversation, thread_id)
        now = self.ctx.clock.now()
        await self.journal.add_note(thread_id, text, now)
        await self.api.announce(row.tenant, {
            "type": "note", "thread_id": thread_id, "text": text, "at": now.isoformat(),
        })
        return DeskReceipt()

    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        await self._ensure(conversation, thread_id)
        if await self.journal.close_thread(thread_id, self.ctx.clock.now(), reason=reason):
            self.ctx.log.info("console.thread_ended", thread_id=thread_id, reason=reason)
            await self._publish(thread_id, conversation)

    async def typing(self, conversation: Conversation, thread_id: str, on: bool) -> None:
        await self.api.announce(conversation.tenant, {
            "type": "typing", "thread_id": thread_id, "on": on,
        })

    async def register_callback(self, request: CallbackRequest) -> RegistrationReceipt:
        return await self.requests.register(request)

    # --- helpers ----------------------------------------------------------------------

    async def _ensure(self, conversation: Conversation, thread_id: str) -> ThreadRow:
        """The thread, recorded from the conversation if the journal lacks it (a lost or
        replaced journal file): better a thread with less context than an invisible one.
        Its status is `queued` so that an agent can pick it up again."""
        row = await self.journal.get(thread_id)
        if row is None:
            await self.journal.add_thread(ThreadRow(
                thread_id=thread_id, conversation_id=conversation.id,
                tenant=conversation.tenant, channel=conversation.channel,
                language=conversation.language, signal=None, context={},
                opened_at=self.ctx.clock.now(), status=Status.QUEUED,
            ))
            self.ctx.log.warning("console.thread_recovered", thread_id=thread_id)
            row = await self.journal.get(thread_id)
            assert row is not None
        return row

    async def _publish(self, thread_id: str, conversation: Conversation) -> None:
        row = await self.journal.get(thread_id)
        if row is not None:
            thread = summary(row, conversation, self.ctx.clock.now(),
                             tenant_name=self.ctx.tenant_name(row.tenant))
            await self.api.announce(row.tenant, {"type": "thread", "thread": thread})
