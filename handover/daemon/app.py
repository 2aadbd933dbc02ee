"""The composition root: store, adapters, router, workers and the HTTP application.

Lifecycle (lifecycle.py: one aiohttp cleanup context per resource, in dependency order):
open the store (migrations), open the HTTP client session, start the adapters, start
the background loops (supervised: restarted with backoff when they die). A step that
fails closes every step before it. On shutdown (SIGTERM/SIGINT) the daemon is marked
draining so readiness fails and new requests are refused; then in reverse: finish
in-flight deliveries and release leases, stop the adapters (they close their sockets),
close the HTTP session, close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from handover.clock import Clock, SystemClock
from handover.config.load import Config
from handover.daemon.adapter_state import purge_expired_state
from handover.daemon.context import CoreContext
from handover.daemon.health import HealthBoard
from handover.daemon.lifecycle import Lifecycle, StartupFailed
from handover.daemon.looplag import LoopLagMonitor
from handover.daemon.peer_notice import PREFIX as PEER_PREFIX
from handover.daemon.peer_notice import PeerNotice
from handover.daemon.serve import InFlight
from handover.daemon.storage_guard import StorageGuard
from handover.daemon.supervisor import LoopSupervisor, RestartPolicy
from handover.daemon.typing_relay import PREFIX as TYPING_PREFIX
from handover.daemon.typing_relay import TypingHint
from handover.engine.leases import ConnectionLeases
from handover.engine.outbox.registry import target_of_row
from handover.engine.router import Router
from handover.engine.timers import TimerWorker
from handover.engine.worker import OutboxWorker, WorkerSettings
from handover.evaluation import retention
from handover.http.admin import admin_routes
from handover.http.forwarded import forwarded_middleware
from handover.http.middleware import draining_middleware, drop_server_banner, error_middleware
from handover.http.ops import ops_routes
from handover.model import Conversation, OutboxRow, Party, State, Target
from handover.sdk.contracts import (
    Adapter,
    ChannelAdapter,
    ChannelCapabilities,
    DeskAdapter,
    Health,
)
from handover.store import create_store
from handover.store.base import Store

log = structlog.get_logger("handover.daemon.app")

#: Dedup keys are kept at least as long as the longest sender retry horizon
#: (WhatsApp retries for up to 7 days).
INBOX_RETENTION = timedelta(days=8)


class Daemon:
    """One daemon process. Build it, then serve `build_app()` (or call `start()`/`stop()`).

    `clock`, `store` and `restart` (how dead background loops are restarted) are
    injectable for tests; by default the system clock, the configured store engine and
    `RestartPolicy()`.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        restart: RestartPolicy | None = None,
    ):
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._store = store or create_store(
            config.store.engine, path=config.store.path, dsn=config.store.dsn, clock=self.clock,
            migrate=config.store.migrate == "auto",
        )
        # Names this process in outbox and connection leases; unique per start, so a
        # restarted instance never mistakes a predecessor's leases for its own.
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._relay_tasks: set[asyncio.Task[None]] = set()
        self._health = HealthBoard()
        self._draining = False
        self._http: aiohttp.ClientSession | None = None
        self.adapters: dict[str, Adapter] = {}
        self._contexts: dict[str, CoreContext] = {}
        for name, inst in config.adapters.items():
            ctx = CoreContext(self, name, inst.kind)
            self._contexts[name] = ctx
            self.adapters[name] = inst.cls(name, inst.options, ctx)
        self.router = Router(
            self._store,
            config.tenants,
            self._capabilities,
            self.clock,
            on_outbox=self.wake_delivery,
            on_timers=self._wake_timers,
            adapters=config.adapters,
        )
        d = config.delivery
        self.worker = OutboxWorker(
            self.router,
            self._resolve,
            self.clock,
            WorkerSettings(
                concurrency=d.concurrency,
                lease_seconds=d.lease_seconds,
                poll_seconds=d.poll_seconds,
                backoff_base_seconds=d.backoff_base_seconds,
                backoff_cap_seconds=d.backoff_cap_seconds,
                max_age_seconds=d.max_age_seconds,
                desk_delay_notice_seconds=d.desk_delay_notice_seconds,
            ),
            report_health=self._report_health,
            owner=self.instance_id,
        )
        self.storage_guard = StorageGuard(self._store, config.store)
        self.in_flight = InFlight()
        self.connections = ConnectionLeases(self._store, self.instance_id, self.clock)
        self.timers = TimerWorker(self.router, self.clock, d.poll_seconds)
        self.looplag = LoopLagMonitor()
        self.loops = LoopSupervisor(self._health, self.clock, restart)
        self._lifecycle = Lifecycle([
            ("store", self._store_open),
            ("HTTP client", self._http_client),
            ("adapters", self._adapters_running),
            ("background loops", self._background_loops),
        ])

    # --- OpsView --------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    @property
    def health(self) -> HealthBoard:
        return self._health

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def admin_tokens(self) -> tuple[str, ...]:
        return self.config.server.admin_tokens

    @property
    def expected_schema_version(self) -> int:
        return self._expected_schema

    def now(self) -> datetime:
        return self.clock.now()

    def wake_delivery(self) -> None:
        self.worker.wake()

    def _wake_timers(self) -> None:
        self.timers.wake()

    # --- adapters -------------------------------------------------------------------

    def http_session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("the HTTP client session exists only while the daemon runs")
        return self._http

    def _capabilities(self, channel: str) -> ChannelCapabilities:
        adapter = self.adapters.get(channel)
        if isinstance(adapter, ChannelAdapter):
            return adapter.capabilities
        return ChannelCapabilities()

    def _resolve(self, conv: Conversation, row: OutboxRow) -> Adapter:
        """The adapter an outbox row goes to; KeyError when it is not configured."""
        target = row.target
        if target is Target.CITIZEN:
            return self.adapters[conv.channel]
        if target is Target.REGISTRY:
            # One item per registration target: the row names the instance.
            return self.adapters[target_of_row(row)]
        tenant = self.config.tenants[conv.tenant]
        return self.adapters[tenant.bot if target is Target.BOT else tenant.desk]

    def _report_health(self, adapter: Adapter, health: Health, detail: str) -> None:
        self._health.set(adapter.name, adapter.kind.value, health, detail)

    async def relay_typing(self, conversation_id: str, party: Party, on: bool) -> None:
        """Pass a typing indicator to the other side; best effort, never durable.

        The agent's typing reaches the citizen only while that agent holds the
        conversation; the citizen's typing reaches the desk while a thread is live
        (queued or with an agent). Anything else is dropped: typing is a hint, and a
        late one about a finished stretch would mislead.
        """
        conv = await self._store.get_conversation(conversation_id)
        if conv is None:
            return
        if party is Party.AGENT and conv.state is State.AGENT:
            await self._show_agent_typing(conv, on)
            if self._store.shared:
                # The citizen's socket may be held by another instance: tell them all.
                hint = TypingHint(self.instance_id, conv.id, on)
                with contextlib.suppress(Exception):
                    await self._store.hint(hint.encode())
        elif party is Party.CITIZEN and conv.state in (State.QUEUED, State.AGENT):
            desk = self.adapters.get(self.config.tenants[conv.tenant].desk)
            if isinstance(desk, DeskAdapter) and conv.desk_thread:
                with contextlib.suppress(Exception):
                    await desk.typing(conv, conv.desk_thread, on)

    async def _show_agent_typing(self, conv: Conversation, on: bool) -> None:
        channel = self.adapters.get(conv.channel)
        if isinstance(channel, ChannelAdapter) and channel.capabilities.typing:
            with contextlib.suppress(Exception):
                await channel.typing(conv, Party.AGENT, on)

    async def _typing_from_peer(self, hint: TypingHint) -> None:
        """Another instance relayed an agent's typing: show it on the sockets held here."""
        conv = await self._store.get_conversation(hint.conversation_id)
        if conv is not None and conv.state is State.AGENT:
            await self._show_agent_typing(conv, hint.on)

    async def notify_peer_connections(self, adapter: str, conversation_id: str) -> None:
        """Tell the other instances that a conversation of `adapter` moved on, so the
        live connections of it they hold catch up (see peer_notice.py). Best effort."""
        if not self._store.shared:
            return
        notice = PeerNotice(self.instance_id, adapter, conversation_id)
        with contextlib.suppress(Exception):
            await self._store.hint(notice.encode())

    async def _catch_up_from_peer(self, notice: PeerNotice) -> None:
        channel = self.adapters.get(notice.adapter)
        if isinstance(channel, ChannelAdapter):
            try:
                await channel.catch_up(notice.conversation_id)
            except Exception:
                log.warning("daemon.catch_up_failed", adapter=notice.adapter,
                            conversation_id=notice.conversation_id, exc_info=True)

    # --- lifecycle ------------------------------------------------------------------

    def build_app(self) -> web.Application:
        middlewares = [error_middleware, self.in_flight.middleware(), draining_middleware(self)]
        if self.config.server.trusted_proxies:
            middlewares.insert(0, forwarded_middleware(self.config.server.trusted_proxies))
        app = web.Application(
            middlewares=middlewares,
            client_max_size=self.config.server.max_body_bytes,
        )
        app.on_response_prepare.append(drop_server_banner)
        app.add_routes(ops_routes(self))
        app.add_routes(admin_routes(self))
        for name, adapter in self.adapters.items():
            sub = adapter.http_app()
            if sub is not None:
                app.add_subapp(f"/{name}/", sub)
            app.add_routes(adapter.root_routes())
        # One cleanup context per resource, in dependency order (see lifecycle.py).
        app.cleanup_ctx.extend(self._lifecycle.cleanup_contexts())
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        # Refuse new work (serve.py runs it as the drain begins, sockets still open).
        self.begin_drain()

    def begin_drain(self) -> None:
        """SIGTERM: readiness fails and new requests get 503 `draining` from now on."""
        if not self._draining:
            self._draining = True
            log.info("daemon.draining")

    async def start(self) -> None:
        """Open the store, the HTTP session, the adapters and the background loops.

        Raises StartupFailed naming the part that failed; whatever was opened before it
        is closed again first.
        """
        await self._lifecycle.start()

    async def stop(self) -> None:
        """Drain and close everything `start` opened, in reverse order."""
        self._draining = True
        for task in list(self._relay_tasks):
            task.cancel()
        await asyncio.gather(*self._relay_tasks, return_exceptions=True)
        await self._lifecycle.stop()

    def _start_relay(self, coro: Coroutine[Any, Any, None]) -> None:
        """A short task for a hint from another instance (a store callback cannot await)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._relay_tasks.add(task)
        task.add_done_callback(self._relay_tasks.discard)

    # --- start-up steps, in dependency order -------------------------------------------

    @contextlib.asynccontextmanager
    async def _store_open(self) -> AsyncIterator[None]:
        await self._store.open()
        try:
            self._expected_schema = await self._store.schema_version()
            if self.config.store.engine == "sqlite":
                # One process owns a SQLite file: leases left by a killed predecessor are
                # ours to take over at once instead of after they expire.
                released = await self._store.release_leases(None)
                if released:
                    log.info("daemon.leases_released", count=released)
            yield
        finally:
            await self._store.close()
            log.info("daemon.stopped")

    @contextlib.asynccontextmanager
    async def _http_client(self) -> AsyncIterator[None]:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, connect=5))
        try:
            yield
        finally:
            http, self._http = self._http, None
            await http.close()

    @contextlib.asynccontextmanager
    async def _adapters_running(self) -> AsyncIterator[None]:
        started: list[Adapter] = []
        try:
            for name, adapter in self.adapters.items():
                self._health.set(name, adapter.kind.value, Health.STARTING)
                try:
                    await adapter.start()
                except Exception as exc:
                    log.error("daemon.adapter_start_failed", adapter=name,
                              error=f"{type(exc).__name__}: {exc}")
                    # It may have spawned tasks before it failed; it gets no stop().
                    await self._contexts[name].cancel_tasks()
                    raise StartupFailed(f"adapter {name!r}", exc) from exc
                started.append(adapter)
            yield
        finally:
            # Only the adapters that started: on a failed start-up, 0..N-1.
            for adapter in started:
                try:
                    await adapter.stop()
                except Exception:
                    log.warning("daemon.adapter_stop_failed", adapter=adapter.name,
                                exc_info=True)
                await self._contexts[adapter.name].cancel_tasks()

    @contextlib.asynccontextmanager
    async def _background_loops(self) -> AsyncIterator[None]:
        try:
            await self._listen_for_wake_hints()
            self.loops.spawn("connection-leases", self.connections.run)
            self.loops.spawn("outbox-worker", self.worker.run)
            self.loops.spawn("timer-worker", self.timers.run)
            self.loops.spawn("loop-lag", self.looplag.run)
            self.loops.spawn("housekeeping", self._housekeeping)
            log.info(
                "daemon.started",
                adapters=sorted(self.adapters),
                tenants=sorted(self.config.tenants),
                store=self.config.store.engine,
            )
            yield
        finally:
            self._draining = True
            self.timers.stop()
            self.looplag.stop()
            # Finish what is in flight while the adapters (closed after this step) can
            # still send it.
            await self.worker.drain(self.config.server.drain_seconds)
            await self.connections.stop()
            await self.loops.stop()

    async def _listen_for_wake_hints(self) -> None:
        """With a shared database, work committed by another instance wakes ours."""

        def on_wake(what: str) -> None:
            if what.startswith(TYPING_PREFIX):
                hint = TypingHint.decode(what)
                if hint is not None and hint.origin != self.instance_id:
                    self._start_relay(self._typing_from_peer(hint))
                return
            if what.startswith(PEER_PREFIX):
                notice = PeerNotice.decode(what)
                if notice is not None and notice.origin != self.instance_id:
                    self._start_relay(self._catch_up_from_peer(notice))
                return
            if what == "timers":
                self.timers.wake()
            else:
                self.worker.wake()

        try:
            listening = await self._store.wake_hints(on_wake)
        except Exception:
            # Only a hint: the workers poll anyway, at [delivery] poll_seconds.
            log.warning("daemon.wake_hints_unavailable", exc_info=True)
            return
        if listening:
            log.info("daemon.wake_hints_on")

    async def _housekeeping(self) -> None:
        # Retention runs at start too: a daemon restarted more often than hourly must
        # still purge, and after a long stop the backlog is cleared at once.
        while True:
            try:
                purged = await self._store.purge_inbox(self.clock.now() - INBOX_RETENTION)
                log.info("daemon.inbox_purged", count=purged)
                await retention.purge(self._store, self.config.tenants, self.clock.now())
                expired = await purge_expired_state(self._store, self.clock)
                log.info("daemon.adapter_state_purged", count=expired)
            except Exception:
                log.warning("daemon.housekeeping_failed", exc_info=True)
            await self.clock.sleep(retention.PURGE_INTERVAL.total_seconds())

    _expected_schema: int = 0
