"""Every Prometheus metric of the daemon, in one place.

One prefix (`handover_`), base units (seconds, bytes), `_total` counters, and labels
with a bounded set of values only: tenant, channel/adapter instance names, kinds,
outcomes and reasons from fixed vocabularies. Never a conversation id, phone number or
anything personal.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: NPS categories (labels of SURVEY_ANSWERS).
PROMOTER, PASSIVE, DETRACTOR, UNANSWERED = "promoter", "passive", "detractor", "unanswered"


def nps_category(score: int | None) -> str:
    """The NPS category of a 0-10 score: promoters 9-10, passives 7-8, detractors 0-6."""
    if score is None:
        return UNANSWERED
    if score >= 9:
        return PROMOTER
    return PASSIVE if score >= 7 else DETRACTOR


REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)

INBOUND_EVENTS = Counter(
    "handover_inbound_events_total",
    "Inbound events by type and outcome (applied, duplicate, stale, refused).",
    ["event", "outcome"],
    registry=REGISTRY,
)
STALE_DROPPED = Counter(
    "handover_stale_dropped_total",
    "Work produced under an older control epoch, dropped instead of delivered.",
    ["event"],
    registry=REGISTRY,
)
TRANSITIONS = Counter(
    "handover_state_transitions_total",
    "Control state changes.",
    ["from_state", "to_state"],
    registry=REGISTRY,
)
HANDOVERS = Counter(
    "handover_handovers_total",
    "Handover requests by outcome (queued, outside_hours, unavailable, refused, "
    "answered, timeout, abandoned, declined, desk_failed; on calls: transferring, "
    "transferred, transfer_failed, transfer_unconfirmed).",
    ["tenant", "outcome"],
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "handover_queue_wait_seconds",
    "Time from queueing at the desk until an agent joined or the citizen gave up.",
    ["tenant", "outcome"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
RELAY_LATENCY = Histogram(
    "handover_relay_latency_seconds",
    "From the durable write of an outbox item until its target confirmed delivery.",
    ["target"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "handover_deliveries_total",
    "Delivery attempts by target, kind and result (sent, retry, dead, ambiguous, expired).",
    ["target", "kind", "result"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "handover_dead_letters_total",
    "Items moved to the dead letters, by target and reason class.",
    ["target", "reason"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "handover_outbox_depth",
    "Items waiting in the outbox.",
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "handover_outbox_oldest_age_seconds",
    "Age of the oldest item waiting in the outbox.",
    registry=REGISTRY,
)
DELIVERY_DURATION = Histogram(
    "handover_delivery_duration_seconds",
    "Time an adapter took to send one outbox item (all its upstream calls together).",
    ["target", "kind"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DELIVERY_ERRORS = Counter(
    "handover_delivery_errors_total",
    "Outbox items whose send failed and will be retried, by adapter and error class. "
    "Each HTTP call to an upstream is counted apart in handover_upstream_errors_total.",
    ["adapter", "error"],
    registry=REGISTRY,
)
UPSTREAM_DURATION = Histogram(
    "handover_upstream_request_duration_seconds",
    "Duration of each HTTP call to an upstream service (bot, desk, channel APIs).",
    ["adapter", "operation"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "handover_upstream_errors_total",
    "Failed HTTP calls to upstream services by adapter and error class (transient, auth, "
    "permanent, ambiguous).",
    ["adapter", "error"],
    registry=REGISTRY,
)
ADAPTER_HEALTH = Gauge(
    "handover_adapter_up",
    "1 when the adapter's upstream is connected, 0 otherwise.",
    ["adapter", "kind"],
    registry=REGISTRY,
)
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "handover_webhook_signature_failures_total",
    "Webhook requests refused for a missing or wrong signature.",
    ["adapter"],
    registry=REGISTRY,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "handover_websocket_connections",
    "Open citizen websocket connections.",
    ["adapter"],
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Histogram(
    "handover_event_loop_lag_seconds",
    "How late the event loop ran a timer that should have run immediately.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
SURVEY_SCORES = Histogram(
    "handover_survey_score",
    "NPS answers (0-10) after a livechat.",
    ["tenant"],
    buckets=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    registry=REGISTRY,
)
SURVEY_ANSWERS = Counter(
    "handover_survey_answers_total",
    "Ends of the NPS survey by channel and category: promoter (9-10), passive (7-8), "
    "detractor (0-6) or unanswered (skipped or timed out).",
    ["tenant", "channel", "category"],
    registry=REGISTRY,
)
RETENTION_PURGED = Counter(
    "handover_retention_purged_total",
    "Conversations purged by retention: what = bodies (bodies removed, metadata kept) or "
    "conversations (deleted altogether).",
    ["tenant", "what"],
    registry=REGISTRY,
)
HTTP_REJECTED = Counter(
    "handover_http_rejected_total",
    "Inbound HTTP requests refused before processing, by reason.",
    ["reason"],
    registry=REGISTRY,
)
STORAGE_GUARD = Gauge(
    "handover_storage_guard_refusing",
    "1 while the storage guard refuses new conversations (the [store] max_conversations "
    "ceiling or min_free_bytes threshold is reached), else 0. Existing conversations "
    "keep working.",
    registry=REGISTRY,
)
STORAGE_FREE_BYTES = Gauge(
    "handover_storage_free_bytes",
    "Free bytes on the SQLite database's volume, as the storage guard last read it.",
    registry=REGISTRY,
)
CONVERSATIONS_REFUSED = Counter(
    "handover_conversations_refused_total",
    "New conversations refused: reason = storage (the storage guard) or rate (a "
    "channel's creation limit per address or tenant).",
    ["channel", "reason"],
    registry=REGISTRY,
)
CIRCUIT_STATE = Gauge(
    "handover_circuit_state",
    "State of a circuit breaker guarding an upstream: 0 closed, 1 half-open (probing), 2 open.",
    ["circuit"],
    registry=REGISTRY,
)
CIRCUIT_REJECTED = Counter(
    "handover_circuit_rejected_total",
    "Calls refused without trying because the circuit to the upstream was open.",
    ["circuit"],
    registry=REGISTRY,
)
LOOP_RESTARTS = Counter(
    "handover_loop_restarts_total",
    "Background loops (outbox worker, timers, leases, loop lag, housekeeping) restarted "
    "after they died; any increase deserves a look at the logs (daemon.loop_died).",
    ["loop"],
    registry=REGISTRY,
)
CALLBACK_REQUESTS = Counter(
    "handover_callback_requests_total",
    "Callback requests (contactverzoeken) by step reached: offered, completed, declined "
    "(no consent), abandoned (stopped, timed out or left after consenting).",
    ["tenant", "channel_type", "outcome"],
    registry=REGISTRY,
)
REGISTRATIONS = Counter(
    "handover_registrations_total",
    "Registrations sent to registration targets, by kind (registry.callback, "
    "registry.contact) and result (registered, retry, dead, ambiguous, expired).",
    ["tenant", "kind", "result"],
    registry=REGISTRY,
)
# Contention between daemon instances on one database (bench/scaleout.py reads them per
# 1,000 relayed messages; with one instance they stay at or near zero).
VERSION_CONFLICTS = Counter(
    "handover_version_conflicts_total",
    "Events whose step found the conversation changed since it was read (by another "
    "instance or a concurrent write) and were applied again on a fresh read.",
    registry=REGISTRY,
)
LEASE_STEALS = Counter(
    "handover_lease_steals_total",
    "Outbox leases taken from another owner: lease = expired (claimed after the other "
    "owner's lease ran out) or citizen_takeover (a citizen's connection moved here and "
    "its queued items came along).",
    ["lease"],
    registry=REGISTRY,
)
CLAIM_RETRIES = Counter(
    "handover_claim_retries_total",
    "Outbox claims made on news of new work that found nothing to claim (another "
    "instance, or an earlier claim here, had it), so the worker claims again later.",
    registry=REGISTRY,
)
STORE_TRANSACTIONS = Counter(
    "handover_store_transactions_total",
    "Write transactions the store ran, by engine and by what they wrote: step (an event "
    "applied), claim, in_flight, complete, outbox (batched completions and marks), "
    "reschedule, dead_letter, release, echo, conversation, timers, connections, other. "
    "SQLite folds concurrent ones into one commit (group commit); this counts them "
    "one by one. Divided by relayed messages it is the durable path's cost.",
    ["engine", "kind"],
    registry=REGISTRY,
)
STORE_ROUND_TRIPS = Counter(
    "handover_store_round_trips_total",
    "Statements sent to PostgreSQL, one network round trip each, by the store operation "
    "they served (the same kinds as handover_store_transactions_total, and read).",
    ["kind"],
    registry=REGISTRY,
)
