-- OpenID Connect Back-Channel Logout 1.0: the outbox of logout tokens to send to apps. A row is
-- written in the transaction that revoked the grant it announces (a logout, the user deactivated
-- or deprovisioned, an admin signing the user out), so a logout is queued exactly when the
-- revocation commits and a crash after the commit loses none. One row per app and `sid` (the
-- session id that app saw); the token itself is minted when the row is sent, fresh for every
-- attempt, so no token is stored. The delivery worker claims a due row with a lease
-- (`lease_until`), like webhook endpoints, and records the outcome: `delivered_at` on a 2xx,
-- else the next attempt, until the retry policy gives up (`abandoned_at`).
CREATE TABLE backchannel_logouts (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_apps(client_id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    delivered_at BIGINT,
    abandoned_at BIGINT
);
-- What the worker polls: only rows still to send.
CREATE INDEX backchannel_logouts_due_idx ON backchannel_logouts (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX backchannel_logouts_session_idx ON backchannel_logouts (client_id, sid);
CREATE INDEX backchannel_logouts_user_idx ON backchannel_logouts (user_id);
