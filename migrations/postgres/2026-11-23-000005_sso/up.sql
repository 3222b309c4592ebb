-- SSO state. Everything a second replica needs to finish a login someone started on the first
-- lives here, never in process memory.

-- Pending logins: a SAML AuthnRequest id or (the SHA-256 of) an OIDC `state`, bound to the
-- browser that started it by the SHA-256 of its `roster_sso` cookie. Consumed once.
CREATE TABLE sso_requests (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    browser_hash TEXT NOT NULL,
    nonce TEXT,
    pkce_verifier TEXT,
    return_to TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_requests_expiry_idx ON sso_requests (expires_at);

-- Consumed SAML assertion ids, kept until the assertion could no longer be used anyway.
CREATE TABLE saml_replay (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX saml_replay_expiry_idx ON saml_replay (expires_at);

-- Every SSO attempt, for the admins' login log: outcome, a stable reason code and want/got.
CREATE TABLE login_events (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    protocol TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    subject TEXT,
    email TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_events_workspace_idx ON login_events (workspace_id, created_at);

-- Keys that sign session tokens (ES256). The newest unretired key signs; every key not retired
-- for longer than a session lifetime stays in the JWKS so tokens survive a rotation.
CREATE TABLE session_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Sessions ended by /logout before their expiry (by token id), so a copied cookie stops working.
CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
