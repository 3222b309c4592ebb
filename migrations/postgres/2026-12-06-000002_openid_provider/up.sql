-- Roster as an OpenID Provider for products (docs/integrate.md). Apps are deployment-level: one
-- product serves every workspace, so no table here has a workspace of its own except through the
-- user a grant belongs to. Codes and refresh tokens are stored as the SHA-256 of the token (256
-- random bits), never the token; access tokens are signed JWTs and not stored at all.

-- A registered product (an OAuth client). `secret_hash` is the SHA-256 of the client secret, NULL
-- for public apps (`token_endpoint_auth_method = 'none'`). After a rotation the previous secret
-- keeps working until `previous_secret_until`.
CREATE TABLE oauth_apps (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL
        CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    id_token_alg TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    secret_hash TEXT,
    secret_hint TEXT,
    previous_secret_hash TEXT,
    previous_secret_until BIGINT,
    backchannel_logout_uri TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((token_endpoint_auth_method = 'none') = (secret_hash IS NULL))
);

-- The URIs an app registered, exactly as given (matching is byte-exact): where codes go
-- (`redirect`) and where RP-initiated logout may return (`post_logout`). `position` keeps the
-- order the operator gave.
CREATE TABLE oauth_app_uris (
    client_id TEXT NOT NULL REFERENCES oauth_apps(client_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('redirect', 'post_logout')),
    uri TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (client_id, kind, uri)
);

-- Keys that sign ID tokens, access tokens and logout tokens. One signs per algorithm at a time.
-- A key is published from `created_at`, signs from `signs_from` (a rotation publishes the next
-- key ahead, so products that cache the JWKS know it before they see it), stops signing at
-- `retired_at` and leaves the JWKS at `verify_until`, when its private half is erased.
CREATE TABLE oauth_signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL,
    retired_at BIGINT,
    verify_until BIGINT
);
CREATE INDEX oauth_signing_keys_algorithm_idx ON oauth_signing_keys (algorithm, signs_from);

-- An authorization request waiting for the upstream login (SAML/OIDC at the workspace's IdP).
-- Bound to the browser that made it by the SHA-256 of a cookie (`browser_hash`), found again by
-- the SHA-256 of its handle (`id`), consumed once.
CREATE TABLE oauth_auth_requests (
    id TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_apps(client_id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    prompt TEXT,
    max_age BIGINT,
    login_hint TEXT,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT REFERENCES connections(id) ON DELETE CASCADE,
    upstream_request_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX oauth_auth_requests_expiry_idx ON oauth_auth_requests (expires_at);

-- One authorization of one app for one user: what a code and every refresh token descending from
-- it belong to, and the unit of revocation. `session_id` is the Roster session it came from (for
-- logout), `sid` the opaque session id this app sees (one per session and app).
CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_apps(client_id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL,
    session_id TEXT,
    sid TEXT NOT NULL,
    scope TEXT NOT NULL,
    offline BOOLEAN NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX oauth_grants_user_idx ON oauth_grants (user_id, revoked_at);
CREATE INDEX oauth_grants_session_idx ON oauth_grants (session_id);
CREATE INDEX oauth_grants_client_idx ON oauth_grants (client_id, sid);

-- Authorization codes: single use (`used_at` is set by one conditional UPDATE), short-lived, and
-- bound to the redirect URI, the PKCE challenge and the nonce of their request.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL UNIQUE REFERENCES oauth_grants(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_codes_expiry_idx ON oauth_codes (expires_at);

-- Refresh tokens: each use rotates it (`used_at` set, a child issued with `parent_hash`); a used
-- one presented again revokes its whole grant.
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    parent_hash TEXT,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_refresh_tokens_grant_idx ON oauth_refresh_tokens (grant_id);
