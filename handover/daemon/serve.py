"""Serving the daemon over HTTP, and the SIGTERM drain the README promises.

`aiohttp.web.run_app` closes the listening socket first and then waits for every
running handler up to its shutdown timeout. So during a drain `/readyz` and webhooks
got "connection refused" instead of the documented 503, and one open websocket whose
handler did not end (socket.io's) held the process for the whole `drain_seconds`.

Here, on SIGTERM or SIGINT:
1. the daemon is marked draining: `/readyz` answers 503 and every new request except
   the health and metrics endpoints gets 503 `draining` (the socket stays open, so a
   load balancer sees the 503 and sends the traffic elsewhere);
2. the shutdown hooks run: widget sockets are closed with 1001 going-away, long-polls
   are released;
3. the drain waits until no HTTP request is in flight (websockets aside: they were
   told to go) and no outbox delivery either, at most `[server] drain_seconds`;
4. then the listener closes, handlers still running get `CLEANUP_GRACE_SECONDS`, and
   the lifecycle steps close (the outbox worker finishes its in-flight deliveries).

Server timeouts: an idle keep-alive connection is closed after `KEEPALIVE_SECONDS`
(aiohttp's default is an hour), and a request body must arrive within
`handover.sdk.http.BODY_READ_SECONDS`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

log = structlog.get_logger("handover.daemon.serve")

#: An idle keep-alive connection is closed after this many seconds: longer than the
#: usual load balancer idle timeout (60 s), far shorter than aiohttp's hour.
KEEPALIVE_SECONDS = 75.0
#: After the drain, what handlers still run (websockets that did not close) get this
#: long before they are cancelled.
CLEANUP_GRACE_SECONDS = 0.5


class InFlight:
    """Counts the HTTP requests being handled (websockets not included)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def middleware(self) -> Middleware:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
                return await handler(request)
            self.count += 1
            self._idle.clear()
            try:
                return await handler(request)
            finally:
                self.count -= 1
                if self.count == 0:
                    self._idle.set()

        return count

    async def wait_idle(self, timeout: float) -> bool:
        """True when nothing is in flight within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class _Runner(web.AppRunner):
    """Runs the shutdown hooks once: at the start of the drain, not again at cleanup."""

    _shut_down = False

    async def shutdown(self) -> None:
        if not self._shut_down:
            self._shut_down = True
            await super().shutdown()


async def serve(
    app: web.Application, host: str, port: int, *, in_flight: InFlight,
    begin_drain: Callable[[], None], drain_seconds: float,
    deliveries_idle: Callable[[], Awaitable[None]],
    access_log_class: type[AbstractAccessLogger], announce: Callable[[str], None],
) -> None:
    """Serve `app` until SIGTERM/SIGINT, then drain (see the module docstring).

    Raises what the application's start-up raises (StartupFailed)."""
    runner = _Runner(
        app, handle_signals=False, access_log_class=access_log_class,
        shutdown_timeout=CLEANUP_GRACE_SECONDS, keepalive_timeout=KEEPALIVE_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        announce(f"======== Running on {site.name} ========\n(Press CTRL+C to quit)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        started = loop.time()
        begin_drain()
        await runner.shutdown()
        idle = await in_flight.wait_idle(drain_seconds)
        if idle:
            # Deliveries in flight finish while this instance still answers 503.
            remaining = max(0.0, drain_seconds - (loop.time() - started))
            try:
                async with asyncio.timeout(remaining):
                    await deliveries_idle()
            except TimeoutError:
                idle = False
        log.info("daemon.drained", seconds=round(loop.time() - started, 3),
                 in_flight=in_flight.count, complete=idle)
    finally:
        await runner.cleanup()
