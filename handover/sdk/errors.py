"""The errors adapters raise and catch.

Delivery: adapters raise one of the `DeliveryError` classes from a send. Anything else
raised is treated as transient, so a bug in an adapter delays a message instead of
losing it.

Lookup: `AdapterContext.ingest` raises `UnknownConversation`, `resolve_conversation`
raises `UnknownTenant`; an HTTP route answers both with a 404 (see
`handover.sdk.http.ingest_or_error`).

Configuration: `parse_config` raises `ConfigIssues` with every `ConfigIssue` found.
"""

from __future__ import annotations

from collections.abc import Sequence


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


class UnknownConversation(LookupError):
    """An event names a conversation the store does not know."""


class UnknownTenant(LookupError):
    """A channel names a tenant that is not configured."""


class StorageFull(Exception):
    """The store refuses new conversations for now (its configured ceiling or free-disk
    threshold is reached; see the `[store]` section). Conversations that exist keep
    working. Raised by `AdapterContext.resolve_conversation` only when it would create
    one; `retry_after` is the seconds a client should wait before trying again."""

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__("the store takes no new conversations now")
        self.retry_after = retry_after


class ConfigIssue(Exception):
    """A configuration value is wrong; `path` is its dotted path in the file."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class ConfigIssues(Exception):
    """Several configuration problems at once, each with its path."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = list(issues)
