"""A base for fake upstream services: an aiohttp server on 127.0.0.1, port 0.

A test fake of a remote API (a desk, a bot, a messaging platform) subclasses
`FakeUpstream`, declares its routes with `self.route(method, path, operation, handler)`
and speaks the real wire format; the adapter's own client code talks to it unchanged.
The base records every call (`calls`, `calls_to(operation)`) and injects faults per
operation:

- `Fault.http(503)`, `Fault.http(429, retry_after=2)`: answer that status (JSON body)
  without processing the request;
- `Fault.hang(seconds)`: answer late (the request is processed after the delay), so a
  client with a shorter timeout gives up;
- `Fault.lost()`: process the request, then drop the connection without an answer
  ("processed but the answer was lost");
- `down = True`: every request answers 503 until it is set back.

For the other direction (the upstream calling the adapter's webhook) `post` sends a body
to a URL, `copies=2` delivering it twice like a sender retrying.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["Call", "FakeUpstream", "Fault", "FaultKind", "UpstreamHandler"]

UpstreamHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultKind(StrEnum):
    HTTP = "http"
    HANG = "hang"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure for the next call of an operation."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0

    @classmethod
    def http(cls, status: int, retry_after: float | None = None) -> Fault:
        """Answer `status` instead of processing (5xx, 429 with Retry-After, 401...)."""
        return cls(FaultKind.HTTP, status=status, retry_after=retry_after)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        """Answer only after `seconds` (a client timeout should fire first)."""
        return cls(FaultKind.HANG, seconds=seconds)

    @classmethod
    def lost(cls) -> Fault:
        """Process the request, then drop the connection: the answer is lost."""
        return cls(FaultKind.LOST)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake received it."""

    operation: str
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    #: The body parsed as JSON, or None when it is empty or not JSON.
    json: Any = field(default=None)
    #: The path's match info (`{thread}` in a route path...).
    match: Mapping[str, str] = field(default_factory=dict)


class FakeUpstream:
    """A fake remote service; subclasses override `routes()`.

    Use as `async with MyFake() as fake:` or `await fake.start()` / `await fake.stop()`.
    `url` is its base URL once started.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        #: While True every request answers 503 (an outage).
        self.down = False
        self.url = ""
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # --- what a subclass provides ------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        """The fake's routes, each made with `self.route(...)`. The default is none."""
        return ()

    def route(
        self, method: str, path: str, operation: str, handler: UpstreamHandler
    ) -> web.RouteDef:
        """A route whose calls are recorded under `operation` and can be faulted."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(operation, request, handler)

        return web.route(method, path, handle)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.add_routes(list(self.routes()))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- faults and records -----------------------------------------------------------

    def fail_next(self, operation: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `operation` with `fault`."""
        self._faults[operation].extend([fault] * times)

    def clear_faults(self) -> None:
        """Forget the faults not used up yet."""
        self._faults.clear()

    def calls_to(self, operation: str) -> list[Call]:
        return [c for c in self.calls if c.operation == operation]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds (polled; the fake changes on requests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"{type(self).__name__} did not see what was expected")
            await asyncio.sleep(0.02)

    async def _handle(
        self, operation: str, request: web.Request, handler: UpstreamHandler
    ) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.calls.append(Call(
            operation, request.method, request.path, dict(request.query),
            dict(request.headers), raw, parsed, dict(request.match_info),
        ))
        if self.down:
            return web.json_response({"error": "unavailable"}, status=503)
        queue = self._faults.get(operation)
        fault = queue.popleft() if queue else None
        if fault is not None and fault.kind is FaultKind.HTTP:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return web.json_response(
                {"error": f"injected_{fault.status}"}, status=fault.status, headers=headers
            )
        if fault is not None and fault.kind is FaultKind.HANG:
            await asyncio.sleep(fault.seconds)
        response = await handler(request)
        if fault is not None and fault.kind is FaultKind.LOST:
            # Processed, but the answer never arrives.
            if request.transport is not None:
                request.transport.abort()
            await asyncio.sleep(0.05)
        return response

    # --- the upstream calling the adapter ---------------------------------------------

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
        copies: int = 1,
    ) -> list[tuple[int, Any]]:
        """POST `body` to the adapter `copies` times; the (status, JSON or text) answers."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        answers: list[tuple[int, Any]] = []
        for _ in range(copies):
            async with self._client.post(url, data=body, headers=dict(headers or {})) as resp:
                text = await resp.text()
                try:
                    answers.append((resp.status, json.loads(text)))
                except ValueError:
                    answers.append((resp.status, text))
        return answers
