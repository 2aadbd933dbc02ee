"""The error and draining middlewares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.http.middleware import draining_middleware, error_middleware
from handover.metrics import REGISTRY
from handover.store.base import StoreError, VersionConflict

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@dataclass
class Flag:
    draining: bool = False


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret body text must not reach the client")


async def store_down(request: web.Request) -> web.Response:
    raise StoreError("database is locked")


async def conflict(request: web.Request) -> web.Response:
    raise VersionConflict("changed")  # a StoreError subclass


async def bare_404(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def custom_body(request: web.Request) -> web.Response:
    raise web.HTTPBadRequest(text="adapter says no")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/elsewhere")


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
def flag() -> Flag:
    return Flag()


@pytest.fixture
async def client(aiohttp_client: MakeClient, flag: Flag) -> Client:
    app = web.Application(middlewares=[error_middleware, draining_middleware(flag)])
    app.router.add_get("/boom", boom)
    app.router.add_get("/store", store_down)
    app.router.add_get("/conflict", conflict)
    app.router.add_get("/bare404", bare_404)
    app.router.add_get("/custom", custom_body)
    app.router.add_get("/redirect", redirect)
    app.router.add_post("/echo", ok)
    for path in ("/healthz", "/readyz", "/metrics", "/work"):
        app.router.add_route("*", path, ok)
    return await aiohttp_client(app)


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("handover_http_rejected_total", {"reason": reason}) or 0.0


# --- error middleware --------------------------------------------------------------


async def test_unexpected_exception_is_json_500(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    resp = await client.get("/boom")
    assert resp.status == 500
    assert resp.content_type == "application/json"
    assert set(await resp.json()) == {"error", "detail"}  # the one error shape
    assert (await resp.json())["error"] == "internal"
    logged = capsys.readouterr().out
    assert "http.unhandled_error" in logged
    assert "RuntimeError" in logged  # the traceback is in the log, not in the answer


@pytest.mark.parametrize("path", ["/store", "/conflict"])
async def test_store_error_is_503_with_retry_after(client: Client, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"] == "store_unavailable"


async def test_bare_http_exception_gets_json_body(client: Client) -> None:
    resp = await client.get("/bare404")
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert await resp.json() == {"error": "not_found", "detail": "Not Found"}


async def test_unrouted_path_and_method_are_json(client: Client) -> None:
    resp = await client.get("/nowhere")
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
    resp = await client.put("/echo")
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"
    assert resp.headers["Allow"] == "POST"  # headers of the original exception survive


async def test_http_exception_with_body_passes_through(client: Client) -> None:
    resp = await client.get("/custom")
    assert resp.status == 400
    assert await resp.text() == "adapter says no"


async def test_redirect_passes_through(client: Client) -> None:
    resp = await client.get("/redirect", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/elsewhere"


# --- draining middleware -----------------------------------------------------------


async def test_not_draining_serves_everything(client: Client) -> None:
    assert (await client.post("/work")).status == 200


async def test_draining_refuses_work_with_connection_close(client: Client, flag: Flag) -> None:
    before = rejected("draining")
    flag.draining = True
    for method in ("GET", "POST", "DELETE"):
        resp = await client.request(method, "/work")
        assert resp.status == 503
        assert resp.headers["Connection"].lower() == "close"
        assert (await resp.json())["error"] == "draining"
    assert rejected("draining") == before + 3


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_draining_keeps_ops_endpoints(client: Client, flag: Flag, path: str) -> None:
    flag.draining = True
    assert (await client.get(path)).status == 200
    assert (await client.head(path)).status == 200
    # Only reads: a POST to an ops path is work like any other.
    assert (await client.post(path)).status == 503


async def test_draining_flag_is_read_per_request(client: Client, flag: Flag) -> None:
    flag.draining = True
    assert (await client.get("/work")).status == 503
    flag.draining = False
    assert (await client.get("/work")).status == 200
