"""The live connection's edges: a page that falls behind, a page that goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from adapters.console.live import CLOSE_TOO_SLOW, MAX_PENDING, _Connection
from adapters.console.options import Agent
from tests.adapters.console.support import console_daemon
from tests.harness import TENANT


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


async def test_an_agent_who_closes_the_page_stops_counting_as_online_at_once(
    tmp_path: Path,
) -> None:
    """Not only after the online record expired: the desk would report an agent
    available who is gone, and queue citizens for nobody meanwhile."""
    async with console_daemon(tmp_path) as c:
        ahmed = await c.live("ahmed")
        assert (await c.desk.availability(TENANT, None)).available is True
        await ahmed.ws.close()
        for _ in range(100):
            if not await c.desk.api.hub.presence.agents(TENANT):
                break
            await asyncio.sleep(0.02)
        assert await c.desk.api.hub.presence.agents(TENANT) == set()
        assert (await c.desk.availability(TENANT, None)).available is False
