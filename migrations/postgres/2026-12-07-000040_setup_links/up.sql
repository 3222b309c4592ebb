-- Setup links: one-time URLs the SaaS operator (or a workspace admin) sends a customer's IT admin,
-- who has no account. Redeeming one opens a setup session (at most an hour) that reaches only its
-- workspace and its intent's part of the admin API. The link and the session are bearer secrets:
-- only their SHA-256 is stored. A row is never reused: redeemed_at, revoked_at and finished_at
-- only ever go from null to a time.
CREATE TABLE setup_links (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    intent TEXT NOT NULL CHECK (intent IN ('sso', 'scim', 'domain', 'all')),
    token_hash TEXT NOT NULL UNIQUE,
    return_url TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT,
    revoked_at BIGINT,
    session_hash TEXT UNIQUE,
    session_expires_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX setup_links_workspace_idx ON setup_links (workspace_id, created_at);
