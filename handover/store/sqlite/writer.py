"""Group commit for SQLite: one thread runs every write, many per transaction.

Callers submit jobs (plain functions taking the writer's `sqlite3.Connection`). The
writer takes all queued jobs, up to `batch_max`, and runs them in one ``BEGIN IMMEDIATE
... COMMIT`` with a SAVEPOINT per job. One fsync then covers the whole batch, which is
what makes synchronous=FULL affordable under load, and a job that fails (or asks to be
undone through `Rollback`) is rolled back to its savepoint without disturbing the others.
A caller's future is resolved only after COMMIT returned, so a result is durable.

The whole batch runs in one call on the writer's own thread. Going through an async
wrapper statement by statement would cost a thread hand-off per statement (a step is
five to ten statements), and those hand-offs, not SQLite, were what bounded throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from handover.store.base import StoreError

T = TypeVar("T")

#: A write job: runs on the writer thread inside the batch's transaction.
Job = Callable[[sqlite3.Connection], Any]


class Rollback(Exception):
    """Raised by a job to undo its own writes and still return `result`."""

    def __init__(self, result: object) -> None:
        super().__init__()
        self.result = result


@dataclass(slots=True)
class _Job:
    op: Job
    future: asyncio.Future[Any]


class _BatchFailed(Exception):
    """The batch as a whole failed (I/O error, disk full...): nothing was committed."""

    def __init__(self, error: sqlite3.Error) -> None:
        super().__init__(str(error))
        self.error = error


class GroupCommitWriter:
    """The single writer of one SQLite database, on a thread of its own.

    `connect` is called on that thread and must return a connection in autocommit mode
    (``isolation_level=None``): transactions are the writer's.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], batch_max: int = 256) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._batch_max = batch_max
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._accepting = False

    @property
    def alive(self) -> bool:
        return self._accepting and self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._conn = await self._on_thread(self._connect)
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="sqlite-writer")

    async def stop(self) -> None:
        """Refuse new jobs, finish the queued ones, then close the connection."""
        self._accepting = False
        task, self._task = self._task, None
        if task is not None:
            # The sentinel goes behind every queued job, so pending commits finish.
            self._queue.put_nowait(None)
            await asyncio.wait([task])
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                await self._on_thread(conn.close)
        self._thread.shutdown(wait=False)

    async def run_now(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op` on the writer thread outside any batch (settings, inspection)."""
        conn = self._conn
        if conn is None:
            raise StoreError("the SQLite store is not open")
        return await self._on_thread(lambda: op(conn))

    async def submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op` in the next batch; its result once the batch is committed."""
        if not self.alive:
            raise StoreError("the SQLite store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(op, future))
        return await future

    async def _on_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

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
        assert conn is not None
        ops = [job.op for job in batch]
        try:
            outcomes = await self._on_thread(lambda: _run_sync(conn, ops))
        except _BatchFailed as failed:
            if len(batch) > 1:
                # One job may have hit a limit that the others would not: retry each
                # alone, so a real I/O failure still fails all but nothing else does.
                for job in batch:
                    await self._run_batch([job])
                return
            _fail(batch[0].future, StoreError(f"SQLite write failed: {failed.error}"))
            return
        except BaseException:
            for job in batch:
                _fail(job.future, StoreError("the SQLite writer stopped"))
            raise
        for job, (result, error) in zip(batch, outcomes, strict=True):
            if job.future.done():
                continue
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)


def _run_sync(
    conn: sqlite3.Connection, ops: list[Job]
) -> list[tuple[Any, BaseException | None]]:
    """One transaction with a savepoint per job; runs on the writer thread."""
    outcomes: list[tuple[Any, BaseException | None]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for op in ops:
            conn.execute("SAVEPOINT job")
            result: Any = None
            error: BaseException | None = None
            undo = True
            try:
                result, undo = op(conn), False
            except sqlite3.Error as exc:
                if not isinstance(exc, sqlite3.IntegrityError):
                    raise  # the connection itself may be in trouble: fail the batch
                error = StoreError(f"constraint violated: {exc}")
            except Rollback as signal:
                result = signal.result
            except Exception as exc:
                error = exc
            if undo:
                conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((result, error))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        # SQLite may already have ended the transaction itself (e.g. on SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise _BatchFailed(exc) from exc
    return outcomes


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
