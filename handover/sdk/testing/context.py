"""A fake of the core for adapter tests: an in-memory `AdapterContext`.

It records what an adapter ingests (with the inbox's dedup by (source, source_id)),
creates and serves conversations and their transcript, runs the adapter's background
tasks (`spawn`, cancelled by `aclose()` the way the core cancels them after `stop()`),
and lets a test set the outcome of the next ingests or make them fail like a broken
store. Citizen messages are added to the transcript the way the router records them
(message id = the event's source id).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import aiohttp
import structlog

from handover.sdk import events as ev
from handover.sdk.clock import Clock, SystemClock
from handover.sdk.contracts import Health, IngestOutcome, IngestResult
from handover.sdk.errors import StorageFull, UnknownConversation, UnknownTenant
from handover.sdk.model import Content, Conversation, Party, State, TranscriptEntry
from handover.sdk.testing.state import MemoryState

#: The tenant a FakeContext serves unless told otherwise.
TENANT = "demo"


class FakeContext:
    """Implements the AdapterContext protocol in memory.

    `http` is the client session the adapter gets as `ctx.http`; without one, reading
    `ctx.http` raises (an adapter unit test that should not reach the network). Call
    `aclose()` when done: it cancels what the adapter spawned and waits for it.
    """

    def __init__(
        self, name: str, tenants: Sequence[str] = (TENANT,), clock: Clock | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self._name = name
        self._tenants = tuple(tenants)
        self._clock: Clock = clock or SystemClock()
        self._log = structlog.get_logger(f"handover.sdk.testing.{name}")
        self.session = http
        #: What `public_url` answers (the daemon's `[server] public_url`).
        self.public_url: str | None = None
        #: What `tenant_name` answers per tenant (the id when absent).
        self.tenant_names: dict[str, str] = {}
        self.conversations: dict[str, Conversation] = {}
        self.entries: dict[str, list[TranscriptEntry]] = {}
        #: Events accepted by `ingest`, in order (duplicates are not in it).
        self.events: list[ev.Event] = []
        #: Every event handed to `ingest`, duplicates included.
        self.ingested: list[ev.Event] = []
        self.seen: set[tuple[str, str]] = set()
        #: The outcome of the next accepted (not duplicate) events.
        self.outcome = IngestOutcome.APPLIED
        #: Raised by ingest (a store failure) while set.
        self.ingest_error: Exception | None = None
        #: While set, `resolve_conversation` refuses to create (the storage guard).
        self.storage_full = False
        self.health: list[tuple[Health, str]] = []
        self.typing: list[tuple[str, Party, bool]] = []
        #: Live connections held per conversation (hold_connection minus release).
        self.connections: Counter[str] = Counter()
        #: Conversations passed to `notify_peer_connections`, in order (a test playing
        #: two instances hands them to the other adapter's `catch_up`).
        self.peer_notices: list[str] = []
        #: Tasks started through `spawn` that have not finished yet.
        self.tasks: set[asyncio.Task[None]] = set()
        #: Exceptions that ended spawned tasks (the core would log them).
        self.task_failures: list[tuple[str, BaseException]] = []
        self._ids = itertools.count(1)
        #: `AdapterContext.state` in memory; assign one context's to another to play
        #: two daemon instances on one store.
        self.state: MemoryState = MemoryState(self._clock)

    # --- the protocol -----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def log(self) -> Any:
        return self._log

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("this FakeContext has no HTTP session (pass http=...)")
        return self.session

    async def ingest(self, event: ev.Event) -> IngestResult:
        if self.ingest_error is not None:
            raise self.ingest_error
        self.ingested.append(event)
        conv = self.conversations.get(event.conversation_id)
        if conv is None:
            raise UnknownConversation(event.conversation_id)
        if event.dedup_key in self.seen:
            return IngestResult(IngestOutcome.DUPLICATE, conv)
        self.seen.add(event.dedup_key)
        self.events.append(event)
        if isinstance(event, ev.CitizenMessage) and self.outcome is IngestOutcome.APPLIED:
            self.add_entry(conv.id, Party.CITIZEN, event.content.text, message_id=event.source_id)
        return IngestResult(self.outcome, self.conversations[conv.id])

    async def resolve_conversation(
        self, tenant: str, channel_key: str, language: str | None = None,
        context: Mapping[str, Any] | None = None, conversation_id: str | None = None,
    ) -> Conversation:
        if tenant not in self._tenants:
            raise UnknownTenant(tenant)
        for conv in self.conversations.values():
            if conv.channel == self._name and conv.channel_key == channel_key:
                return conv
        if self.storage_full:
            raise StorageFull(60)
        return self.add_conversation(
            tenant=tenant, channel_key=channel_key, language=language or "nl",
            context=dict(context or {}), conversation_id=conversation_id,
        )

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return self.conversations.get(conversation_id)

    async def transcript(self, conversation_id: str, after_seq: int = 0) -> list[TranscriptEntry]:
        return [e for e in self.entries.get(conversation_id, []) if e.seq > after_seq][:1000]

    async def transcript_tail(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        return self.entries.get(conversation_id, [])[-limit:] if limit > 0 else []

    def tenants(self) -> Sequence[str]:
        return self._tenants

    def tenant_name(self, tenant: str) -> str:
        return self.tenant_names.get(tenant, tenant)

    def set_health(self, health: Health, detail: str = "") -> None:
        self.health.append((health, detail))

    async def relay_typing(self, conversation_id: str, party: Party, on: bool) -> None:
        self.typing.append((conversation_id, party, on))

    async def hold_connection(self, conversation_id: str) -> None:
        self.connections[conversation_id] += 1

    async def release_connection(self, conversation_id: str) -> None:
        self.connections[conversation_id] -= 1

    async def notify_peer_connections(self, conversation_id: str) -> None:
        self.peer_notices.append(conversation_id)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(coro, name), name=f"{self._name}.{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _run(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Kept for the test to look at: the core would log it and carry on.
            self.task_failures.append((name, exc))

    # --- lifecycle of the fake ----------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel what `spawn` started and wait for it (the core does this after `stop`)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> FakeContext:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- helpers for tests --------------------------------------------------------------

    def add_conversation(
        self, *, tenant: str = TENANT, channel: str | None = None, channel_key: str = "",
        language: str = "nl", context: Mapping[str, Any] | None = None,
        state: State = State.BOT, handover_no: int = 0, conversation_id: str | None = None,
    ) -> Conversation:
        """A conversation as the store would hold it (by default on this channel)."""
        conv = Conversation(
            id=conversation_id or uuid.uuid4().hex,
            tenant=tenant,
            channel=channel or self._name,
            channel_key=channel_key or f"key-{next(self._ids)}",
            language=language,
            state=state,
            handover_no=handover_no,
            context=dict(context or {}),
            created_at=self._clock.now(),
        )
        self.conversations[conv.id] = conv
        return conv

    def add_entry(
        self, conversation_id: str, party: Party, text: str, *, message_id: str | None = None,
        sender_name: str | None = None, content: Content | None = None,
    ) -> TranscriptEntry:
        """Append a transcript entry (bumps the conversation's seq)."""
        conv = self.conversations[conversation_id]
        conv = conv.evolve(seq=conv.seq + 1)
        self.conversations[conversation_id] = conv
        entry = TranscriptEntry(
            conversation_id=conversation_id,
            seq=conv.seq,
            party=party,
            content=content or Content(text=text),
            message_id=message_id or uuid.uuid4().hex,
            sender_name=sender_name,
            created_at=self._clock.now(),
            handover_no=conv.handover_no,
        )
        self.entries.setdefault(conversation_id, []).append(entry)
        return entry

    def set_state(self, conversation_id: str, state: State, agent_name: str | None = None) -> None:
        conv = self.conversations[conversation_id]
        self.conversations[conversation_id] = conv.evolve(state=state, agent_name=agent_name)

    def events_of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]
