"""Which widget sockets hold which conversation on this daemon instance.

With several instances, the session takes the conversation's connection lease when it
registers a socket here (AdapterContext.hold_connection), so deliveries for it are
claimed by this instance; this registry stays local.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterable

from aiohttp import web

from adapters.web import wire
from handover.sdk.contracts import ControlUpdate, OutboundMessage
from handover.sdk.model import TranscriptEntry

#: How long one frame may take to reach a slow client before its socket is dropped
#: (it replays what it missed when it comes back; other conversations are not held up).
SEND_TIMEOUT_SECONDS = 5.0
#: Last control states remembered (for a widget that reconnects while queued).
MAX_REMEMBERED_STATES = 10_000


class WidgetSocket:
    """One open widget socket, bound to one conversation after its `hello`.

    `sent_seq` is the highest conversation `seq` this socket was sent; the lock orders
    the resume replay before live deliveries, so the widget never sees a message twice
    or a later one before an earlier one.
    """

    # One per held socket, for hours: slots instead of a __dict__ (bench/web.py).
    __slots__ = ("conversation_id", "lock", "sent_seq", "ws")

    def __init__(self, ws: web.WebSocketResponse, conversation_id: str, last_seq: int) -> None:
        self.ws = ws
        self.conversation_id = conversation_id
        self.sent_seq = last_seq
        self.lock = asyncio.Lock()

    async def send_raw(self, frame: str) -> bool:
        """Send one frame (caller holds the lock); False when the socket is gone."""
        if self.ws.closed:
            return False
        try:
            await asyncio.wait_for(self.ws.send_str(frame), SEND_TIMEOUT_SECONDS)
        except (ConnectionError, RuntimeError, TimeoutError):
            with contextlib.suppress(Exception):
                await self.ws.close()
            return False
        return True

    async def send(self, frame: str) -> bool:
        async with self.lock:
            return await self.send_raw(frame)

    async def send_message(self, message: OutboundMessage) -> None:
        async with self.lock:
            if message.seq <= self.sent_seq:
                return  # replayed already (or shown before a reconnect)
            if await self.send_raw(wire.message_frame(message)):
                self.sent_seq = message.seq

    async def replay(self, entries: Iterable[TranscriptEntry]) -> None:
        """Send transcript entries after `sent_seq`; caller holds the lock."""
        for entry in entries:
            if entry.seq <= self.sent_seq:
                continue
            if not await self.send_raw(wire.entry_frame(entry)):
                return
            self.sent_seq = entry.seq


class SocketRegistry:
    """The sockets per conversation, and the last control state shown to each.

    A conversation's sockets are a tuple, replaced on each open and close: almost
    every conversation has one socket, held for as long as the page is open, and a
    one-element tuple is a quarter of the smallest set (bench/web.py measures the
    memory per idle socket). Opening and closing are rare next to the lookups.
    """

    def __init__(self) -> None:
        self._sockets: dict[str, tuple[WidgetSocket, ...]] = {}
        self._states: OrderedDict[str, ControlUpdate] = OrderedDict()

    def add(self, sock: WidgetSocket) -> None:
        held = self._sockets.get(sock.conversation_id, ())
        if sock not in held:
            self._sockets[sock.conversation_id] = (*held, sock)

    def remove(self, sock: WidgetSocket) -> None:
        held = self._sockets.get(sock.conversation_id)
        if held is not None:
            rest = tuple(s for s in held if s is not sock)
            if rest:
                self._sockets[sock.conversation_id] = rest
            else:
                del self._sockets[sock.conversation_id]

    def sockets(self, conversation_id: str) -> tuple[WidgetSocket, ...]:
        return self._sockets.get(conversation_id, ())

    def all(self) -> list[WidgetSocket]:
        return [s for held in self._sockets.values() for s in held]

    def count(self) -> int:
        return sum(len(held) for held in self._sockets.values())

    def remember_state(self, conversation_id: str, update: ControlUpdate) -> None:
        self._states[conversation_id] = update
        self._states.move_to_end(conversation_id)
        while len(self._states) > MAX_REMEMBERED_STATES:
            self._states.popitem(last=False)

    def last_state(self, conversation_id: str) -> ControlUpdate | None:
        return self._states.get(conversation_id)
