"""Logging setup for the daemon: structlog on top of the standard library.

structlog is wired through stdlib `logging` (not its own PrintLogger) for two reasons:
the adapter contract types loggers as `structlog.stdlib.BoundLogger`, and aiohttp,
websockets and other libraries log through stdlib. One root handler with a
`structlog.stdlib.ProcessorFormatter` renders both kinds of records, so both go through
the same privacy processors:

- `drop_bodies` removes message bodies (citizen text) unless the level is debug;
- `redact_processor` masks BSNs, IBANs, phone numbers, e-mail addresses and secret URL
  query parameters in every value, including the event name and formatted tracebacks.

These two run last, in the formatter, after everything that can add text (positional
arguments, tracebacks, stack info), so nothing reaches the stream unredacted.

Correlation: `bind_correlation` puts a ``correlation_id`` into structlog's contextvars;
every later line in the same task (and in tasks it creates, which copy the context)
carries it.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_urldispatcher import AbstractResource, DynamicResource, PlainResource
from structlog.typing import EventDict, Processor, WrappedLogger

from handover.observability.redaction import redact

__all__ = [
    "BODY_KEYS",
    "RedactingAccessLogger",
    "bind_correlation",
    "configure_logging",
    "drop_bodies",
    "get_logger",
    "new_correlation_id",
    "redact_processor",
    "redact_url",
]

#: Event-dict keys that carry message bodies or other citizen-written text. They are
#: dropped from log lines unless the daemon runs at debug level. structlog's own
#: ``event`` key is deliberately not in here.
BODY_KEYS: frozenset[str] = frozenset(
    {"body", "text", "content", "message", "payload", "transcript", "comment"}
)

_FORMATS = ("json", "console")

# Keys produced by our own processors from trusted data; skipping them saves three
# regex scans per line (the ISO timestamp alone has plenty of digits).
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger"})

# ProcessorFormatter's bookkeeping keys; they must keep their objects.
_FORMATTER_META = frozenset({"_record", "_from_structlog"})

# Marks the root handler installed by `configure_logging`, for diagnostics and tests.
_HANDLER_MARK = "_handover_logs_handler"

# Secret query parameters: token, access_token, key, secret, signature and
# hub.verify_token (Meta's webhook verification; its dot may arrive percent-encoded).
# The look-behind requires the name to start a parameter, so "monkey=1" or
# "x-api-key=1" are not touched; it also works on whole log lines (aiohttp's default
# access log format), not only on bare URLs.
_SECRET_PARAM = re.compile(
    r"(?<![\w.%-])"
    r"(token|access_token|key|secret|signature|hub(?:\.|%2[eE])verify_token)"
    r"=([^&#\s\"'<>]+)",
    re.IGNORECASE,
)
# Passwords in URL user info: "https://user:password@host".
_URL_PASSWORD = re.compile(r"(?<=://)([^/@\s:]+):[^/@\s]+@")


def redact_url(url: str) -> str:
    """Replace the values of secret query parameters in `url` with ``***``.

    Parameters named token, access_token, key, secret, signature and hub.verify_token
    (case-insensitive) are masked; all other parameters and the rest of the URL are kept
    byte for byte (no re-encoding). A password in the URL's user info is masked too.
    Works on a bare URL, a path with query string, or a log line containing URLs.
    """
    if "=" in url:
        url = _SECRET_PARAM.sub(r"\1=***", url)
    if "://" in url:
        url = _URL_PASSWORD.sub(r"\1:***@", url)
    return url


def _scrub_text(text: str) -> str:
    # URLs first: a token value must become "***", not be half-masked as a phone number.
    return redact(redact_url(text))


def _scrub(value: Any) -> Any:
    """Redact a log value for rendering.

    Like `handover.observability.redaction.redact_value`, plus two things a renderer needs: integers
    that read as personal data (``bsn=123456782``) are replaced by the mask string, and
    objects the renderer would turn into text itself (dataclasses, exceptions, UUIDs)
    are turned into that same text here (``__structlog__()`` or ``repr``, exactly as
    structlog's JSON fallback does) so that the text is redacted too.
    """
    if isinstance(value, str):
        return _scrub_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        as_text = str(value)
        scrubbed = redact(as_text)
        return value if scrubbed == as_text else scrubbed
    if isinstance(value, Mapping):
        return {_scrub(k) if isinstance(k, str) else k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    render = getattr(value, "__structlog__", None)
    return _scrub_text(str(render()) if callable(render) else repr(value))


def redact_processor(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact every value of the event dict (event name included).

    Applies `handover.observability.redaction.redact` to all strings, recursively, and masks secret
    URL query parameters (`redact_url`). Internal keys of `ProcessorFormatter`
    (``_record``, ``_from_structlog``) are left alone so the formatter keeps working.
    """
    for key, value in event_dict.items():
        if key in _TRUSTED_KEYS or key in _FORMATTER_META:
            continue
        event_dict[key] = _scrub(value)
    return event_dict


def _without_bodies(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_bodies(v) for k, v in value.items() if k not in BODY_KEYS}
    if isinstance(value, list | tuple):
        return [_without_bodies(v) for v in value]
    return value


def drop_bodies(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: remove `BODY_KEYS` from the event dict.

    Also removes them from mappings nested in values (``data={"text": ...}``): a body
    tucked into a dict is still a body. Nested values are rebuilt, never mutated, since
    they belong to the caller. `configure_logging` leaves this processor out at debug
    level, where bodies are wanted for troubleshooting (they are still redacted).
    """
    for key in BODY_KEYS & event_dict.keys():
        del event_dict[key]
    for key, value in event_dict.items():
        if key not in _FORMATTER_META and isinstance(value, Mapping | list | tuple):
            event_dict[key] = _without_bodies(value)
    return event_dict


def _parse_level(level: str) -> int:
    levels = logging.getLevelNamesMapping()
    number = levels.get(level.upper())
    if number is None or number == logging.NOTSET:
        known = ", ".join(sorted(n.lower() for n in levels if n != "NOTSET"))
        raise ValueError(f"unknown log level {level!r} (use one of: {known})")
    return number


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging for the daemon.

    `level` is a stdlib level name (debug, info, warning, error, critical; any case).
    `fmt` is ``"json"`` (one JSON object per line) or ``"console"`` (human-readable).
    Lines go to `stream`, by default standard error (standard output stays free for
    command output).

    The root logger's handlers are replaced by a single handler: any other handler would
    receive records that bypass redaction. Calling this again reconfigures cleanly.
    Raises `ValueError` for an unknown level or format.
    """
    level_number = _parse_level(level)
    if fmt not in _FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (use one of: {', '.join(_FORMATS)})")
    out = stream if stream is not None else sys.stderr

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    # Enrichment shared by structlog calls and foreign (stdlib) records.
    enrich: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        timestamper,
    ]

    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(),
            # Tracebacks arrive pre-formatted (and redacted) as "exception".
            exception_formatter=structlog.dev.plain_traceback,
        )

    # Privacy processors run in the formatter, after everything that can add text.
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
    ]
    if level_number > logging.DEBUG:
        final.append(drop_bodies)
    final += [redact_processor, renderer]

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=enrich,
        processors=final,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_number)

    structlog.configure(
        processors=[
            # Cheapest first: drop filtered-out calls before any work is done.
            structlog.stdlib.filter_by_level,
            *enrich,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # Not cached: module-level loggers created before (re)configuration, e.g. in
        # tests, must pick up the current processors instead of a stale chain.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger backed by the stdlib logger `name`.

    Without a name, structlog names it after the calling module.
    """
    if name is None:
        return structlog.stdlib.get_logger()
    return structlog.stdlib.get_logger(name)


def new_correlation_id() -> str:
    """Return a short random hex id (16 characters) for correlating log lines."""
    while True:
        candidate = secrets.token_hex(8)
        # A random hex id can, rarely, look like a BSN/IBAN/phone number to the
        # redactor and would then be masked in every line it appears on, which defeats
        # its purpose. Draw again in that case.
        if redact(candidate) == candidate:
            return candidate


@contextmanager
def bind_correlation(correlation_id: str | None = None) -> Iterator[str]:
    """Bind ``correlation_id`` into structlog's contextvars for the ``with`` block.

    Every line logged in the block, including from tasks created in it (they copy the
    context), carries the id. On exit the previous value, or its absence, is restored
    exactly (contextvar tokens, so nesting works). Without an argument a new id is
    generated. Yields the id in effect.
    """
    cid = correlation_id if correlation_id is not None else new_correlation_id()
    tokens = structlog.contextvars.bind_contextvars(correlation_id=cid)
    try:
        yield cid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp access logger that logs through structlog with nothing credential-bearing.

    Pass it as ``access_log_class=RedactingAccessLogger`` to `aiohttp.web.AppRunner`
    (or `web.run_app`). Each request produces one ``http.access`` line at info level
    with method, route, status and duration in milliseconds.

    The route is the pattern the request matched (``/whatsapp/media/{token}``), never
    the raw path, and no query string is logged: capability paths (a media link, a
    transfer reference), engine.io session ids (``?sid=``) and tokens in queries are
    credentials, and a pattern names the endpoint just as well. A request that matched
    no route is logged as ``<unmatched>``. The client address is deliberately not
    logged either: on citizen-facing endpoints it is personal data.
    """

    @property
    def enabled(self) -> bool:
        """Skip building the line when the access logger is filtered out anyway."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit the access line; `time` is the handling duration in seconds."""
        get_logger(self.logger.name).info(
            "http.access",
            method=request.method,
            route=route_pattern(request),
            status=response.status,
            duration_ms=round(time * 1000, 3),
        )


UNMATCHED_ROUTE = "<unmatched>"


def route_pattern(request: BaseRequest) -> str:
    """The pattern of the route `request` matched, e.g. ``/web/{tenant}/socket``.

    For a prefix-mounted handler (a static directory, a sub-application's catch-all)
    the prefix with ``{tail}``; ``<unmatched>`` for a request no route took (404/405
    from the router), so a probe's path never reaches a log."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if not isinstance(resource, AbstractResource):
        return UNMATCHED_ROUTE
    canonical = str(resource.canonical)
    if isinstance(resource, PlainResource | DynamicResource):
        return canonical
    return canonical.rstrip("/") + "/{tail}"
