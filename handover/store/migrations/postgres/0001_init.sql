-- 0001: the initial schema (the same tables as the SQLite engine's 0001).
--
-- Times are timestamptz, passed in by the daemon (its clock is injectable; SQL never
-- calls now()). JSON values are `json`, not `jsonb`: json keeps the text as written
-- and accepts every escaped character, where jsonb refuses \u0000, which a citizen
-- can type.

CREATE TABLE conversations (
    id              text PRIMARY KEY,
    tenant          text NOT NULL,
    channel         text NOT NULL,
    channel_key     text NOT NULL,
    language        text NOT NULL,
    state           text NOT NULL,
    epoch           integer NOT NULL DEFAULT 0,
    handover_no     integer NOT NULL DEFAULT 0,
    seq             integer NOT NULL DEFAULT 0,
    agent_name      text,
    bot_escalations integer NOT NULL DEFAULT 0,
    context         json NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (tenant, channel, channel_key)
);

-- seq 0 marks desk-only notes, of which a conversation may have many; citizen-visible
-- entries (seq > 0) are unique per conversation. The id orders notes by insertion.
CREATE TABLE transcript (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    seq             integer NOT NULL CHECK (seq >= 0),
    party           text NOT NULL,
    content         json NOT NULL,
    message_id      text NOT NULL,
    sender_name     text,
    created_at      timestamptz NOT NULL,
    handover_no     integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX transcript_visible_seq ON transcript (conversation_id, seq) WHERE seq > 0;
CREATE INDEX transcript_by_conversation ON transcript (conversation_id, seq, id);

-- Dedup keys of inbound events and of desk echoes.
CREATE TABLE inbox (
    source      text NOT NULL,
    source_id   text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (source, source_id)
);
CREATE INDEX inbox_by_received_at ON inbox (received_at);

-- Identity ids are never reused: they order each queue, and a stale worker's complete()
-- must not hit a newer row that happens to get the same id.
--
-- The head of a (conversation_id, target) queue is its lowest id. claim() finds heads
-- with NOT EXISTS on outbox_queue rather than a maintained is_head flag: with several
-- writers at once, a flag kept by triggers can miss a head (an insert and the delete of
-- the previous head in two concurrent transactions each see the other's row), and a
-- queue whose head is never flagged would never be delivered.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    target          text NOT NULL,
    kind            text NOT NULL,
    payload         json NOT NULL,
    epoch           integer NOT NULL,
    correlation_id  text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text,
    lease_until     timestamptz,
    in_flight       boolean NOT NULL DEFAULT false,
    last_error      text
);
CREATE INDEX outbox_queue ON outbox (conversation_id, target, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
CREATE INDEX outbox_by_created_at ON outbox (created_at);

-- epoch and correlation_id are kept so a replayed item is the same work as before.
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id       bigint NOT NULL,
    conversation_id text NOT NULL REFERENCES conversations (id),
    target          text NOT NULL,
    kind            text NOT NULL,
    payload         json NOT NULL,
    epoch           integer NOT NULL,
    correlation_id  text NOT NULL DEFAULT '',
    reason          text NOT NULL,
    attempts        integer NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    failed_at       timestamptz NOT NULL
);
CREATE INDEX dead_letters_by_conversation ON dead_letters (conversation_id);

CREATE TABLE timers (
    conversation_id text NOT NULL REFERENCES conversations (id),
    name            text NOT NULL,
    due_at          timestamptz NOT NULL,
    epoch           integer NOT NULL,
    PRIMARY KEY (conversation_id, name)
);
CREATE INDEX timers_by_due_at ON timers (due_at);

CREATE TABLE survey_answers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    tenant          text NOT NULL,
    channel         text NOT NULL,
    handover_no     integer NOT NULL,
    score           integer,
    comment         text,
    outcome         text,
    answered_at     timestamptz NOT NULL
);
CREATE INDEX survey_answers_by_tenant ON survey_answers (tenant, answered_at);
CREATE INDEX survey_answers_by_conversation ON survey_answers (conversation_id);
