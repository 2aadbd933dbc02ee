"""Start-up and shutdown as an ordered list of steps, each one resource.

Every step is an async context manager: entering it opens a resource (the store, the
HTTP client session, the adapters, the background loops), leaving it closes that
resource again. Steps are entered in dependency order and left in reverse, in the
aiohttp `cleanup_ctx` style, with one guarantee aiohttp's `run_app` does not give: when
a step fails to start, every step opened before it is closed before the error reaches
the caller. (aiohttp only runs the cleanup contexts of an application whose start-up
succeeded; a daemon whose third step fails would otherwise leave the store and the
HTTP session open, and with them a SQLite writer lock or PostgreSQL connections.)

The same steps serve both ways of running a daemon: `Lifecycle.start`/`stop` for tests
and tools that drive it directly, `Lifecycle.cleanup_contexts` for an aiohttp
application (one `cleanup_ctx` entry per step).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from aiohttp import web

log = structlog.get_logger("handover.daemon.lifecycle")

#: Opens one resource when entered and closes it when left.
Step = Callable[[], AbstractAsyncContextManager[None]]
#: What `web.Application.cleanup_ctx` takes.
CleanupContext = Callable[[web.Application], AbstractAsyncContextManager[None]]


class StartupFailed(Exception):
    """A start-up step failed; the steps opened before it are closed again.

    `what` names the failing part for an operator ("adapter 'desk'", "store"), `cause`
    is the original exception (also chained as `__cause__`). The message is one line, so
    that a command can print it as is instead of a traceback.
    """

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(what, cause)
        self.what = what
        self.cause = cause

    def __str__(self) -> str:
        # One line even when a driver's message spans several.
        detail = " ".join(str(self.cause).split())
        error = f"{type(self.cause).__name__}: {detail}" if detail else type(self.cause).__name__
        return f"{self.what} failed to start: {error}"


class Lifecycle:
    """Named steps entered in order and left in reverse; see the module docstring."""

    def __init__(self, steps: Sequence[tuple[str, Step]]) -> None:
        self._steps = tuple(steps)
        self._open: list[tuple[str, AbstractAsyncContextManager[None]]] = []

    @property
    def opened(self) -> tuple[str, ...]:
        """The names of the steps that are open now, in the order they were opened."""
        return tuple(name for name, _ in self._open)

    async def start(self) -> None:
        """Open every step in order. Raises StartupFailed (everything closed again)."""
        for index in range(len(self._steps)):
            await self._enter(index)

    async def stop(self) -> None:
        """Close every open step, the last opened first. Safe to call more than once."""
        await self._close(down_to=0)

    def cleanup_contexts(self) -> list[CleanupContext]:
        """One aiohttp `cleanup_ctx` entry per step, in order; append them all."""
        return [functools.partial(self._app_step, index) for index in range(len(self._steps))]

    @asynccontextmanager
    async def _app_step(self, index: int, app: web.Application) -> AsyncIterator[None]:
        await self._enter(index)
        try:
            yield
        finally:
            # Closes this step and, should aiohttp have skipped any, those opened after it.
            await self._close(down_to=index)

    async def _enter(self, index: int) -> None:
        name, step = self._steps[index]
        if len(self._open) != index:
            raise RuntimeError(f"step {name!r} entered out of order (open: {self.opened})")
        manager = step()
        try:
            await manager.__aenter__()
        except BaseException as exc:
            # Whatever stops start-up (an error, a cancellation, Ctrl-C) leaves nothing
            # open behind it.
            await self._close(down_to=0)
            if isinstance(exc, Exception) and not isinstance(exc, StartupFailed):
                raise StartupFailed(name, exc) from exc
            raise
        self._open.append((name, manager))

    async def _close(self, down_to: int) -> None:
        while len(self._open) > down_to:
            name, manager = self._open.pop()
            try:
                await manager.__aexit__(None, None, None)
            except Exception:
                # Keep closing the rest: a step that fails to close must not keep the
                # store (closed last) open.
                log.exception("daemon.step_close_failed", step=name)
