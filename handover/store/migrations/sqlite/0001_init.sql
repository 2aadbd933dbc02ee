-- 0001: the initial schema.
--
-- Times are epoch seconds (REAL, UTC): they compare and index as numbers and round-trip
-- to the microsecond. JSON values (context, content, payload) are stored as text.

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    channel_key     TEXT NOT NULL,
    language        TEXT NOT NULL,
    state           TEXT NOT NULL,
    epoch           INTEGER NOT NULL DEFAULT 0,
    handover_no     INTEGER NOT NULL DEFAULT 0,
    seq             INTEGER NOT NULL DEFAULT 0,
    agent_name      TEXT,
    bot_escalations INTEGER NOT NULL DEFAULT 0,
    context         TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant, channel, channel_key)
);

-- seq 0 marks desk-only notes, of which a conversation may have many; citizen-visible
-- entries (seq > 0) are unique per conversation. The rowid orders notes by insertion.
CREATE TABLE transcript (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    party           TEXT NOT NULL,
    content         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sender_name     TEXT,
    created_at      REAL NOT NULL,
    handover_no     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX transcript_visible_seq ON transcript (conversation_id, seq) WHERE seq > 0;
CREATE INDEX transcript_by_conversation ON transcript (conversation_id, seq, id);

-- Dedup keys of inbound events and of desk echoes.
CREATE TABLE inbox (
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (source, source_id)
) WITHOUT ROWID;
CREATE INDEX inbox_by_received_at ON inbox (received_at);

-- AUTOINCREMENT so an id is never reused: ids order each queue and a stale worker's
-- complete() must not hit a newer row that happens to get the same id.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    epoch           INTEGER NOT NULL,
    correlation_id  TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_owner     TEXT,
    lease_until     REAL,
    in_flight       INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- 1 on the lowest id of its (conversation_id, target) queue, kept by the triggers
    -- below, so claim() reads only queue heads through a small partial index instead
    -- of grouping the whole table.
    is_head         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_queue ON outbox (conversation_id, target, id);
CREATE INDEX outbox_ready_heads ON outbox (next_attempt_at) WHERE is_head = 1;

CREATE TRIGGER outbox_head_after_insert AFTER INSERT ON outbox
BEGIN
    UPDATE outbox SET is_head = 1
    WHERE id = NEW.id
      AND NOT EXISTS (
          SELECT 1 FROM outbox AS p
          WHERE p.conversation_id = NEW.conversation_id
            AND p.target = NEW.target
            AND p.id < NEW.id
      );
END;

CREATE TRIGGER outbox_head_after_delete AFTER DELETE ON outbox WHEN OLD.is_head = 1
BEGIN
    UPDATE outbox SET is_head = 1
    WHERE id = (
        SELECT MIN(id) FROM outbox
        WHERE conversation_id = OLD.conversation_id AND target = OLD.target
    );
END;

-- epoch and correlation_id are kept so a replayed item is the same work as before.
CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id       INTEGER NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    epoch           INTEGER NOT NULL,
    correlation_id  TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    failed_at       REAL NOT NULL
);
CREATE INDEX dead_letters_by_conversation ON dead_letters (conversation_id);

CREATE TABLE timers (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    name            TEXT NOT NULL,
    due_at          REAL NOT NULL,
    epoch           INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, name)
) WITHOUT ROWID;
CREATE INDEX timers_by_due_at ON timers (due_at);

CREATE TABLE survey_answers (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    tenant          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    handover_no     INTEGER NOT NULL,
    score           INTEGER,
    comment         TEXT,
    outcome         TEXT,
    answered_at     REAL NOT NULL
);
CREATE INDEX survey_answers_by_tenant ON survey_answers (tenant, answered_at);
CREATE INDEX survey_answers_by_conversation ON survey_answers (conversation_id);
