"""The WhatsApp channel: citizens on WhatsApp through Meta's Cloud API.

Inbound through Meta's signed webhook (`routes.py`, `inbound.py`); outbound through
the Graph API (`client.py`), one message as one or more reconciled sends
(`outbound.py`, `sends.py`). The 24-hour customer service window is tracked per
conversation from the citizen's messages: an agent reply that would fall outside it
goes out as the tenant's approved template and the agent is told; a citizen waiting in
the queue while the window runs out is told what a late answer will look like.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.whatsapp import wire
from adapters.whatsapp.client import GraphClient, WindowClosed
from adapters.whatsapp.inbound import InboundHandler
from adapters.whatsapp.media import MediaStore
from adapters.whatsapp.metrics import TEMPLATE_FALLBACKS
from adapters.whatsapp.options import WhatsAppOptions, check_tenants, parse_options
from adapters.whatsapp.outbound import MAX_CHOICES, Sender, plan, recipient, template_text
from adapters.whatsapp.routes import WebhookRoutes
from adapters.whatsapp.sends import SendLog
from handover.sdk import events as ev
from handover.sdk.contracts import (
    AdapterContext,
    ChannelAdapter,
    ChannelCapabilities,
    Health,
    OutboundMessage,
)
from handover.sdk.errors import PermanentError, UnknownConversation
from handover.sdk.model import Conversation, Party, State

__all__ = ["WhatsAppChannel"]

WINDOW = timedelta(hours=24)


class WhatsAppChannel(ChannelAdapter):
    """WhatsApp Business Cloud API channel, one instance per business account."""

    #: Safe because every part is reconciled against the send log before it goes out.
    resend_safe = True
    capabilities = ChannelCapabilities(
        max_buttons=MAX_CHOICES, attachments=True,
        max_text_length=wire.TEXT_BODY_CHARS,
    )

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options: WhatsAppOptions = config
        self.numbers = config.numbers
        self.client = GraphClient(
            adapter=name, session=lambda: ctx.http, graph_url=config.graph_url,
            api_version=config.api_version, access_token=config.access_token,
            timeout_seconds=config.request_timeout_seconds, log=ctx.log,
        )
        self.sends = SendLog(lambda: ctx.state, ctx.clock)
        self.sender = Sender(self.client, self.sends, ctx.clock, config.reconcile_seconds,
                             resend_unconfirmed=config.unconfirmed == "resend")
        self.media = MediaStore(config.media_dir, config.public_url, config.media_ttl_seconds,
                                lambda: ctx.state)
        self.inbound = InboundHandler(self)
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> WhatsAppOptions:
        return parse_options(section, path)

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        check_tenants(options, tuple(tenants), path)

    def http_app(self) -> web.Application:
        return WebhookRoutes(self).app()

    async def start(self) -> None:
        if self._watch is None:
            self._watch = self.ctx.spawn(self._watch_loop(), "watch")
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run best-effort work without awaiting it. `stop` cancels what is left (the
        core cancels only after `stop`)."""
        task = self.ctx.spawn(work, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- outbound -----------------------------------------------------------------------

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        number = self.options.numbers_by_tenant(conversation.tenant)
        closes = await self.window_closes_at(conversation)
        if closes is None or closes <= self.ctx.clock.now():
            await self._outside_window(conversation, message, number)
            return
        for part_id, body in plan(conversation, message):
            try:
                await self.sender.send_part(conversation, message.party.value, number,
                                            part_id, body)
            except WindowClosed:
                # Meta's clock says the window closed (our record was behind).
                await self._outside_window(conversation, message, number)
                return

    async def _outside_window(self, conv: Conversation, message: OutboundMessage,
                              number: str) -> None:
        if message.party is not Party.AGENT:
            # Bot and system texts have no template: they cannot reach the citizen now.
            raise PermanentError("outside the 24-hour window: only agent replies go out "
                                 "(as a template)")
        tenant = self.options.tenants[conv.tenant]
        part_id = f"{message.message_id}:template"
        body = wire.template_body(
            recipient(conv), part_id, tenant.template_name, tenant.template_language,
            template_text(message) if tenant.template_text_parameter else None,
        )
        await self.sender.send_part(conv, message.party.value, number, part_id, body)
        TEMPLATE_FALLBACKS.labels(self.name).inc()
        with contextlib.suppress(UnknownConversation):
            await self.ctx.ingest(ev.ChannelNotice(
                conversation_id=conv.id, source=self.name,
                source_id=f"template:{message.message_id}",
                kind=ev.ChannelNoticeKind.TEMPLATE_FALLBACK,
            ))

    async def window_closes_at(self, conv: Conversation) -> datetime | None:
        """When the citizen's 24-hour window closes (None: they never wrote)."""
        last = await self.sends.last_inbound(conv.id)
        if last is None or last + WINDOW <= self.ctx.clock.now():
            # Our record may be behind (the message came in through another instance,
            # or was written before the record existed): the transcript has every
            # citizen message.
            for entry in await self.ctx.transcript_tail(conv.id, 1000):
                if entry.party is Party.CITIZEN and entry.created_at is not None and (
                        last is None or entry.created_at > last):
                    last = entry.created_at
        return None if last is None else last + WINDOW

    # --- the window watch -----------------------------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            await self.ctx.clock.sleep(self.options.window_check_seconds)
            try:
                await self.check_windows()
                await self.media.sweep(self.ctx.clock.now())
            except Exception:
                self.ctx.log.warning("whatsapp.watch_failed", exc_info=True)

    async def check_windows(self) -> None:
        """Tell each queued citizen whose window closes soon what happens next (once
        per window: the notice's key is the moment the window closes)."""
        now = self.ctx.clock.now()
        warning = timedelta(seconds=self.options.window_warning_seconds)
        for conv_id in await self.sends.windows_closing(now, now + warning):
            conv = await self.ctx.get_conversation(conv_id)
            if conv is None or conv.state is not State.QUEUED:
                continue
            closes = await self.window_closes_at(conv)
            if closes is None or not now < closes <= now + warning:
                continue
            with contextlib.suppress(UnknownConversation):
                await self.ctx.ingest(ev.ChannelNotice(
                    conversation_id=conv.id, source=self.name,
                    source_id=f"window-closing:{conv.id}:{int(closes.timestamp())}",
                    kind=ev.ChannelNoticeKind.WINDOW_CLOSING,
                ))



