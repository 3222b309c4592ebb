-- SCIM: a case-insensitive key for users' displayName filters, indexes for the per-connection
-- listings SCIM serves, and the provisioning log (every SCIM request, for admins).

ALTER TABLE users ADD COLUMN display_name_key TEXT;
UPDATE users SET display_name_key = lower(display_name) WHERE display_name IS NOT NULL;
CREATE INDEX users_managing_connection_idx ON users (managing_connection_id, id);
CREATE INDEX users_display_name_key_idx ON users (workspace_id, display_name_key);
CREATE INDEX groups_connection_idx ON "groups" (connection_id, id);

CREATE TABLE provisioning_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_us BIGINT NOT NULL,
    resource_id TEXT,
    error TEXT,
    warnings TEXT
);
CREATE INDEX provisioning_log_connection_idx ON provisioning_log (connection_id, seq);
CREATE INDEX provisioning_log_workspace_idx ON provisioning_log (workspace_id, seq);
