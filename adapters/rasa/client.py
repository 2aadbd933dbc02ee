"""Rasa's wire format and HTTP calls: the REST and callback webhooks and the HTTP API.

Every call maps failures to the delivery error classes, with one rule above all: Rasa's
webhooks have no idempotency key, so a turn whose request may have reached Rasa is
never sent again. Only a connection that was never established (refused, DNS, connect
timeout) is `TransientError`; a timeout or a dropped connection after that, and any
5xx, is `AmbiguousSendError` (Rasa may have processed the turn, and its tracker then
holds it).

Paths (Rasa 3.x):
- `POST /webhooks/rest/webhook` `{sender, message, metadata}` -> `[{recipient_id, ...}]`
- `POST /webhooks/callback/webhook` (same body) -> `"success"`; the bot's messages are
  posted to the callback URL from credentials.yml while the turn is handled.
- `GET /conversations/{id}/tracker`, `POST /conversations/{id}/tracker/events`,
  `POST /conversations/{id}/trigger_intent` `{name, entities}` (HTTP API, `?token=`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from handover.sdk.retry import in_request_retry, parse_retry_after

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
    ) -> None:
        self.session = session
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
        status, body, headers = await self._send_turn(self.url + REST_WEBHOOK, turn)
        _raise_for_status(status, body, headers)
        try:
            data = json.loads(body)
        except ValueError:
            # Rasa handled the turn (2xx) but we cannot read what it said.
            raise AmbiguousSendError("rasa: the REST answer is not JSON") from None
        if not isinstance(data, list):
            raise AmbiguousSendError("rasa: the REST answer is not a JSON array")
        return data

    async def callback_turn(self, turn: TurnRequest) -> None:
        """Send a turn through the callback channel (answers arrive on our route)."""
        status, body, headers = await self._send_turn(self.url + CALLBACK_WEBHOOK, turn)
        _raise_for_status(status, body, headers)

    async def _send_turn(
        self, url: str, turn: TurnRequest
    ) -> tuple[int, bytes, Mapping[str, str]]:
        # Connection errors before anything was sent are retried in-request; tenacity
        # retries only TransientError, which `_post_once` raises only for those.
        async for attempt in in_request_retry(attempts=2, max_wait=0.5):
            with attempt:
                return await self._post_once(url, turn.body())
        raise AssertionError("unreachable: in_request_retry reraises")  # pragma: no cover

    async def _post_once(
        self, url: str, body: Mapping[str, Any]
    ) -> tuple[int, bytes, Mapping[str, str]]:
        try:
            async with self.session.post(url, json=body, timeout=self.turn_timeout) as resp:
                data = await resp.content.read(_MAX_ANSWER_BYTES + 1)
                return resp.status, data, dict(resp.headers)
        except aiohttp.ConnectionTimeoutError as exc:
            raise TransientError(f"rasa: connect timeout ({type(exc).__name__})") from None
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"rasa: cannot connect ({type(exc).__name__})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Connected, so the body may have been sent: never resend.
            raise AmbiguousSendError(f"rasa: no answer ({type(exc).__name__})") from None

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
            async with self.session.request(
                method, url, params=params, json=body, timeout=self.api_timeout
            ) as resp:
                raw = await resp.content.read(_MAX_ANSWER_BYTES + 1)
                status = resp.status
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            raise RasaApiError(f"{method}: cannot connect ({type(exc).__name__})",
                               sent=False) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaApiError(f"{method} failed: {type(exc).__name__}") from None
        if status in (401, 403):
            raise RasaApiError(f"{method} refused: HTTP {status} (check api_token)")
        if status >= 300:
            raise RasaApiError(f"{method} failed: HTTP {status}")
        if len(raw) > _MAX_ANSWER_BYTES:
            raise RasaApiError(f"{method}: answer larger than {_MAX_ANSWER_BYTES} bytes")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise RasaApiError(f"{method}: answer is not JSON") from None


def _raise_for_status(status: int, body: bytes, headers: Mapping[str, str]) -> None:
    """Classify a webhook answer's status (the turn reached Rasa in every case)."""
    if 200 <= status < 300:
        if len(body) > _MAX_ANSWER_BYTES:
            raise AmbiguousSendError("rasa: answer too large")
        return
    if status in (401, 403):
        # A proxy in front of Rasa refused us: nothing was processed.
        raise AuthError(f"rasa: HTTP {status}")
    if status == 429 or status == 503:
        # Refused before handling (rate limit, overloaded proxy): safe to try again.
        raise TransientError(f"rasa: HTTP {status}", parse_retry_after(headers.get("Retry-After")))
    if status >= 500:
        raise AmbiguousSendError(f"rasa: HTTP {status}")
    raise PermanentError(f"rasa: HTTP {status}")
