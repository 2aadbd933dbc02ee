-- 0004: adapter state (the same as the SQLite engine's 0003): durable key/value
-- records that adapters keep through their context, namespaced by the adapter
-- instance's name, shared by every daemon instance on the database.
--
-- key is COLLATE "C" so that ORDER BY key and prefix ranges go by code point, as on
-- SQLite, whatever the database's collation.

CREATE TABLE adapter_state (
    namespace       text NOT NULL,
    key             text COLLATE "C" NOT NULL,
    value           text NOT NULL,
    version         bigint NOT NULL,
    expires_at      timestamptz,
    conversation_id text,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX adapter_state_by_expiry ON adapter_state (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX adapter_state_by_conversation ON adapter_state (conversation_id)
    WHERE conversation_id IS NOT NULL;
