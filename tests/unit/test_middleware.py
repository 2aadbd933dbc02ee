"""The error and draining middlewares and the JSON body reader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.http.middleware import draining_middleware, error_middleware, read_json
from handover.metrics import REGISTRY
from handover.store.base import StoreError, VersionConflict

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
LIMIT = 64


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


async def echo(request: web.Request) -> web.Response:
    data = await read_json(request, max_bytes=LIMIT)
    return web.json_response(data)


async def strict(request: web.Request) -> web.Response:
    data = await read_json(
        request, max_bytes=LIMIT, allowed={"text", "lang"}, required={"conversation"}
    )
    return web.json_response(data)


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
    app.router.add_post("/echo", echo)
    app.router.add_post("/strict", strict)
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
    assert await resp.json() == {"error": "internal"}
    logged = capsys.readouterr().out
    assert "http.unhandled_error" in logged
    assert "RuntimeError" in logged  # the traceback is in the log, not in the answer


@pytest.mark.parametrize("path", ["/store", "/conflict"])
async def test_store_error_is_503_with_retry_after(client: Client, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert await resp.json() == {"error": "store_unavailable"}


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
        assert await resp.json() == {"error": "draining"}
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


# --- read_json ---------------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}


async def post(client: Client, path: str, body: bytes | str, **headers: str) -> Any:
    resp = await client.post(path, data=body, headers={**JSON_HEADERS, **headers})
    return resp.status, await resp.json()


async def test_read_json_ok(client: Client) -> None:
    assert await post(client, "/echo", '{"a": [1, 2]}') == (200, {"a": [1, 2]})


async def test_read_json_accepts_charset_and_plus_json(client: Client) -> None:
    status, _ = await post(
        client, "/echo", "{}", **{"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 200
    status, _ = await post(client, "/echo", "{}", **{"Content-Type": "application/vnd.x+json"})
    assert status == 200


async def test_read_json_too_large_by_content_length(client: Client) -> None:
    before = rejected("too_large")
    status, body = await post(client, "/echo", json.dumps({"t": "x" * LIMIT}))
    assert (status, body["error"]) == (413, "too_large")
    assert rejected("too_large") == before + 1


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 16):
        yield data[i : i + 16]


async def test_read_json_too_large_without_content_length(client: Client) -> None:
    # A chunked body has no Content-Length: the limit holds on the bytes actually read.
    body = json.dumps({"t": "x" * LIMIT}).encode()
    resp = await client.post("/echo", data=_chunks(body), headers=JSON_HEADERS)
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"


async def test_read_json_exactly_at_limit(client: Client) -> None:
    body = json.dumps({"t": "x" * (LIMIT - 9)})
    assert len(body) == LIMIT
    assert (await post(client, "/echo", body))[0] == 200
    resp = await client.post("/echo", data=_chunks(body.encode()), headers=JSON_HEADERS)
    assert resp.status == 200


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_read_json_wrong_content_type_is_415(client: Client, ctype: str | None) -> None:
    headers = {} if ctype is None else {"Content-Type": ctype}
    resp = await client.post("/echo", data=b"{}", headers=headers)
    assert resp.status == 415
    assert (await resp.json())["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"42",
        b"null",
        b"\xff\xfe{",
        b'{"a": NaN}',
        b"[" * 40 + b"]" * 20,
    ],
)
async def test_read_json_bad_json_is_400(client: Client, body: bytes) -> None:
    status, answer = await post(client, "/echo", body)
    assert (status, answer["error"]) == (400, "bad_json")


async def test_read_json_deeply_nested_is_400(aiohttp_client: MakeClient) -> None:
    # Deep enough to exhaust the parser's recursion, small enough for the size limit.
    async def deep(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request, max_bytes=1_000_000))

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/deep", deep)
    client = await aiohttp_client(app)
    status, answer = await post(client, "/deep", b"[" * 200_000 + b"]" * 200_000)
    assert (status, answer["error"]) == (400, "bad_json")


async def test_read_json_unknown_fields_is_400(client: Client) -> None:
    status, body = await post(client, "/strict", '{"conversation": "c", "zzz": 1, "aaa": 2}')
    assert status == 400
    assert body == {"error": "unknown_fields", "detail": ["aaa", "zzz"]}


async def test_read_json_missing_fields_is_400(client: Client) -> None:
    status, body = await post(client, "/strict", '{"text": "hoi"}')
    assert status == 400
    assert body["error"] == "missing_fields"
    assert body["detail"] == ["conversation"]


async def test_read_json_allowed_and_required(client: Client) -> None:
    status, body = await post(client, "/strict", '{"conversation": "c", "text": "hoi"}')
    assert (status, body) == (200, {"conversation": "c", "text": "hoi"})
