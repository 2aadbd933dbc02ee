"""The metrics an adapter may touch, and the registry its own metrics join.

An adapter defines its own metrics (prefix `handover_`, bounded labels, never a
conversation or phone number) with `registry=REGISTRY` so they appear on /metrics.
"""

from __future__ import annotations

from handover.metrics import (
    HTTP_REJECTED,
    REGISTRY,
    UPSTREAM_DURATION,
    UPSTREAM_ERRORS,
    WEBHOOK_SIGNATURE_FAILURES,
    WEBSOCKET_CONNECTIONS,
)

__all__ = [
    "HTTP_REJECTED",
    "REGISTRY",
    "UPSTREAM_DURATION",
    "UPSTREAM_ERRORS",
    "WEBHOOK_SIGNATURE_FAILURES",
    "WEBSOCKET_CONNECTIONS",
]
