"""The OBI4wan desk adapter: the core's desk contract on top of OBI4wan's custom channel.

One instance per tenant (its own custom channel, token and webhook secret). The daemon's
side goes out through `client.Obi4wanClient` (every wire detail in `wire`); the agent's
side comes in through `webhook.WebhookRoutes`. A background loop probes OBI4wan while
the circuit is open or the adapter is unhealthy, and refreshes the queue figures shown
to citizens who wait in the queue.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.obi4wan import callback, summary, wire
from adapters.obi4wan.client import Obi4wanClient, counts_as_failure
from adapters.obi4wan.options import Obi4wanOptions, parse_options
from adapters.obi4wan.routes import WebhookRoutes
from handover.sdk import events as ev
from handover.sdk.circuit import CircuitBreaker, CircuitState
from handover.sdk.contracts import (
    AdapterContext,
    Availability,
    ConfigIssue,
    ConfigIssues,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    Health,
    OutboundMessage,
)
from handover.sdk.errors import AuthError, PermanentError
from handover.sdk.keys import scoped_key
from handover.sdk.model import Conversation, State, parse_thread_id
from handover.sdk.registration import CallbackRequest, RegistrationReceipt, RegistrationTarget

__all__ = ["Obi4wanDesk"]

#: Queue figures last shown for a thread: (queue length, estimated wait seconds).
_Figures = tuple[int | None, int | None]


class Obi4wanDesk(DeskAdapter, RegistrationTarget):
    """OBI4wan livechat through a custom channel and a signed webhook (assumed contract,
    see adapters/obi4wan/README.md). With `callback_note = true` also a registration
    target that posts callback requests to the agents (callback.py)."""

    # Every post carries OBI4wan's idempotency field `messageId`, derived from our own
    # stable ids (the thread plus the transcript message id, the note's text, or "open" /
    # "close"). A repeat after an interrupted send ("processed, but the answer was
    # lost") is recognised by OBI4wan and not shown twice, so the worker may send again
    # instead of dead-lettering the item as ambiguous.
    resend_safe = True
    registers_callbacks = True

    #: Seconds between two looks of the background loop (tests shorten it).
    tick_seconds = 1.0

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        if len(tenants) > 1:
            # Each tenant has its own custom channel and credentials in OBI4wan; one
            # instance serving two would post one tenant's citizens into the other's.
            raise ConfigIssues([ConfigIssue(
                path,
                f"an obi4wan desk serves one tenant, but tenants {', '.join(sorted(tenants))} "
                f"all name it; declare one [adapters.obi4wan_<tenant>] per tenant",
            )])

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        if not isinstance(config, Obi4wanOptions):
            raise TypeError("Obi4wanDesk needs the options from parse_config")
        # Checked at configuration load already; kept for a daemon built by hand.
        self.check_tenants(config, list(ctx.tenants()), f"adapters.{name}")
        self.options: Obi4wanOptions = config
        self.breaker = CircuitBreaker(
            name, ctx.clock,
            failure_threshold=config.circuit_failure_threshold,
            reset_seconds=config.circuit_reset_seconds,
            counts_as_failure=counts_as_failure,
            on_change=self._circuit_changed,
        )
        self.client = Obi4wanClient(
            adapter=name, session=lambda: ctx.http, api_url=config.api_url,
            channel_identifier=config.channel_identifier, channel_token=config.channel_token,
            chat_guid=config.chat_guid, timeout_seconds=config.request_timeout_seconds,
            breaker=self.breaker, log=ctx.log,
        )
        self.webhook = WebhookRoutes(ctx, config, on_thread_event=self._left_queue)
        self._cached: tuple[datetime, Availability] | None = None
        self._last_figures: _Figures = (None, None)
        self._queued: dict[str, _Figures] = {}
        self._healthy = False
        #: The ingest refused the channel token. The availability probe cannot tell
        #: (it uses the chat guid, not the token), so only a successful post clears it.
        self._token_refused = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Obi4wanOptions:
        return parse_options(section, path)

    def http_app(self) -> web.Application:
        return self.webhook.app()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = self.ctx.spawn(self._run(), "loop")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_health(self) -> None:
        await self._fetch_availability()

    async def _run(self) -> None:
        await self._probe()
        last_poll = last_probe = self.ctx.clock.now()
        while True:
            await self.ctx.clock.sleep(self.tick_seconds)
            try:
                now = self.ctx.clock.now()
                # Probe when the open circuit's time is up, and now and then while
                # unhealthy (failed probe, refused credentials) with no traffic to tell.
                since_probe = (now - last_probe).total_seconds()
                if self.breaker.state is CircuitState.HALF_OPEN or (
                    not self._healthy and self.breaker.state is CircuitState.CLOSED
                    and since_probe >= self.breaker.reset_seconds
                ):
                    last_probe = now
                    await self._probe()
                poll = self.options.queue_poll_seconds
                if poll and self._queued and (now - last_poll).total_seconds() >= poll:
                    last_poll = now
                    await self._poll_queue()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep the loop alive: it is what brings the desk back to healthy.
                self.ctx.log.warning("obi4wan.background_failed", exc_info=True)

    async def _probe(self) -> None:
        try:
            await self.check_health()
        except AuthError:
            self._set_health(Health.AUTH_FAILED, "OBI4wan refused the credentials")
        except Exception as exc:
            self._set_health(Health.DEGRADED, f"OBI4wan probe failed: {type(exc).__name__}")
        else:
            if not self._token_refused:
                self._set_health(Health.CONNECTED)

    def _set_health(self, health: Health, detail: str = "") -> None:
        self._healthy = health is Health.CONNECTED
        self.ctx.set_health(health, detail)

    def _circuit_changed(self, state: CircuitState) -> None:
        if state is CircuitState.OPEN:
            self.ctx.log.warning("obi4wan.circuit_opened", retry_in=self.breaker.reset_seconds)
            self._set_health(Health.DEGRADED, "OBI4wan is not answering (circuit open)")
        elif state is CircuitState.CLOSED:
            self.ctx.log.info("obi4wan.circuit_closed")
            if not self._token_refused:
                self._set_health(Health.CONNECTED)

    async def _post(self, post: wire.Post) -> str | None:
        """Post to the custom channel; OBI4wan's id for the post, scoped to its thread.

        The core records `desk_message_key(<this id>)` to drop the webhook's echo of the
        post, and the webhook keys agent messages with `scoped_desk_message_key(thread,
        message id)`: both spell the same key, and a message id OBI4wan reuses in
        another thread is another message."""
        try:
            desk_id = await self.client.post(post)
        except AuthError:
            self._token_refused = True
            self._set_health(Health.AUTH_FAILED, "OBI4wan refused the channel token")
            raise
        self._token_refused = False
        return None if desk_id is None else scoped_key(post.thread_id, desk_id)

    # --- availability and queue figures -----------------------------------------------------

    async def availability(self, tenant: str, queue: str | None) -> Availability:
        """Cached for `availability_cache_seconds`. While the circuit is open the desk is
        reported unavailable, so the citizen gets the tenant's fallback at once instead
        of waiting in the queue of a desk that is down."""
        if self.breaker.state is CircuitState.OPEN:
            return Availability(available=False)
        cached = self._cached
        max_age = self.options.availability_cache_seconds
        if cached and (self.ctx.clock.now() - cached[0]).total_seconds() < max_age:
            return cached[1]
        return await self._fetch_availability()

    async def _fetch_availability(self) -> Availability:
        answer = await self.client.availability()
        self._cached = (self.ctx.clock.now(), answer)
        self._last_figures = (answer.queue_length, answer.estimated_wait_seconds)
        return answer

    def _left_queue(self, thread: str) -> None:
        self._queued.pop(thread, None)

    async def _poll_queue(self) -> None:
        """One availability call for all queued threads; a QueueUpdated for each whose
        figures changed. The figures are OBI4wan's whole queue (the assumed contract has
        no per-thread position)."""
        try:
            answer = await self.availability("", None)
        except Exception:
            return  # the desk is struggling; the figures will come with the next poll
        figures: _Figures = (answer.queue_length, answer.estimated_wait_seconds)
        if figures == (None, None):
            return
        for thread, shown in list(self._queued.items()):
            parsed = parse_thread_id(thread)
            conv = await self.ctx.get_conversation(parsed[0]) if parsed else None
            if conv is None or conv.state is not State.QUEUED or conv.desk_thread != thread:
                self._queued.pop(thread, None)
                continue
            if figures == shown:
                continue
            self._queued[thread] = figures
            await self.ctx.ingest(ev.QueueUpdated(
                conversation_id=conv.id, source=self.name,
                source_id=f"queue:{thread}:{uuid.uuid4().hex}", thread=thread,
                position=figures[0], estimated_wait_seconds=figures[1],
            ))

    # --- the daemon's side of the desk --------------------------------------------------------

    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        url = thread.context.get("url")
        desk_id = await self._post(wire.Post(
            thread_id=thread.thread_id,
            message_id=wire.message_id(thread.thread_id, "open"),
            published=self.ctx.clock.now(),
            content=summary.text(conversation, thread),
            sender=self._system(conversation),
            title=summary.title(thread),
            url=url if isinstance(url, str) else None,
            metadata=summary.metadata(conversation, thread),
        ))
        if self.options.queue_poll_seconds:
            self._queued.setdefault(thread.thread_id, self._last_figures)
        self.ctx.log.info("obi4wan.thread_opened", thread_id=thread.thread_id,
                          conversation_id=conversation.id)
        return DeskReceipt(desk_message_id=desk_id)

    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        desk_id = await self._post(wire.Post(
            thread_id=thread_id,
            message_id=wire.message_id(thread_id, "msg", message.message_id),
            published=message.created_at or self.ctx.clock.now(),
            content=message.content.text,
            sender=wire.Sender(self.options.citizen_name, conversation.id),
            attachments=message.content.attachments,
        ))
        return DeskReceipt(desk_message_id=desk_id)

    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        # The core gives a note no id of its own, so its messageId comes from its text:
        # a note repeated after a lost answer shows once, and so do two identical notes
        # on one thread (the lesser harm).
        desk_id = await self._post(wire.Post(
            thread_id=thread_id,
            message_id=wire.message_id(thread_id, "note", text),
            published=self.ctx.clock.now(),
            content=text,
            sender=self._system(conversation),
            type=wire.PostType.NOTE,
        ))
        return DeskReceipt(desk_message_id=desk_id)

    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        self._queued.pop(thread_id, None)
        await self._post(wire.Post(
            thread_id=thread_id,
            message_id=wire.message_id(thread_id, "close"),
            published=self.ctx.clock.now(),
            content=summary.close_text(reason),
            sender=self._system(conversation),
            type=wire.PostType.CLOSE,
            metadata={"reason": reason},
        ))

    async def register_callback(self, request: CallbackRequest) -> RegistrationReceipt:
        """Posts the request as a note in a thread of its own (see callback.py)."""
        if not self.options.callback_note:
            # The tenant names this desk as a registration target, but the desk was not
            # told to take requests: dead-letter it loudly rather than lose it quietly.
            raise PermanentError("callback_note is off for this OBI4wan desk; set "
                                 "callback_note = true or remove it from the registries")
        if request.tenant not in self.ctx.tenants():
            raise PermanentError(f"tenant {request.tenant!r} does not use this OBI4wan desk")
        sender = wire.Sender(self.options.system_name, f"system:{request.tenant}")
        desk_id = await self._post(callback.post(
            request, self.ctx.tenant_name(request.tenant), sender))
        self.ctx.log.info("obi4wan.callback_posted", request_id=request.request_id,
                          thread_id=callback.thread_id(request))
        return RegistrationReceipt(external_id=desk_id)

    def _system(self, conversation: Conversation) -> wire.Sender:
        return wire.Sender(self.options.system_name, f"system:{conversation.tenant}")
