-- Operator keys: the SaaS operator's bearer keys to /api/v1/operator (every workspace). Stored as
-- the SHA-256 of the key (shown once at creation), revoked by deletion. No workspace: an operator
-- key belongs to the deployment.
CREATE TABLE operator_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
