"""Group commit for SQLite: one task runs every write, many per transaction.

Callers submit jobs (coroutine functions taking the connection). The writer takes all
queued jobs, up to `batch_max`, and runs them in one ``BEGIN IMMEDIATE ... COMMIT``
with a SAVEPOINT per job. One fsync then covers the whole batch, which is what makes
synchronous=FULL affordable under load, and a job that fails (or asks to be undone
through `Rollback`) is rolled back to its savepoint without disturbing the others.
A caller's future is resolved only after COMMIT returned, so a result is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

from handover.store.base import StoreError

T = TypeVar("T")


class Rollback(Exception):
    """Raised by a job to undo its own writes and still return `result`."""

    def __init__(self, result: object) -> None:
        super().__init__()
        self.result = result


@dataclass(slots=True)
class _Job:
    op: Callable[[aiosqlite.Connection], Awaitable[Any]]
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """The single writer of one SQLite connection (in autocommit mode)."""

    def __init__(self, conn: aiosqlite.Connection, batch_max: int = 256) -> None:
        self._conn = conn
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._accepting = False

    @property
    def alive(self) -> bool:
        return self._accepting and self._task is not None and not self._task.done()

    def start(self) -> None:
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="sqlite-writer")

    async def stop(self) -> None:
        """Refuse new jobs, finish the queued ones, then end the task."""
        self._accepting = False
        task, self._task = self._task, None
        if task is not None:
            # The sentinel goes behind every queued job, so pending commits finish.
            self._queue.put_nowait(None)
            await asyncio.wait([task])

    async def submit(self, op: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `op` in the next batch; its result once the batch is committed."""
        if not self.alive:
            raise StoreError("the SQLite store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(op, future))
        return await future

    async def _run(self) -> None:
        batch: list[_Job] = []
        try:
            while True:
                item = await self._queue.get()
                stop = item is None
                batch = [] if item is None else [item]
                while not stop and len(batch) < self._batch_max and not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                    else:
                        batch.append(item)
                # A caller that gave up before its job started does not want it run.
                batch = [job for job in batch if not job.future.cancelled()]
                if batch:
                    await self._run_batch(batch)
                batch = []
                if stop:
                    return
        finally:
            # Only reached with work left when the task was cancelled or crashed.
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if job is not None:
                    batch.append(job)
            for job in batch:
                _fail(job.future, StoreError("the SQLite store was closed"))

    async def _run_batch(self, batch: list[_Job]) -> None:
        conn = self._conn
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                await conn.execute("SAVEPOINT job")
                result: Any = None
                error: BaseException | None = None
                undo = True
                try:
                    result, undo = await job.op(conn), False
                except sqlite3.Error as exc:
                    if not isinstance(exc, sqlite3.IntegrityError):
                        raise  # the connection itself is in trouble: fail the batch
                    error = StoreError(f"constraint violated: {exc}")
                except Rollback as signal:
                    result = signal.result
                except Exception as exc:
                    error = exc
                if undo:
                    await conn.execute("ROLLBACK TO job")
                await conn.execute("RELEASE job")
                outcomes.append((job, result, error))
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._rollback_quietly()
            if len(batch) > 1:
                # One job may have hit a limit that the others would not: retry each
                # alone, so a real I/O failure still fails all but nothing else does.
                for job in batch:
                    await self._run_batch([job])
                return
            _fail(batch[0].future, StoreError(f"SQLite write failed: {exc}"))
            return
        except BaseException:
            await self._rollback_quietly()
            for job in batch:
                _fail(job.future, StoreError("the SQLite writer stopped"))
            raise
        for job, result, error in outcomes:
            if job.future.done():
                continue
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)

    async def _rollback_quietly(self) -> None:
        # SQLite may already have ended the transaction itself (e.g. on SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self._conn.execute("ROLLBACK")


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
