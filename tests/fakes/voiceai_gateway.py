"""A fake AudioCodes VoiceAI Connect gateway that drives whole calls against a bot URL.

It is the HTTP client of the bot API (HTTP mode), speaking the real wire format over a
real loopback connection: it creates a conversation at the botURL, resolves the
returned URLs against it, posts activities (utterances, the start event with caller and
SIP headers, DTMF, noUserInput, transferStatus), refreshes and disconnects, and records
what the bot made it say and do. Faults a real gateway meets can be injected: a wrong
token, malformed JSON, a retried POST (same activity ids), a lost answer.

Only the text layer is simulated (the real gateway does speech-to-text and
text-to-speech around it).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL


class GatewayError(AssertionError):
    """The bot answered something a gateway cannot use."""


@dataclass
class Answer:
    """The bot's answer to one POST of activities."""

    status: int
    activities: list[dict[str, Any]]
    seconds: float
    body: Any = None

    @property
    def texts(self) -> list[str]:
        return [a["text"] for a in self.activities if a.get("type") == "message"]

    def event(self, name: str) -> dict[str, Any] | None:
        for activity in self.activities:
            if activity.get("type") == "event" and activity.get("name") == name:
                return activity
        return None


@dataclass
class FakeCall:
    gateway: FakeGateway
    conversation: str
    urls: dict[str, URL]
    expires_seconds: int
    #: Everything the caller heard, in order.
    heard: list[str] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    hung_up: bool = False
    _last: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, *activities: dict[str, Any], keep_ids: bool = False) -> Answer:
        """POST activities (each gets an id and timestamp unless it has one)."""
        now = datetime.now(UTC).isoformat()
        out = [{"id": uuid.uuid4().hex, "timestamp": now, **a} for a in activities]
        if keep_ids:
            out = self._last
        self._last = out
        answer = await self.gateway.post(
            self.urls["activitiesURL"], {"conversation": self.conversation, "activities": out}
        )
        self._record(answer)
        return answer

    async def resend(self) -> Answer:
        """The same POST again, with the same activity ids (a gateway retry)."""
        return await self.send(keep_ids=True)

    def _record(self, answer: Answer) -> None:
        if answer.status != 200:
            return
        for activity in answer.activities:
            if not isinstance(activity.get("id"), str) or activity.get("type") not in (
                "message", "event"
            ):
                raise GatewayError(f"not an activity: {activity}")
            if activity["type"] == "message":
                self.heard.append(activity["text"])
            elif activity["name"] == "transfer":
                self.transfers.append(activity["activityParams"])
            elif activity["name"] == "hangup":
                self.hung_up = True

    async def start(self, caller: str = "+31612345678", callee: str = "+31302860000") -> Answer:
        return await self.send({
            "type": "event", "name": "start",
            "parameters": {"caller": caller, "callee": callee, "callerDisplayName": "",
                           "sipHeaders": [{"name": "X-Call-Id", "value": uuid.uuid4().hex}]},
        })

    async def say(self, text: str) -> Answer:
        return await self.send({"type": "message", "text": text,
                                "parameters": {"confidence": 0.93, "recognitionOutput": {}}})

    async def dtmf(self, digits: str) -> Answer:
        return await self.send({"type": "event", "name": "DTMF", "value": digits})

    async def silence(self, count: int = 1) -> Answer:
        """The gateway's no-input event; `value` counts the timeouts in a row."""
        return await self.send({"type": "event", "name": "noUserInput", "value": count})

    async def transfer_status(self, status: str, reason_code: str = "") -> Answer:
        value: dict[str, Any] = {"status": status}
        if reason_code:
            value["reasonCode"] = reason_code
            value["reason"] = 'SIP ;cause=486 ;text="Busy Here"'  # free text, as the SBC has it
        return await self.send({"type": "event", "name": "transferStatus", "value": value})

    async def refresh(self) -> Answer:
        return await self.gateway.post(self.urls["refreshURL"], {"conversation": self.conversation})

    async def hang_up(self, reason: str = "Client Side") -> Answer:
        return await self.gateway.post(
            self.urls["disconnectURL"],
            {"conversation": self.conversation, "reason": reason, "reasonCode": "client-disconnected"},
        )


class FakeGateway:
    """Calls a bot at `bot_url` with `token`; `budget_seconds` is how long it waits
    for an answer (a slower answer is a failure, as on a real gateway)."""

    def __init__(
        self, session: aiohttp.ClientSession, bot_url: URL, token: str,
        budget_seconds: float = 10.0,
    ) -> None:
        self.session = session
        self.bot_url = bot_url
        self.token = token
        self.budget_seconds = budget_seconds

    def _headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token if token is None else token}"}

    async def post(self, url: URL, body: Any, *, raw: bytes | None = None,
                   token: str | None = None) -> Answer:
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self.budget_seconds)
        data = raw if raw is not None else None
        kwargs: dict[str, Any] = {"data": data} if raw is not None else {"json": body}
        async with self.session.post(url, headers={**self._headers(token),
                                                   "Content-Type": "application/json"},
                                     timeout=timeout, **kwargs) as resp:
            payload = await resp.json(content_type=None)
        seconds = time.monotonic() - started
        activities = payload.get("activities", []) if isinstance(payload, dict) else []
        return Answer(resp.status, activities, seconds, payload)

    async def health(self, token: str | None = None) -> int:
        async with self.session.get(self.bot_url, headers=self._headers(token)) as resp:
            return resp.status

    async def call(self) -> FakeCall:
        """Create a conversation for a new call (a new gateway conversation id)."""
        conversation = uuid.uuid4().hex
        answer = await self.post(self.bot_url, {
            "conversation": conversation, "id": uuid.uuid4().hex,
            "timestamp": datetime.now(UTC).isoformat(),
        })
        if answer.status != 200:
            raise GatewayError(f"create failed: {answer.status} {answer.body}")
        body = answer.body
        urls = {k: self.bot_url.join(URL(body[k]))
                for k in ("activitiesURL", "refreshURL", "disconnectURL")}
        return FakeCall(self, conversation, urls, int(body["expiresSeconds"]))
