-- Directory events: an outbox written in the transaction of the change it describes, read in
-- `seq` order per workspace by the events feed (and, later, the webhook deliverer).
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    changed TEXT
);
CREATE INDEX events_workspace_idx ON events (workspace_id, seq);
CREATE INDEX events_type_idx ON events (workspace_id, event_type, seq);
CREATE INDEX events_occurred_idx ON events (occurred_at);
