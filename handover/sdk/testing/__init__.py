"""The adapter author's test kit.

- `FakeContext`: the core as an adapter sees it (`AdapterContext`), in memory (its
  `state` is a `MemoryState`).
- `MemoryChannel`, `MemoryBot`, `MemoryDesk`: in-memory adapters for the other sides
  of a conversation, recording what they were given, with injectable faults;
  `MemoryRegistry`: a registration target (callback requests, finished contacts).
- `FakeUpstream` and `Fault`: the base for a fake of the remote service an adapter
  talks to (aiohttp on 127.0.0.1 port 0) with timeouts, 5xx, 429, lost answers and
  duplicate deliveries.
- `FakeClock`: time that moves only when the test says so.

The memory adapters are registered under the entry-point group `handover.test_adapters`,
which the daemon consults only while the environment variable `HANDOVER_TEST_ADAPTERS`
is "1": the kit's pytest plugin (`handover.sdk.testing.pytest_plugin`, registered with
pytest) sets it for a test run and the daemons it starts as subprocesses; a production
daemon never lists them.
"""

from __future__ import annotations

import os

from handover.daemon.registry import TEST_ADAPTERS_ENV, TEST_ENTRY_POINT_GROUP
from handover.sdk.clock import FakeClock
from handover.sdk.testing.context import TENANT, FakeContext
from handover.sdk.testing.memory import MemoryBot, MemoryChannel, MemoryDesk, echo_responder
from handover.sdk.testing.registry import MemoryRegistry
from handover.sdk.testing.state import MemoryState
from handover.sdk.testing.upstream import Call, FakeUpstream, Fault, FaultKind

__all__ = [
    "TENANT",
    "TEST_ADAPTERS_ENV",
    "TEST_ENTRY_POINT_GROUP",
    "Call",
    "FakeClock",
    "FakeContext",
    "FakeUpstream",
    "Fault",
    "FaultKind",
    "MemoryBot",
    "MemoryChannel",
    "MemoryDesk",
    "MemoryRegistry",
    "MemoryState",
    "echo_responder",
    "enable_test_adapters",
]


def enable_test_adapters() -> None:
    """Let daemons of this process and its subprocesses find the memory adapters by
    type name (`memory_channel`, `memory_bot`, `memory_desk`).

    Sets `HANDOVER_TEST_ADAPTERS=1` unless the environment already decides it. Called by
    the pytest plugin; a script that starts a test daemon calls it itself."""
    os.environ.setdefault(TEST_ADAPTERS_ENV, "1")
