"""The longer SQL statements of the PostgreSQL engine (parameters are $n)."""

from __future__ import annotations

CONVERSATION_COLUMNS = (
    "id, tenant, channel, channel_key, language, state, epoch, handover_no, seq, "
    "agent_name, bot_escalations, context, created_at, updated_at, version"
)
BY_IDENTITY = (
    f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
    "WHERE tenant = $1 AND channel = $2 AND channel_key = $3"
)
INSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)"
)

INSERT_KEY = (
    "INSERT INTO inbox (source, source_id, received_at) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING"
)


INSERT_SURVEY = (
    "INSERT INTO survey_answers (conversation_id, tenant, channel, handover_no, score, "
    "comment, outcome, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)

OUTBOX_COLUMNS = (
    "o.id, o.conversation_id, c.tenant, o.target, o.kind, o.payload, o.epoch, "
    "o.correlation_id, o.created_at, o.attempts, o.in_flight, o.last_error, "
    "o.next_attempt_at"
)

# The head of a queue is the row no lower id of the same (conversation, target) precedes.
_IS_HEAD = (
    "NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.conversation_id = o.conversation_id "
    "AND p.target = o.target AND p.id < o.id)"
)

# A citizen-bound item of a conversation whose live socket another instance holds is
# that instance's to deliver (see Store.hold_connections). $1 now, $4 owner.
_NOT_HELD_ELSEWHERE = (
    "(o.target <> 'citizen' OR NOT EXISTS (SELECT 1 FROM connection_leases AS l"
    " WHERE l.conversation_id = o.conversation_id AND l.owner <> $4 AND l.until > $1))"
)

# $1 now, $2 lease until, $3 limit, $4 owner, $5/$6 excluded (conversation, target) pairs.
#
# SKIP LOCKED passes over heads that another instance is leasing right now instead of
# waiting for it. The row behind such a head is no head (the locked row still exists
# in our snapshot), so a concurrent claimer never gets two rows of one queue. A head
# leased and committed by another instance after our snapshot was taken is locked by us
# and then re-checked against its newest version, whose lease excludes it.
CLAIM = (
    "WITH picked AS ("
    " SELECT o.id, o.lease_owner AS previous_owner FROM outbox AS o"
    " WHERE o.next_attempt_at <= $1"
    " AND (o.lease_until IS NULL OR o.lease_until < $1)"
    f" AND {_IS_HEAD}"
    f" AND {_NOT_HELD_ELSEWHERE}"
    " AND NOT EXISTS (SELECT 1 FROM unnest($5::text[], $6::text[]) AS x (conv, target)"
    "  WHERE x.conv = o.conversation_id AND x.target = o.target)"
    " ORDER BY o.next_attempt_at, o.id LIMIT $3"
    " FOR UPDATE OF o SKIP LOCKED) "
    "UPDATE outbox AS o SET lease_owner = $4, lease_until = $2 "
    "FROM picked, conversations AS c "
    "WHERE o.id = picked.id AND c.id = o.conversation_id "
    f"RETURNING {OUTBOX_COLUMNS}, picked.previous_owner"
)

# Only queue heads can become claimable, and a leased head only when its lease runs out;
# counting the rows behind them would make a worker spin on work it cannot claim.
NEXT_DUE = (
    "SELECT MIN(GREATEST(o.next_attempt_at, COALESCE(o.lease_until, o.next_attempt_at))) "
    f"FROM outbox AS o WHERE {_IS_HEAD}"
)

# One statement: the row leaves the outbox only if it is still ours.
DEAD_LETTER = (
    "WITH gone AS (DELETE FROM outbox WHERE id = $1 AND lease_owner = $2 RETURNING *) "
    "INSERT INTO dead_letters (outbox_id, conversation_id, target, kind, payload, epoch, "
    "correlation_id, reason, attempts, last_error, created_at, failed_at) "
    "SELECT id, conversation_id, target, kind, payload, epoch, correlation_id, $3, "
    "attempts, last_error, created_at, $4 FROM gone RETURNING *"
)

REPLAY = (
    "WITH back AS (DELETE FROM dead_letters WHERE id = $1 RETURNING *) "
    "INSERT INTO outbox (conversation_id, target, kind, payload, epoch, correlation_id, "
    "created_at, attempts, next_attempt_at) "
    "SELECT conversation_id, target, kind, payload, epoch, correlation_id, $2, 0, $2 "
    "FROM back"
)

# The newest hello takes the lease over, wherever the previous socket was.
# $1 conversation ids, $2 owner, $3 until.
HOLD_CONNECTIONS = (
    "INSERT INTO connection_leases (conversation_id, owner, until) "
    "SELECT id, $2, $3 FROM unnest($1::text[]) AS id "
    "ON CONFLICT (conversation_id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until"
)

# With the lease, the citizen-bound queue heads another instance had claimed become
# claimable at once: that instance has no socket for them any more (or died), and
# waiting for its outbox lease to run out would stall the resumed socket. Items whose
# send may have started on a target that is not resend-safe stay where they are.
#: A citizen's connection is back: what waits in backoff for it (a channel that had no
#: live connection raised TransientError) is due now, not at the end of its backoff.
CITIZEN_ITEMS_DUE_NOW = (
    "UPDATE outbox SET next_attempt_at = $2 "
    "WHERE conversation_id = ANY($1::text[]) AND target = 'citizen' "
    "AND NOT in_flight AND next_attempt_at > $2"
)
TAKE_OVER_CITIZEN_ITEMS = (
    "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
    "WHERE conversation_id = ANY($1::text[]) AND target = 'citizen' "
    "AND lease_owner IS NOT NULL AND lease_owner <> $2 AND NOT in_flight"
)


# One statement, so one transaction and one round trip (the id sets are disjoint).
FINISH_LEASED = (
    "WITH gone AS (DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND lease_owner = $4), "
    "marked AS (UPDATE outbox SET in_flight = true "
    " WHERE id = ANY($2::bigint[]) AND lease_owner = $4), "
    "freed AS (UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
    " WHERE id = ANY($3::bigint[]) AND lease_owner = $4) "
    "SELECT 1"
)
