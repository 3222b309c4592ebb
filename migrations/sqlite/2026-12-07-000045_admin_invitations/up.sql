-- Admin invitations: a one-time link that makes its holder an admin of the workspace, by setting
-- a password (a new account named by the invited email) or by signing in through the
-- workspace's SSO with that email. Only the SHA-256 of the link is stored; accepted_at and
-- revoked_at go from null to a time once.
CREATE TABLE admin_invitations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT,
    revoked_at BIGINT
);
CREATE INDEX admin_invitations_workspace_idx ON admin_invitations (workspace_id, created_at);
