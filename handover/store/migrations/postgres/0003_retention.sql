-- 0002: what evaluation and retention need (the same as the SQLite engine's 0002).
--
-- handover_events: one row per step of a handover (queued, answered, abandoned, timeout,
-- outside_hours, ended...), written in the same transaction as the state change. It
-- holds no message text and nothing about the citizen, so the report can be made after
-- the bodies are purged; it goes when the conversation's metadata goes.
--
-- bodies_purged_at: when retention last removed the conversation's bodies; a
-- conversation is due again only if it was active after that (updated_at is later).

ALTER TABLE conversations ADD COLUMN bodies_purged_at timestamptz;
CREATE INDEX conversations_by_tenant_created ON conversations (tenant, created_at);
CREATE INDEX conversations_by_tenant_updated ON conversations (tenant, updated_at);

CREATE TABLE handover_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    tenant          text NOT NULL,
    channel         text NOT NULL,
    handover_no     integer NOT NULL,
    event           text NOT NULL,
    reason          text,
    outcome         text,
    wait_seconds    double precision,
    at              timestamptz NOT NULL
);
CREATE INDEX handover_events_by_tenant ON handover_events (tenant, at);
CREATE INDEX handover_events_by_conversation ON handover_events (conversation_id);
