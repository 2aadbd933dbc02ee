"""The live connection's edges: a page that falls behind."""

from __future__ import annotations

from typing import Any

from adapters.console.live import CLOSE_TOO_SLOW, MAX_PENDING, _Connection
from adapters.console.options import Agent


class _Socket:
    """Stands in for the server side of one websocket: records what the writer does."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None

    async def send_str(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, *, code: int, message: bytes = b"") -> None:
        self.closed_with = code


async def test_a_page_too_far_behind_is_disconnected_instead_of_buffered() -> None:
    socket = _Socket()
    conn = _Connection(socket, Agent("sanne", "Sanne", ("x" * 16,)), frozenset({"demo"}))  # type: ignore[arg-type]
    conn.push({"type": "ready"})
    first: Any = conn.queue.get_nowait()
    assert first == {"type": "ready"}
    for i in range(MAX_PENDING + 10):
        conn.push({"type": "typing", "n": i})
    assert conn.overflowed and conn.queue.qsize() == 1, "the backlog is dropped at once"
    await conn.write()
    assert socket.closed_with == CLOSE_TOO_SLOW and socket.sent == []
