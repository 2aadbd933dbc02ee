-- Live citizen connections (widget sockets) per daemon instance: while a lease is live,
-- only its owner claims the conversation's citizen-bound outbox items, so they reach
-- the socket on that instance. Renewed while the socket stays open; an instance that
-- dies leaves leases that simply run out.
CREATE TABLE connection_leases (
    conversation_id text PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    owner           text NOT NULL,
    until           timestamptz NOT NULL
);
CREATE INDEX connection_leases_by_owner ON connection_leases (owner);
