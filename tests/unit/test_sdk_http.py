"""The adapters' HTTP toolkit: the capped JSON body reader and the answers to an event
the store could not take (`handover.sdk.http`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.sdk import events as ev
from handover.sdk.contracts import IngestOutcome, IngestResult
from handover.sdk.errors import UnknownConversation, UnknownTenant
from handover.sdk.http import (
    MAX_BODY_BYTES,
    ApiError,
    Unavailable,
    ingest_if_known,
    ingest_or_error,
    json_errors,
    read_capped,
    read_json,
    resolve_or_error,
)
from handover.sdk.model import Content

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


async def echo(request: web.Request) -> web.Response:
    return web.json_response(await read_json(request))


async def raw(request: web.Request) -> web.Response:
    return web.json_response({"length": len(await read_capped(request, 64))})


@pytest.fixture
async def client(aiohttp_client: MakeClient) -> Client:
    app = web.Application(middlewares=[json_errors])
    app.router.add_post("/echo", echo)
    app.router.add_post("/raw", raw)
    return await aiohttp_client(app)


async def post(client: Client, path: str, body: Any) -> tuple[int, Any]:
    resp = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    return resp.status, await resp.json()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 16):
        yield data[i : i + 16]


async def test_read_json_ok(client: Client) -> None:
    assert await post(client, "/echo", '{"a": [1, 2]}') == (200, {"a": [1, 2]})


async def test_too_large_by_content_length(client: Client) -> None:
    status, body = await post(client, "/raw", b"x" * 65)
    assert (status, body["error"]) == (413, "body_too_large")
    assert set(body) == {"error", "detail"}


async def test_too_large_without_content_length(client: Client) -> None:
    # A chunked body has no Content-Length: the limit holds on the bytes actually read.
    status, body = await post(client, "/raw", _chunks(b"x" * 65))
    assert (status, body["error"]) == (413, "body_too_large")


async def test_exactly_at_the_limit(client: Client) -> None:
    assert await post(client, "/raw", b"x" * 64) == (200, {"length": 64})
    assert await post(client, "/raw", _chunks(b"x" * 64)) == (200, {"length": 64})


async def test_read_json_default_cap(client: Client) -> None:
    body = json.dumps({"t": "x" * MAX_BODY_BYTES})
    status, answer = await post(client, "/echo", body)
    assert (status, answer["error"]) == (413, "body_too_large")


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"[1, 2]", b'"text"', b"42", b"null", b"\xff\xfe{",
     b'{"a": NaN}', b'{"a": -Infinity}', b"[" * 30_000 + b"]" * 30_000],
)
async def test_bad_json_is_400(client: Client, body: bytes) -> None:
    status, answer = await post(client, "/echo", body)
    assert (status, answer["error"]) == (400, "invalid_json")


# --- ingest_or_error and friends --------------------------------------------------------


class Log:
    """Records warnings (the test run may route structlog anywhere)."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **kw: Any) -> None:
        self.warnings.append((event, kw))


class Ctx:
    """The part of AdapterContext the helpers use."""

    name = "web"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.log = Log()

    async def ingest(self, event: ev.Event) -> IngestResult:
        if self.error is not None:
            raise self.error
        return IngestResult(IngestOutcome.APPLIED, None)

    async def resolve_conversation(self, tenant: str, channel_key: str, **kw: Any) -> Any:
        if self.error is not None:
            raise self.error
        return f"{tenant}/{channel_key}"


EVENT = ev.CitizenMessage(conversation_id="c1", source="web", source_id="m1",
                          content=Content(text="hoi"))


async def test_ingest_applied() -> None:
    result = await ingest_or_error(Ctx(), EVENT, log_event="web.ingest_failed")  # type: ignore[arg-type]
    assert result.outcome is IngestOutcome.APPLIED


async def test_unknown_conversation_is_404_or_none() -> None:
    ctx: Any = Ctx(UnknownConversation("c1"))
    with pytest.raises(ApiError) as caught:
        await ingest_or_error(ctx, EVENT, log_event="web.ingest_failed")
    assert (caught.value.status, caught.value.error) == (404, "unknown_conversation")
    assert await ingest_if_known(ctx, EVENT, log_event="web.ingest_failed") is None


async def test_store_failure_is_logged_503_with_retry_after() -> None:
    ctx: Any = Ctx(RuntimeError("database is locked"))
    with pytest.raises(Unavailable) as caught:
        await ingest_or_error(ctx, EVENT, log_event="web.ingest_failed", detail="again",
                              retry_after=5)
    answer = caught.value.response()
    assert answer.status == 503 and answer.headers["Retry-After"] == "5"
    assert json.loads(answer.text or "") == {"error": "unavailable", "detail": "again"}
    assert ctx.log.warnings == [("web.ingest_failed", {
        "conversation_id": "c1", "event_type": "CitizenMessage", "exc_info": True})]


async def test_resolve_or_error() -> None:
    ctx: Any = Ctx()
    assert await resolve_or_error(ctx, "t", "k", log_event="x") == "t/k"
    ctx = Ctx(UnknownTenant("t"))
    with pytest.raises(ApiError) as caught:
        await resolve_or_error(ctx, "t", "k", log_event="x")
    assert (caught.value.status, caught.value.error) == (404, "unknown_tenant")
    ctx = Ctx(OSError("disk"))
    with pytest.raises(Unavailable):
        await resolve_or_error(ctx, "t", "k", log_event="x")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_read_json_requires_application_json(client: Client, content_type: str) -> None:
    # text/plain and form bodies cross sites without a CORS preflight; JSON does not.
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/echo", data=b'{"a": 1}', headers=headers)
    assert resp.status == 415
    assert (await resp.json())["error"] == "unsupported_media_type"


async def test_a_body_that_trickles_in_is_cut_off() -> None:
    from aiohttp.streams import StreamReader
    from aiohttp.test_utils import make_mocked_request

    from handover.sdk.http import ApiError, read_capped

    request = make_mocked_request("POST", "/echo", headers={"Content-Type": "application/json"})
    stream = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
    stream.feed_data(b'{"a": ')  # ...and nothing more ever comes
    request._payload = stream
    with pytest.raises(ApiError) as exc:
        await read_capped(request, deadline=0.2)
    assert (exc.value.status, exc.value.error) == (408, "request_timeout")
    assert exc.value.response().keep_alive is False
