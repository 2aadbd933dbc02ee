"""The HTTP calls to the Graph API: send a message, mark one read, download media.

A send ends in one of the delivery error classes the outbox worker understands:

- no connection could be made (nothing was sent): TransientError;
- a timeout or a dropped connection after the request went out: AmbiguousSendError,
  which the channel reconciles through status webhooks (see `sends.py`);
- 429 and Meta's throughput codes: TransientError with Retry-After; 5xx and Meta's
  "try again" codes: TransientError; 131047 (the 24-hour window closed):
  `WindowClosed`; 401/403 and token errors: AuthError; other 4xx: PermanentError.

The access token travels in a header only; errors carry the operation, status and
Meta's error code, never a body (it may quote the citizen's text or number).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from prometheus_client import Counter

from adapters.whatsapp import wire
from handover.sdk import metrics
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from handover.sdk.retry import parse_retry_after

REQUESTS = Counter(
    "handover_whatsapp_requests_total",
    "Calls to the Graph API by operation (send, read, media) and result.",
    ["adapter", "operation", "result"],
    registry=metrics.REGISTRY,
)

MAX_ANSWER_BYTES = 64 * 1024


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

    async def download(self, media_id: str, cap: int) -> tuple[bytes, str]:
        """The medium's bytes and its declared MIME type. Raises MediaTooLarge over
        `cap` (by the declared size, and again while reading: the declaration may lie)."""
        info = await self._call("media", "GET", f"{self.base}/{media_id}", None)
        if not isinstance(info, Mapping) or not isinstance(info.get("url"), str):
            raise PermanentError("media: answer without a url")
        size = info.get("file_size")
        if isinstance(size, int) and size > cap:
            raise MediaTooLarge(f"{size} bytes")
        mime = str(info.get("mime_type") or "application/octet-stream")
        try:
            async with self._session().get(info["url"], headers=self._headers,
                                           timeout=self._timeout, allow_redirects=False) as resp:
                if resp.status != 200:
                    self._answer("media", resp.status, b"", None)
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body.extend(chunk)
                    if len(body) > cap:
                        raise MediaTooLarge(f"over {cap} bytes")
        except (TimeoutError, aiohttp.ClientError):
            REQUESTS.labels(self.adapter, "media", "connection_error").inc()
            raise TransientError("media: download failed") from None
        REQUESTS.labels(self.adapter, "media", "ok").inc()
        return bytes(body), mime

    # --- one call ---------------------------------------------------------------------

    async def _call(self, operation: str, method: str, url: str,
                    body: Mapping[str, Any] | None) -> Any:
        try:
            async with self._session().request(
                method, url, json=body, headers=self._headers, timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except aiohttp.ClientConnectorError:
            REQUESTS.labels(self.adapter, operation, "connect_error").inc()
            raise TransientError(f"{operation}: cannot connect to the Graph API") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            result = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            REQUESTS.labels(self.adapter, operation, result).inc()
            if method == "GET":
                raise TransientError(f"{operation}: {result}") from None
            raise AmbiguousSendError(f"{operation}: {result}") from None
        return self._answer(operation, status, raw, retry_after)

    def _answer(self, operation: str, status: int, raw: bytes,
                retry_after: float | None) -> Any:
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError:
            data = None
        if 200 <= status < 300:
            REQUESTS.labels(self.adapter, operation, "ok").inc()
            return data
        code = wire.error_code(data)
        detail = f"{operation}: Graph API answered {status}" + (f" (code {code})" if code else "")
        result, error = self._classify(status, code, detail, retry_after)
        REQUESTS.labels(self.adapter, operation, result).inc()
        self.log.info("whatsapp.request_failed", operation=operation, status=status, code=code)
        raise error

    @staticmethod
    def _classify(status: int, code: int | None, detail: str,
                  retry_after: float | None) -> tuple[str, Exception]:
        if code == wire.REENGAGEMENT_REQUIRED:
            return "window_closed", WindowClosed(detail)
        if status == 429 or code in wire.RATE_LIMIT_CODES:
            return "rate_limited", TransientError(detail, retry_after=retry_after)
        if status in (401, 403) or code in wire.AUTH_CODES:
            return "auth", AuthError(detail)
        if status >= 500 or status == 408 or code in wire.TRANSIENT_CODES:
            return "server_error", TransientError(detail, retry_after=retry_after)
        return "rejected", PermanentError(detail)


__all__ = ["REQUESTS", "GraphClient", "MediaTooLarge", "WindowClosed"]
