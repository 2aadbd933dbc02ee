"""The composition root: store, adapters, router, workers and the HTTP application.

Lifecycle (aiohttp cleanup context): open the store (migrations), start adapters and
background loops; on shutdown (SIGTERM/SIGINT) mark the daemon draining so readiness
fails and new requests are refused, let adapters close their sockets, finish in-flight
deliveries, release leases and close the store.
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
from handover.daemon.context import CoreContext
from handover.daemon.health import HealthBoard
from handover.daemon.looplag import LoopLagMonitor
from handover.engine.leases import ConnectionLeases
from handover.engine.router import Router
from handover.engine.timers import TimerWorker
from handover.engine.worker import OutboxWorker, WorkerSettings
from handover.evaluation import retention
from handover.http.admin import admin_routes
from handover.http.forwarded import forwarded_middleware
from handover.http.middleware import draining_middleware, error_middleware
from handover.http.ops import ops_routes
from handover.model import Conversation, Party, State, Target
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
    """One daemon process. Build it, then serve `build_app()` (or use `started()`)."""

    def __init__(self, config: Config, *, clock: Clock | None = None, store: Store | None = None):
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._store = store or create_store(
            config.store.engine, path=config.store.path, dsn=config.store.dsn, clock=self.clock,
            migrate=config.store.migrate == "auto",
        )
        # Names this process in outbox and connection leases; unique per start, so a
        # restarted instance never mistakes a predecessor's leases for its own.
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._health = HealthBoard()
        self._draining = False
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
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
        self.connections = ConnectionLeases(self._store, self.instance_id, self.clock)
        self.timers = TimerWorker(self.router, self.clock, d.poll_seconds)
        self.looplag = LoopLagMonitor()

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

    def _resolve(self, conv: Conversation, target: Target) -> Adapter:
        if target is Target.CITIZEN:
            return self.adapters[conv.channel]
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
            channel = self.adapters.get(conv.channel)
            if isinstance(channel, ChannelAdapter) and channel.capabilities.typing:
                with contextlib.suppress(Exception):
                    await channel.typing(conv, party, on)
        elif party is Party.CITIZEN and conv.state in (State.QUEUED, State.AGENT):
            desk = self.adapters.get(self.config.tenants[conv.tenant].desk)
            if isinstance(desk, DeskAdapter) and conv.desk_thread:
                with contextlib.suppress(Exception):
                    await desk.typing(conv, conv.desk_thread, on)

    # --- lifecycle ------------------------------------------------------------------

    def build_app(self) -> web.Application:
        middlewares = [error_middleware, draining_middleware(self)]
        if self.config.server.trusted_proxies:
            middlewares.insert(0, forwarded_middleware(self.config.server.trusted_proxies))
        app = web.Application(
            middlewares=middlewares,
            client_max_size=self.config.server.max_body_bytes,
        )
        app.add_routes(ops_routes(self))
        app.add_routes(admin_routes(self))
        for name, adapter in self.adapters.items():
            sub = adapter.http_app()
            if sub is not None:
                app.add_subapp(f"/{name}/", sub)
            app.add_routes(adapter.root_routes())
        app.cleanup_ctx.append(self._lifespan)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _lifespan(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _on_shutdown(self, app: web.Application) -> None:
        # Runs after the listening sockets closed and before cleanup: refuse new work.
        self._draining = True
        log.info("daemon.draining")

    async def start(self) -> None:
        await self._store.open()
        self._expected_schema = await self._store.schema_version()
        if self.config.store.engine == "sqlite":
            # One process owns a SQLite file: leases left by a killed predecessor are
            # ours to take over at once instead of after they expire.
            released = await self._store.release_leases(None)
            if released:
                log.info("daemon.leases_released", count=released)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, connect=5))
        for name, adapter in self.adapters.items():
            self._health.set(name, adapter.kind.value, Health.STARTING)
            await adapter.start()
        await self._listen_for_wake_hints()
        self._spawn(self.connections.run(), "connection-leases")
        self._spawn(self.worker.run(), "outbox-worker")
        self._spawn(self.timers.run(), "timer-worker")
        self._spawn(self.looplag.run(), "loop-lag")
        self._spawn(self._housekeeping(), "housekeeping")
        log.info(
            "daemon.started",
            adapters=sorted(self.adapters),
            tenants=sorted(self.config.tenants),
            store=self.config.store.engine,
        )

    async def _listen_for_wake_hints(self) -> None:
        """With a shared database, work committed by another instance wakes ours."""

        def on_wake(what: str) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(self._supervise(coro, name), name=name)
        self._tasks.append(task)

    async def _supervise(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            # A dead loop means no deliveries: make it loud, and fail readiness.
            log.exception("daemon.loop_died", loop=name)
            self._health.set(name, "core", Health.DISCONNECTED, "loop died")

    async def _housekeeping(self) -> None:
        # Retention runs at start too: a daemon restarted more often than hourly must
        # still purge, and after a long stop the backlog is cleared at once.
        while True:
            try:
                purged = await self._store.purge_inbox(self.clock.now() - INBOX_RETENTION)
                log.info("daemon.inbox_purged", count=purged)
                await retention.purge(self._store, self.config.tenants, self.clock.now())
            except Exception:
                log.warning("daemon.housekeeping_failed", exc_info=True)
            await self.clock.sleep(retention.PURGE_INTERVAL.total_seconds())

    async def stop(self) -> None:
        self._draining = True
        self.timers.stop()
        self.looplag.stop()
        # Finish what is in flight while the adapters can still send it.
        await self.worker.drain(self.config.server.drain_seconds)
        await self.connections.stop()
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.warning("daemon.adapter_stop_failed", adapter=adapter.name, exc_info=True)
            await self._contexts[adapter.name].cancel_tasks()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._store.close()
        log.info("daemon.stopped")

    _expected_schema: int = 0
