"""Rasa's wire format and HTTP calls: the REST and callback webhooks and the HTTP API.

Every call goes through `handover.sdk.upstream` and ends in the delivery error classes,
with one rule above all: Rasa's webhooks have no idempotency key, so a turn whose
request may have reached Rasa is never sent again. Only a connection that was never
established (refused, DNS, connect timeout) and the statuses that say Rasa did not
handle it (408, 425, 429, 503) are `TransientError`; a timeout or a dropped connection
after that, and any other 5xx, is `AmbiguousSendError` (Rasa may have processed the
turn, and its tracker then holds it).

Paths (Rasa 3.x):
- `POST /webhooks/rest/webhook` `{sender, message, metadata}` -> `[{recipient_id, ...}]`
- `POST /webhooks/callback/webhook` (same body) -> `"success"`; the bot's messages are
  posted to the callback URL from credentials.yml while the turn is handled.
- `GET /conversations/{id}/tracker`, `POST /conversations/{id}/tracker/events`,
  `POST /conversations/{id}/trigger_intent` `{name, entities}` (HTTP API, `?token=`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from handover.sdk import upstream
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    DeliveryError,
    PermanentError,
)
from handover.sdk.retry import in_request_retry

__all__ = ["RasaApiError", "RasaClient", "TurnRequest"]

REST_WEBHOOK = "/webhooks/rest/webhook"
CALLBACK_WEBHOOK = "/webhooks/callback/webhook"
#: The metadata key carrying our message id, so the tracker's user event can be found.
MESSAGE_ID_KEY = "handover_message_id"
_MAX_ANSWER_BYTES = 1024 * 1024


class RasaApiError(Exception):
    """An HTTP API call failed (tracker, events, trigger_intent). `sent` is False only
    when the request surely never reached Rasa (no connection)."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One citizen turn as Rasa's webhooks take it."""

    sender: str
    message: str
    metadata: Mapping[str, Any]

    def body(self) -> dict[str, Any]:
        return {"sender": self.sender, "message": self.message, "metadata": dict(self.metadata)}


class RasaClient:
    """Calls one Rasa server. Stateless apart from the URLs and timeouts it was given."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        turn_timeout: float,
        connect_timeout: float,
        api_url: str = "",
        api_token: str | None = None,
        adapter: str = "rasa",
    ) -> None:
        self.session = session
        #: The instance name: the `adapter` label of the upstream metrics.
        self.adapter = adapter
        self.url = url.rstrip("/")
        self.api_url = (api_url or url).rstrip("/")
        self.api_token = api_token
        # sock_connect bounds the phase where nothing was sent (a timeout there is
        # safe to retry); the total bounds the whole turn as the citizen waits for it.
        self.turn_timeout = aiohttp.ClientTimeout(
            total=turn_timeout, sock_connect=min(connect_timeout, turn_timeout)
        )
        self.api_timeout = self.turn_timeout

    # --- webhooks ---------------------------------------------------------------------

    async def rest_turn(self, turn: TurnRequest) -> list[Any]:
        """Send a turn through the REST channel; the bot's messages (maybe `[]`)."""
        answer = await self._send_turn(self.url + REST_WEBHOOK, turn, "rest_turn")
        data = answer.json()
        if data is None:
            # Rasa handled the turn (2xx) but we cannot read what it said.
            raise AmbiguousSendError("rasa: the REST answer is not JSON")
        if not isinstance(data, list):
            raise AmbiguousSendError("rasa: the REST answer is not a JSON array")
        return data

    async def callback_turn(self, turn: TurnRequest) -> None:
        """Send a turn through the callback channel (answers arrive on our route)."""
        await self._send_turn(self.url + CALLBACK_WEBHOOK, turn, "callback_turn")

    async def _send_turn(self, url: str, turn: TurnRequest, operation: str) -> upstream.Answer:
        # Only a connection that was never made is retried in-request: a refusal such
        # as 429 or 503 goes back to the outbox, whose backoff honours Retry-After.
        async for attempt in in_request_retry(
            attempts=2, max_wait=0.5, retry_on=upstream.Unreachable
        ):
            with attempt:
                return await upstream.call(
                    self.session, "POST", url, adapter=self.adapter, operation=operation,
                    what="rasa", timeout=self.turn_timeout, json_body=turn.body(),
                    classify=_turn_error, max_bytes=_MAX_ANSWER_BYTES,
                )
        raise AssertionError("unreachable: in_request_retry reraises")  # pragma: no cover

    # --- HTTP API (best effort: failures raise RasaApiError) ---------------------------

    def _api(self, conversation: str, suffix: str) -> tuple[str, dict[str, str]]:
        url = f"{self.api_url}/conversations/{quote(conversation, safe='')}{suffix}"
        params = {"token": self.api_token} if self.api_token else {}
        return url, params

    async def tracker(self, conversation: str) -> dict[str, Any]:
        """The conversation's tracker (`GET /conversations/{id}/tracker`)."""
        url, params = self._api(conversation, "/tracker")
        data = await self._api_call("GET", url, params, None)
        if not isinstance(data, dict):
            raise RasaApiError("tracker: not a JSON object")
        return data

    async def append_events(self, conversation: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Append events to the tracker (`POST .../tracker/events`)."""
        url, params = self._api(conversation, "/tracker/events")
        await self._api_call("POST", url, params, [dict(e) for e in events])

    async def trigger_intent(
        self, conversation: str, name: str, entities: Mapping[str, Any]
    ) -> list[Any]:
        """Trigger an intent; the bot messages it produced (`messages` of the answer)."""
        url, params = self._api(conversation, "/trigger_intent")
        params = {**params, "output_channel": "latest"}
        data = await self._api_call("POST", url, params, {"name": name, "entities": dict(entities)})
        messages = data.get("messages") if isinstance(data, dict) else None
        return messages if isinstance(messages, list) else []

    async def _api_call(
        self, method: str, url: str, params: Mapping[str, str], body: Any
    ) -> Any:
        try:
            answer = await upstream.call(
                self.session, method, url, adapter=self.adapter, operation="api",
                what="api", timeout=self.api_timeout, json_body=body, params=params,
                classify=_api_error, max_bytes=_MAX_ANSWER_BYTES,
            )
        except upstream.Unreachable as exc:
            raise RasaApiError(f"{method} {exc}", sent=False) from None
        except DeliveryError as exc:
            raise RasaApiError(f"{method} {exc}") from None
        if not answer.body.strip():
            return None
        data = answer.json()
        if data is None:
            raise RasaApiError(f"{method}: answer is not JSON")
        return data


def _api_error(answer: upstream.Answer) -> DeliveryError | None:
    """The HTTP API is best effort: every failure is a RasaApiError to the caller."""
    if answer.status in (401, 403):
        return AuthError(f"refused: HTTP {answer.status} (check api_token)")
    if answer.status >= 300:
        return PermanentError(f"failed: HTTP {answer.status}")
    if answer.too_large:
        return PermanentError(f"answer larger than {_MAX_ANSWER_BYTES} bytes")
    return None


def _turn_error(answer: upstream.Answer) -> DeliveryError | None:
    """A webhook answer's class. The turn reached Rasa in every case, and Rasa's webhooks
    have no idempotency key, so only what proves it was not handled may be retried."""
    status = answer.status
    if answer.ok and answer.too_large:
        return AmbiguousSendError("rasa: answer too large")
    if status >= 500 and status != 503:
        # Rasa may have processed the turn before failing: never resend it.
        return AmbiguousSendError(f"rasa: HTTP {status}")
    # 429 and 503: refused before handling (rate limit, overloaded proxy); 401/403: a
    # proxy in front of Rasa refused us; other 4xx: Rasa will never take it.
    return upstream.default_error(answer, f"rasa: HTTP {status}")
