"""Logging helpers for adapters: never log a URL that may carry a token unredacted.
"""

from __future__ import annotations

from handover.observability.logs import (
    redact_url,
)

__all__ = [
    "redact_url",
]
