"""The REST channel: citizens (or integrations, curl, tests) over plain HTTP/JSON.

The store's transcript is the source of truth for what the citizen sees: `deliver()`
stores nothing and only wakes the requests long-polling that conversation, which then
read the transcript. So a delivery never fails, a re-delivery after a crash is harmless
(`resend_safe`), and a client that was away simply asks for everything after the last
`seq` it saw. The HTTP API is described in `adapters.rest.routes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.rest.routes import RestRoutes
from handover.sdk.contracts import (
    AdapterContext,
    ChannelAdapter,
    ChannelCapabilities,
    ConfigIssues,
    ControlUpdate,
    OutboundMessage,
)
from handover.sdk.http import MAX_BODY_BYTES
from handover.sdk.longpoll import Wakeups
from handover.sdk.model import Conversation
from handover.sdk.options import Issues, Table

__all__ = ["RestChannel", "RestOptions"]

MAX_LONG_POLL_SECONDS = 60.0
DEFAULT_LONG_POLL_SECONDS = 25.0
DEFAULT_MAX_TEXT_LENGTH = 4000
DEFAULT_CONVERSATIONS_PER_MINUTE = 20
DEFAULT_TENANT_CONVERSATIONS_PER_MINUTE = 600
DEFAULT_MESSAGES_PER_MINUTE = 20


@dataclass(frozen=True, slots=True)
class RestOptions:
    """The REST channel's `[adapters.<name>]` options."""

    #: The longest a `GET .../messages?wait=S` holds the request open (S is capped).
    long_poll_seconds: float = DEFAULT_LONG_POLL_SECONDS
    #: The longest citizen text accepted, in characters.
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    #: Waiting long-polls at once per conversation and per client address on this
    #: instance; more are answered 429 at once. A client needs one per conversation
    #: (a few with several tabs); thousands would hold the daemon's memory and loop.
    long_polls_per_conversation: int = 4
    long_polls_per_address: int = 50
    #: Conversations one client address may open per minute (bursts up to the same).
    conversations_per_minute: int = DEFAULT_CONVERSATIONS_PER_MINUTE
    #: Conversations stored per tenant per minute on this instance, all addresses together.
    tenant_conversations_per_minute: int = DEFAULT_TENANT_CONVERSATIONS_PER_MINUTE
    #: Messages and actions one conversation may send per minute.
    messages_per_minute: int = DEFAULT_MESSAGES_PER_MINUTE


class RestChannel(ChannelAdapter):
    """A plain HTTP/JSON citizen channel with long-polling for the replies."""

    resend_safe = True
    capabilities = ChannelCapabilities(max_buttons=10, attachments=True, state_display=True)

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options = config if isinstance(config, RestOptions) else RestOptions()
        self.wakeups = Wakeups()

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> RestOptions:
        issues = Issues()
        table = Table(section, path, issues)
        poll = table.number("long_poll_seconds", DEFAULT_LONG_POLL_SECONDS, minimum=0.0)
        if poll > MAX_LONG_POLL_SECONDS:
            issues.add(table.at("long_poll_seconds"), f"must be at most {MAX_LONG_POLL_SECONDS:g}")
        # The text travels in a JSON body of at most MAX_BODY_BYTES.
        limit = table.integer(
            "max_text_length", DEFAULT_MAX_TEXT_LENGTH, minimum=1, maximum=MAX_BODY_BYTES
        )
        per_conversation = table.integer("long_polls_per_conversation", 4, minimum=1,
                                         maximum=1000)
        polls_per_address = table.integer("long_polls_per_address", 50, minimum=1,
                                          maximum=100_000)
        per_address = table.integer(
            "conversations_per_minute", DEFAULT_CONVERSATIONS_PER_MINUTE, minimum=1)
        per_tenant = table.integer(
            "tenant_conversations_per_minute", DEFAULT_TENANT_CONVERSATIONS_PER_MINUTE, minimum=1)
        messages = table.integer("messages_per_minute", DEFAULT_MESSAGES_PER_MINUTE, minimum=1)
        table.finish()
        if issues:
            raise ConfigIssues(issues.items)
        return RestOptions(
            long_poll_seconds=poll, max_text_length=limit, conversations_per_minute=per_address,
            tenant_conversations_per_minute=per_tenant, messages_per_minute=messages,
            long_polls_per_conversation=per_conversation,
            long_polls_per_address=polls_per_address,
        )

    def http_app(self) -> web.Application:
        return RestRoutes(self.ctx, self.name, self.options, self.wakeups).app()

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        self.wakeups.wake(conversation.id)

    async def control_changed(self, conversation: Conversation, update: ControlUpdate) -> None:
        # The state travels with every GET; a waiting client should see it now.
        self.wakeups.wake(conversation.id)

    async def stop(self) -> None:
        self.wakeups.close()
