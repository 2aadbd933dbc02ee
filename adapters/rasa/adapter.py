"""The Gem bot adapter: the daemon talks to Gem (Rasa) on the citizen's behalf.

Glue between the core's `BotAdapter` contract and `adapters.rasa.client`:

- `turn` sends the citizen's turn through Rasa's REST channel (or the callback channel,
  whose answers arrive on `adapters.rasa.routes`), maps the bot's messages to
  `Content` and finds the handover signal: the custom payload key, a configured button
  payload of the citizen, or a configured intent of the turn (from the tracker).
- Consent: a signal from the bot's payload carries the bot's own `consent` flag (true
  when absent: Gem asks before it signals). A handover the adapter derives from a
  button payload or an intent was never asked about, so it carries `consent = false`;
  the tenant's consent policy (`[tenants.*.handover] consent`) then has the daemon ask.
- With the HTTP API, a signal carries the recent intents and the slots worth showing in
  `HandoverSignal.details` for the agent.
- `handback` tells the bot the livechat ended (trigger an intent, or append a slot
  event). The core never sends the bot what was said to the agent, so later turns
  never reprocess the human stretch.
- Failures are classified so the core applies the tenant's bot-failure policy: a turn
  that surely did not reach Rasa is retried; one that may have (timeout, 5xx, an empty
  answer from Rasa's internal timeout) is never resent and ends as "ambiguous".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from adapters.rasa.client import MESSAGE_ID_KEY, RasaApiError, RasaClient, TurnRequest
from adapters.rasa.options import RasaOptions, TenantSettings, parse_options
from adapters.rasa.routes import CallbackRoutes, PendingTurn, PendingTurns
from adapters.rasa.tracker import TurnState, details_for_agent, latest_intent, turn_state
from adapters.rasa.wire import parse_rasa_messages
from handover.sdk import events as ev
from handover.sdk import metrics
from handover.sdk.contracts import (
    AdapterContext,
    BotAdapter,
    BotResponse,
    BotTurn,
    ConfigIssue,
    ConfigIssues,
    Health,
)
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    DeliveryError,
    PermanentError,
    TransientError,
)
from handover.sdk.model import Content, Conversation, HandoverSignal

__all__ = ["RasaBot"]

TURNS = Counter(
    "handover_rasa_turns_total",
    "Citizen turns for Rasa by result (answered, silent, handover_payload, transient, "
    "ambiguous, empty, permanent, auth).",
    ["adapter", "result"],
    registry=metrics.REGISTRY,
)
CUSTOM_DROPPED = Counter(
    "handover_rasa_custom_dropped_total",
    "Custom payload keys from the bot that no channel understands (not in custom_keys), "
    "dropped instead of shown.",
    ["adapter"],
    registry=metrics.REGISTRY,
)
API_FAILURES = Counter(
    "handover_rasa_api_failures_total",
    "Failed calls to Rasa's HTTP API by operation (tracker, handback).",
    ["adapter", "operation"],
    registry=metrics.REGISTRY,
)



class EmptyAnswer(AmbiguousSendError):
    """Rasa answered nothing for a turn it did not finish (its internal timeout)."""


_ERROR_RESULTS: dict[type[DeliveryError], str] = {
    EmptyAnswer: "empty",
    TransientError: "transient",
    AmbiguousSendError: "ambiguous",
    PermanentError: "permanent",
    AuthError: "auth",
}


class RasaBot(BotAdapter):
    """Gem on Rasa, per tenant (see adapters/rasa/README.md for the configuration)."""

    # Rasa's webhooks have no idempotency key: a resent turn is a second user turn.
    resend_safe = False

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        if not isinstance(config, RasaOptions):
            raise TypeError("RasaBot needs the options from RasaBot.parse_config")
        self.options = config
        self.pending = PendingTurns()
        self._clients: dict[str, RasaClient] = {}

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> RasaOptions:
        return parse_options(section, path)

    def http_app(self) -> web.Application | None:
        if not self.options.callback_tokens:
            return None
        return CallbackRoutes(
            self.ctx, self.options.callback_tokens, self.pending, self._map_callback
        ).app()

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        if not isinstance(options, RasaOptions):
            return
        # An override for a tenant that does not use this bot is most likely a typo in
        # the tenant id, and the real tenant would silently get the defaults.
        issues = [
            ConfigIssue(f"{path}.tenants.{tenant}",
                        f"tenant {tenant!r} does not use this bot (used by: "
                        f"{', '.join(tenants) or 'no tenant'})")
            for tenant in sorted(set(options.tenants) - set(tenants))
        ]
        if issues:
            raise ConfigIssues(issues)

    async def start(self) -> None:
        self.ctx.set_health(Health.CONNECTED)

    async def check_health(self) -> None:
        for settings in self.options.all_settings():
            async with self.ctx.http.get(settings.url + "/") as resp:
                resp.raise_for_status()

    def client(self, settings: TenantSettings) -> RasaClient:
        """One client per distinct server and credentials (tenants may share one)."""
        key = repr((settings.url, settings.api_base, settings.api_token,
                    settings.turn_timeout_seconds, settings.connect_timeout_seconds))
        client = self._clients.get(key)
        if client is None:
            client = RasaClient(
                self.ctx.http,
                settings.url,
                turn_timeout=settings.turn_timeout_seconds,
                connect_timeout=settings.connect_timeout_seconds,
                adapter=self.name,
                api_url=settings.api_base,
                api_token=settings.api_token,
            )
            self._clients[key] = client
        return client

    # --- turns ------------------------------------------------------------------------

    async def turn(self, conversation: Conversation, turn: BotTurn) -> BotResponse:
        s = self.options.for_tenant(conversation.tenant)
        try:
            response, result = await self._turn(conversation, turn, s)
        except DeliveryError as exc:
            result = next(r for t, r in _ERROR_RESULTS.items() if isinstance(exc, t))
            TURNS.labels(self.name, result).inc()
            self.ctx.log.warning(
                "rasa.turn_failed",
                conversation_id=conversation.id,
                tenant=conversation.tenant,
                error_class=result,
                error=str(exc),
            )
            raise
        TURNS.labels(self.name, result).inc()
        self.ctx.log.info(
            "rasa.turn",
            conversation_id=conversation.id,
            tenant=conversation.tenant,
            result=result,
            messages=len(response.messages),
            handover=response.handover is not None,
        )
        return response

    async def _turn(
        self, conv: Conversation, turn: BotTurn, s: TenantSettings
    ) -> tuple[BotResponse, str]:
        if turn.payload is not None and turn.payload in s.handover_payloads:
            # The citizen chose "talk to a person": no need to ask the bot, and the
            # handover works while Rasa is down too.
            asked = HandoverSignal(
                reason="citizen_request", language=turn.language, consent=False,
                details={"trigger": "button"},
            )
            return BotResponse(handover=await self._prepare(conv, s, asked, None)), (
                "handover_payload"
            )
        request = TurnRequest(
            sender=conv.id,
            # A button's payload ("/intent{...}") is what Rasa expects as the message.
            message=turn.payload or turn.text,
            metadata={**turn.metadata, MESSAGE_ID_KEY: turn.message_id},
        )
        client = self.client(s)
        if s.mode == "callback":
            pending = PendingTurn(conv.epoch, turn.message_id, conv.tenant)
            self.pending.remember(conv.id, pending)
            await client.callback_turn(request)
            # The messages were ingested by the callback route while Rasa handled it.
            response, received = BotResponse(), pending.received
        else:
            raw = await client.rest_turn(request)
            response = await self._map(conv, s, [m for m in raw if isinstance(m, Mapping)])
            received = len(raw)
        tracker: Mapping[str, Any] | None = None
        if received == 0:
            tracker = await self._check_empty(conv, turn, s)
        signal: HandoverSignal | None = response.handover
        if signal is None and s.handover_intents:
            tracker = tracker or await self._tracker(conv, s)
            intent = latest_intent(tracker, turn.message_id) if tracker is not None else None
            if intent is not None and intent in s.handover_intents:
                signal = await self._prepare(
                    conv, s,
                    HandoverSignal(reason="intent", language=turn.language, consent=False,
                                   details={"trigger": "intent", "intent": intent}),
                    tracker,
                )
        result = "answered" if received else "silent"
        return BotResponse(response.messages, signal), result

    async def _check_empty(
        self, conv: Conversation, turn: BotTurn, s: TenantSettings
    ) -> Mapping[str, Any] | None:
        """Rasa answers `[]` both when the bot had nothing to say and when its handling
        failed or timed out. The tracker tells them apart; without it, `empty_answer`
        decides. Raises AmbiguousSendError for a failed turn (Rasa has it: no resend)."""
        tracker = await self._tracker(conv, s) if s.api else None
        if tracker is not None:
            state = turn_state(tracker, turn.message_id)
            if state is TurnState.FINISHED:
                return tracker
            raise EmptyAnswer(f"rasa: empty answer, turn {state.value} in the tracker")
        if s.empty_answer == "failure":
            raise EmptyAnswer("rasa: empty answer (Rasa's internal timeout?)")
        return None

    async def _tracker(self, conv: Conversation, s: TenantSettings) -> Mapping[str, Any] | None:
        """The tracker, or None when the API is off or failing (enrichment is optional:
        the turn went through and must not fail because of it)."""
        if not s.api:
            return None
        try:
            return await self.client(s).tracker(conv.id)
        except RasaApiError as exc:
            API_FAILURES.labels(self.name, "tracker").inc()
            self.ctx.log.warning("rasa.tracker_failed", conversation_id=conv.id, error=str(exc))
            return None

    # --- mapping bot messages -----------------------------------------------------------

    async def _map(
        self, conv: Conversation, s: TenantSettings, messages: list[Mapping[str, Any]]
    ) -> BotResponse:
        parsed = parse_rasa_messages(messages, s.handover_key)
        contents = tuple(c for c in (self._filter_custom(c, s) for c in parsed.messages) if c)
        signal = parsed.handover
        if signal is not None:
            signal = await self._prepare(conv, s, signal, None)
        return BotResponse(contents, signal)

    async def _map_callback(
        self, conv: Conversation, messages: list[Mapping[str, Any]]
    ) -> BotResponse:
        return await self._map(conv, self.options.for_tenant(conv.tenant), messages)

    def _filter_custom(self, content: Content, s: TenantSettings) -> Content | None:
        """Keep the custom payload keys the channels understand; drop and count the rest.
        A message that held nothing else is dropped whole."""
        if not content.custom:
            return content
        kept = {k: v for k, v in content.custom.items() if k in s.custom_keys}
        dropped = sorted(set(content.custom) - set(kept))
        if dropped:
            CUSTOM_DROPPED.labels(self.name).inc(len(dropped))
            # Key names come from the bot's domain, not from citizens: safe to log.
            self.ctx.log.info("rasa.custom_dropped", keys=dropped)
        content = replace(content, custom=kept or None)
        if content.text or content.buttons or content.attachments or content.custom:
            return content
        return None

    async def _prepare(
        self, conv: Conversation, s: TenantSettings, signal: HandoverSignal,
        tracker: Mapping[str, Any] | None,
    ) -> HandoverSignal:
        """The tracker's intents and the slots worth showing, for the agent."""
        if s.api and (s.show_slots or s.show_intents):
            tracker = tracker or await self._tracker(conv, s)
            if tracker is not None:
                extra = details_for_agent(tracker, s.show_slots, s.show_intents)
                signal = replace(signal, details={**signal.details, **extra})
        return signal

    # --- handback -----------------------------------------------------------------------

    async def handback(self, conversation: Conversation, outcome: str) -> None:
        s = self.options.for_tenant(conversation.tenant)
        self.ctx.log.info("rasa.handback", conversation_id=conversation.id,
                          outcome=outcome, method=s.handback)
        if s.handback == "none":
            return
        client = self.client(s)
        try:
            if s.handback == "events":
                await client.append_events(
                    conversation.id,
                    [{"event": "slot", "name": s.handback_slot, "value": outcome}],
                )
                return
            raw = await client.trigger_intent(
                conversation.id, s.handback_intent, {"outcome": outcome}
            )
        except RasaApiError as exc:
            API_FAILURES.labels(self.name, "handback").inc()
            if not exc.sent:
                raise TransientError(f"rasa handback: {exc}") from None
            # A triggered intent is a bot turn too: never resend it.
            raise AmbiguousSendError(f"rasa handback: {exc}") from None
        response = await self._map(conversation, s, [m for m in raw if isinstance(m, Mapping)])
        if response.messages or response.handover:
            # What the bot says on getting the conversation back. Under the epoch of
            # the handback: if control changed again meanwhile, the core drops it.
            await self.ctx.ingest(ev.BotReplied(
                conversation_id=conversation.id,
                source=self.name,
                source_id=f"handback:{conversation.id}:{conversation.epoch}",
                epoch=conversation.epoch,
                messages=response.messages,
                handover=response.handover,
            ))
