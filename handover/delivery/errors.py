"""How an adapter tells the delivery worker what went wrong.

Adapters raise one of these from a send. Anything else raised is treated as transient,
so a bug in an adapter delays a message instead of losing it.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class for classified delivery failures."""


class TransientError(DeliveryError):
    """Try again later (timeouts, 5xx, 429). `retry_after` is the sender's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(DeliveryError):
    """Credentials refused: the adapter is unhealthy; retried slowly, operators alerted."""


class PermanentError(DeliveryError):
    """The target will never accept this item (4xx, invalid recipient): dead-letter it."""


class AmbiguousSendError(DeliveryError):
    """The request body may have reached the target but no answer was recorded.

    Whether the item is sent again depends on the target's `resend_safe` declaration.
    """
