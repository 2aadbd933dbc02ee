"""The rasa-webchat socket.io endpoint with junk events: any event name, any payload,
before and after a session. The daemon never crashes or hangs, and a well-formed
session still works afterwards (health and the accepted conversation: see conftest)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.stack import ORIGIN, FuzzStack
from tests.fuzz.strategies import FUZZ, ids, json_values, shaped, text

EVENTS = ["session_request", "user_uttered", "bot_uttered", "message", "x", ""]


class Client:
    """One python-socketio client on the daemon's loop; reconnects when dropped."""

    def __init__(self, stack: FuzzStack) -> None:
        self.stack = stack
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue[Any] = asyncio.Queue()

        @self.sio.on("session_confirm")
        async def on_confirm(data: Any) -> None:
            await self.confirmed.put(data)

    async def ensure(self) -> None:
        if not self.sio.connected:
            await self.sio.connect(f"{self.stack.url}/?tenant=demo",
                                   headers={"Origin": ORIGIN}, transports=["websocket"],
                                   wait_timeout=5)

    async def emit(self, event: str, data: Any) -> None:
        await self.ensure()
        # The daemon may have closed this connection (a refusal): reconnect next time.
        with contextlib.suppress(socketio.exceptions.BadNamespaceError):
            await self.sio.emit(event, data)
        await asyncio.sleep(0.005)

    async def session(self) -> Any:
        await self.ensure()
        while not self.confirmed.empty():
            self.confirmed.get_nowait()
        await self.sio.emit("session_request", {"session_id": None})
        return await asyncio.wait_for(self.confirmed.get(), 5)


@pytest.fixture(scope="module")
def client(stack: FuzzStack) -> Iterator[Client]:
    c = Client(stack)
    yield c
    stack.call(c.sio.disconnect())


payloads = st.one_of(
    json_values,
    shaped(session_id=st.one_of(st.none(), ids)),
    shaped(message=text, session_id=ids, customData=shaped(
        language=text, tenant=st.sampled_from(["demo", "ander", "nope"]),
        url=text, title=text)),
)


@FUZZ
@given(event=st.one_of(st.sampled_from(EVENTS), text), data=payloads)
def test_socketio_events(stack: FuzzStack, client: Client, event: str, data: Any) -> None:
    stack.call(client.emit(event, data))


def test_a_session_still_works_after_the_fuzzing(stack: FuzzStack, client: Client) -> None:
    assert stack.call(client.session())
