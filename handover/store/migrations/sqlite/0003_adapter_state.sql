-- 0003: adapter state (handover/sdk/state.py): durable key/value records that adapters
-- keep through their context, namespaced by the adapter instance's name.
--
-- value: a JSON object. version: 1 at creation, +1 per write (compare-and-set).
-- expires_at: NULL = never; an expired row reads as absent and housekeeping deletes it.
-- conversation_id: the conversation a record belongs to (no foreign key: a record may
-- be written before its conversation exists, or outlive it until retention runs);
-- erasure and retention delete the conversation's records.

CREATE TABLE adapter_state (
    namespace       TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    version         INTEGER NOT NULL,
    expires_at      REAL,
    conversation_id TEXT,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX adapter_state_by_expiry ON adapter_state (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX adapter_state_by_conversation ON adapter_state (conversation_id)
    WHERE conversation_id IS NOT NULL;
