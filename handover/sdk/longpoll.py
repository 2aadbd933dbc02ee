"""Long-poll wake-ups: requests waiting per key, woken when something arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Wakeups:
    """The long-polling requests per conversation, to be woken by `deliver()`.

    Only conversations someone is waiting on have an entry (a set of futures), so an
    idle conversation costs nothing here.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._closed = False

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Future[None]]:
        """A future resolved at the next `wake(key)`. Watch *before* reading the state
        the wait depends on, so a wake-up between the read and the wait is not lost."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_result(None)
        waiters = self._waiting.setdefault(key, set())
        waiters.add(future)
        try:
            yield future
        finally:
            waiters.discard(future)
            if not waiters and self._waiting.get(key) is waiters:
                del self._waiting[key]

    def wake(self, key: str) -> None:
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Release every waiter now and later ones at once (shutdown must not wait for
        long-polls to time out)."""
        self._closed = True
        for key in list(self._waiting):
            self.wake(key)

    def watched(self) -> int:
        """How many conversations have a waiting request."""
        return len(self._waiting)
