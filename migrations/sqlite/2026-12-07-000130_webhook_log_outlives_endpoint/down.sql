-- The log references its endpoint again; rows of endpoints deleted since are dropped.
CREATE TABLE webhook_deliveries_old (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
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
INSERT INTO webhook_deliveries_old (id, endpoint_id, workspace_id, event_id, event_seq, attempt,
                                    status_code, duration_ms, error, resend, delivered_at)
    SELECT id, endpoint_id, workspace_id, event_id, event_seq, attempt, status_code, duration_ms,
           error, resend, delivered_at
    FROM webhook_deliveries
    WHERE endpoint_id IN (SELECT id FROM webhook_endpoints);
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_old RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, delivered_at);
