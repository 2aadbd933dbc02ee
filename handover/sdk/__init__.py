"""The surface adapters import: everything an adapter needs from the core is here.

An adapter (in `adapters/<name>/` or a third-party package) imports only `handover.sdk`
and its modules, never the rest of `handover`. The common names are re-exported here
(`from handover.sdk import ChannelAdapter, TransientError, Content`); the toolkits are
imported from their modules.

Contents:

- `contracts`: the adapter classes (`ChannelAdapter`, `BotAdapter`, `DeskAdapter`),
  the `AdapterContext` the core hands them, and the values they exchange;
- `errors`: delivery errors (transient, auth, permanent, ambiguous), lookup errors,
  configuration errors;
- `registration`: the registration-target contract (`RegistrationTarget`,
  `RegistryAdapter`, `CallbackRequest`, `ContactRecord`): where callback requests and
  finished contacts are recorded;
- `events`: the inbound events an adapter hands to `AdapterContext.ingest`;
- `model`: conversations, content, transcript entries;
- `state`: the adapter's durable records in the core's store (`AdapterState`,
  `StateRecord`), reached as `AdapterContext.state`;
- `keys`: dedup and desk echo keys (`desk_message_key`, `scoped_key`);
- `options`: reading the adapter's configuration section (`Table`, `Issues`,
  `tenant_tables`);
- `origins`: browser origins in channel configuration (`read_origins`);
- `pagecontext`: the page a citizen chats from (`clean_page_context`: the same rule on
  every channel);
- `http`: the adapters' own routes: JSON errors, capped bodies, fields,
  `ingest_or_error`;
- `upstream`: one classified HTTP call to an upstream API, with metrics;
- `retry`: backoff, Retry-After, short in-request retries;
- `circuit`: a circuit breaker per upstream;
- `ratelimit`: token buckets per key;
- `longpoll`: long-poll wake-ups per key;
- `clock`: injected time (`Clock`, `FakeClock`);
- `logs`: log helpers (`redact_url`);
- `metrics`: the registry an adapter's metrics join, and the shared metrics;
- `testing`: helpers for adapter tests.

Adapter README files and docstrings say which of these each adapter uses.
"""

from __future__ import annotations

from handover.sdk.contracts import (
    Adapter,
    AdapterContext,
    AdapterKind,
    Availability,
    BotAdapter,
    BotResponse,
    BotTurn,
    ChannelAdapter,
    ChannelCapabilities,
    ControlUpdate,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    Health,
    IngestOutcome,
    IngestResult,
    OutboundMessage,
    TransferRequest,
)
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    ConfigIssue,
    ConfigIssues,
    DeliveryError,
    PermanentError,
    TransientError,
    UnknownConversation,
    UnknownTenant,
)
from handover.sdk.keys import desk_message_key, scoped_desk_message_key, scoped_key
from handover.sdk.model import (
    Attachment,
    Button,
    Content,
    Conversation,
    HandoverSignal,
    Party,
    State,
    TranscriptEntry,
)
from handover.sdk.state import AdapterState, StateRecord

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterKind",
    "AdapterState",
    "AmbiguousSendError",
    "Attachment",
    "AuthError",
    "Availability",
    "BotAdapter",
    "BotResponse",
    "BotTurn",
    "Button",
    "ChannelAdapter",
    "ChannelCapabilities",
    "ConfigIssue",
    "ConfigIssues",
    "Content",
    "ControlUpdate",
    "Conversation",
    "DeliveryError",
    "DeskAdapter",
    "DeskReceipt",
    "DeskThread",
    "HandoverSignal",
    "Health",
    "IngestOutcome",
    "IngestResult",
    "OutboundMessage",
    "Party",
    "PermanentError",
    "State",
    "StateRecord",
    "TranscriptEntry",
    "TransferRequest",
    "TransientError",
    "UnknownConversation",
    "UnknownTenant",
    "desk_message_key",
    "scoped_desk_message_key",
    "scoped_key",
]
