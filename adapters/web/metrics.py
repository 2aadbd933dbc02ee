"""The web channel's own metrics (bounded labels: the instance name and a fixed reason)."""

from __future__ import annotations

from prometheus_client import Counter

from handover.sdk.metrics import REGISTRY

#: Messages sent again from the transcript to a widget that resumed (reconnect, reload).
REPLAYED = Counter(
    "handover_web_replayed_messages_total",
    "Transcript entries replayed to widgets that resumed a conversation.",
    ["adapter"],
    registry=REGISTRY,
)
#: Refusals after the upgrade; those before it count in handover_http_rejected_total.
REFUSED = Counter(
    "handover_web_refused_total",
    "Widget frames or sockets refused, by reason (token, protocol, hello_timeout, "
    "oversize, frame_flood, message_rate, invalid_frame, unavailable, unknown_tenant).",
    ["adapter", "reason"],
    registry=REGISTRY,
)
