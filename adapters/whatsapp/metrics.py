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
UNCONFIRMED_SENDS = Counter(
    "handover_whatsapp_unconfirmed_sends_total",
    "Sends whose fate stayed unknown (answer lost, no status from Meta within "
    "reconcile_seconds), by what the channel did: given_up (the agent is told for an "
    "agent's message) or resent.",
    ["adapter", "action"],
    registry=metrics.REGISTRY,
)
