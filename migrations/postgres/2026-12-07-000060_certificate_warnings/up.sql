-- Certificate expiry warnings given: one row per (connection, certificate use, expiry, warning),
-- so each warning (30, 7 and 1 days before, and once expired) is given once whatever the
-- replicas and restarts, and a new certificate (another expiry) starts over.
CREATE TABLE certificate_warnings (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    certificate_use TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    days INTEGER NOT NULL,
    warned_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, certificate_use, not_after, days)
);
