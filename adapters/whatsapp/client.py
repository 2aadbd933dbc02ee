"""The HTTP calls to the Graph API: send a message, mark one read, download media.

Every call goes through `handover.sdk.upstream`; a send ends in one of the delivery
error classes the outbox worker understands:

- no connection could be made (nothing was sent): TransientError;
- a timeout or a dropped connection after the request went out: AmbiguousSendError,
  which the channel reconciles through status webhooks (see `sends.py`);
- 429 and Meta's throughput codes: TransientError with Retry-After; 408, 425, 5xx and
  Meta's "try again" codes: TransientError; 131047 (the 24-hour window closed):
  `WindowClosed`; 401/403 and token errors: AuthError; other 4xx: PermanentError.

The access token travels in a header only; errors carry the operation, status and
Meta's error code, never a body (it may quote the citizen's text or number).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from prometheus_client import Counter

from adapters.whatsapp import wire
from handover.sdk import metrics, upstream
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    DeliveryError,
    PermanentError,
    TransientError,
)
from handover.sdk.metrics import UPSTREAM_DURATION
from handover.sdk.retry import parse_retry_after

REQUESTS = Counter(
    "handover_whatsapp_requests_total",
    "Calls to the Graph API by operation (send, read, media) and result.",
    ["adapter", "operation", "result"],
    registry=metrics.REGISTRY,
)


#: Bytes read from the CDN at a time while a medium streams to disk.
_CHUNK = 64 * 1024
#: Where a download's chunks go, in order.
MediaSink = Callable[[bytes], Awaitable[None]]


class WindowClosed(PermanentError):
    """Meta refused a free-form message: the 24-hour customer service window is closed."""


class MediaTooLarge(Exception):
    """The medium is larger than the cap for its type."""


class GraphClient:
    """One WhatsApp business account's token against one Graph API base URL."""

    def __init__(self, *, adapter: str, session: Callable[[], aiohttp.ClientSession],
                 graph_url: str, api_version: str, access_token: str,
                 timeout_seconds: float, log: Any) -> None:
        self.adapter = adapter
        self._session = session
        self.base = f"{graph_url.rstrip('/')}/{api_version}"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # A large medium takes longer than an API call: the limit is on silence.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout_seconds, sock_read=timeout_seconds)
        self.log = log

    async def send(self, phone_number_id: str, body: Mapping[str, Any]) -> str:
        """Send one message; returns its wamid."""
        data = await self._call("send", "POST", f"{self.base}/{phone_number_id}/messages", body)
        wamid = wire.sent_wamid(data)
        if wamid is None:
            # Accepted (2xx) without the id we reconcile on: the message may be out.
            REQUESTS.labels(self.adapter, "send", "invalid_answer").inc()
            raise AmbiguousSendError("send: answer without a message id")
        return wamid

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        await self._call("read", "POST", f"{self.base}/{phone_number_id}/messages",
                         wire.read_body(wamid))

    async def download(self, media_id: str, cap: int, sink: MediaSink) -> str:
        """Stream the medium into `sink`; returns its declared MIME type. Raises
        MediaTooLarge over `cap` (by the declared size, and again while reading: the
        declaration may lie). Never holds more than one chunk in memory."""
        info = await self._call("media", "GET", f"{self.base}/{media_id}", None)
        if not isinstance(info, Mapping) or not isinstance(info.get("url"), str):
            raise PermanentError("media: answer without a url")
        size = info.get("file_size")
        if isinstance(size, int) and size > cap:
            raise MediaTooLarge(f"{size} bytes")
        mime = str(info.get("mime_type") or "application/octet-stream")
        # The medium's URL is Meta's CDN, fetched with the same token.
        started = time.perf_counter()
        try:
            async with self._session().get(
                info["url"], headers=self._headers, timeout=self._download_timeout,
                allow_redirects=False,
            ) as resp:
                if resp.status >= 300:
                    body = await resp.content.read(upstream.MAX_ANSWER_BYTES)
                    answer = upstream.Answer(resp.status, body, False, parse_retry_after(
                        resp.headers.get("Retry-After")))
                    error = self._refusal("media", answer)
                    raise error or PermanentError(f"media: Graph API answered {resp.status}")
                written = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    written += len(chunk)
                    if written > cap:
                        REQUESTS.labels(self.adapter, "media", "too_large").inc()
                        raise MediaTooLarge(f"over {cap} bytes")
                    await sink(chunk)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            REQUESTS.labels(self.adapter, "media", "connect_error").inc()
            raise upstream.Unreachable("media: cannot connect") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            REQUESTS.labels(self.adapter, "media", reason).inc()
            raise upstream.NoAnswer("media: download interrupted", reason) from None
        finally:
            UPSTREAM_DURATION.labels(self.adapter, "media").observe(
                time.perf_counter() - started)
        REQUESTS.labels(self.adapter, "media", "ok").inc()
        return mime

    # --- one call ---------------------------------------------------------------------

    async def _call(self, operation: str, method: str, url: str,
                    body: Mapping[str, Any] | None) -> Any:
        return (await self._request(operation, method, url, body)).json()

    async def _request(self, operation: str, method: str, url: str,
                       body: Mapping[str, Any] | None,
                       max_bytes: int = upstream.MAX_ANSWER_BYTES) -> upstream.Answer:
        try:
            answer = await upstream.call(
                self._session(), method, url, adapter=self.adapter, operation=operation,
                what=operation, timeout=self._timeout, json_body=body, headers=self._headers,
                classify=lambda a: self._refusal(operation, a), max_bytes=max_bytes,
            )
        except (upstream.Unreachable, upstream.NoAnswer, upstream.AnswerLost) as exc:
            REQUESTS.labels(self.adapter, operation, exc.reason).inc()
            raise
        REQUESTS.labels(self.adapter, operation, "ok").inc()
        return answer

    def _refusal(self, operation: str, answer: upstream.Answer) -> DeliveryError | None:
        """Meta's refusals by status and by Graph API error code (None for 2xx)."""
        if answer.ok:
            return None
        code = wire.error_code(answer.json())
        detail = f"{operation}: Graph API answered {answer.status}" + (
            f" (code {code})" if code else "")
        result, error = _classify(answer, code, detail)
        REQUESTS.labels(self.adapter, operation, result).inc()
        self.log.info("whatsapp.request_failed", operation=operation, status=answer.status,
                      code=code)
        return error


def _classify(answer: upstream.Answer, code: int | None,
              detail: str) -> tuple[str, DeliveryError]:
    """Meta's own codes say more than the status (a 400 may be the closed 24-hour
    window or a throughput limit); what they leave open is classed by status."""
    status = answer.status
    if code == wire.REENGAGEMENT_REQUIRED:
        return "window_closed", WindowClosed(detail)
    if status == 429 or code in wire.RATE_LIMIT_CODES:
        return "rate_limited", TransientError(detail, retry_after=answer.retry_after)
    if status in (401, 403) or code in wire.AUTH_CODES:
        return "auth", AuthError(detail)
    if code in wire.TRANSIENT_CODES:
        return "server_error", TransientError(detail, retry_after=answer.retry_after)
    error = upstream.default_error(answer, detail) or PermanentError(detail)
    return ("server_error" if isinstance(error, TransientError) else "rejected"), error


__all__ = ["REQUESTS", "GraphClient", "MediaSink", "MediaTooLarge", "WindowClosed"]
