"""The WhatsApp channel's own metrics (no phone numbers or ids in labels)."""

from __future__ import annotations

from prometheus_client import Counter

from handover.sdk import metrics

TEMPLATE_FALLBACKS = Counter(
    "handover_whatsapp_template_fallbacks_total",
    "Agent replies sent as the approved template because the 24-hour window had closed.",
    ["adapter"],
    registry=metrics.REGISTRY,
)
