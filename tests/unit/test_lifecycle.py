"""Start-up steps: a failure at any step closes every step opened before it.

Against the `Lifecycle` itself (plain and as aiohttp cleanup contexts), against a
daemon whose desk adapter cannot start, and against `handover run` with that daemon.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from handover.cli.main import main
from handover.daemon import registry
from handover.daemon.app import Daemon
from handover.daemon.lifecycle import Lifecycle, StartupFailed
from handover.sdk.contracts import Adapter
from handover.sdk.testing import MemoryChannel, MemoryDesk
from handover.store.sqlite.store import SQLiteStore
from tests.harness import make_config

# --- the Lifecycle ----------------------------------------------------------------------


class Steps:
    """Records what opens and closes; the step named in `fail` raises on opening."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.events: list[str] = []

    def step(self, name: str) -> Callable[[], AbstractAsyncContextManager[None]]:
        @asynccontextmanager
        async def resource() -> AsyncIterator[None]:
            if name == self.fail:
                raise ConnectionRefusedError(f"{name} is down\n(second line)")
            self.events.append(f"open {name}")
            try:
                yield
            finally:
                self.events.append(f"close {name}")

        return resource

    def lifecycle(self) -> Lifecycle:
        return Lifecycle([(name, self.step(name)) for name in ("store", "http", "adapters", "loops")])


async def test_steps_open_in_order_and_close_in_reverse() -> None:
    steps = Steps()
    lifecycle = steps.lifecycle()
    await lifecycle.start()
    assert lifecycle.opened == ("store", "http", "adapters", "loops")
    await lifecycle.stop()
    await lifecycle.stop()  # a second stop has nothing left to close
    assert steps.events == [
        "open store", "open http", "open adapters", "open loops",
        "close loops", "close adapters", "close http", "close store",
    ]


@pytest.mark.parametrize("failing", ["store", "http", "adapters", "loops"])
async def test_a_failing_step_closes_every_step_before_it(failing: str) -> None:
    steps = Steps(fail=failing)
    lifecycle = steps.lifecycle()
    with pytest.raises(StartupFailed) as caught:
        await lifecycle.start()
    assert lifecycle.opened == ()
    order = ["store", "http", "adapters", "loops"]
    before = order[: order.index(failing)]
    assert steps.events == [f"open {n}" for n in before] + [f"close {n}" for n in reversed(before)]
    assert caught.value.what == failing
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    # One line for an operator, even from a multi-line error.
    assert str(caught.value) == (
        f"{failing} failed to start: ConnectionRefusedError: {failing} is down (second line)"
    )


async def test_as_aiohttp_cleanup_contexts_a_failed_startup_leaves_nothing_open() -> None:
    # aiohttp's run_app does not run the cleanup of an application whose start-up
    # failed, so the lifecycle has to close the earlier steps itself.
    steps = Steps(fail="adapters")
    app = web.Application()
    app.cleanup_ctx.extend(steps.lifecycle().cleanup_contexts())
    runner = web.AppRunner(app)
    with pytest.raises(StartupFailed):
        await runner.setup()
    assert steps.events == ["open store", "open http", "close http", "close store"]
    await runner.cleanup()  # what a careful runner does anyway: no double close
    assert steps.events == ["open store", "open http", "close http", "close store"]


async def test_as_aiohttp_cleanup_contexts_steps_close_in_reverse_on_cleanup() -> None:
    steps = Steps()
    app = web.Application()
    app.cleanup_ctx.extend(steps.lifecycle().cleanup_contexts())
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()
    assert steps.events[4:] == ["close loops", "close adapters", "close http", "close store"]


# --- a daemon whose desk cannot start ------------------------------------------------------


class SpawningChannel(MemoryChannel):
    """Starts a background task through its context, like a channel polling upstream."""

    stopped = False
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self.task = self.ctx.spawn(self._poll(), "poll")

    async def _poll(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True


class UnreachableDesk(MemoryDesk):
    """A desk whose upstream refuses at start-up; it keeps the HTTP session it saw."""

    session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        UnreachableDesk.session = self.ctx.http
        raise ConnectionRefusedError("desk.example refused the connection")


class ClosingStore(SQLiteStore):
    closed = False

    async def close(self) -> None:
        await super().close()
        self.closed = True


@pytest.fixture
def broken_desk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Config types `spawning_channel` and `unreachable_desk`, for this test only."""
    installed = registry.adapter_class
    extra: dict[str, type[Adapter]] = {
        "spawning_channel": SpawningChannel, "unreachable_desk": UnreachableDesk,
    }

    def lookup(type_name: str) -> type[Adapter]:
        return extra[type_name] if type_name in extra else installed(type_name)

    monkeypatch.setattr(registry, "adapter_class", lookup)
    UnreachableDesk.session = None
    yield


BROKEN: dict[str, Any] = {"adapters": {
    "chat": {"type": "spawning_channel"}, "desk": {"type": "unreachable_desk"},
}}


async def test_an_adapter_that_cannot_start_closes_what_was_opened(
    tmp_path: Path, broken_desk: None
) -> None:
    config = make_config(tmp_path, BROKEN)
    store = ClosingStore(config.store.path or "", clock=None)
    daemon = Daemon(config, store=store)
    with pytest.raises(StartupFailed) as caught:
        await daemon.start()
    assert str(caught.value) == (
        "adapter 'desk' failed to start: ConnectionRefusedError: "
        "desk.example refused the connection"
    )
    chat = daemon.adapters["chat"]
    assert isinstance(chat, SpawningChannel)
    # The adapters before it were stopped and their tasks cancelled...
    assert chat.stopped
    assert chat.task is not None and chat.task.cancelled()
    # ...and the HTTP session and the store are closed again.
    assert UnreachableDesk.session is not None and UnreachableDesk.session.closed
    assert store.closed
    # A second daemon on the same file starts: nothing was left holding it.
    healthy = make_config(tmp_path)
    again = Daemon(healthy)
    await again.start()
    await again.stop()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`handover run` configures logging for the process; undo it afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


CONFIG = """
[server]
host = "127.0.0.1"
port = 0
[store]
path = "handover.db"
[logging]
format = "json"
[adapters.chat]
type = "spawning_channel"
[adapters.bot]
type = "memory_bot"
[adapters.desk]
type = "unreachable_desk"
[tenants.t]
name = "T"
channels = ["chat"]
bot = "bot"
desk = "desk"
[tenants.t.handover]
phone = "14 012"
"""


def test_handover_run_names_the_adapter_in_one_line_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken_desk: None,
    restore_logging: None,
) -> None:
    path = tmp_path / "handover.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # Log events are JSON lines; the one line for the operator is the only other line.
    plain = [line for line in err.splitlines() if line.strip() and not _is_json(line)]
    assert plain == [
        "handover: cannot start: adapter 'desk' failed to start: "
        "ConnectionRefusedError: desk.example refused the connection"
    ]
    assert UnreachableDesk.session is not None and UnreachableDesk.session.closed
    events = [json.loads(line)["event"] for line in err.splitlines() if _is_json(line)]
    assert "daemon.adapter_start_failed" in events
    assert events[-1] == "daemon.stopped"  # logged once the store is closed


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
