"""The socket.io channel's own metrics (bounded labels: the instance name and a fixed
reason). Open connections count in handover_websocket_connections{adapter}."""

from __future__ import annotations

from prometheus_client import Counter

from handover.sdk.metrics import REGISTRY

#: Messages sent again from the transcript to a widget session that came back.
REPLAYED = Counter(
    "handover_socketio_replayed_messages_total",
    "Transcript entries replayed to socket.io widget sessions that reconnected.",
    ["adapter"],
    registry=REGISTRY,
)
#: Refusals after the connection was accepted; those before count in
#: handover_http_rejected_total (socketio_origin, socketio_rate, socketio_tenant).
REFUSED = Counter(
    "handover_socketio_refused_total",
    "socket.io events or connections refused, by reason (invalid_event, no_session, "
    "tenant_mismatch, message_rate, event_flood, unavailable, address_cap).",
    ["adapter", "reason"],
    registry=REGISTRY,
)
