"""The adapter contracts: channel (citizen side), bot and desk.

An adapter is a class registered under the entry-point group `handover.adapters`. The
daemon creates one instance per `[adapters.<name>]` section of the configuration,
passing the section parsed by the adapter's own `parse_config` and one `AdapterContext`.
Adapters never import each other; everything they need from the core comes through the
context.
"""

from __future__ import annotations

import abc
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from handover.model import Content, Conversation, HandoverSignal, Party, State, TranscriptEntry
from handover.sdk.errors import ConfigIssue as ConfigIssue
from handover.sdk.errors import ConfigIssues as ConfigIssues
from handover.sdk.errors import PermanentError

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    import structlog
    from aiohttp import web

    from handover.clock import Clock
    from handover.events import Event
    from handover.sdk.state import AdapterState


class AdapterKind(StrEnum):
    CHANNEL = "channel"
    BOT = "bot"
    DESK = "desk"
    #: Records callback requests and finished contacts (see handover.sdk.registration).
    REGISTRY = "registry"


class Health(StrEnum):
    """Connection lifecycle of an adapter, shown in /readyz and metrics."""

    STARTING = "starting"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"


class IngestOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to an inbound event. Acknowledge the sender on any outcome: the
    event was either durably applied or durably known to be a duplicate or stale."""

    outcome: IngestOutcome
    conversation: Conversation | None = None


class AdapterContext(Protocol):
    """What the core gives an adapter."""

    @property
    def name(self) -> str:
        """The adapter instance name (its `[adapters.<name>]` key)."""

    @property
    def log(self) -> structlog.stdlib.BoundLogger: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def http(self) -> aiohttp.ClientSession:
        """A shared client session (available after the daemon started)."""

    @property
    def public_url(self) -> str | None:
        """The daemon's public address (`[server] public_url`, no trailing slash), or
        None when not configured. An adapter's routes are under
        `<public_url>/<instance name>/`; an adapter that hands out URLs to a remote
        party builds absolute ones from it, and root-relative ones without it."""

    @property
    def state(self) -> AdapterState:
        """Durable key/value records of this adapter instance in the core's store,
        shared by every daemon instance on it (see handover.sdk.state): keep here what
        must survive a restart or be seen by another instance, instead of in memory or
        a file of your own."""

    async def ingest(self, event: Event) -> IngestResult:
        """Apply an inbound event durably. Returns only after the write; raise on store
        failure (then answer the sender with a retryable error)."""

    async def resolve_conversation(
        self, tenant: str, channel_key: str, language: str | None = None,
        context: Mapping[str, Any] | None = None, conversation_id: str | None = None,
    ) -> Conversation:
        """Find or create the conversation for a citizen identity on this channel.

        `conversation_id` is the id a new conversation gets (32 lowercase hex digits;
        by default a random one), for a channel that gave the citizen an id before
        anything was stored. Raises UnknownTenant, StorageFull (only when it would
        create one: the store takes no new conversations now), or a store error."""

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def transcript(self, conversation_id: str, after_seq: int = 0) -> list[TranscriptEntry]:
        """Citizen-visible entries after `after_seq` (for resume and replay), in seq
        order: at most the store's page (1000 entries); read on from the last seq
        returned for more."""

    async def transcript_tail(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        """The last `limit` citizen-visible entries, in seq order (what a window or a
        recovery needs, however long the conversation is)."""

    def tenants(self) -> Sequence[str]:
        """The tenants that use this adapter instance."""

    def tenant_name(self, tenant: str) -> str:
        """The municipality's name (`[tenants.<id>] name`), for people to read; the id
        itself for a tenant that is not configured."""

    def set_health(self, health: Health, detail: str = "") -> None: ...

    async def relay_typing(self, conversation_id: str, party: Party, on: bool) -> None:
        """Pass a typing indicator to the other side (not durable, best effort)."""

    async def hold_connection(self, conversation_id: str) -> None:
        """A live citizen connection for the conversation opened on this instance.

        A channel that pushes to a connection only this process holds (a websocket)
        calls it before it replays the transcript, and `release_connection` when the
        connection closes. With several instances on one database, the conversation's
        deliveries then come to this instance. Never raises."""

    async def release_connection(self, conversation_id: str) -> None:
        """The connection from `hold_connection` closed. Never raises."""

    async def notify_peer_connections(self, conversation_id: str) -> None:
        """Tell the other daemon instances on the store that the conversation moved on
        (a message delivered or taken in, its control state changed), so that the live
        connections of it they hold catch up (`ChannelAdapter.catch_up` of this adapter
        on every other instance). A conversation open in two tabs may be connected to
        two instances while its deliveries go to one (the connection lease's holder).

        A no-op on a store no other instance shares. Carries the conversation id only,
        nothing personal. Best effort (a lost notice is made good by the next one or
        a reconnect); never raises."""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background task for this adapter.

        The core keeps a reference, logs the task's failure, and cancels it when the
        adapter is stopped (after `stop()` returned), so an adapter never calls
        `asyncio.create_task` itself. `name` shows in logs; keep it free of tokens."""


@dataclass(frozen=True, slots=True)
class ChannelCapabilities:
    """What a channel can show. The core degrades what it cannot (buttons become
    numbered text, attachments become links), never the adapter by itself."""

    max_buttons: int = 0
    typing: bool = False
    attachments: bool = False
    read_receipts: bool = False
    state_display: bool = False
    max_text_length: int | None = None
    #: The channel hands over by transferring the call itself (telephony): the core then
    #: asks the channel to `transfer` instead of opening a desk thread.
    transfer: bool = False
    #: The channel speaks instead of showing text (telephony): a written survey such
    #: as the 0-10 NPS question is not offered.
    spoken: bool = False


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for the citizen: `seq` orders it in the conversation."""

    seq: int
    message_id: str
    party: Party
    content: Content
    sender_name: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A handover performed by the channel: transfer the call to the contact centre.

    `handover_no` numbers the handovers of the conversation (a reference the channel
    gives the contact centre should name it); `signal` says why and to which queue.
    """

    handover_no: int
    signal: HandoverSignal


@dataclass(frozen=True, slots=True)
class ControlUpdate:
    """The control state as the citizen should see it (waiting, agent's name...)."""

    state: State
    agent_name: str | None = None
    queue_position: int | None = None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class BotTurn:
    """One citizen turn for the bot. `payload` is set when the citizen chose a button."""

    message_id: str
    text: str
    payload: str | None
    language: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BotResponse:
    messages: tuple[Content, ...] = ()
    handover: HandoverSignal | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    queue_length: int | None = None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class DeskThread:
    """What the desk receives at a handover: who, why, and everything said so far."""

    thread_id: str
    tenant: str
    channel: str
    language: str
    signal: HandoverSignal
    context: Mapping[str, Any]
    transcript: tuple[TranscriptEntry, ...]
    #: When the daemon queued the handover (the citizen's wait starts here, also when
    #: a desk outage delayed this delivery).
    queued_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeskReceipt:
    """`desk_message_id` is the id the desk gave our post (for echo suppression)."""

    desk_message_id: str | None = None


class Adapter(abc.ABC):
    """Base of every adapter.

    Lifecycle: `parse_config` (at configuration load, also by `check-config`), then
    construction, `http_app` (routes mounted under `/<instance name>/`), `start` once the
    daemon runs, `stop` on shutdown. `start` must not block: long-running loops go into
    tasks the adapter cancels in `stop`.
    """

    kind: ClassVar[AdapterKind]
    #: May an item be sent again when we do not know whether the last send arrived?
    resend_safe: ClassVar[bool] = False

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> Any:
        """Validate this adapter's own config section (without the `type` key).

        Raise ConfigIssues with every problem found, each with its path under `path`.
        The default accepts no options at all.
        """
        if section:
            raise ConfigIssues([ConfigIssue(f"{path}.{k}", "unknown key") for k in section])
        return None

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        """Check the options against the tenants that use this instance.

        Called at configuration load (also by `check-config`) once the tenants are
        known, with `options` as `parse_config` returned them and `path` the section's
        path. Raise ConfigIssues (for example: an adapter that serves one tenant only,
        or an override naming a tenant that does not use the instance). The default
        accepts any tenants.
        """

    def http_app(self) -> web.Application | None:
        """An aiohttp sub-application mounted at `/<instance name>/`, or None."""
        return None

    def root_routes(self) -> Sequence[web.AbstractRouteDef]:
        """Routes outside the instance's prefix, added to the daemon's root application.

        Only for protocols whose clients expect a fixed path (socket.io clients ask
        `/socket.io/` unless the page says otherwise). Called once, after `http_app`;
        a path another adapter already has makes the daemon refuse to start. The
        default is none.
        """
        return ()

    async def start(self) -> None:
        """Called once the daemon runs; the context's HTTP session is available."""
        self.ctx.set_health(Health.CONNECTED)

    async def stop(self) -> None:
        """Stop background work; called on shutdown, before the store closes."""

    async def check_health(self) -> None:
        """Probe the upstream; raise on failure. Used by the circuit breaker."""


class ChannelAdapter(Adapter):
    """The citizen side: web widget, WhatsApp, telephony..."""

    kind = AdapterKind.CHANNEL
    resend_safe = True
    #: What the channel can show; an instance may narrow it from its configuration.
    capabilities: ChannelCapabilities = ChannelCapabilities()

    @abc.abstractmethod
    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        """Show a message to the citizen. Raise a DeliveryError subclass on failure.

        Called in `seq` order per conversation, one at a time. When `resend_safe` is
        True the same message may arrive twice after a crash; drop known `message_id`s.
        """

    async def control_changed(self, conversation: Conversation, update: ControlUpdate) -> None:
        """Show who holds the conversation. Only called when `state_display` is True."""

    async def typing(self, conversation: Conversation, party: Party, on: bool) -> None:
        """Show a typing indicator. Only called when `typing` is True. Best effort."""

    async def catch_up(self, conversation_id: str) -> None:
        """Another instance said the conversation moved on
        (`AdapterContext.notify_peer_connections`): bring the live connections of it held
        here up to date from the transcript, each exactly once and in order.

        Called on every instance but the notifying one, for every notice, so return at
        once when no connection of the conversation is held here. Only with a store
        shared by instances. Best effort: an exception is logged. The default does
        nothing (a channel without live connections).
        """

    async def transfer(self, conversation: Conversation, request: TransferRequest) -> None:
        """Transfer the call to the contact centre. Only called when `transfer` is True.

        Called in order with `deliver` (the texts said before the transfer come first).
        Report the result later as a `TransferStatus` event. Raise a DeliveryError
        subclass on failure; a permanent failure sends the caller back to the bot.
        """
        raise PermanentError(f"channel {self.name} cannot transfer calls")


class BotAdapter(Adapter):
    """The bot (Gem on Rasa, the demo bot...)."""

    kind = AdapterKind.BOT

    @abc.abstractmethod
    async def turn(self, conversation: Conversation, turn: BotTurn) -> BotResponse:
        """Send one citizen turn and return the bot's answer.

        Raise TransientError only when the bot surely did not receive the turn, and
        AmbiguousSendError when it may have (the core then never resends).
        """

    async def handback(self, conversation: Conversation, outcome: str) -> None:
        """Tell the bot a livechat ended (it holds the conversation again)."""


class DeskAdapter(Adapter):
    """The human side: OBI4wan, the built-in console, the demo desk..."""

    kind = AdapterKind.DESK

    async def availability(self, tenant: str, queue: str | None) -> Availability:
        """Whether agents can take a chat now. Default: always available."""
        return Availability(available=True)

    @abc.abstractmethod
    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        """Queue a new thread at the desk with transcript and context."""

    @abc.abstractmethod
    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        """Relay a citizen message to the agent."""

    @abc.abstractmethod
    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        """A system note for the agent (citizen left, timeout...)."""

    @abc.abstractmethod
    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        """The daemon ended the thread (citizen left, timeout)."""

    async def typing(self, conversation: Conversation, thread_id: str, on: bool) -> None:
        """Show the agent that the citizen is typing. Best effort; the default drops it.

        Called outside the outbox (typing is not durable); an exception is swallowed.
        """
