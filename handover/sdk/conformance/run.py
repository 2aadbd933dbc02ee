"""One adapter instance on a FakeContext, its routes served on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handover.sdk.conformance.case import ConformanceCase
from handover.sdk.contracts import Adapter
from handover.sdk.testing.context import FakeContext
from handover.sdk.testing.upstream import FakeUpstream


class ConformanceRun:
    """The adapter of a case, built the way the daemon builds it.

    `async with ConformanceRun(case) as run:` starts the upstream fake (if any), parses
    the configuration, constructs the adapter on a `FakeContext` with a real client
    session; `serve()` mounts its `http_app()` at `/<name>/` on 127.0.0.1 and `start()`
    starts it. Leaving the block stops everything that was started.
    """

    def __init__(self, case: ConformanceCase) -> None:
        self.case = case
        self.name = case.name
        self.upstream: FakeUpstream | None = None
        self.client: TestClient[Any, Any] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ctx: FakeContext | None = None
        self._adapter: Adapter | None = None
        self._app: web.Application | None = None
        self.started = False

    @property
    def ctx(self) -> FakeContext:
        assert self._ctx is not None, "use the run inside `async with`"
        return self._ctx

    @property
    def adapter(self) -> Adapter:
        assert self._adapter is not None, "use the run inside `async with`"
        return self._adapter

    def section(self) -> dict[str, Any]:
        """The configuration section the adapter is built from."""
        section = dict(self.case.config)
        if self.case.upstream is not None and self.upstream is not None:
            section.update(self.case.upstream.config(self.upstream.url))
        return section

    async def __aenter__(self) -> ConformanceRun:
        self._session = aiohttp.ClientSession()
        if self.case.upstream is not None:
            self.upstream = self.case.upstream.fake()
            await self.upstream.start()
        options = self.case.adapter.parse_config(self.section(), f"adapters.{self.name}")
        self._ctx = FakeContext(self.name, self.case.tenants, http=self._session)
        self._adapter = self.case.adapter(self.name, options, self._ctx)
        return self

    async def serve(self) -> TestClient[Any, Any]:
        """Serve the adapter's routes at `/<name>/` (an empty app when it has none)."""
        app = web.Application()
        sub = self.adapter.http_app()
        if sub is not None:
            app.add_subapp(f"/{self.name}/", sub)
        self._app = app
        self.client = TestClient(TestServer(app, host="127.0.0.1"))
        await self.client.start_server()
        return self.client

    def routes(self) -> list[tuple[str, str]]:
        """(method, path under the prefix) of the served routes that take a body."""
        assert self._app is not None, "serve() first"
        app = self._app
        found: list[tuple[str, str]] = []
        prefix = f"/{self.name}/"
        for route in app.router.routes():
            resource = route.resource
            if route.method not in ("POST", "PUT", "PATCH") or resource is None:
                continue
            path = resource.canonical
            if path.startswith(prefix):
                found.append((route.method, _filled(path[len(prefix):])))
        return found

    async def start(self) -> None:
        await self.adapter.start()
        self.started = True

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self.adapter.stop()

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop()
        finally:
            if self._ctx is not None:
                await self._ctx.aclose()
            if self.client is not None:
                await self.client.close()
            if self.upstream is not None:
                await self.upstream.stop()
            if self._session is not None:
                await self._session.close()

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, str]:
        """(status, content type, text) of one request to the adapter's routes."""
        assert self.client is not None, "serve() first"
        async with self.client.request(
            method, f"/{self.name}/{path.lstrip('/')}", data=body, headers=headers
        ) as resp:
            return resp.status, resp.content_type, await resp.text()


def _filled(path: str) -> str:
    """A concrete path for a route with `{variables}`."""
    out: list[str] = []
    depth = 0
    for char in path:
        if char == "{":
            depth += 1
            if depth == 1:
                out.append("conformance")
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)
