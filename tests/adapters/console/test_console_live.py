"""The live connection's edges: a page that never signs in, a page that falls behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.console import live
from adapters.console.live import CLOSE_TOO_SLOW, MAX_PENDING, _Connection
from adapters.console.options import Agent
from tests.adapters.console.support import console_daemon


async def test_a_page_that_does_not_sign_in_is_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "AUTH_TIMEOUT_SECONDS", 0.2)
    async with console_daemon(tmp_path) as c:
        ws = await c.client.ws_connect("/desk/api/live")
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == live.CLOSE_AUTH_TIMEOUT


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
