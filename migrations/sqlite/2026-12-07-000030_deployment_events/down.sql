-- Back to events that cascade with their workspace and webhook endpoints of a workspace only.
-- The deployment's webhook endpoints (with their deliveries and resends) and the events of
-- deleted workspaces have no place in the older schema: they go.
DELETE FROM webhook_endpoints WHERE workspace_id IS NULL;

CREATE TABLE webhook_endpoints_old (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL DEFAULT '[]',
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    cursor_seq BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
INSERT INTO webhook_endpoints_old (id, workspace_id, url, event_types, secret, enabled,
                                   disabled_reason, cursor_seq, attempts, consecutive_failures,
                                   next_attempt_at, lease_until, created_at)
    SELECT id, workspace_id, url, event_types, secret, enabled, disabled_reason, cursor_seq,
           attempts, consecutive_failures, next_attempt_at, lease_until, created_at
    FROM webhook_endpoints;

CREATE TABLE webhook_deliveries_old (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints_old(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    resend BOOLEAN NOT NULL DEFAULT FALSE,
    delivered_at BIGINT NOT NULL
);
INSERT INTO webhook_deliveries_old (id, endpoint_id, workspace_id, event_id, event_seq, attempt,
                                    status_code, duration_ms, error, resend, delivered_at)
    SELECT id, endpoint_id, workspace_id, event_id, event_seq, attempt, status_code, duration_ms,
           error, resend, delivered_at
    FROM webhook_deliveries WHERE workspace_id IS NOT NULL;

CREATE TABLE webhook_resends_old (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints_old(id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO webhook_resends_old (id, endpoint_id, event_seq, created_at)
    SELECT id, endpoint_id, event_seq, created_at FROM webhook_resends;

DROP TABLE webhook_resends;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
ALTER TABLE webhook_endpoints_old RENAME TO webhook_endpoints;
ALTER TABLE webhook_deliveries_old RENAME TO webhook_deliveries;
ALTER TABLE webhook_resends_old RENAME TO webhook_resends;
CREATE INDEX webhook_endpoints_due_idx ON webhook_endpoints (enabled, next_attempt_at);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, delivered_at);
CREATE INDEX webhook_resends_endpoint_idx ON webhook_resends (endpoint_id, created_at);

CREATE TABLE event_outbox_old (
    ins INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    changed TEXT
);
INSERT INTO event_outbox_old (ins, id, workspace_id, event_type, occurred_at, actor,
                              resource_kind, resource_id, resource, changed)
    SELECT ins, id, workspace_id, event_type, occurred_at, actor, resource_kind, resource_id,
           resource, changed
    FROM event_outbox WHERE workspace_id IN (SELECT id FROM workspaces) ORDER BY ins;
DELETE FROM sqlite_sequence WHERE name = 'event_outbox_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'event_outbox_old', seq FROM sqlite_sequence WHERE name = 'event_outbox';
DROP TABLE event_outbox;
ALTER TABLE event_outbox_old RENAME TO event_outbox;

CREATE TABLE events_old (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO events_old (seq, id, workspace_id, event_type, occurred_at, actor, resource_kind,
                        resource_id, resource, changed)
    SELECT seq, id, workspace_id, event_type, occurred_at, actor, resource_kind, resource_id,
           resource, changed
    FROM events WHERE workspace_id IN (SELECT id FROM workspaces) ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'events_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_old', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
CREATE INDEX events_workspace_idx ON events (workspace_id, seq);
CREATE INDEX events_type_idx ON events (workspace_id, event_type, seq);
