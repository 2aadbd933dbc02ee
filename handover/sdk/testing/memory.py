"""In-memory channel, bot and desk adapters, for tests.

Used by the core's own tests and meant for third-party adapter authors: a new desk
adapter can be tested against `MemoryChannel` and `MemoryBot`, and so on. Each adapter
records what it was given and can inject faults (`fail_next`).

They are not production adapters: a daemon finds them by type name (`memory_channel`,
`memory_bot`, `memory_desk`) only when test adapters are enabled (see
`handover.sdk.testing.TEST_ADAPTERS_ENV`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from handover.sdk import events as ev
from handover.sdk.contracts import (
    AdapterContext,
    Availability,
    BotAdapter,
    BotResponse,
    BotTurn,
    ChannelAdapter,
    ChannelCapabilities,
    ConfigIssue,
    ConfigIssues,
    ControlUpdate,
    DeskAdapter,
    DeskReceipt,
    DeskThread,
    IngestResult,
    OutboundMessage,
)
from handover.sdk.keys import desk_message_key
from handover.sdk.model import Content, Conversation, HandoverSignal, Party

__all__ = ["MemoryBot", "MemoryChannel", "MemoryDesk", "echo_responder"]

_ids = itertools.count(1)


class _Faults:
    """A queue of exceptions to raise on the next calls."""

    def __init__(self) -> None:
        self._queue: list[BaseException] = []

    def fail_next(self, error: BaseException, times: int = 1) -> None:
        self._queue.extend([error] * times)

    def check(self) -> None:
        if self._queue:
            raise self._queue.pop(0)


class _Waiters:
    """Lets a test wait until a recorded list satisfies a condition."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)


_MEMORY_CAPABILITIES = ChannelCapabilities(
    max_buttons=3, typing=True, attachments=True, state_display=True
)


@dataclass(frozen=True, slots=True)
class MemoryChannelOptions:
    capabilities: ChannelCapabilities = _MEMORY_CAPABILITIES


class MemoryChannel(ChannelAdapter):
    """A citizen channel kept in memory; drops message ids it has shown (resend-safe)."""

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        options = config if isinstance(config, MemoryChannelOptions) else MemoryChannelOptions()
        self.capabilities = options.capabilities
        self.shown: dict[str, list[OutboundMessage]] = defaultdict(list)
        self.controls: dict[str, list[ControlUpdate]] = defaultdict(list)
        self.typing_events: list[tuple[str, Party, bool]] = []
        self.duplicates_dropped = 0
        self.faults = _Faults()
        self._seen: set[str] = set()
        self._waiters = _Waiters()

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> MemoryChannelOptions:
        allowed = {"max_buttons", "typing", "attachments", "state_display", "spoken"}
        unknown = [ConfigIssue(f"{path}.{k}", "unknown key") for k in section if k not in allowed]
        if unknown:
            raise ConfigIssues(unknown)
        return MemoryChannelOptions(
            ChannelCapabilities(
                max_buttons=int(section.get("max_buttons", 3)),
                typing=bool(section.get("typing", True)),
                attachments=bool(section.get("attachments", True)),
                state_display=bool(section.get("state_display", True)),
                # A phone-like channel (texts worded to be spoken, no survey).
                spoken=bool(section.get("spoken", False)),
            )
        )

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        self.faults.check()
        if message.message_id in self._seen:
            self.duplicates_dropped += 1
            return
        self._seen.add(message.message_id)
        self.shown[conversation.id].append(message)
        await self._waiters.notify()

    async def control_changed(self, conversation: Conversation, update: ControlUpdate) -> None:
        self.faults.check()
        self.controls[conversation.id].append(update)
        await self._waiters.notify()

    async def typing(self, conversation: Conversation, party: Party, on: bool) -> None:
        self.typing_events.append((conversation.id, party, on))

    # --- test helpers ---------------------------------------------------------------

    async def open(self, tenant: str, key: str | None = None, language: str = "nl") -> Conversation:
        return await self.ctx.resolve_conversation(tenant, key or f"citizen-{next(_ids)}", language)

    async def say(
        self, conversation_id: str, text: str, payload: str | None = None,
        message_id: str | None = None, context: Mapping[str, Any] | None = None,
    ) -> IngestResult:
        return await self.ctx.ingest(
            ev.CitizenMessage(
                conversation_id=conversation_id,
                source=self.name,
                source_id=message_id or f"m{next(_ids)}",
                content=Content(text=text),
                payload=payload,
                context=dict(context or {}),
            )
        )

    async def request_agent(self, conversation_id: str) -> IngestResult:
        return await self.ctx.ingest(
            ev.CitizenRequestsAgent(
                conversation_id=conversation_id, source=self.name, source_id=f"a{next(_ids)}"
            )
        )

    async def leave(self, conversation_id: str) -> IngestResult:
        return await self.ctx.ingest(
            ev.CitizenLeft(
                conversation_id=conversation_id, source=self.name, source_id=f"l{next(_ids)}"
            )
        )

    def texts(self, conversation_id: str) -> list[str]:
        return [m.content.text for m in self.shown[conversation_id]]

    async def wait_for(
        self, conversation_id: str, predicate: Callable[[list[OutboundMessage]], bool],
        timeout: float = 5.0,
    ) -> list[OutboundMessage]:
        await self._waiters.wait_for(lambda: predicate(self.shown[conversation_id]), timeout)
        return self.shown[conversation_id]


Responder = Callable[[Conversation, BotTurn], BotResponse | Awaitable[BotResponse]]


def echo_responder(conversation: Conversation, turn: BotTurn) -> BotResponse:
    """Echo the citizen; "/handover" (payload or text) asks for a person."""
    if (turn.payload or turn.text) == "/handover":
        return BotResponse(
            (Content(text="Ik verbind u door."),),
            HandoverSignal(reason="citizen_request", topic="test"),
        )
    return BotResponse((Content(text=f"bot: {turn.text}"),))


class MemoryBot(BotAdapter):
    """A bot answering through `responder`; `gate` can hold answers back (late replies)."""

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.responder: Responder = echo_responder
        self.turns: list[BotTurn] = []
        self.handbacks: list[tuple[str, str]] = []
        self.faults = _Faults()
        self.gate: asyncio.Event | None = None

    async def turn(self, conversation: Conversation, turn: BotTurn) -> BotResponse:
        self.faults.check()
        self.turns.append(turn)
        if self.gate is not None:
            await self.gate.wait()
        result = self.responder(conversation, turn)
        if isinstance(result, BotResponse):
            return result
        return await result

    async def handback(self, conversation: Conversation, outcome: str) -> None:
        self.faults.check()
        self.handbacks.append((conversation.id, outcome))


class MemoryDesk(DeskAdapter):
    """A desk kept in memory, with helpers that act as the agent."""

    resend_safe = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.available = Availability(available=True)
        self.threads: dict[str, DeskThread] = {}
        self.received: dict[str, list[OutboundMessage]] = defaultdict(list)
        self.notes: dict[str, list[str]] = defaultdict(list)
        self.closed: dict[str, str] = {}
        self.checks = 0
        self.typing_events: list[tuple[str, str, bool]] = []
        self.faults = _Faults()
        self._seen: set[str] = set()
        self._waiters = _Waiters()

    async def availability(self, tenant: str, queue: str | None) -> Availability:
        self.faults.check()
        self.checks += 1
        return self.available

    async def open_thread(self, conversation: Conversation, thread: DeskThread) -> DeskReceipt:
        self.faults.check()
        self.threads.setdefault(thread.thread_id, thread)
        await self._waiters.notify()
        return DeskReceipt()

    async def send(
        self, conversation: Conversation, thread_id: str, message: OutboundMessage
    ) -> DeskReceipt:
        self.faults.check()
        if message.message_id not in self._seen:
            self._seen.add(message.message_id)
            self.received[thread_id].append(message)
        await self._waiters.notify()
        return DeskReceipt(desk_message_id=f"desk-{message.message_id}")

    async def typing(self, conversation: Conversation, thread_id: str, on: bool) -> None:
        self.typing_events.append((conversation.id, thread_id, on))

    async def note(self, conversation: Conversation, thread_id: str, text: str) -> DeskReceipt:
        self.faults.check()
        self.notes[thread_id].append(text)
        await self._waiters.notify()
        return DeskReceipt()

    async def close_thread(self, conversation: Conversation, thread_id: str, reason: str) -> None:
        self.faults.check()
        self.closed[thread_id] = reason
        await self._waiters.notify()

    # --- acting as the agent --------------------------------------------------------

    def _conv(self, thread_id: str) -> str:
        return thread_id.rpartition("-")[0]

    async def join(
        self, thread_id: str, agent_name: str = "Sanne", agent_id: str | None = None
    ) -> IngestResult:
        return await self.ctx.ingest(
            ev.AgentJoined(
                conversation_id=self._conv(thread_id),
                source=self.name,
                source_id=f"join:{thread_id}:{next(_ids)}",
                thread=thread_id,
                agent_name=agent_name,
                agent_id=agent_id,
            )
        )

    async def reply(
        self, thread_id: str, text: str, message_id: str | None = None,
        agent_name: str | None = None,
    ) -> IngestResult:
        return await self.ctx.ingest(
            ev.AgentMessage(
                conversation_id=self._conv(thread_id),
                source=self.name,
                source_id=desk_message_key(message_id or str(next(_ids))),
                thread=thread_id,
                content=Content(text=text),
                agent_name=agent_name,
            )
        )

    async def close(
        self, thread_id: str, outcome: str = "resolved", summary: str | None = None
    ) -> IngestResult:
        return await self.ctx.ingest(
            ev.AgentClosed(
                conversation_id=self._conv(thread_id),
                source=self.name,
                source_id=f"close:{thread_id}",
                thread=thread_id,
                outcome=outcome,
                summary=summary,
            )
        )

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        await self._waiters.wait_for(predicate, timeout)
