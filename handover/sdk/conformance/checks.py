"""The conformance checks: each an async function of a `ConformanceCase`.

A check raises AssertionError when the adapter breaks a rule of the adapter contract
and `NotApplicable` when the rule does not concern it (no routes, not a channel, no
upstream declared).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from handover.sdk.conformance.case import ConformanceCase
from handover.sdk.conformance.run import ConformanceRun
from handover.sdk.contracts import ChannelAdapter, ControlUpdate, OutboundMessage
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    ConfigIssues,
    DeliveryError,
    PermanentError,
    TransientError,
)
from handover.sdk.http import MAX_BODY_BYTES
from handover.sdk.model import Attachment, Button, Content, Party, State
from handover.sdk.testing.upstream import Fault

Check = Callable[[ConformanceCase], Coroutine[Any, Any, None]]

UNKNOWN_KEY = "conformance_unknown_key"
#: How long one upstream call may take in the classification check, retries included.
CALL_TIMEOUT_SECONDS = 20.0
#: How long tasks may take to finish once cancelled, before they count as left behind.
SETTLE_SECONDS = 1.0


class NotApplicable(Exception):
    """The check does not concern this adapter; the message says why."""


def _exempt(case: ConformanceCase, check: str) -> None:
    if check in case.exempt:
        raise NotApplicable(case.exempt[check])


# --- configuration ----------------------------------------------------------------------


async def config_is_accepted(case: ConformanceCase) -> None:
    """The case's minimal configuration parses (the other checks build on it)."""
    try:
        async with ConformanceRun(case):
            pass  # entering parses the configuration and constructs the adapter
    except ConfigIssues as exc:
        raise AssertionError(f"the minimal config is refused: {exc}") from None


async def config_refuses_unknown_keys(case: ConformanceCase) -> None:
    """An unknown key is refused with ConfigIssues naming its dotted path."""
    _exempt(case, "config_refuses_unknown_keys")
    async with ConformanceRun(case) as run:
        section = {**run.section(), UNKNOWN_KEY: 1}
    path = f"adapters.{case.name}"
    try:
        case.adapter.parse_config(section, path)
    except ConfigIssues as exc:
        paths = [issue.path for issue in exc.issues]
        assert f"{path}.{UNKNOWN_KEY}" in paths, f"issue paths {paths} miss the unknown key"
        return
    raise AssertionError(f"parse_config accepted the unknown key {UNKNOWN_KEY!r}")


# --- routes -------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


MALFORMED: Mapping[str, tuple[bytes, str]] = {
    "invalid JSON": (b'{"text": "unterminated', "application/json"),
    "empty body": (b"", "application/json"),
    "form instead of JSON": (b"text=hallo&message_id=1", "application/x-www-form-urlencoded"),
    "deeply nested JSON": (_nested((MAX_BODY_BYTES - 100) // 6), "application/json"),
    "not UTF-8": (b'{"text": "\xff\xfe"}', "application/json"),
}


async def _probe_targets(run: ConformanceRun) -> list[tuple[str, str, bool]]:
    """(method, path, is the declared inbound route) of every route taking a body."""
    hook = run.case.inbound
    targets = [(m, p, False) for m, p in run.routes()]
    if hook is not None:
        await hook.prepare(run)
        inbound = (hook.method, hook.path(run).lstrip("/"))
        targets = [t for t in targets if (t[0], t[1]) != inbound]
        targets.append((*inbound, True))
    if not targets:
        raise NotApplicable("the adapter serves no route that takes a body")
    return targets


def _headers(
    run: ConformanceRun, is_inbound: bool, body: bytes, content_type: str
) -> dict[str, str]:
    hook = run.case.inbound
    headers = dict(hook.headers(run, body)) if is_inbound and hook is not None else {}
    headers["Content-Type"] = content_type
    return headers


def _json_refusal(where: str, status: int, content_type: str, text: str) -> None:
    assert 400 <= status < 500, f"{where}: answered {status}, not a 4xx: {text[:200]}"
    assert content_type == "application/json", (
        f"{where}: the {status} is {content_type or 'no content type'}, not JSON: {text[:200]}")
    json.loads(text)


async def routes_cap_bodies(case: ConformanceCase) -> None:
    """A body over the cap is refused: 413 on the inbound route, a JSON 4xx elsewhere
    (a route may refuse an unauthenticated request before reading the body)."""
    _exempt(case, "routes_cap_bodies")
    async with ConformanceRun(case) as run:
        await run.serve()
        await run.start()
        oversized = b'{"text": "' + b"a" * (4 * MAX_BODY_BYTES) + b'"}'
        for method, path, is_inbound in await _probe_targets(run):
            headers = _headers(run, is_inbound, oversized, "application/json")
            status, content_type, text = await run.request(method, path, oversized, headers)
            where = f"{method} /{case.name}/{path} with a {len(oversized)} byte body"
            _json_refusal(where, status, content_type, text)
            if is_inbound:
                assert status == 413, f"{where}: answered {status}, not 413"


async def routes_refuse_malformed_input(case: ConformanceCase) -> None:
    """Malformed bodies get a JSON 4xx, never a 5xx or a success."""
    _exempt(case, "routes_refuse_malformed_input")
    async with ConformanceRun(case) as run:
        await run.serve()
        await run.start()
        for method, path, is_inbound in await _probe_targets(run):
            for what, (body, content_type) in MALFORMED.items():
                headers = _headers(run, is_inbound, body, content_type)
                status, got_type, text = await run.request(method, path, body, headers)
                _json_refusal(f"{method} /{case.name}/{path} with {what}", status, got_type, text)


async def inbound_applied_once(case: ConformanceCase) -> None:
    """The same inbound message delivered twice is acknowledged twice, applied once."""
    _exempt(case, "inbound_applied_once")
    hook = case.inbound
    if hook is None:
        raise NotApplicable("no inbound route declared (ConformanceCase.inbound)")
    async with ConformanceRun(case) as run:
        await run.serve()
        await run.start()
        await hook.prepare(run)
        path = hook.path(run)
        body = hook.body(run, "conformance-message-1")
        answers = []
        for _ in range(2):
            status, _type, text = await run.request(
                hook.method, path, body, dict(hook.headers(run, body)))
            answers.append(status)
            assert 200 <= status < 300, f"delivery answered {status}: {text[:200]}"
            if len(answers) == 1:
                applied = len(run.ctx.events)
                assert applied >= 1, "a valid inbound message was not ingested"
        assert len(run.ctx.events) == applied, (
            "the repeated message was applied again: its (source, source_id) differs "
            f"between deliveries ({[e.dedup_key for e in run.ctx.events]})")


# --- upstream errors ----------------------------------------------------------------------

CLASSIFICATION: tuple[tuple[str, Fault, tuple[type[BaseException], ...]], ...] = (
    # A 500 may come after the target acted on the body: ambiguous for a target
    # without an idempotency key. 503 and 429 say "not processed".
    ("500", Fault.http(500), (TransientError, AmbiguousSendError)),
    ("503", Fault.http(503), (TransientError,)),
    ("429 with Retry-After", Fault.http(429, retry_after=3), (TransientError,)),
    ("a hanging upstream", Fault.hang(), (TransientError, AmbiguousSendError)),
    ("a lost answer", Fault.lost(), (TransientError, AmbiguousSendError)),
    ("401", Fault.http(401), (AuthError,)),
    ("403", Fault.http(403), (AuthError,)),
    ("400", Fault.http(400), (PermanentError,)),
    ("422", Fault.http(422), (PermanentError,)),
)


async def upstream_errors_classified(case: ConformanceCase) -> None:
    """Upstream failures become the right DeliveryError (each on a fresh adapter, so a
    circuit opened by one fault does not decide the next)."""
    _exempt(case, "upstream_errors_classified")
    hook = case.upstream
    if hook is None:
        raise NotApplicable("no upstream declared (ConformanceCase.upstream)")
    wrong: list[str] = []
    for what, fault, expected in CLASSIFICATION:
        fault = Fault.hang(hook.hang_seconds) if what == "a hanging upstream" else fault
        async with ConformanceRun(case) as run:
            await run.start()
            assert run.upstream is not None
            run.upstream.fail_next(hook.operation, fault, times=hook.attempts)
            raised: BaseException | None = None
            try:
                await asyncio.wait_for(hook.call(run), CALL_TIMEOUT_SECONDS)
            except (TimeoutError, Exception) as exc:  # classified below
                raised = exc
            answered = bool(run.upstream.calls_to(hook.operation))
        if not answered:
            wrong.append(f"{what}: the call never reached {hook.operation!r}")
        elif fault.kind == "lost" and raised is None:
            continue  # an idempotent target may resend and succeed
        elif not isinstance(raised, expected):
            names = " or ".join(e.__name__ for e in expected)
            wrong.append(f"{what}: expected {names}, got {raised!r}")
        elif isinstance(raised, TransientError) and fault.retry_after is not None and (
            raised.retry_after not in (None, fault.retry_after)
        ):
            wrong.append(f"{what}: retry_after {raised.retry_after} instead of the header's")
    assert not wrong, "misclassified upstream errors:\n  " + "\n  ".join(wrong)


# --- lifecycle ----------------------------------------------------------------------------


def _serving(task: asyncio.Task[object]) -> bool:
    """A task of the test's own servers (one per kept-alive connection to the fake
    upstream or to the adapter's routes), not one the adapter started."""
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "").startswith("RequestHandler.") and (
        "aiohttp" in getattr(getattr(coro, "cr_code", None), "co_filename", ""))


async def _settle(tasks: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    tasks = {t for t in tasks if not _serving(t)}
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while any(not t.done() for t in tasks):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.02)
    return {t for t in tasks if not t.done()}


async def stop_cancels_tasks(case: ConformanceCase) -> None:
    """After `stop()` nothing the adapter started runs on, except what it spawned through
    the context (the core cancels those after `stop()`); after that, nothing at all."""
    _exempt(case, "stop_cancels_tasks")
    async with ConformanceRun(case) as run:
        await run.serve()
        before = asyncio.all_tasks()
        await run.start()
        await asyncio.sleep(0.05)
        spawned = set(run.ctx.tasks)
        await run.stop()
        direct = await _settle(asyncio.all_tasks() - before - spawned)
        assert not direct, (
            "tasks still running after stop() (cancel them in stop or start them with "
            f"ctx.spawn): {sorted(t.get_name() for t in direct)}")
        await run.ctx.aclose()
        left = await _settle(asyncio.all_tasks() - before)
        assert not left, f"tasks left after the core's cleanup: {[t.get_name() for t in left]}"


# --- capabilities -------------------------------------------------------------------------


async def capabilities_match_deliver(case: ConformanceCase) -> None:
    """A channel shows anything it declares, and never fails on content beyond what it
    declares (buttons to max_buttons=0, attachments without `attachments`...): whatever
    a plain text survives, richer content survives too."""
    _exempt(case, "capabilities_match_deliver")
    if not issubclass(case.adapter, ChannelAdapter):
        raise NotApplicable("not a channel")
    async with ConformanceRun(case) as run:
        await run.serve()
        await run.start()
        channel = run.adapter
        assert isinstance(channel, ChannelAdapter)
        caps = channel.capabilities
        conv = run.ctx.add_conversation(tenant=case.tenants[0])
        buttons = tuple(
            Button(f"Keuze {i}", f"/choice{i}") for i in range(max(3, caps.max_buttons)))
        contents = {
            "plain text": Content(text="Goedemorgen"),
            "buttons": Content(text="Kies", buttons=buttons),
            "an attachment": Content(text="Bijlage", attachments=(
                Attachment("https://example.org/a.pdf", "a.pdf", "application/pdf"),)),
            "long text": Content(text="x" * ((caps.max_text_length or 4000) + 10)),
        }
        outcomes: dict[str, BaseException | None] = {}
        for seq, (what, content) in enumerate(contents.items(), start=1):
            message = OutboundMessage(seq, f"conformance-{seq}", Party.BOT, content)
            try:
                await channel.deliver(conv, message)
                outcomes[what] = None
            except DeliveryError as exc:
                outcomes[what] = exc
        plain = outcomes.pop("plain text")
        if plain is not None:
            raise NotApplicable(f"deliver needs a live citizen here ({plain!r})")
        failed = {what: exc for what, exc in outcomes.items() if exc is not None}
        assert not failed, f"plain text delivers but these fail: {failed}"
        if caps.typing:
            await channel.typing(conv, Party.AGENT, True)
        if caps.state_display:
            await channel.control_changed(conv, ControlUpdate(State.QUEUED, queue_position=1))


#: Every check by name, in the order the suite runs them.
CHECKS: Mapping[str, Check] = {
    "config_is_accepted": config_is_accepted,
    "config_refuses_unknown_keys": config_refuses_unknown_keys,
    "routes_cap_bodies": routes_cap_bodies,
    "routes_refuse_malformed_input": routes_refuse_malformed_input,
    "inbound_applied_once": inbound_applied_once,
    "upstream_errors_classified": upstream_errors_classified,
    "stop_cancels_tasks": stop_cancels_tasks,
    "capabilities_match_deliver": capabilities_match_deliver,
}
