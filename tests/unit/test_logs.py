"""Tests for handover.observability.logs: redaction and body dropping on real rendered lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from handover.observability.logs import (
    BODY_KEYS,
    RedactingAccessLogger,
    bind_correlation,
    configure_logging,
    get_logger,
    new_correlation_id,
    redact_url,
)
from handover.observability.redaction import redact

Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Configure logging into a fresh StringIO; undo every global change afterwards."""
    root = logging.getLogger()
    saved_handlers = root.handlers[:]
    saved_level = root.level

    def _configure(level: str = "info", fmt: str = "json") -> io.StringIO:
        stream = io.StringIO()
        configure_logging(level=level, fmt=fmt, stream=stream)
        return stream

    yield _configure

    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def only_line(stream: io.StringIO) -> dict[str, Any]:
    [line] = lines(stream)
    return line


# --- redaction of structlog events -----------------------------------------------------


def test_personal_data_masked_in_kwargs_and_event_name(configure: Configure) -> None:
    stream = configure()
    get_logger("test").info(
        "citizen 123456782 called from 06-12345678 (jan@example.nl)",
        bsn="123456782",
        phone="+31 6 12345678",
        email="jan@example.nl",
        nested={"iban": "NL91ABNA0417164300", "numbers": ["0612345678", 1]},
        bsn_as_int=123456782,
        attempts=3,
    )
    raw = stream.getvalue()
    line = only_line(stream)

    assert line["event"] == "citizen [BSN] called from [PHONE] ([EMAIL])"
    assert line["bsn"] == "[BSN]"
    assert line["phone"] == "[PHONE]"
    assert line["email"] == "[EMAIL]"
    assert line["nested"] == {"iban": "[IBAN]", "numbers": ["[PHONE]", 1]}
    assert line["bsn_as_int"] == "[BSN]"
    assert line["attempts"] == 3
    for secret in ("123456782", "12345678", "jan@example.nl", "NL91ABNA0417164300"):
        assert secret not in raw


def test_standard_fields_present(configure: Configure) -> None:
    stream = configure()
    get_logger("handover.delivery").warning("delivery.retry_scheduled", attempt=2)
    line = only_line(stream)
    assert line["event"] == "delivery.retry_scheduled"
    assert line["level"] == "warning"
    assert line["logger"] == "handover.delivery"
    assert line["timestamp"].endswith("Z")  # ISO 8601, UTC
    assert line["attempt"] == 2


def test_objects_are_rendered_then_redacted(configure: Configure) -> None:
    @dataclass
    class Citizen:
        phone: str

    stream = configure()
    get_logger("test").info("citizen.seen", citizen=Citizen(phone="0612345678"))
    line = only_line(stream)
    assert (
        line["citizen"]
        == "test_objects_are_rendered_then_redacted.<locals>.Citizen(phone='[PHONE]')"
    )


def test_exception_traceback_redacted(configure: Configure) -> None:
    stream = configure()
    try:
        raise ValueError("lookup failed for 123456782")
    except ValueError:
        get_logger("test").exception("lookup.failed")
    line = only_line(stream)
    assert line["level"] == "error"
    assert "ValueError: lookup failed for [BSN]" in line["exception"]
    assert "123456782" not in stream.getvalue()


def test_positional_arguments_redacted(configure: Configure) -> None:
    stream = configure()
    get_logger("test").info("mail from %s", "jan@example.nl")
    assert only_line(stream)["event"] == "mail from [EMAIL]"


def test_level_filters(configure: Configure) -> None:
    stream = configure(level="warning")
    log = get_logger("test")
    log.info("not.shown")
    log.warning("shown")
    assert [line["event"] for line in lines(stream)] == ["shown"]


def test_console_format_masked(configure: Configure) -> None:
    stream = configure(fmt="console")
    get_logger("test").info("call.started", phone="0612345678")
    out = stream.getvalue()
    assert "call.started" in out
    assert "[PHONE]" in out
    assert "0612345678" not in out
    assert "\x1b[" not in out  # no colour codes when the stream is not a terminal


def test_invalid_configuration_rejected(configure: Configure) -> None:
    with pytest.raises(ValueError, match="log level"):
        configure(level="chatty")
    with pytest.raises(ValueError, match="log format"):
        configure(fmt="xml")


def test_reconfiguring_keeps_a_single_handler(configure: Configure) -> None:
    configure()
    stream = configure()
    get_logger("test").info("once")
    assert len(logging.getLogger().handlers) == 1
    assert len(lines(stream)) == 1


# --- bodies ----------------------------------------------------------------------------


def bodies() -> dict[str, str]:
    return {key: f"citizen wrote {key}" for key in BODY_KEYS}


def test_body_keys_dropped_at_info(configure: Configure) -> None:
    stream = configure(level="info")
    get_logger("test").info(
        "message.received", conversation_id="c1", data={"text": "hoi", "seq": 4}, **bodies()
    )
    line = only_line(stream)
    assert line["event"] == "message.received"  # structlog's own key stays
    assert line["conversation_id"] == "c1"
    assert not BODY_KEYS & line.keys()
    assert line["data"] == {"seq": 4}
    assert "citizen wrote" not in stream.getvalue()


def test_body_keys_kept_at_debug_but_redacted(configure: Configure) -> None:
    stream = configure(level="debug")
    get_logger("test").debug("message.received", text="bel 0612345678", **{"body": "hoi"})
    line = only_line(stream)
    assert line["text"] == "bel [PHONE]"
    assert line["body"] == "hoi"


def test_dropping_does_not_mutate_caller_data(configure: Configure) -> None:
    configure()
    data = {"text": "hoi", "seq": 1}
    get_logger("test").info("x", data=data)
    assert data == {"text": "hoi", "seq": 1}


# --- correlation ids -------------------------------------------------------------------


def test_new_correlation_id() -> None:
    ids = {new_correlation_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 16
        int(cid, 16)
        assert redact(cid) == cid


def test_correlation_id_bound_and_restored(configure: Configure) -> None:
    stream = configure()
    log = get_logger("test")
    log.info("before")
    with bind_correlation("outer1") as outer:
        log.info("in.outer")
        with bind_correlation("inner2"):
            log.info("in.inner")
        log.info("back.in.outer")
    log.info("after")

    assert outer == "outer1"
    got = [(line["event"], line.get("correlation_id")) for line in lines(stream)]
    assert got == [
        ("before", None),
        ("in.outer", "outer1"),
        ("in.inner", "inner2"),
        ("back.in.outer", "outer1"),
        ("after", None),
    ]
    assert "correlation_id" not in structlog.contextvars.get_contextvars()


def test_correlation_id_restored_on_exception(configure: Configure) -> None:
    configure()
    with pytest.raises(RuntimeError), bind_correlation("abc"):
        raise RuntimeError
    assert "correlation_id" not in structlog.contextvars.get_contextvars()


def test_bind_correlation_generates_id(configure: Configure) -> None:
    stream = configure()
    with bind_correlation() as cid:
        get_logger("test").info("x")
    assert only_line(stream)["correlation_id"] == cid


async def test_correlation_id_inherited_by_tasks(configure: Configure) -> None:
    stream = configure()

    async def later() -> None:
        await asyncio.sleep(0)
        get_logger("test").info("in.task")

    with bind_correlation("feed01"):
        task = asyncio.create_task(later())
    await task
    assert only_line(stream)["correlation_id"] == "feed01"


# --- URLs and stdlib records ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/hook?token=abc&page=2", "/hook?token=***&page=2"),
        ("/hook?page=2&access_token=abc", "/hook?page=2&access_token=***"),
        (
            "https://x.nl/a?KEY=k1&Secret=s1&signature=sig#frag",
            "https://x.nl/a?KEY=***&Secret=***&signature=***#frag",
        ),
        (
            "/webhook?hub.mode=subscribe&hub.verify_token=v&hub.challenge=42",
            "/webhook?hub.mode=subscribe&hub.verify_token=***&hub.challenge=42",
        ),
        ("/webhook?hub%2Everify_token=v", "/webhook?hub%2Everify_token=***"),
        ("/a?monkey=1&tokens=2&api_key=3", "/a?monkey=1&tokens=2&api_key=3"),
        ("/a?token=", "/a?token="),
        ("https://user:pa55@host.nl/x", "https://user:***@host.nl/x"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_stdlib_records_go_through_redaction(configure: Configure) -> None:
    stream = configure()
    with bind_correlation("c0ffee"):
        logging.getLogger("aiohttp.access").info(
            '"GET /hook?hub.verify_token=s3cret&x=1 HTTP/1.1" %s from %s', 200, "jan@example.nl"
        )
    line = only_line(stream)
    assert line["event"] == '"GET /hook?hub.verify_token=***&x=1 HTTP/1.1" 200 from [EMAIL]'
    assert line["logger"] == "aiohttp.access"
    assert line["level"] == "info"
    assert line["correlation_id"] == "c0ffee"
    assert "s3cret" not in stream.getvalue()


def test_access_logger_with_mocked_request(configure: Configure) -> None:
    stream = configure()
    access = RedactingAccessLogger(logging.getLogger("aiohttp.access"), "")
    request = make_mocked_request("POST", "/webhook?token=s3cret&page=2")
    assert access.enabled
    access.log(request, web.Response(status=204), 0.0125)
    line = only_line(stream)
    assert line == line | {
        "event": "http.access",
        "method": "POST",
        "route": "<unmatched>",
        "status": 204,
        "duration_ms": 12.5,
        "logger": "aiohttp.access",
        "level": "info",
    }
    assert "s3cret" not in stream.getvalue()


def test_access_logger_disabled_above_info(configure: Configure) -> None:
    configure(level="warning")
    access = RedactingAccessLogger(logging.getLogger("aiohttp.access"), "")
    assert not access.enabled


async def test_access_logger_on_a_real_server(configure: Configure) -> None:
    """Routes are logged as patterns without query: a capability path (a media link),
    an engine.io session id or a token in the query never reaches the log."""
    stream = configure()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/hook", hello)
    sub = web.Application()
    sub.router.add_get("/media/{token}", hello)
    sub.router.add_get("/socket.io/", hello)
    app.add_subapp("/whatsapp/", sub)
    server = TestServer(app)
    # The runner options go to start_server; TestServer's constructor ignores them.
    await server.start_server(access_log_class=RedactingAccessLogger)
    client = TestClient(server)
    await client.start_server()
    try:
        response = await client.get("/hook", params={"access_token": "s3cret", "q": "1"})
        assert response.status == 200
        assert (await client.get("/whatsapp/media/c4pab1l1ty-s3cret")).status == 200
        sid = "engineio-sid-s3cret"
        assert (await client.get("/whatsapp/socket.io/", params={"sid": sid})).status == 200
        assert (await client.get("/probe/s3cret-path")).status == 404
    finally:
        await client.close()

    access = [line for line in lines(stream) if line["event"] == "http.access"]
    assert [(a["route"], a["status"]) for a in access] == [
        ("/hook", 200),
        ("/whatsapp/media/{token}", 200),
        ("/whatsapp/socket.io/", 200),
        ("<unmatched>", 404),
    ]
    assert access[0]["method"] == "GET"
    assert "s3cret" not in stream.getvalue()
