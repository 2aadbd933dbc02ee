"""Opening a REST conversation: tokens that name their conversation, and the limits.

`POST /conversations` stores nothing. It answers an id and a token; the conversation is
stored when the first message or action arrives with that token. So a flood of opens
costs no storage, and a conversation that is opened and never used leaves nothing.

The token is `r1.<tenant and language, base64url JSON>.<43 random characters>`, and the
id is derived from it: the first 32 hex digits of SHA-256("rest-conversation:" +
token). Nothing needs remembering to check a token before the conversation exists:
whoever holds a token whose derived id is the URL's id may create that conversation,
which is exactly what `POST /conversations` would have let them do. Minting one's own
tokens therefore gains nothing but skipping the open, which is why the creation limits
are applied again when the first message stores the conversation. Once stored, the
token is checked the same way as before: its SHA-256 is the conversation's channel key.

The page context of an open is kept in memory on the instance that answered it until
the first message (at most `PENDING_SECONDS`, at most `MAX_PENDING` opens); a first
message that reaches another instance, or comes later, starts the conversation
without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from handover.sdk import metrics
from handover.sdk.http import ApiError
from handover.sdk.ratelimit import RateLimiter

PREFIX = "r1"
PENDING_SECONDS = 15 * 60
MAX_PENDING = 10_000


def channel_key(token: str) -> str:
    """What the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def conversation_id_of(token: str) -> str:
    """The id a token names (see the module docstring)."""
    return hashlib.sha256(f"rest-conversation:{token}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Opening:
    """What a token says about the conversation it may create."""

    conversation_id: str
    tenant: str
    language: str | None


def mint(tenant: str, language: str | None) -> tuple[str, str]:
    """A new (conversation id, token)."""
    claims = json.dumps([tenant, language or ""], separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(claims).decode().rstrip("=")
    token = f"{PREFIX}.{encoded}.{secrets.token_urlsafe(32)}"
    return conversation_id_of(token), token


def read_token(token: str, conversation_id: str) -> Opening | None:
    """The opening `token` allows for `conversation_id`, or None when it does not
    name that id (or is not a token `mint` makes)."""
    if not hmac.compare_digest(conversation_id_of(token).encode(), conversation_id.encode()):
        return None
    prefix, _, rest = token.partition(".")
    encoded, _, random_part = rest.partition(".")
    if prefix != PREFIX or len(random_part) < 43:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not (isinstance(claims, list) and len(claims) == 2
            and all(isinstance(c, str) for c in claims) and claims[0]):
        return None
    return Opening(conversation_id, claims[0], claims[1] or None)


class PendingContexts:
    """The page context of opens not yet used, by conversation id (bounded, expiring)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()

    def put(self, conversation_id: str, context: dict[str, str], now: float) -> None:
        self._expire(now)
        while len(self._items) >= MAX_PENDING:
            self._items.popitem(last=False)
        self._items[conversation_id] = (now, context)

    def get(self, conversation_id: str, now: float) -> dict[str, str] | None:
        """The context of an open this instance answered (None if unknown here)."""
        self._expire(now)
        item = self._items.get(conversation_id)
        return None if item is None else item[1]

    def discard(self, conversation_id: str) -> None:
        """The conversation is stored: its open is no longer pending."""
        self._items.pop(conversation_id, None)

    def _expire(self, now: float) -> None:
        while self._items:
            at, _ = next(iter(self._items.values()))
            if now - at < PENDING_SECONDS:
                return
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class CreationLimits:
    """Opens per client address, and conversations stored per tenant, per minute."""

    def __init__(self, channel: str, per_address: int, per_tenant: int) -> None:
        self.channel = channel
        self.address = RateLimiter(per_address)
        self.tenant = RateLimiter(per_tenant)

    def check_address(self, address: str, now: float) -> None:
        """429 `rate_limited` when `address` opened too many conversations lately."""
        if not self.address.allow(address, now):
            self._refuse(self.address.wait_seconds(address, now), "address")

    def check_tenant(self, tenant: str, now: float) -> None:
        """429 `rate_limited` when the tenant's channel stores too many lately."""
        if not self.tenant.allow(tenant, now):
            self._refuse(self.tenant.wait_seconds(tenant, now), "tenant")

    def _refuse(self, wait: float, which: str) -> None:
        metrics.HTTP_REJECTED.labels(f"rest_open_{which}").inc()
        raise ApiError(
            429, "rate_limited", "too many new conversations; try again later",
            {"Retry-After": str(max(1, int(wait + 0.999)))},
        )
