-- Events that outlive their workspace, and webhook endpoints of the deployment.
--
-- A workspace's deletion is an event of its own, `workspace.deleted`, read by the operator's feed
-- and webhooks after the workspace's rows are gone. So `events` and `event_outbox` no longer
-- reference `workspaces`: the store deletes a workspace's events itself, in the deletion's
-- transaction, and then writes the `workspace.deleted` event, which stays (until retention).
--
-- A webhook endpoint belongs to a workspace (`workspace_id`, as before) or to the deployment
-- (`workspace_id` NULL: the operator's endpoints, which receive every workspace's events, or
-- those of the workspaces listed in `workspaces`, a JSON array of ids). Their delivery log rows
-- have no workspace either.
--
-- SQLite cannot drop a constraint or a NOT NULL, so the tables are rebuilt with every row. The
-- migration runs with foreign keys on, so the webhook tables are rebuilt together, children
-- first dropped after their copies exist (dropping `webhook_endpoints` alone would cascade to
-- its deliveries), and the positions `events` gave out continue where they were, even when
-- retention emptied the table (AUTOINCREMENT's counter moves with the rows).
--
-- Rolling upgrade: until replaced, an older replica deletes a workspace without the event (its
-- events then wait for retention), and its webhook worker cannot load a deployment endpoint
-- (it logs the error; the new replicas deliver).

CREATE TABLE events_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    changed TEXT
);
INSERT INTO events_new (seq, id, workspace_id, event_type, occurred_at, actor, resource_kind,
                        resource_id, resource, changed)
    SELECT seq, id, workspace_id, event_type, occurred_at, actor, resource_kind, resource_id,
           resource, changed
    FROM events ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_workspace_idx ON events (workspace_id, seq);
CREATE INDEX events_type_idx ON events (workspace_id, event_type, seq);

CREATE TABLE event_outbox_new (
    ins INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    changed TEXT
);
INSERT INTO event_outbox_new (ins, id, workspace_id, event_type, occurred_at, actor,
                              resource_kind, resource_id, resource, changed)
    SELECT ins, id, workspace_id, event_type, occurred_at, actor, resource_kind, resource_id,
           resource, changed
    FROM event_outbox ORDER BY ins;
DELETE FROM sqlite_sequence WHERE name = 'event_outbox_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'event_outbox_new', seq FROM sqlite_sequence WHERE name = 'event_outbox';
DROP TABLE event_outbox;
ALTER TABLE event_outbox_new RENAME TO event_outbox;

CREATE TABLE webhook_endpoints_new (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
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
    created_at BIGINT NOT NULL,
    workspaces TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO webhook_endpoints_new (id, workspace_id, url, event_types, secret, enabled,
                                   disabled_reason, cursor_seq, attempts, consecutive_failures,
                                   next_attempt_at, lease_until, created_at)
    SELECT id, workspace_id, url, event_types, secret, enabled, disabled_reason, cursor_seq,
           attempts, consecutive_failures, next_attempt_at, lease_until, created_at
    FROM webhook_endpoints;

CREATE TABLE webhook_deliveries_new (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints_new(id) ON DELETE CASCADE,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    resend BOOLEAN NOT NULL DEFAULT FALSE,
    delivered_at BIGINT NOT NULL
);
INSERT INTO webhook_deliveries_new (id, endpoint_id, workspace_id, event_id, event_seq, attempt,
                                    status_code, duration_ms, error, resend, delivered_at)
    SELECT id, endpoint_id, workspace_id, event_id, event_seq, attempt, status_code, duration_ms,
           error, resend, delivered_at
    FROM webhook_deliveries;

CREATE TABLE webhook_resends_new (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints_new(id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO webhook_resends_new (id, endpoint_id, event_seq, created_at)
    SELECT id, endpoint_id, event_seq, created_at FROM webhook_resends;

DROP TABLE webhook_resends;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
-- Renaming the parent rewrites its children's references to the new name.
ALTER TABLE webhook_endpoints_new RENAME TO webhook_endpoints;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
ALTER TABLE webhook_resends_new RENAME TO webhook_resends;
CREATE INDEX webhook_endpoints_due_idx ON webhook_endpoints (enabled, next_attempt_at);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, delivered_at);
CREATE INDEX webhook_resends_endpoint_idx ON webhook_resends (endpoint_id, created_at);
