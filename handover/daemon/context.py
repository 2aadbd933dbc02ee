"""The one object an adapter gets from the core (implements contracts.AdapterContext)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from handover import metrics
from handover.clock import Clock
from handover.daemon.adapter_state import StoreAdapterState
from handover.daemon.storage_guard import RETRY_AFTER_SECONDS
from handover.events import Event
from handover.model import Conversation, Party, TranscriptEntry
from handover.sdk.contracts import AdapterKind, Health, IngestResult
from handover.sdk.errors import StorageFull, UnknownTenant
from handover.sdk.state import AdapterState

if TYPE_CHECKING:
    from handover.daemon.app import Daemon


class CoreContext:
    """Gives one adapter instance access to the core without exposing its internals."""

    def __init__(self, daemon: Daemon, name: str, kind: AdapterKind) -> None:
        self._daemon = daemon
        self._name = name
        self._kind = kind
        self._log = structlog.get_logger(f"handover.adapters.{name}").bind(adapter=name)
        self._tenants = tuple(
            t.id
            for t in daemon.config.tenants.values()
            if name in t.channels or name in (t.bot, t.desk)
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: AdapterState | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def log(self) -> Any:
        return self._log

    @property
    def clock(self) -> Clock:
        return self._daemon.clock

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._daemon.http_session()

    @property
    def public_url(self) -> str | None:
        return self._daemon.config.server.public_url

    @property
    def state(self) -> AdapterState:
        # Made on first use: the store is opened after the contexts are made.
        if self._state is None:
            self._state = StoreAdapterState(self._daemon.store, self._name, self._daemon.clock)
        return self._state

    async def ingest(self, event: Event) -> IngestResult:
        return await self._daemon.router.ingest(event)

    async def resolve_conversation(
        self,
        tenant: str,
        channel_key: str,
        language: str | None = None,
        context: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> Conversation:
        if tenant not in self._tenants:
            # A channel may only open conversations for tenants that list it.
            raise UnknownTenant(tenant)
        if not await self._daemon.storage_guard.allows_new():
            # Only new conversations are refused: the citizens already talking go on.
            existing = await self._daemon.store.find_conversation(tenant, self._name, channel_key)
            if existing is None:
                metrics.CONVERSATIONS_REFUSED.labels(self._name, "storage").inc()
                raise StorageFull(RETRY_AFTER_SECONDS)
            return existing
        before = self._daemon.clock.now()
        conv = await self._daemon.router.resolve_conversation(
            tenant, self._name, channel_key, language, context, conversation_id
        )
        if conv.created_at is not None and conv.created_at >= before:
            self._daemon.storage_guard.created()
        return conv

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._daemon.store.get_conversation(conversation_id)

    async def transcript(self, conversation_id: str, after_seq: int = 0) -> list[TranscriptEntry]:
        return await self._daemon.store.transcript(conversation_id, after_seq)

    async def transcript_tail(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        return await self._daemon.store.transcript_tail(conversation_id, limit)

    def tenants(self) -> Sequence[str]:
        return self._tenants

    def tenant_name(self, tenant: str) -> str:
        config = self._daemon.config.tenants.get(tenant)
        return config.name if config is not None else tenant

    def set_health(self, health: Health, detail: str = "") -> None:
        self._daemon.health.set(self._name, self._kind.value, health, detail)

    async def relay_typing(self, conversation_id: str, party: Party, on: bool) -> None:
        await self._daemon.relay_typing(conversation_id, party, on)

    async def hold_connection(self, conversation_id: str) -> None:
        if await self._daemon.connections.hold(conversation_id):
            # Items another instance left for this conversation are ours to deliver now.
            self._daemon.wake_delivery()

    async def release_connection(self, conversation_id: str) -> None:
        await self._daemon.connections.release(conversation_id)

    async def notify_peer_connections(self, conversation_id: str) -> None:
        await self._daemon.notify_peer_connections(self._name, conversation_id)

    @property
    def store_shared(self) -> bool:
        """Whether other daemon instances share the store (and so a citizen's next
        connection may land on another instance)."""
        return bool(self._daemon.store.shared)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(coro, name), name=f"{self._name}.{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before its first step never awaits `coro`; closing it then
        # spares the "never awaited" warning (a no-op once the coroutine has finished).
        task.add_done_callback(lambda _task: coro.close())
        return task

    async def _run(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            # Logged here because nobody awaits an adapter's background task.
            self._log.exception("adapter.task_failed", task=name)

    async def cancel_tasks(self) -> None:
        """Cancel what `spawn` started and wait for it (after the adapter's `stop`)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
