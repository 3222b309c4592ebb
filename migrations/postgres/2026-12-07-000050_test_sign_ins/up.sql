-- Test sign-ins: an admin's dry run of a real SSO login through a connection. A row is created by
-- the admin API (`pending`), started once by the browser that opens its URL (`request_id`, the
-- pending login it began, and `browser_hash`, SHA-256 of that browser's `roster_sso` cookie), and
-- completed once by the ACS or OIDC callback with its report (JSON: what arrived, what JIT would
-- do). Nothing else is written by a test. Rows older than a day are swept by the next creation.
CREATE TABLE test_sign_ins (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    request_id TEXT,
    browser_hash TEXT,
    report TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT
);
CREATE INDEX test_sign_ins_request ON test_sign_ins (connection_id, request_id);
CREATE INDEX test_sign_ins_created ON test_sign_ins (created_at);
