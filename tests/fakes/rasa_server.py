"""A fake Rasa server on port 0 speaking Rasa's REST, callback and HTTP API shapes.

What it serves (Rasa 3.x paths and bodies):
- `POST /webhooks/rest/webhook` `{sender, message, metadata}` -> `[bot messages]`
- `POST /webhooks/callback/webhook` -> posts each bot message to `callback_url` (one
  object per request, like Rasa's code; `callback_as_array` posts one array, like its
  docs), then answers `success`.
- `GET /conversations/{id}/tracker`, `POST /conversations/{id}/tracker/events`,
  `POST /conversations/{id}/trigger_intent` (`?token=` checked when `api_token` is set).
- `GET /` -> "Hello from Rasa: 3.6.20".

It keeps a tracker per sender the way Rasa does: a `user` event (with parse_data and
the metadata we sent), the `bot` events, and `action_listen` once the turn is handled.
The bot itself is `responder(sender, message, metadata) -> [messages]` and `classify
(message) -> intent`; tests replace them or queue answers (`answer_next`, e.g. from a
recorded fixture).

Faults, each for the next turn(s): `fail_next(status)` (answer an HTTP error after
recording the turn, like a crashing Rasa), `empty_next()` (Rasa's internal timeout:
`[]` and no `action_listen`), `delay_next(seconds)` (slow answer), `drop_next()` (close
the connection after reading the body), `late_callbacks_next(event)` (callback mode:
a slow bot that posts its messages and answers `success` only once `event` is set: with
a handover meanwhile, its answers arrive after control passed to an agent).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

Messages = list[dict[str, Any]]
Responder = Callable[[str, str, Mapping[str, Any]], Messages | Awaitable[Messages]]

FIXTURES = Path(__file__).resolve().parent.parent / "adapters" / "rasa" / "fixtures"


def fixture(name: str) -> Any:
    """A recorded Rasa exchange, named after the operation (`rest_webhook.json`...)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def echo(sender: str, message: str, metadata: Mapping[str, Any]) -> Messages:
    return [{"recipient_id": sender, "text": f"gem: {message}"}]


@dataclass
class _Fault:
    kind: str
    status: int = 500
    seconds: float = 0.0
    event: asyncio.Event | None = None


@dataclass
class Received:
    """One webhook request as the fake saw it."""

    channel: str
    sender: str
    message: str
    metadata: dict[str, Any]


@dataclass
class FakeRasa:
    responder: Responder = echo
    classify: Callable[[str], str] = lambda message: "nlu_fallback"
    api_token: str | None = None
    callback_url: str | None = None
    callback_as_array: bool = False
    received: list[Received] = field(default_factory=list)
    events_posted: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    intents_triggered: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What `trigger_intent` answers: intent name -> bot messages.
    intent_answers: dict[str, Messages] = field(default_factory=dict)
    api_requests: int = 0
    _faults: list[_Fault] = field(default_factory=list)
    _answers: list[Messages] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    url: str = ""

    # --- scripting ----------------------------------------------------------------------

    def answer_next(self, messages: Messages) -> None:
        self._answers.append(messages)

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        self._faults.extend(_Fault("status", status=status) for _ in range(times))

    def empty_next(self) -> None:
        self._faults.append(_Fault("empty"))

    def delay_next(self, seconds: float) -> None:
        self._faults.append(_Fault("delay", seconds=seconds))

    def drop_next(self) -> None:
        self._faults.append(_Fault("drop"))

    def late_callbacks_next(self, event: asyncio.Event) -> None:
        self._faults.append(_Fault("late", event=event))

    def set_slots(self, sender: str, **slots: Any) -> None:
        self._tracker(sender)["slots"].update(slots)

    def messages_from(self, sender: str) -> list[str]:
        return [r.message for r in self.received if r.sender == sender]

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_post("/webhooks/rest/webhook", self._rest)
        app.router.add_post("/webhooks/callback/webhook", self._callback)
        app.router.add_get("/conversations/{sender}/tracker", self._get_tracker)
        app.router.add_post("/conversations/{sender}/tracker/events", self._post_events)
        app.router.add_post("/conversations/{sender}/trigger_intent", self._trigger_intent)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the bot --------------------------------------------------------------------------

    def _tracker(self, sender: str) -> dict[str, Any]:
        return self.trackers.setdefault(sender, {
            "sender_id": sender, "slots": {}, "latest_message": {}, "events": [],
            "paused": False, "latest_action_name": None, "latest_input_channel": None,
        })

    def _user_turn(self, channel: str, body: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
        sender, message = str(body["sender"]), str(body.get("message") or "")
        metadata = dict(body.get("metadata") or {})
        self.received.append(Received(channel, sender, message, metadata))
        tracker = self._tracker(sender)
        intent = self.classify(message)
        parse_data = {"intent": {"name": intent, "confidence": 0.93}, "entities": [],
                      "text": message}
        tracker["events"].append({"event": "user", "timestamp": time.time(), "text": message,
                                  "parse_data": parse_data, "input_channel": channel,
                                  "metadata": metadata})
        tracker["latest_message"] = parse_data
        tracker["latest_input_channel"] = channel
        return sender, message, metadata

    async def _answer(self, sender: str, message: str, metadata: Mapping[str, Any]) -> Messages:
        if self._answers:
            answer = self._answers.pop(0)
        else:
            result = self.responder(sender, message, metadata)
            answer = result if isinstance(result, list) else await result
        tracker = self._tracker(sender)
        for m in answer:
            tracker["events"].append({"event": "bot", "timestamp": time.time(),
                                      "text": m.get("text"), "data": m})
        tracker["events"].append({"event": "action", "name": "action_listen",
                                  "timestamp": time.time()})
        tracker["latest_action_name"] = "action_listen"
        return answer

    async def _fault(self, request: web.Request) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults.pop(0)
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("fake rasa: connection dropped")
        return fault

    # --- routes -----------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.20")

    async def _rest(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, message, metadata = self._user_turn("rest", body)
        fault = await self._fault(request)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text="Internal Server Error")
        if fault is not None and fault.kind == "empty":
            return web.json_response([])  # what Rasa answers when handling timed out
        return web.json_response(await self._answer(sender, message, metadata))

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, message, metadata = self._user_turn("callback", body)
        fault = await self._fault(request)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text="Internal Server Error")
        if fault is not None and fault.kind == "empty":
            return web.Response(text="success")
        if fault is not None and fault.kind == "late" and fault.event is not None:
            # A slow bot: the answer is produced and posted only once released.
            await fault.event.wait()
        answer = await self._answer(sender, message, metadata)
        await self._post(answer)
        return web.Response(text="success")

    async def _post(self, answer: Messages) -> None:
        assert self._session is not None and self.callback_url is not None
        bodies: list[Any] = [answer] if self.callback_as_array else list(answer)
        for body in bodies:
            async with self._session.post(self.callback_url, json=body) as resp:
                await resp.read()

    def _check_token(self, request: web.Request) -> None:
        self.api_requests += 1
        if self.api_token is not None and request.query.get("token") != self.api_token:
            raise web.HTTPUnauthorized(text='{"status": "failure", "reason": "NotAuthenticated"}',
                                       content_type="application/json")

    async def _get_tracker(self, request: web.Request) -> web.Response:
        self._check_token(request)
        return web.json_response(self._tracker(request.match_info["sender"]))

    async def _post_events(self, request: web.Request) -> web.Response:
        self._check_token(request)
        sender = request.match_info["sender"]
        events = await request.json()
        events = events if isinstance(events, list) else [events]
        self.events_posted[sender].extend(events)
        tracker = self._tracker(sender)
        for event in events:
            tracker["events"].append(event)
            if event.get("event") == "slot":
                tracker["slots"][event["name"]] = event.get("value")
        return web.json_response(tracker)

    async def _trigger_intent(self, request: web.Request) -> web.Response:
        self._check_token(request)
        sender = request.match_info["sender"]
        body = await request.json()
        name = str(body["name"])
        self.intents_triggered.append((sender, name, dict(body.get("entities") or {})))
        answer = [{"recipient_id": sender, **m} for m in self.intent_answers.get(name, [])]
        return web.json_response({"tracker": self._tracker(sender), "messages": answer})
