"""The adapter registry: entry points of the `handover.adapters` group, loaded lazily.

The real entry points name adapters that may not import yet; these tests point the
registry at entry points into this module instead (and one into nowhere).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from handover.daemon import registry
from handover.daemon.registry import (
    ENTRY_POINT_GROUP,
    TEST_ADAPTERS_ENV,
    TEST_ENTRY_POINT_GROUP,
    UnknownAdapter,
    adapter_class,
    describe_adapters,
    installed_adapters,
)
from handover.sdk.contracts import Adapter, ChannelAdapter, DeskAdapter


class WidgetChannel(ChannelAdapter):
    """A web widget for citizens.

    More text that `handover adapters` does not show.
    """

    async def deliver(self, conversation: Any, message: Any) -> None:
        raise NotImplementedError


class QuietDesk(DeskAdapter):
    async def open_thread(self, conversation: Any, thread: Any) -> Any:
        raise NotImplementedError

    async def send(self, conversation: Any, thread_id: str, message: Any) -> Any:
        raise NotImplementedError

    async def note(self, conversation: Any, thread_id: str, text: str) -> Any:
        raise NotImplementedError

    async def close_thread(self, conversation: Any, thread_id: str, reason: str) -> None:
        raise NotImplementedError


class KindlessAdapter(Adapter):
    """Subclasses Adapter directly: no kind."""


def not_an_adapter() -> None:
    """A function registered by mistake."""


def _entry_point(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=ENTRY_POINT_GROUP)


FAKE_ENTRY_POINTS = {
    "widget": _entry_point("widget", f"{__name__}:WidgetChannel"),
    "quiet": _entry_point("quiet", f"{__name__}:QuietDesk"),
    "kindless": _entry_point("kindless", f"{__name__}:KindlessAdapter"),
    "function": _entry_point("function", f"{__name__}:not_an_adapter"),
    "missing": _entry_point("missing", "tests.unit.no_such_module:Adapter"),
}


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "installed_adapters", lambda: dict(FAKE_ENTRY_POINTS))


def test_installed_adapters_reads_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_ADAPTERS_ENV, raising=False)
    installed = installed_adapters()
    # The project registers its built-ins the way a third-party package would.
    assert {"rest", "demo_bot", "demo_desk"} <= set(installed)
    assert all(ep.group == ENTRY_POINT_GROUP for ep in installed.values())


def test_test_adapters_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = {"memory_channel", "memory_bot", "memory_desk"}
    monkeypatch.delenv(TEST_ADAPTERS_ENV, raising=False)
    assert not memory & set(installed_adapters())
    assert not memory & {name for _, name, _ in describe_adapters()}
    with pytest.raises(UnknownAdapter):
        adapter_class("memory_channel")
    monkeypatch.setenv(TEST_ADAPTERS_ENV, "1")
    installed = installed_adapters()
    assert memory <= set(installed)
    assert {installed[n].group for n in memory} == {TEST_ENTRY_POINT_GROUP}
    assert adapter_class("memory_desk").__name__ == "MemoryDesk"


def test_the_test_kit_enables_test_adapters_for_this_run() -> None:
    # The kit's pytest plugin sets it: daemons in tests (and their subprocesses) may
    # name the memory adapters.
    assert os.environ.get(TEST_ADAPTERS_ENV) == "1"


def test_installed_daemon_lists_no_test_adapters() -> None:
    env = {k: v for k, v in os.environ.items() if k != TEST_ADAPTERS_ENV}
    done = subprocess.run([sys.executable, "-m", "handover", "adapters"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "rest" in done.stdout
    assert "memory_" not in done.stdout


def test_unknown_adapter_lists_the_installed_ones_from_metadata() -> None:
    with pytest.raises(UnknownAdapter) as caught:
        adapter_class("no-such-adapter")
    assert isinstance(caught.value, KeyError)
    assert caught.value.type_name == "no-such-adapter"
    assert set(caught.value.installed) == set(installed_adapters())
    assert "rest" in str(caught.value)


@pytest.mark.usefixtures("fake_registry")
def test_unknown_adapter_message() -> None:
    with pytest.raises(UnknownAdapter) as caught:
        adapter_class("widgte")
    assert str(caught.value) == (
        "no adapter type 'widgte' is installed; did you mean 'widget'? "
        "(installed: function, kindless, missing, quiet, widget)"
    )


def test_unknown_adapter_with_nothing_installed() -> None:
    assert str(UnknownAdapter("x", [])) == "no adapter type 'x' is installed (installed: none)"


@pytest.mark.usefixtures("fake_registry")
def test_adapter_class_loads_lazily() -> None:
    assert adapter_class("widget") is WidgetChannel
    assert adapter_class("quiet") is QuietDesk


@pytest.mark.usefixtures("fake_registry")
@pytest.mark.parametrize(
    ("name", "message"),
    [("function", "is not an Adapter subclass"), ("kindless", "does not declare a kind")],
)
def test_adapter_class_refuses_what_is_not_an_adapter(name: str, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        adapter_class(name)


@pytest.mark.usefixtures("fake_registry")
def test_adapter_class_lets_import_errors_through() -> None:
    with pytest.raises(ModuleNotFoundError):
        adapter_class("missing")


@pytest.mark.usefixtures("fake_registry")
def test_describe_adapters_tolerates_broken_entry_points() -> None:
    rows = describe_adapters()
    # Sorted by kind, then name; loading errors are listed, not raised.
    assert [(kind, name) for kind, name, _ in rows] == [
        ("broken", "function"),
        ("broken", "kindless"),
        ("broken", "missing"),
        ("channel", "widget"),
        ("desk", "quiet"),
    ]
    details = {name: detail for _, name, detail in rows}
    assert details["missing"].startswith("ModuleNotFoundError: ")
    assert details["function"].startswith("TypeError: ")
    assert details["widget"] == "A web widget for citizens."
    # No docstring of its own: the base class's would describe it wrongly.
    assert details["quiet"] == ""


def test_describe_adapters_runs_on_the_real_registry() -> None:
    """Whatever state the built-in adapters are in, listing them does not raise."""
    rows = describe_adapters()
    assert {name for _, name, _ in rows} == set(installed_adapters())
